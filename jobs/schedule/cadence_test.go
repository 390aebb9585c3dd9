package schedule_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"saathi/jobs/schedule"
)

func TestCadenceValidate(t *testing.T) {
	t.Parallel()

	phases := func(n int, p schedule.Phase) []schedule.Phase {
		ps := make([]schedule.Phase, n)
		for i := range ps {
			ps[i] = p
		}
		return ps
	}
	weekly := schedule.Phase{EveryDays: 7, Times: 12}

	tests := []struct {
		name      string
		c         schedule.Cadence
		wantField string // "" means valid
	}{
		{name: "weekly then monthly", c: schedule.Cadence{Phases: []schedule.Phase{weekly, {EveryDays: 30, Times: 12}}}},
		{name: "maximum phases", c: schedule.Cadence{Phases: phases(schedule.MaxPhases, weekly)}},
		{name: "bounds of a phase", c: schedule.Cadence{Phases: []schedule.Phase{{EveryDays: 1, Times: 1}, {EveryDays: 365, Times: 499}}}},
		{name: "maximum total", c: schedule.Cadence{Phases: []schedule.Phase{{EveryDays: 1, Times: 500}, {EveryDays: 2, Times: 500}}}},
		{name: "no phases", c: schedule.Cadence{}, wantField: "cadence.phases"},
		{name: "too many phases", c: schedule.Cadence{Phases: phases(schedule.MaxPhases+1, weekly)}, wantField: "cadence.phases"},
		{name: "every 0 days", c: schedule.Cadence{Phases: []schedule.Phase{weekly, {EveryDays: 0, Times: 3}}}, wantField: "cadence.phases[1].every_days"},
		{name: "negative every days", c: schedule.Cadence{Phases: []schedule.Phase{{EveryDays: -7, Times: 3}}}, wantField: "cadence.phases[0].every_days"},
		{name: "every 366 days", c: schedule.Cadence{Phases: []schedule.Phase{weekly, {EveryDays: 366, Times: 3}}}, wantField: "cadence.phases[1].every_days"},
		{name: "zero times", c: schedule.Cadence{Phases: []schedule.Phase{weekly, {EveryDays: 7, Times: 0}}}, wantField: "cadence.phases[1].times"},
		{name: "501 times", c: schedule.Cadence{Phases: []schedule.Phase{weekly, {EveryDays: 7, Times: 501}}}, wantField: "cadence.phases[1].times"},
		{name: "total over maximum", c: schedule.Cadence{Phases: []schedule.Phase{
			{EveryDays: 1, Times: 500}, {EveryDays: 2, Times: 500}, {EveryDays: 3, Times: 1},
		}}, wantField: "cadence.phases"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := fieldOf(t, tt.c.Validate())
			if diff := cmp.Diff(tt.wantField, got); diff != "" {
				t.Errorf("Validate field mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCadenceOccurrencesTaper(t *testing.T) {
	t.Parallel()

	kolkata := mustLoad(t, "Asia/Kolkata")
	c := schedule.Cadence{Phases: []schedule.Phase{{EveryDays: 7, Times: 12}, {EveryDays: 30, Times: 12}}}
	start := time.Date(2026, 1, 5, 10, 0, 0, 0, kolkata)

	got := c.Occurrences(start, kolkata)
	if len(got) != 24 {
		t.Fatalf("len(Occurrences) = %d, want 24", len(got))
	}
	// The phase boundary: the 12th is the last weekly one (84 days after the
	// anchor), the 13th the first monthly one (30 days later).
	wantPicks := map[int]time.Time{
		0:  time.Date(2026, 1, 12, 10, 0, 0, 0, kolkata),
		11: time.Date(2026, 3, 30, 10, 0, 0, 0, kolkata),
		12: time.Date(2026, 4, 29, 10, 0, 0, 0, kolkata),
		23: time.Date(2027, 3, 25, 10, 0, 0, 0, kolkata),
	}
	gotPicks := map[int]time.Time{}
	for i := range wantPicks {
		gotPicks[i] = got[i]
	}
	if diff := cmp.Diff(wantPicks, gotPicks); diff != "" {
		t.Errorf("Occurrences at phase boundary mismatch (-want +got):\n%s", diff)
	}

	var wantGaps, gotGaps []time.Duration
	prev := start
	for i, o := range got {
		gap := 7 * 24 * time.Hour
		if i >= 12 {
			gap = 30 * 24 * time.Hour
		}
		wantGaps = append(wantGaps, gap)
		gotGaps = append(gotGaps, o.Sub(prev))
		prev = o
	}
	if diff := cmp.Diff(wantGaps, gotGaps); diff != "" {
		t.Errorf("gaps between occurrences mismatch (-want +got):\n%s", diff)
	}
}

func TestCadenceOccurrencesAfter(t *testing.T) {
	t.Parallel()

	kolkata := mustLoad(t, "Asia/Kolkata")
	c := schedule.Cadence{Phases: []schedule.Phase{{EveryDays: 7, Times: 3}, {EveryDays: 30, Times: 2}}}
	start := time.Date(2026, 1, 5, 10, 0, 0, 0, kolkata)
	at := func(m time.Month, d int) time.Time { return time.Date(2026, m, d, 10, 0, 0, 0, kolkata) }
	all := []time.Time{at(1, 12), at(1, 19), at(1, 26), at(2, 25), at(3, 27)}

	tests := []struct {
		name  string
		after time.Time
		want  []time.Time
	}{
		{name: "before the anchor", after: start.AddDate(-1, 0, 0), want: all},
		{name: "at the anchor", after: start, want: all},
		{name: "exactly at an occurrence excludes it", after: at(1, 19), want: all[2:]},
		{name: "just before an occurrence includes it", after: at(1, 19).Add(-time.Nanosecond), want: all[1:]},
		{name: "just after an occurrence", after: at(1, 19).Add(time.Nanosecond), want: all[2:]},
		{name: "across the phase boundary", after: at(2, 1), want: all[3:]},
		{name: "cut given in UTC", after: at(1, 26).UTC(), want: all[3:]},
		{name: "at the last occurrence", after: at(3, 27), want: nil},
		{name: "after the end", after: at(12, 31), want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := c.OccurrencesAfter(start, tt.after, kolkata)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("OccurrencesAfter(%v) mismatch (-want +got):\n%s", tt.after, diff)
			}
		})
	}
}

// TestCadenceOccurrencesDST checks that check-ins keep the survivor's local
// wall time across DST changes, so the absolute gap is not always 7*24h.
func TestCadenceOccurrencesDST(t *testing.T) {
	t.Parallel()

	newYork := mustLoad(t, "America/New_York")
	london := mustLoad(t, "Europe/London")
	kolkata := mustLoad(t, "Asia/Kolkata")
	weekly := func(n int) schedule.Cadence {
		return schedule.Cadence{Phases: []schedule.Phase{{EveryDays: 7, Times: n}}}
	}
	const h = time.Hour

	tests := []struct {
		name     string
		c        schedule.Cadence
		loc      *time.Location
		start    time.Time
		want     []time.Time
		wantGaps []time.Duration
	}{
		{
			name:  "New York spring forward keeps 10:00",
			c:     weekly(4),
			loc:   newYork,
			start: time.Date(2026, 3, 1, 10, 0, 0, 0, newYork),
			want: []time.Time{
				time.Date(2026, 3, 8, 14, 0, 0, 0, time.UTC), // 10:00 EDT
				time.Date(2026, 3, 15, 14, 0, 0, 0, time.UTC),
				time.Date(2026, 3, 22, 14, 0, 0, 0, time.UTC),
				time.Date(2026, 3, 29, 14, 0, 0, 0, time.UTC),
			},
			wantGaps: []time.Duration{167 * h, 168 * h, 168 * h, 168 * h},
		},
		{
			name:  "London fall back keeps 09:00",
			c:     weekly(2),
			loc:   london,
			start: time.Date(2026, 10, 18, 9, 0, 0, 0, london), // BST
			want: []time.Time{
				time.Date(2026, 10, 25, 9, 0, 0, 0, time.UTC), // 09:00 GMT
				time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC),
			},
			wantGaps: []time.Duration{169 * h, 168 * h},
		},
		{
			name:  "Kolkata has no DST and a half-hour offset",
			c:     weekly(3),
			loc:   kolkata,
			start: time.Date(2026, 3, 1, 10, 0, 0, 0, kolkata),
			want: []time.Time{
				time.Date(2026, 3, 8, 4, 30, 0, 0, time.UTC), // 10:00 +05:30
				time.Date(2026, 3, 15, 4, 30, 0, 0, time.UTC),
				time.Date(2026, 3, 22, 4, 30, 0, 0, time.UTC),
			},
			wantGaps: []time.Duration{168 * h, 168 * h, 168 * h},
		},
		{
			name:  "anchor given in UTC is read in the survivor's zone",
			c:     weekly(2),
			loc:   newYork,
			start: time.Date(2026, 3, 2, 3, 0, 0, 0, time.UTC), // Sunday 22:00 EST
			want: []time.Time{
				time.Date(2026, 3, 9, 2, 0, 0, 0, time.UTC), // Sunday 22:00 EDT
				time.Date(2026, 3, 16, 2, 0, 0, 0, time.UTC),
			},
			wantGaps: []time.Duration{167 * h, 168 * h},
		},
		{
			name:  "skipped wall time becomes the jump and does not drift",
			c:     weekly(2),
			loc:   newYork,
			start: time.Date(2026, 3, 1, 2, 30, 0, 0, newYork),
			want: []time.Time{
				time.Date(2026, 3, 8, 7, 0, 0, 0, time.UTC),   // 03:00 EDT, 02:30 does not exist
				time.Date(2026, 3, 15, 6, 30, 0, 0, time.UTC), // 02:30 EDT again
			},
			wantGaps: []time.Duration{167*h + 30*time.Minute, 167*h + 30*time.Minute},
		},
		{
			name:  "repeated wall time means its first occurrence",
			c:     weekly(1),
			loc:   newYork,
			start: time.Date(2026, 10, 25, 1, 30, 0, 0, newYork), // EDT
			want: []time.Time{
				time.Date(2026, 11, 1, 5, 30, 0, 0, time.UTC), // 01:30 EDT, not EST
			},
			wantGaps: []time.Duration{168 * h},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := tt.c.Occurrences(tt.start, tt.loc)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("Occurrences mismatch (-want +got):\n%s", diff)
			}
			var gaps []time.Duration
			prev := tt.start
			for _, o := range got {
				gaps = append(gaps, o.Sub(prev))
				prev = o
				if o.Location() != tt.loc {
					t.Errorf("occurrence %v is in %v, want %v", o, o.Location(), tt.loc)
				}
			}
			if diff := cmp.Diff(tt.wantGaps, gaps); diff != "" {
				t.Errorf("absolute gaps mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCadenceOccurrencesEdgeCases(t *testing.T) {
	t.Parallel()

	kolkata := mustLoad(t, "Asia/Kolkata")
	start := time.Date(2026, 1, 5, 10, 0, 0, 0, kolkata)

	tests := []struct {
		name string
		c    schedule.Cadence
		loc  *time.Location
		want []time.Time
	}{
		{name: "no phases", c: schedule.Cadence{}, loc: kolkata, want: nil},
		{name: "nil zone", c: schedule.Cadence{Phases: []schedule.Phase{{EveryDays: 7, Times: 2}}}, loc: nil, want: nil},
		{
			name: "invalid phase contributes nothing",
			c:    schedule.Cadence{Phases: []schedule.Phase{{EveryDays: 0, Times: 5}, {EveryDays: 1, Times: 1}}},
			loc:  kolkata,
			want: []time.Time{time.Date(2026, 1, 6, 10, 0, 0, 0, kolkata)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, tt.c.Occurrences(start, tt.loc)); diff != "" {
				t.Errorf("Occurrences mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
