package twiliofake

import (
	"fmt"
	"strings"
	"time"
)

// ParseLatency reads a latency setting for benchmarks and load generators
// (SAATHI_BENCH_LATENCY, loadgen's -twilio-latency): "0" or "" for none,
// a duration ("150ms") for FixedLatency, or a range ("100ms-200ms") for
// UniformLatency. It returns nil for none, so a fake with it answers at
// once.
func ParseLatency(spec string) (func() time.Duration, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" || spec == "0" {
		return nil, nil
	}
	lo, hi, isRange := strings.Cut(spec, "-")
	from, err := time.ParseDuration(strings.TrimSpace(lo))
	if err != nil || from < 0 {
		return nil, fmt.Errorf("latency %q: want 0, a duration (150ms) or a range (100ms-200ms)", spec)
	}
	if !isRange {
		if from == 0 {
			return nil, nil
		}
		return FixedLatency(from), nil
	}
	to, err := time.ParseDuration(strings.TrimSpace(hi))
	if err != nil || to < from {
		return nil, fmt.Errorf("latency %q: a range runs from the smaller duration to the larger (100ms-200ms)", spec)
	}
	return UniformLatency(from, to), nil
}
