package schedule

import (
	"fmt"
	"time"
)

// Limits on a cadence. They keep a mistyped plan (every_days 0, times 50000)
// from flooding a survivor or the job queue.
const (
	// MaxPhases is the most phases a cadence may have.
	MaxPhases = 10
	// MaxEveryDays is the longest gap between check-ins: a year.
	MaxEveryDays = 365
	// MaxPhaseTimes is the most check-ins one phase may have.
	MaxPhaseTimes = 500
	// MaxOccurrences is the most check-ins a whole cadence may have.
	MaxOccurrences = 1000
)

// Phase is one stretch of a cadence: a check-in every EveryDays calendar days,
// Times times.
type Phase struct {
	EveryDays int
	Times     int
}

// Cadence is the sequence of phases of a survivor's check-in plan. Check-ins
// taper as rehabilitation goes on, for example weekly 12 times and then every
// 30 days 12 times.
type Cadence struct {
	Phases []Phase
}

// Validate checks the limits above and returns a *FieldError naming
// "cadence.phases", "cadence.phases[i].every_days" or
// "cadence.phases[i].times", or nil.
func (c Cadence) Validate() error {
	if len(c.Phases) == 0 {
		return fieldErr("cadence.phases", "at least one phase is required")
	}
	if len(c.Phases) > MaxPhases {
		return fieldErr("cadence.phases", "at most %d phases are allowed, got %d", MaxPhases, len(c.Phases))
	}
	total := 0
	for i, p := range c.Phases {
		if p.EveryDays < 1 || p.EveryDays > MaxEveryDays {
			return fieldErr(fmt.Sprintf("cadence.phases[%d].every_days", i),
				"must be between 1 and %d days, got %d", MaxEveryDays, p.EveryDays)
		}
		if p.Times < 1 || p.Times > MaxPhaseTimes {
			return fieldErr(fmt.Sprintf("cadence.phases[%d].times", i),
				"must be between 1 and %d, got %d", MaxPhaseTimes, p.Times)
		}
		total += p.Times
	}
	if total > MaxOccurrences {
		return fieldErr("cadence.phases", "at most %d check-ins in total are allowed, got %d", MaxOccurrences, total)
	}
	return nil
}

// Occurrences returns every due time of the cadence in order, anchored at
// start: the first is start plus the first phase's EveryDays, each next one
// its phase's EveryDays after the previous. The anchor itself is not an
// occurrence (it is when the plan was made, usually with a person present).
//
// Days are calendar days in loc, so a check-in due at 10:00 local stays at
// 10:00 local across DST changes (the absolute gap is then 167h or 169h, not
// 168h). Each occurrence is computed from the anchor's wall time rather than
// from the previous occurrence, so one DST-adjusted date cannot shift all
// later ones. A due wall time that does not exist that day (spring-forward
// gap) becomes the instant the clocks jump; one that occurs twice (fall-back)
// means its first occurrence. Send times are gated by NextSafe anyway.
//
// Occurrences expects a validated cadence: a phase with EveryDays or Times
// below 1 contributes nothing. It returns nil for a nil loc, since guessing
// the survivor's zone would put check-ins at the wrong hour.
func (c Cadence) Occurrences(start time.Time, loc *time.Location) []time.Time {
	return c.OccurrencesAfter(start, time.Time{}, loc)
}

// OccurrencesAfter returns the occurrences of Occurrences(start, loc) that are
// strictly after `after`. It serves admin edits: a changed cadence applies to
// future check-ins only, so the past ones stay as they were.
func (c Cadence) OccurrencesAfter(start, after time.Time, loc *time.Location) []time.Time {
	if loc == nil {
		return nil
	}
	local := start.In(loc)
	y, m, d := local.Date()
	// The anchor's wall time, kept as a duration past midnight so every
	// occurrence re-reads the same wall clock on its own date.
	sinceMidnight := time.Duration(local.Hour())*time.Hour +
		time.Duration(local.Minute())*time.Minute +
		time.Duration(local.Second())*time.Second +
		time.Duration(local.Nanosecond())

	var out []time.Time
	days := 0
	for _, p := range c.Phases {
		if p.EveryDays < 1 || p.Times < 1 {
			continue
		}
		for range p.Times {
			days += p.EveryDays
			ref := time.Date(y, m, d+days, 0, 0, 0, 0, time.UTC).Add(sinceMidnight)
			due, _, _ := wallTime(ref, loc)
			if due.After(after) {
				out = append(out, due)
			}
		}
	}
	return out
}
