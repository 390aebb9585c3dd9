package schedule

import (
	"testing"
	"time"

	// Embed the zone database so tests never depend on the host's.
	_ "time/tzdata"

	"github.com/google/go-cmp/cmp"
)

func loadZone(tb testing.TB, name string) *time.Location {
	tb.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		tb.Fatalf("load zone %s: %v", name, err)
	}
	return loc
}

// wallResult holds wallTime's results for diffing.
type wallResult struct {
	First, Last time.Time
	Exists      bool
}

func TestWallTime(t *testing.T) {
	t.Parallel()

	utc := func(y int, mo time.Month, d, h, m int) time.Time { return time.Date(y, mo, d, h, m, 0, 0, time.UTC) }
	tests := []struct {
		name string
		zone string
		ref  time.Time
		want wallResult
	}{
		{
			name: "ordinary wall time",
			zone: "Asia/Kolkata",
			ref:  utc(2026, 3, 2, 9, 30),
			want: wallResult{utc(2026, 3, 2, 4, 0), utc(2026, 3, 2, 4, 0), true},
		},
		{
			name: "24:00 is the next midnight",
			zone: "Asia/Kolkata",
			ref:  utc(2026, 3, 2, 0, 0).Add(24 * time.Hour),
			want: wallResult{utc(2026, 3, 2, 18, 30), utc(2026, 3, 2, 18, 30), true},
		},
		{
			// time.Date alone gives 01:30 EST here.
			name: "New York gap is the jump to 03:00 EDT",
			zone: "America/New_York",
			ref:  utc(2026, 3, 8, 2, 30),
			want: wallResult{utc(2026, 3, 8, 7, 0), utc(2026, 3, 8, 7, 0), false},
		},
		{
			name: "New York repeated 01:30 is EDT then EST",
			zone: "America/New_York",
			ref:  utc(2026, 11, 1, 1, 30),
			want: wallResult{utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 6, 30), true},
		},
		{
			// time.Date alone gives the GMT reading here.
			name: "London repeated 01:30 is BST then GMT",
			zone: "Europe/London",
			ref:  utc(2026, 10, 25, 1, 30),
			want: wallResult{utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 30), true},
		},
		{
			name: "London gap is the jump to 02:00 BST",
			zone: "Europe/London",
			ref:  utc(2026, 3, 29, 1, 30),
			want: wallResult{utc(2026, 3, 29, 1, 0), utc(2026, 3, 29, 1, 0), false},
		},
		{
			name: "Lord Howe half-hour gap",
			zone: "Australia/Lord_Howe",
			ref:  utc(2026, 10, 4, 2, 15),
			want: wallResult{utc(2026, 10, 3, 15, 30), utc(2026, 10, 3, 15, 30), false},
		},
		{
			name: "Lord Howe half-hour repeat",
			zone: "Australia/Lord_Howe",
			ref:  utc(2026, 4, 5, 1, 45),
			want: wallResult{utc(2026, 4, 4, 14, 45), utc(2026, 4, 4, 15, 15), true},
		},
		{
			// Samoa moved across the date line and skipped 2011-12-30.
			name: "a skipped day is the jump to the next",
			zone: "Pacific/Apia",
			ref:  utc(2011, 12, 30, 10, 0),
			want: wallResult{utc(2011, 12, 30, 10, 0), utc(2011, 12, 30, 10, 0), false},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			loc := loadZone(t, tt.zone)
			first, last, exists := wallTime(tt.ref, loc)
			if diff := cmp.Diff(tt.want, wallResult{first, last, exists}); diff != "" {
				t.Errorf("wallTime(%v, %s) mismatch (-want +got):\n%s", tt.ref, tt.zone, diff)
			}
			for _, got := range []time.Time{first, last} {
				if got.Location() != loc {
					t.Errorf("result %v is in %v, want %v", got, got.Location(), loc)
				}
			}
		})
	}
}

// TestWallTimeBruteForce compares wallTime with a minute-by-minute scan
// around every DST change of 2024-2030 in zones with 1-hour, half-hour and
// midnight changes, for every wall minute of the changing days and their
// neighbours.
func TestWallTimeBruteForce(t *testing.T) {
	t.Parallel()

	for _, zone := range []string{"America/New_York", "Europe/London", "Australia/Lord_Howe", "America/Santiago", "America/Havana"} {
		t.Run(zone, func(t *testing.T) {
			t.Parallel()
			loc := loadZone(t, zone)
			u := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
			for {
				_, end := u.In(loc).ZoneBounds()
				if end.IsZero() || end.Year() > 2030 {
					break
				}
				checkAround(t, loc, end)
				u = end
			}
		})
	}
}

// checkAround checks wallTime for every wall minute 00:00..24:00 of the
// local dates before, of and after the zone change at change.
func checkAround(t *testing.T, loc *time.Location, change time.Time) {
	t.Helper()
	reading := func(u time.Time) int64 {
		_, off := u.In(loc).Zone()
		return u.Unix() + int64(off)
	}
	// Every instant, on the minute, from well before the first date to well
	// after the last, with the wall clock it reads.
	type tick struct {
		at   time.Time
		read int64
	}
	var ticks []tick
	seen := map[int64][]time.Time{}
	for u := change.Add(-80 * time.Hour).Truncate(time.Hour); u.Before(change.Add(80 * time.Hour)); u = u.Add(time.Minute) {
		r := reading(u)
		ticks = append(ticks, tick{u, r})
		seen[r] = append(seen[r], u)
	}

	y, m, d := change.In(loc).Date()
	for i := -1; i <= 1; i++ {
		day := time.Date(y, m, d+i, 0, 0, 0, 0, time.UTC)
		for min := 0; min <= 1440; min++ {
			ref := day.Add(time.Duration(min) * time.Minute)
			want := wallResult{Exists: true}
			if at := seen[ref.Unix()]; len(at) > 0 {
				want.First, want.Last = at[0], at[len(at)-1]
			} else {
				// Skipped: the first instant reading later than ref.
				want.Exists = false
				for _, tk := range ticks {
					if tk.read > ref.Unix() {
						want.First, want.Last = tk.at, tk.at
						break
					}
				}
			}
			first, last, exists := wallTime(ref, loc)
			got := wallResult{first, last, exists}
			// cmp.Diff only on failure: it is too slow for 4000 calls a change.
			if got.First.Equal(want.First) && got.Last.Equal(want.Last) && got.Exists == want.Exists {
				continue
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("wallTime(%v, %v) mismatch (-want +got):\n%s", ref, loc, diff)
			}
		}
	}
}
