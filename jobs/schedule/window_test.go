package schedule_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"saathi/jobs/schedule"
)

// result pairs NextSafe's two return values so a table can diff them at once
// (cmp compares time.Time with Equal, so zones need not match).
type result struct {
	Next time.Time
	OK   bool
}

func clock(h, m int) schedule.Clock { return schedule.Clock(h*60 + m) }

func window(start, end schedule.Clock, days ...time.Weekday) schedule.ContactWindow {
	return schedule.ContactWindow{Days: days, Start: start, End: end}
}

func TestNextSafe(t *testing.T) {
	t.Parallel()

	newYork := mustLoad(t, "America/New_York")
	kolkata := mustLoad(t, "Asia/Kolkata")
	lordHowe := mustLoad(t, "Australia/Lord_Howe")
	london := mustLoad(t, "Europe/London")
	ny := func(mo time.Month, d, h, m int) time.Time { return time.Date(2026, mo, d, h, m, 0, 0, newYork) }
	utc := func(mo time.Month, d, h, m int) time.Time { return time.Date(2026, mo, d, h, m, 0, 0, time.UTC) }
	ist := func(mo time.Month, d, h, m int) time.Time { return time.Date(2026, mo, d, h, m, 0, 0, kolkata) }
	const (
		mon = time.Monday
		tue = time.Tuesday
		sun = time.Sunday
	)
	// 2026-03-02 is a Monday, in EST.
	workday := []schedule.ContactWindow{window(clock(9, 0), clock(17, 0), mon, tue)}

	tests := []struct {
		name string
		ws   []schedule.ContactWindow
		loc  *time.Location
		t    time.Time
		want result
	}{
		{name: "inside a window is t itself", ws: workday, loc: newYork, t: ny(3, 2, 12, 34), want: result{ny(3, 2, 12, 34), true}},
		{name: "at the opening is t itself", ws: workday, loc: newYork, t: ny(3, 2, 9, 0), want: result{ny(3, 2, 9, 0), true}},
		{name: "before the opening is the opening", ws: workday, loc: newYork, t: ny(3, 2, 7, 0), want: result{ny(3, 2, 9, 0), true}},
		{name: "just before the opening", ws: workday, loc: newYork, t: ny(3, 2, 9, 0).Add(-time.Nanosecond), want: result{ny(3, 2, 9, 0), true}},
		{name: "exactly Guard before the end is allowed", ws: workday, loc: newYork, t: ny(3, 2, 16, 50), want: result{ny(3, 2, 16, 50), true}},
		{name: "a nanosecond later is the next opening", ws: workday, loc: newYork, t: ny(3, 2, 16, 50).Add(time.Nanosecond), want: result{ny(3, 3, 9, 0), true}},
		{name: "a minute later is the next opening", ws: workday, loc: newYork, t: ny(3, 2, 16, 51), want: result{ny(3, 3, 9, 0), true}},
		{name: "after the end is the next day's opening", ws: workday, loc: newYork, t: ny(3, 2, 20, 0), want: result{ny(3, 3, 9, 0), true}},
		{name: "after the last day of the week", ws: workday, loc: newYork, t: ny(3, 3, 18, 0), want: result{ny(3, 9, 9, 0), true}},
		{
			name: "week wraps from Saturday evening to Monday",
			ws:   []schedule.ContactWindow{window(clock(9, 0), clock(17, 0), mon)},
			loc:  newYork,
			t:    ny(2, 28, 20, 0), // Saturday
			want: result{ny(3, 2, 9, 0), true},
		},
		{
			name: "between a morning and an afternoon window",
			ws:   []schedule.ContactWindow{window(clock(14, 0), clock(16, 0), mon), window(clock(8, 0), clock(9, 0), mon)},
			loc:  newYork,
			t:    ny(3, 2, 10, 0),
			want: result{ny(3, 2, 14, 0), true},
		},
		{
			name: "before both windows picks the earlier even when listed second",
			ws:   []schedule.ContactWindow{window(clock(14, 0), clock(16, 0), mon), window(clock(8, 0), clock(9, 0), mon)},
			loc:  newYork,
			t:    ny(3, 2, 6, 0),
			want: result{ny(3, 2, 8, 0), true},
		},
		{
			name: "past Guard of the morning window",
			ws:   []schedule.ContactWindow{window(clock(8, 0), clock(9, 0), mon), window(clock(14, 0), clock(16, 0), mon)},
			loc:  newYork,
			t:    ny(3, 2, 8, 55),
			want: result{ny(3, 2, 14, 0), true},
		},
		{
			name: "overlapping windows",
			ws:   []schedule.ContactWindow{window(clock(8, 0), clock(10, 0), mon), window(clock(9, 0), clock(12, 0), mon)},
			loc:  newYork,
			t:    ny(3, 2, 9, 55),
			want: result{ny(3, 2, 9, 55), true},
		},
		{
			name: "window ending at 24:00 is open until Guard before midnight",
			ws:   []schedule.ContactWindow{window(clock(22, 0), schedule.Midnight, mon)},
			loc:  newYork,
			t:    ny(3, 2, 23, 50),
			want: result{ny(3, 2, 23, 50), true},
		},
		{
			name: "window ending at 24:00 after Guard",
			ws:   []schedule.ContactWindow{window(clock(22, 0), schedule.Midnight, mon)},
			loc:  newYork,
			t:    ny(3, 2, 23, 51),
			want: result{ny(3, 9, 22, 0), true},
		},
		{
			name: "window ending at 24:00 then one from midnight",
			ws:   []schedule.ContactWindow{window(clock(23, 0), schedule.Midnight, mon), window(0, clock(1, 0), tue)},
			loc:  newYork,
			t:    ny(3, 2, 23, 55),
			want: result{ny(3, 3, 0, 0), true},
		},

		// America/New_York springs forward on 2026-03-08: 02:00 EST jumps to
		// 03:00 EDT, so 02:00-02:59 does not exist that day.
		{
			name: "spring forward: opening in the gap is the jump",
			ws:   []schedule.ContactWindow{window(clock(2, 0), clock(4, 0), sun)},
			loc:  newYork,
			t:    ny(3, 8, 0, 30),
			want: result{utc(3, 8, 7, 0), true}, // 03:00 EDT, never 01:00 EST
		},
		{
			name: "spring forward: inside the shortened window",
			ws:   []schedule.ContactWindow{window(clock(2, 0), clock(4, 0), sun)},
			loc:  newYork,
			t:    ny(3, 8, 3, 50),
			want: result{ny(3, 8, 3, 50), true},
		},
		{
			name: "spring forward: after the shortened window",
			ws:   []schedule.ContactWindow{window(clock(2, 0), clock(4, 0), sun)},
			loc:  newYork,
			t:    ny(3, 8, 3, 51),
			want: result{ny(3, 15, 2, 0), true},
		},
		{
			name: "spring forward: end in the gap is the jump",
			ws:   []schedule.ContactWindow{window(clock(1, 0), clock(2, 30), sun)},
			loc:  newYork,
			t:    utc(3, 8, 6, 50), // 01:50 EST, Guard before the 03:00 EDT jump
			want: result{utc(3, 8, 6, 50), true},
		},
		{
			name: "spring forward: end in the gap, after Guard",
			ws:   []schedule.ContactWindow{window(clock(1, 0), clock(2, 30), sun)},
			loc:  newYork,
			t:    utc(3, 8, 6, 51),
			want: result{ny(3, 15, 1, 0), true},
		},
		{
			name: "spring forward: an instance left no longer than Guard is skipped for a week",
			ws:   []schedule.ContactWindow{window(clock(2, 30), clock(3, 10), sun)},
			loc:  newYork,
			t:    ny(3, 1, 12, 0), // 03-08 would be 03:00-03:10 EDT only
			want: result{ny(3, 15, 2, 30), true},
		},

		// America/New_York falls back on 2026-11-01: 02:00 EDT becomes 01:00
		// EST, so 01:00-01:59 happens twice that day.
		{
			name: "fall back: a 01:00 opening is its first occurrence",
			ws:   []schedule.ContactWindow{window(clock(1, 0), clock(3, 0), sun)},
			loc:  newYork,
			t:    ny(11, 1, 0, 30),
			want: result{utc(11, 1, 5, 0), true}, // 01:00 EDT
		},
		{
			name: "fall back: the repeated hour is inside",
			ws:   []schedule.ContactWindow{window(clock(1, 0), clock(3, 0), sun)},
			loc:  newYork,
			t:    utc(11, 1, 6, 30), // 01:30 EST
			want: result{utc(11, 1, 6, 30), true},
		},
		{
			name: "fall back: three real hours, Guard before 03:00 EST",
			ws:   []schedule.ContactWindow{window(clock(1, 0), clock(3, 0), sun)},
			loc:  newYork,
			t:    utc(11, 1, 7, 50),
			want: result{utc(11, 1, 7, 50), true},
		},
		{
			name: "fall back: after the window",
			ws:   []schedule.ContactWindow{window(clock(1, 0), clock(3, 0), sun)},
			loc:  newYork,
			t:    utc(11, 1, 7, 51),
			want: result{ny(11, 8, 1, 0), true},
		},
		{
			name: "fall back: an opening inside the repeated hour waits for its second occurrence",
			ws:   []schedule.ContactWindow{window(clock(1, 30), clock(3, 0), sun)},
			loc:  newYork,
			t:    utc(11, 1, 5, 10),               // 01:10 EDT
			want: result{utc(11, 1, 6, 30), true}, // 01:30 EST: the clock never reads 01:00-01:29 in the window
		},
		{
			name: "fall back: an end inside the repeated hour is its first occurrence",
			ws:   []schedule.ContactWindow{window(0, clock(1, 30), sun)},
			loc:  newYork,
			t:    utc(11, 1, 5, 21), // 01:21 EDT, Guard before 01:30 EDT has passed
			want: result{ny(11, 8, 0, 0), true},
		},

		// Europe/London falls back on 2026-10-25: 02:00 BST becomes 01:00
		// GMT. time.Date reads 01:xx that day as GMT, the second occurrence.
		{
			name: "London fall back: an end inside the repeated hour is its first occurrence",
			ws:   []schedule.ContactWindow{window(0, clock(1, 30), sun)},
			loc:  london,
			t:    utc(10, 25, 0, 21), // 01:21 BST, Guard before 01:30 BST has passed
			want: result{time.Date(2026, 11, 1, 0, 0, 0, 0, london), true},
		},
		{
			name: "London fall back: a 01:00 opening is its first occurrence",
			ws:   []schedule.ContactWindow{window(clock(1, 0), clock(3, 0), sun)},
			loc:  london,
			t:    utc(10, 24, 23, 30),             // 00:30 BST
			want: result{utc(10, 25, 0, 0), true}, // 01:00 BST
		},

		// Australia/Lord_Howe falls back by 30 minutes on 2026-04-05: 02:00
		// +11 becomes 01:30 +10:30.
		{
			name: "Lord Howe half-hour fall back: 01:30 opening is its first occurrence",
			ws:   []schedule.ContactWindow{window(clock(1, 30), clock(3, 0), sun)},
			loc:  lordHowe,
			t:    utc(4, 4, 14, 0),                // 01:00 +11
			want: result{utc(4, 4, 14, 30), true}, // 01:30 +11
		},
		{
			name: "Lord Howe half-hour fall back: 01:45 opening is its second occurrence",
			ws:   []schedule.ContactWindow{window(clock(1, 45), clock(3, 0), sun)},
			loc:  lordHowe,
			t:    utc(4, 4, 14, 0),
			want: result{utc(4, 4, 15, 15), true}, // 01:45 +10:30
		},

		// Asia/Kolkata is UTC+05:30 all year.
		{
			name: "Kolkata half-hour offset",
			ws:   []schedule.ContactWindow{window(clock(9, 30), clock(10, 0), mon)},
			loc:  kolkata,
			t:    ist(3, 2, 8, 0),
			want: result{utc(3, 2, 4, 0), true},
		},
		{
			name: "t in UTC, zone Kolkata, before the window",
			ws:   []schedule.ContactWindow{window(clock(9, 30), clock(10, 0), mon)},
			loc:  kolkata,
			t:    utc(3, 2, 3, 0), // 08:30 IST
			want: result{ist(3, 2, 9, 30), true},
		},
		{
			name: "t in UTC, zone Kolkata, Guard before the end",
			ws:   []schedule.ContactWindow{window(clock(9, 30), clock(10, 0), mon)},
			loc:  kolkata,
			t:    utc(3, 2, 4, 20), // 09:50 IST
			want: result{utc(3, 2, 4, 20), true},
		},
		{
			name: "t in UTC, zone Kolkata, after Guard",
			ws:   []schedule.ContactWindow{window(clock(9, 30), clock(10, 0), mon)},
			loc:  kolkata,
			t:    utc(3, 2, 4, 21),
			want: result{ist(3, 9, 9, 30), true},
		},
		{
			name: "t on Sunday in UTC is already Monday in Kolkata",
			ws:   []schedule.ContactWindow{window(clock(2, 0), clock(3, 0), mon)},
			loc:  kolkata,
			t:    utc(3, 1, 20, 0), // Monday 01:30 IST
			want: result{utc(3, 1, 20, 30), true},
		},

		// Australia/Lord_Howe springs forward by 30 minutes on 2026-10-04:
		// 02:00 +10:30 jumps to 02:30 +11.
		{
			name: "Lord Howe half-hour spring forward",
			ws:   []schedule.ContactWindow{window(clock(2, 0), clock(3, 0), sun)},
			loc:  lordHowe,
			t:    time.Date(2026, 10, 4, 1, 0, 0, 0, lordHowe),
			want: result{utc(10, 3, 15, 30), true}, // 02:30 +11
		},

		{name: "no windows", ws: nil, loc: newYork, t: ny(3, 2, 12, 0), want: result{}},
		{name: "nil zone", ws: workday, loc: nil, t: ny(3, 2, 12, 0), want: result{}},
		{name: "window as long as Guard", ws: []schedule.ContactWindow{window(clock(9, 0), clock(9, 10), mon)}, loc: newYork, t: ny(3, 2, 8, 0), want: result{}},
		{name: "window shorter than Guard", ws: []schedule.ContactWindow{window(clock(9, 0), clock(9, 5), mon)}, loc: newYork, t: ny(3, 2, 8, 0), want: result{}},
		{name: "window without days", ws: []schedule.ContactWindow{window(clock(9, 0), clock(17, 0))}, loc: newYork, t: ny(3, 2, 8, 0), want: result{}},
		{name: "end before start", ws: []schedule.ContactWindow{window(clock(17, 0), clock(9, 0), mon)}, loc: newYork, t: ny(3, 2, 8, 0), want: result{}},
		{
			name: "one minute longer than Guard",
			ws:   []schedule.ContactWindow{window(clock(9, 0), clock(9, 11), mon)},
			loc:  newYork,
			t:    ny(3, 2, 9, 1).Add(time.Nanosecond),
			want: result{ny(3, 9, 9, 0), true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			next, ok := schedule.NextSafe(tt.ws, tt.loc, tt.t)
			if diff := cmp.Diff(tt.want, result{next, ok}); diff != "" {
				t.Errorf("NextSafe(%v) mismatch (-want +got):\n%s", tt.t, diff)
			}
			if got, want := schedule.Allowed(tt.ws, tt.loc, tt.t), ok && next.Equal(tt.t); got != want {
				t.Errorf("Allowed(%v) = %v, want %v", tt.t, got, want)
			}
			if ok && next.Equal(tt.t) && next != tt.t {
				t.Errorf("NextSafe(%v) = %v: an allowed t must come back unchanged", tt.t, next)
			}
		})
	}
}

// TestNextSafeEveryWeekday guards against an off-by-one between time.Weekday
// and the local date: each day's window is found on that day only.
func TestNextSafeEveryWeekday(t *testing.T) {
	t.Parallel()

	kolkata := mustLoad(t, "Asia/Kolkata")
	// Wednesday 2026-03-04 12:00, after that day's 10:00-11:00 window.
	now := time.Date(2026, 3, 4, 12, 0, 0, 0, kolkata)

	tests := []struct {
		day  string
		want time.Time
	}{
		{day: "mon", want: time.Date(2026, 3, 9, 10, 0, 0, 0, kolkata)},
		{day: "tue", want: time.Date(2026, 3, 10, 10, 0, 0, 0, kolkata)},
		{day: "wed", want: time.Date(2026, 3, 11, 10, 0, 0, 0, kolkata)},
		{day: "thu", want: time.Date(2026, 3, 5, 10, 0, 0, 0, kolkata)},
		{day: "fri", want: time.Date(2026, 3, 6, 10, 0, 0, 0, kolkata)},
		{day: "sat", want: time.Date(2026, 3, 7, 10, 0, 0, 0, kolkata)},
		{day: "sun", want: time.Date(2026, 3, 8, 10, 0, 0, 0, kolkata)},
	}
	for _, tt := range tests {
		t.Run(tt.day, func(t *testing.T) {
			t.Parallel()
			d, err := schedule.ParseDay(tt.day)
			if err != nil {
				t.Fatal(err)
			}
			ws := []schedule.ContactWindow{window(clock(10, 0), clock(11, 0), d)}
			next, ok := schedule.NextSafe(ws, kolkata, now)
			if diff := cmp.Diff(result{tt.want, true}, result{next, ok}); diff != "" {
				t.Errorf("NextSafe mismatch (-want +got):\n%s", diff)
			}
			if got := next.In(kolkata).Weekday(); got != d {
				t.Errorf("opening is on %v, want %v", got, d)
			}
			// On the day itself, inside the window, contact is allowed.
			inside := tt.want.Add(30 * time.Minute)
			if !schedule.Allowed(ws, kolkata, inside) {
				t.Errorf("Allowed(%v) = false inside the %s window", inside, tt.day)
			}
		})
	}
}

// TestNextSafeProperties checks NextSafe against its contract on random
// window sets, zones and instants, biased towards DST changes:
//   - r >= t, and r-t <= 8 days unless a DST change falls in between;
//   - Allowed(r), and the survivor's clock reads inside one of that local
//     weekday's windows at r and still Guard later (the safety promise,
//     checked on the wall clock, independently of how instances are built);
//   - nothing in [t, r) is allowed: Allowed is false just before r, and
//     NextSafe from any instant in [t, r] returns r (for a sample, every
//     minute in between is checked too);
//   - ok=false exactly when no window is longer than Guard.
func TestNextSafeProperties(t *testing.T) {
	t.Parallel()

	zones := []*time.Location{
		mustLoad(t, "Asia/Kolkata"),
		mustLoad(t, "America/New_York"),
		mustLoad(t, "Europe/London"),
		mustLoad(t, "Australia/Lord_Howe"), // 30-minute DST shift
	}
	rng := rand.New(rand.NewPCG(20260308, 1))
	const (
		cases      = 10_000
		everyMinOf = 100 // cases whose every minute in [t, r) is checked
	)

	for i := range cases {
		loc := zones[rng.IntN(len(zones))]
		ws := randomWindows(rng)
		tt := randomInstant(rng, loc)
		name := fmt.Sprintf("case %d: NextSafe(%+v, %v, %v)", i, ws, loc, tt)

		r, ok := schedule.NextSafe(ws, loc, tt)
		if want := anyLongerThanGuard(ws); ok != want {
			t.Fatalf("%s: ok = %v, want %v", name, ok, want)
		}
		if !ok {
			continue
		}
		if r.Before(tt) {
			t.Fatalf("%s = %v, before t", name, r)
		}
		if d := r.Sub(tt); d > 8*24*time.Hour {
			// Only an instance that DST shrank below Guard can push the
			// answer a week further.
			if _, end := tt.In(loc).ZoneBounds(); end.IsZero() || end.After(r) || d > 15*24*time.Hour {
				t.Fatalf("%s = %v, %v after t with no DST change in between", name, r, d)
			}
		}
		if !schedule.Allowed(ws, loc, r) {
			t.Fatalf("%s = %v, which is not Allowed", name, r)
		}
		for _, u := range []time.Time{r, r.Add(schedule.Guard - time.Nanosecond)} {
			if !readsInsideWindow(ws, loc, u, r) {
				t.Fatalf("%s = %v: the clock reads %v at %v, outside every window", name, r, u.In(loc), u)
			}
		}
		if r.After(tt) && schedule.Allowed(ws, loc, r.Add(-time.Nanosecond)) {
			t.Fatalf("%s = %v, but contact was already allowed just before", name, r)
		}
		for k := range 8 {
			u := tt.Add(r.Sub(tt) * time.Duration(k) / 8)
			if k == 7 {
				u = tt.Add(time.Duration(rng.Int64N(int64(r.Sub(tt)) + 1)))
			}
			if got, _ := schedule.NextSafe(ws, loc, u); !got.Equal(r) {
				t.Fatalf("%s = %v, but from %v it is %v", name, r, u, got)
			}
		}
		if i < everyMinOf {
			for u := tt; u.Before(r); u = u.Add(time.Minute) {
				if schedule.Allowed(ws, loc, u) {
					t.Fatalf("%s = %v, but %v is allowed", name, r, u)
				}
			}
		}
	}
}

// randomWindows returns 1-4 windows with random days, favouring starts in the
// small hours where DST changes happen and lengths around Guard.
func randomWindows(rng *rand.Rand) []schedule.ContactWindow {
	ws := make([]schedule.ContactWindow, 1+rng.IntN(4))
	for i := range ws {
		var days []time.Weekday
		for len(days) == 0 {
			for d := time.Sunday; d <= time.Saturday; d++ {
				if rng.IntN(10) < 3 {
					days = append(days, d)
				}
			}
		}
		var start int
		switch rng.IntN(3) {
		case 0:
			start = rng.IntN(1440)
		default:
			start = rng.IntN(48) * 5 // 00:00-03:55
		}
		var length int
		switch rng.IntN(10) {
		case 0, 1:
			length = 1 + rng.IntN(45)
		case 2:
			length = 1440
		default:
			length = 30 + rng.IntN(600)
		}
		ws[i] = schedule.ContactWindow{Days: days, Start: schedule.Clock(start), End: schedule.Clock(min(start+length, 1440))}
	}
	return ws
}

// randomInstant returns an instant in 2024-2030, often within two days before
// or one day after a DST change of loc, sometimes on a 5-minute boundary.
func randomInstant(rng *rand.Rand, loc *time.Location) time.Time {
	from := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	t := from.Add(time.Duration(rng.Int64N(int64(7 * 365 * 24 * time.Hour))))
	if rng.IntN(2) == 0 {
		if _, end := t.In(loc).ZoneBounds(); !end.IsZero() {
			t = end.Add(time.Duration(rng.Int64N(int64(3*24*time.Hour))) - 2*24*time.Hour)
		}
	}
	if rng.IntN(5) == 0 {
		t = t.Truncate(5 * time.Minute)
	}
	return t
}

func anyLongerThanGuard(ws []schedule.ContactWindow) bool {
	for _, w := range ws {
		if len(w.Days) > 0 && time.Duration(w.End-w.Start)*time.Minute > schedule.Guard {
			return true
		}
	}
	return false
}

// readsInsideWindow reports whether, at u, the clock in loc reads within
// [Start, End) of a window on the local weekday of `on`, and u is on that
// same local date.
func readsInsideWindow(ws []schedule.ContactWindow, loc *time.Location, u, on time.Time) bool {
	lu, lon := u.In(loc), on.In(loc)
	if dateOf(lu) != dateOf(lon) {
		return false
	}
	wall := time.Duration(lu.Hour())*time.Hour + time.Duration(lu.Minute())*time.Minute +
		time.Duration(lu.Second())*time.Second + time.Duration(lu.Nanosecond())
	for _, w := range ws {
		for _, d := range w.Days {
			if d == lu.Weekday() && wall >= time.Duration(w.Start)*time.Minute && wall < time.Duration(w.End)*time.Minute {
				return true
			}
		}
	}
	return false
}

func dateOf(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func BenchmarkNextSafe(b *testing.B) {
	newYork := mustLoad(b, "America/New_York")
	ws := []schedule.ContactWindow{
		window(clock(8, 0), clock(9, 0), time.Monday, time.Wednesday, time.Friday),
		window(clock(14, 0), clock(16, 30), time.Tuesday, time.Thursday),
		window(clock(10, 0), clock(12, 0), time.Saturday),
	}
	// Sunday evening: the answer is the next morning, a typical search.
	t := time.Date(2026, 3, 1, 20, 0, 0, 0, newYork)
	for b.Loop() {
		if _, ok := schedule.NextSafe(ws, newYork, t); !ok {
			b.Fatal("no opening")
		}
	}
}

func TestOpenUntil(t *testing.T) {
	t.Parallel()
	loc, err := time.LoadLocation("Asia/Kolkata")
	if err != nil {
		t.Fatal(err)
	}
	ws := []schedule.ContactWindow{
		{Days: []time.Weekday{time.Wednesday}, Start: 10 * 60, End: 17 * 60},
		{Days: []time.Weekday{time.Wednesday}, Start: 16 * 60, End: 19 * 60},
	}
	at := func(h, m int) time.Time { return time.Date(2026, 11, 25, h, m, 0, 0, loc) }
	tests := []struct {
		name string
		t    time.Time
		want time.Time
		ok   bool
	}{
		{"inside the first", at(11, 0), at(17, 0), true},
		{"inside both: the later close", at(16, 30), at(19, 0), true},
		{"in the guard of the second", at(18, 55), time.Time{}, false},
		{"before any", at(9, 0), time.Time{}, false},
		{"another day", time.Date(2026, 11, 26, 11, 0, 0, 0, loc), time.Time{}, false},
	}
	for _, tt := range tests {
		got, ok := schedule.OpenUntil(ws, loc, tt.t)
		if ok != tt.ok || !got.Equal(tt.want) {
			t.Errorf("%s: OpenUntil = %v %v, want %v %v", tt.name, got, ok, tt.want, tt.ok)
		}
		if ok != schedule.Allowed(ws, loc, tt.t) {
			t.Errorf("%s: OpenUntil and Allowed disagree", tt.name)
		}
	}
}
