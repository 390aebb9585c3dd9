// Package schedule holds the pure time maths behind Saathi's check-ins: when a
// cadence is due (cadence.go) and when a survivor may safely be contacted
// (window.go). It does no I/O and never reads the clock, so every instant is
// passed in and every rule is tested with table tests.
//
// All wall-clock reasoning happens in the survivor's own time zone, because a
// contact window is a promise about the survivor's day ("after my shift, before
// he gets home"), not about the server's.
package schedule

import (
	"fmt"
	"strings"
	"time"
)

// Clock is a time of day as minutes since local midnight, 0..1440. The value
// 1440 ("24:00") is allowed only as a window end, so that a window can run up
// to midnight without wrapping into the next day.
type Clock int

// Midnight is the latest Clock: "24:00", the end of the local day.
const Midnight Clock = 24 * 60

// ParseClock parses "HH:MM" with two digits each, from "00:00" to "24:00".
// It is strict ("7:5" and "07:5" are rejected) because a survivor's safety
// depends on the window being exactly what the case worker meant.
func ParseClock(s string) (Clock, error) {
	if len(s) != 5 || s[2] != ':' || !isDigits(s[:2]) || !isDigits(s[3:]) {
		return 0, fmt.Errorf("time %q must be written as HH:MM, for example 09:30", s)
	}
	h := int(s[0]-'0')*10 + int(s[1]-'0')
	m := int(s[3]-'0')*10 + int(s[4]-'0')
	if m > 59 {
		return 0, fmt.Errorf("time %q has minutes past 59", s)
	}
	c := Clock(h*60 + m)
	if c > Midnight {
		return 0, fmt.Errorf("time %q is later than 24:00", s)
	}
	return c, nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// String formats c as "HH:MM"; Midnight is "24:00".
func (c Clock) String() string {
	return fmt.Sprintf("%02d:%02d", int(c)/60, int(c)%60)
}

var dayNames = [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// ParseDay parses a three-letter day name, "mon" to "sun", in any case. Full
// names and abbreviations other than these are rejected so that the API has
// one spelling that round-trips through DayName.
func ParseDay(s string) (time.Weekday, error) {
	l := strings.ToLower(s)
	for d, name := range dayNames {
		if l == name {
			return time.Weekday(d), nil
		}
	}
	return 0, fmt.Errorf("day %q must be one of mon, tue, wed, thu, fri, sat, sun", s)
}

// DayName returns the three-letter name ParseDay accepts, "mon" to "sun". Like
// time.Weekday.String, it returns "%!Weekday(n)" for a value out of range.
func DayName(d time.Weekday) string {
	if d < time.Sunday || d > time.Saturday {
		return fmt.Sprintf("%%!Weekday(%d)", int(d))
	}
	return dayNames[d]
}

// FieldError is a validation failure that an API handler can hand back as
// {"error": Message, "field": Field}. Field is relative to the request body
// (for example "contact_windows[1].end") and Message is plain English for the
// case worker filling in the form.
type FieldError struct {
	Field   string
	Message string
}

// Error returns "field: message".
func (e *FieldError) Error() string {
	return e.Field + ": " + e.Message
}

// fieldErr builds a *FieldError; a helper keeps validation code on one line
// per rule.
func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
}
