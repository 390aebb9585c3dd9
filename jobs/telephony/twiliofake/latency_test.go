package twiliofake_test

import (
	"testing"
	"time"

	"saathi/jobs/telephony/twiliofake"
)

func TestParseLatency(t *testing.T) {
	t.Parallel()
	tests := []struct {
		spec     string
		none     bool
		min, max time.Duration
	}{
		{spec: "", none: true},
		{spec: "0", none: true},
		{spec: "0s", none: true},
		{spec: "150ms", min: 150 * time.Millisecond, max: 150 * time.Millisecond},
		{spec: " 100ms-200ms ", min: 100 * time.Millisecond, max: 200 * time.Millisecond},
		{spec: "150ms-150ms", min: 150 * time.Millisecond, max: 150 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			f, err := twiliofake.ParseLatency(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			if tt.none {
				if f != nil {
					t.Fatalf("got a latency %s, want none", f())
				}
				return
			}
			for range 200 {
				if d := f(); d < tt.min || d > tt.max {
					t.Fatalf("latency %s outside [%s, %s]", d, tt.min, tt.max)
				}
			}
		})
	}
	for _, bad := range []string{"150", "fast", "-5ms", "200ms-100ms", "100ms-", "100ms-x"} {
		if _, err := twiliofake.ParseLatency(bad); err == nil {
			t.Errorf("ParseLatency(%q) accepted it", bad)
		}
	}
}
