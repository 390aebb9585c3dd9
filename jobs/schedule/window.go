package schedule

import (
	"fmt"
	"time"
)

// MinWindow is the shortest contact window a survivor may set: long enough
// for a call, a reply and a retry, with Guard to spare.
const MinWindow = 30 * time.Minute

// MaxWindows is the most contact windows a survivor may have: four a day.
const MaxWindows = 28

// Guard is how long before a window's end contact may no longer start. A
// voice call and the survivor's reply must fit inside the window; a window is
// never used partially past its end, because past it the survivor may no
// longer be alone.
const Guard = 10 * time.Minute

// searchDays is how many local dates after t's NextSafe looks at. A weekly
// window recurs within 7 days; one more week covers an instance that a DST
// change emptied (see NextSafe), and one day of slack keeps the bound simple.
// The search stops long before this as soon as an opening is found.
const searchDays = 15

// maxZoneOffset bounds any UTC offset (real ones are within ±15h, even the
// historical local mean times). It lets NextSafe stop early: nothing on a
// later local date can start before that date's midnight minus this.
const maxZoneOffset = 24 * time.Hour

// ContactWindow is a weekly recurring time range, in the survivor's local
// time, during which it is safe to contact them. The range is [Start, End) on
// each of Days; End may be Midnight, and a window never wraps past midnight
// (two windows express "22:00-02:00").
type ContactWindow struct {
	Days  []time.Weekday
	Start Clock
	End   Clock
}

// ValidateWindows checks a survivor's contact windows and returns a
// *FieldError for the first problem, or nil. There must be 1 to MaxWindows
// windows; each needs at least one day, listed once, and Start < End with at
// least MinWindow between them. Fields are "contact_windows",
// "contact_windows[i].days", "contact_windows[i].start" and
// "contact_windows[i].end"; an end at or before the start is an error on the
// end, since that is the field the case worker most likely got wrong.
func ValidateWindows(ws []ContactWindow) error {
	if len(ws) == 0 {
		return fieldErr("contact_windows", "at least one contact window is required")
	}
	if len(ws) > MaxWindows {
		return fieldErr("contact_windows", "at most %d contact windows are allowed, got %d", MaxWindows, len(ws))
	}
	for i, w := range ws {
		days := fmt.Sprintf("contact_windows[%d].days", i)
		start := fmt.Sprintf("contact_windows[%d].start", i)
		end := fmt.Sprintf("contact_windows[%d].end", i)
		if len(w.Days) == 0 {
			return fieldErr(days, "at least one day is required")
		}
		var seen [7]bool
		for _, d := range w.Days {
			if d < time.Sunday || d > time.Saturday {
				return fieldErr(days, "%d is not a day of the week", int(d))
			}
			if seen[d] {
				return fieldErr(days, "%s is listed more than once", DayName(d))
			}
			seen[d] = true
		}
		if w.Start < 0 || w.Start >= Midnight {
			return fieldErr(start, "must be between 00:00 and 23:59")
		}
		if w.End < 0 || w.End > Midnight {
			return fieldErr(end, "must be between 00:00 and 24:00")
		}
		if w.End <= w.Start {
			return fieldErr(end, "must be after the start (%s), got %s", w.Start, w.End)
		}
		if w.length() < MinWindow {
			return fieldErr(end, "window %s-%s is shorter than the minimum of %d minutes",
				w.Start, w.End, int(MinWindow/time.Minute))
		}
	}
	return nil
}

func (w ContactWindow) length() time.Duration {
	return time.Duration(w.End-w.Start) * time.Minute
}

// usable reports whether w can ever allow contact. It lets NextSafe cope with
// unvalidated windows without producing instances that wrap midnight.
func (w ContactWindow) usable() bool {
	return w.Start >= 0 && w.End <= Midnight && w.length() > Guard
}

func (w ContactWindow) on(d time.Weekday) bool {
	for _, wd := range w.Days {
		if wd == d {
			return true
		}
	}
	return false
}

// instance returns w's [open, close) on the local date day (a UTC midnight
// used only as a calendar date). The rules for DST are those of NextSafe.
func (w ContactWindow) instance(day time.Time, loc *time.Location) (open, close time.Time) {
	first, last, _ := wallTime(day.Add(time.Duration(w.Start)*time.Minute), loc)
	open = first
	if !first.Equal(last) {
		// Clocks fall back after first reading Start. Opening at the first
		// reading would let contact happen after the fall-back while the
		// clock reads earlier than Start, so open at the second reading,
		// unless that reading is the fall-back itself (Start is the very
		// first repeated wall time, e.g. 01:00 in New York): then the clock
		// never reads below Start and the first reading is safe.
		if zoneStart, _ := last.ZoneBounds(); !zoneStart.Equal(last) {
			open = last
		}
	}
	close, _, _ = wallTime(day.Add(time.Duration(w.End)*time.Minute), loc)
	return open, close
}

// NextSafe returns the earliest instant at or after t at which contact may
// start, and ok=false when the windows never allow contact (no windows, or
// none longer than Guard). Contact may start at u when u lies in a window
// instance [open, close) with at least Guard left: open <= u <= close-Guard.
// next is t itself when contact may start at t, and otherwise an opening in
// loc. A nil loc allows no contact, since guessing the zone is unsafe.
//
// A window instance belongs to a local calendar date in loc: it opens when
// the local clock reads Start that day and closes when it reads End (End
// 24:00 is the next local midnight). Around DST changes, every instant of an
// instance reads within [Start, End) on the survivor's clock:
//   - A wall time skipped by a spring-forward maps to the instant the clocks
//     jump (New York 2026-03-08: 02:00 and 02:30 both mean 03:00 EDT). This
//     deliberately overrides time.Date, which moves such a time back in zones
//     west of UTC (02:00 becomes 01:00 EST), before the survivor's window.
//   - A wall time repeated by a fall-back means its first occurrence as an
//     End, and as a Start its second occurrence, unless Start is the first
//     repeated wall time (01:00 in New York), which keeps its first.
//   - An instance that DST leaves no longer than Guard is skipped; the next
//     week's is used, which may be more than 8 days after t.
func NextSafe(ws []ContactWindow, loc *time.Location, t time.Time) (next time.Time, ok bool) {
	if loc == nil {
		return time.Time{}, false
	}
	y, m, d := t.In(loc).Date()
	// Start a day early: a window of the previous local date ends by its
	// midnight, but walking the dates costs little and removes the doubt.
	for i := -1; i <= searchDays; i++ {
		day := time.Date(y, m, d+i, 0, 0, 0, 0, time.UTC)
		if ok && !next.After(day.Add(-maxZoneOffset)) {
			break
		}
		wd := day.Weekday()
		for _, w := range ws {
			if !w.usable() || !w.on(wd) {
				continue
			}
			open, close := w.instance(day, loc)
			last := close.Add(-Guard)
			if !open.Before(last) || last.Before(t) {
				continue
			}
			c := t
			if open.After(t) {
				c = open
			}
			if !ok || c.Before(next) {
				next, ok = c, true
			}
		}
	}
	return next, ok
}

// OpenUntil returns when the window that allows contact at t closes (the
// latest close if overlapping windows allow it), and ok=false when contact
// is not allowed at t. A message handed to a provider at t must reach the
// phone by then or not at all.
func OpenUntil(ws []ContactWindow, loc *time.Location, t time.Time) (until time.Time, ok bool) {
	if loc == nil {
		return time.Time{}, false
	}
	y, m, d := t.In(loc).Date()
	for i := -1; i <= 1; i++ {
		day := time.Date(y, m, d+i, 0, 0, 0, 0, time.UTC)
		for _, w := range ws {
			if !w.usable() || !w.on(day.Weekday()) {
				continue
			}
			open, close := w.instance(day, loc)
			if open.After(t) || close.Add(-Guard).Before(t) || !open.Before(close.Add(-Guard)) {
				continue
			}
			if !ok || close.After(until) {
				until, ok = close, true
			}
		}
	}
	return until, ok
}

// Allowed reports whether contact may start at t, that is NextSafe returns t.
func Allowed(ws []ContactWindow, loc *time.Location, t time.Time) bool {
	next, ok := NextSafe(ws, loc, t)
	return ok && next.Equal(t)
}

// wallTime finds when the clock in loc reads the wall time ref (a time in UTC
// used only for its calendar fields). If the wall time occurs, first and last
// are its occurrences (equal unless a fall-back repeats it). If a
// spring-forward skips it, exists is false and first and last are the instant
// the clocks jump past it.
//
// time.Date alone does not do: for skipped and repeated wall times it picks
// one of the two offsets "without guarantee", and in practice the pick
// differs between zones east and west of UTC.
func wallTime(ref time.Time, loc *time.Location) (first, last time.Time, exists bool) {
	t := time.Date(ref.Year(), ref.Month(), ref.Day(), ref.Hour(), ref.Minute(), ref.Second(), ref.Nanosecond(), loc)
	_, off := t.Zone()
	reads := t.Unix() + int64(off)
	zoneStart, zoneEnd := t.ZoneBounds()
	if want := ref.Unix(); reads != want {
		// Skipped: time.Date used the offset from one side of the jump, so
		// t sits just before the jump (reading too early) or just after
		// it (reading too late).
		jump := zoneStart
		if reads < want {
			jump = zoneEnd
		}
		if jump.IsZero() {
			return t, t, false // no transition to snap to; cannot happen in tzdata
		}
		return jump, jump, false
	}
	first, last = t, t
	// A repeated wall time lies within one shift of a fall-back; the
	// distance check skips the extra zone lookups on every other day.
	if !zoneStart.IsZero() && t.Sub(zoneStart) < maxZoneOffset {
		if _, prev := zoneStart.Add(-time.Nanosecond).Zone(); prev > off {
			if c := t.Add(-time.Duration(prev-off) * time.Second); c.Before(zoneStart) {
				first = c
			}
		}
	}
	if !zoneEnd.IsZero() && zoneEnd.Sub(t) < maxZoneOffset {
		if _, next := zoneEnd.Zone(); off > next {
			if c := t.Add(time.Duration(off-next) * time.Second); !c.Before(zoneEnd) {
				last = c
			}
		}
	}
	return first, last, true
}
