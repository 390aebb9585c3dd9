package schedule_test

import (
	"errors"
	"testing"
	"time"

	// Embed the zone database so tests never depend on the host's.
	_ "time/tzdata"

	"github.com/google/go-cmp/cmp"

	"saathi/jobs/schedule"
)

// mustLoad loads an IANA zone or fails the test.
func mustLoad(tb testing.TB, name string) *time.Location {
	tb.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		tb.Fatalf("load zone %s: %v", name, err)
	}
	return loc
}

// fieldOf returns the Field of err, "" for nil, and fails the test when err
// is not a *FieldError: handlers rely on the type to report the field.
func fieldOf(t *testing.T, err error) string {
	t.Helper()
	if err == nil {
		return ""
	}
	var fe *schedule.FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v (%T) is not a *FieldError", err, err)
	}
	if fe.Message == "" {
		t.Errorf("FieldError for %s has no message", fe.Field)
	}
	return fe.Field
}

func TestParseClock(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		in      string
		want    schedule.Clock
		wantErr bool
	}{
		{name: "midnight", in: "00:00", want: 0},
		{name: "morning", in: "07:05", want: 7*60 + 5},
		{name: "last minute", in: "23:59", want: 1439},
		{name: "end of day", in: "24:00", want: schedule.Midnight},
		{name: "single digits", in: "7:5", wantErr: true},
		{name: "single digit hour", in: "7:05", wantErr: true},
		{name: "single digit minute", in: "07:5", wantErr: true},
		{name: "hour too big", in: "25:00", wantErr: true},
		{name: "minute too big", in: "10:60", wantErr: true},
		{name: "past end of day", in: "24:01", wantErr: true},
		{name: "empty", in: "", wantErr: true},
		{name: "no colon", in: "0930", wantErr: true},
		{name: "dot separator", in: "09.30", wantErr: true},
		{name: "seconds", in: "09:30:00", wantErr: true},
		{name: "sign", in: "-1:00", wantErr: true},
		{name: "spaces", in: " 9:30", wantErr: true},
		{name: "letters", in: "ab:cd", wantErr: true},
		{name: "non-ASCII digits", in: "٠٩:٣٠", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := schedule.ParseClock(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseClock(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseClock(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestClockString(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		in   schedule.Clock
		want string
	}{
		{name: "midnight", in: 0, want: "00:00"},
		{name: "morning", in: 9*60 + 5, want: "09:05"},
		{name: "last minute", in: 1439, want: "23:59"},
		{name: "end of day", in: schedule.Midnight, want: "24:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := tt.in.String()
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Clock(%d).String() mismatch (-want +got):\n%s", int(tt.in), diff)
			}
			back, err := schedule.ParseClock(got)
			if err != nil || back != tt.in {
				t.Errorf("ParseClock(%q) = %d, %v; want round trip to %d", got, int(back), err, int(tt.in))
			}
		})
	}
}

func TestParseDay(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		in      string
		want    time.Weekday
		wantErr bool
	}{
		{name: "mon", in: "mon", want: time.Monday},
		{name: "tue", in: "tue", want: time.Tuesday},
		{name: "wed", in: "wed", want: time.Wednesday},
		{name: "thu", in: "thu", want: time.Thursday},
		{name: "fri", in: "fri", want: time.Friday},
		{name: "sat", in: "sat", want: time.Saturday},
		{name: "sun", in: "sun", want: time.Sunday},
		{name: "upper case", in: "MON", want: time.Monday},
		{name: "mixed case", in: "Sun", want: time.Sunday},
		{name: "full name", in: "monday", wantErr: true},
		{name: "two letters", in: "mo", wantErr: true},
		{name: "empty", in: "", wantErr: true},
		{name: "padded", in: " mon", wantErr: true},
		{name: "number", in: "1", wantErr: true},
		{name: "other language", in: "lun", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := schedule.ParseDay(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseDay(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseDay(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestDayName(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		in   time.Weekday
		want string
	}{
		{name: "sunday", in: time.Sunday, want: "sun"},
		{name: "monday", in: time.Monday, want: "mon"},
		{name: "saturday", in: time.Saturday, want: "sat"},
		{name: "out of range", in: 7, want: "%!Weekday(7)"},
		{name: "negative", in: -1, want: "%!Weekday(-1)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, schedule.DayName(tt.in)); diff != "" {
				t.Errorf("DayName(%d) mismatch (-want +got):\n%s", int(tt.in), diff)
			}
		})
	}

	t.Run("round trip", func(t *testing.T) {
		t.Parallel()
		for d := time.Sunday; d <= time.Saturday; d++ {
			got, err := schedule.ParseDay(schedule.DayName(d))
			if err != nil || got != d {
				t.Errorf("ParseDay(DayName(%v)) = %v, %v", d, got, err)
			}
		}
	})
}

func TestFieldErrorError(t *testing.T) {
	t.Parallel()

	err := &schedule.FieldError{Field: "contact_windows[1].end", Message: "must be after the start"}
	if diff := cmp.Diff("contact_windows[1].end: must be after the start", err.Error()); diff != "" {
		t.Errorf("Error() mismatch (-want +got):\n%s", diff)
	}
}

func TestValidateWindows(t *testing.T) {
	t.Parallel()

	ok := schedule.ContactWindow{Days: []time.Weekday{time.Monday}, Start: 9 * 60, End: 17 * 60}
	// withWindow puts w second so that the index in the field name is tested.
	withWindow := func(w schedule.ContactWindow) []schedule.ContactWindow {
		return []schedule.ContactWindow{ok, w}
	}
	repeat := func(n int) []schedule.ContactWindow {
		ws := make([]schedule.ContactWindow, n)
		for i := range ws {
			ws[i] = ok
		}
		return ws
	}
	mon := []time.Weekday{time.Monday}

	tests := []struct {
		name      string
		ws        []schedule.ContactWindow
		wantField string // "" means valid
	}{
		{name: "one window", ws: []schedule.ContactWindow{ok}},
		{name: "whole day", ws: []schedule.ContactWindow{{Days: mon, Start: 0, End: schedule.Midnight}}},
		{name: "exactly the minimum length", ws: withWindow(schedule.ContactWindow{Days: mon, Start: 600, End: 630})},
		{name: "every day", ws: withWindow(schedule.ContactWindow{
			Days:  []time.Weekday{time.Sunday, time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday},
			Start: 600, End: 700,
		})},
		{name: "maximum number of windows", ws: repeat(schedule.MaxWindows)},
		{name: "nil", ws: nil, wantField: "contact_windows"},
		{name: "empty", ws: []schedule.ContactWindow{}, wantField: "contact_windows"},
		{name: "too many windows", ws: repeat(schedule.MaxWindows + 1), wantField: "contact_windows"},
		{name: "no days", ws: withWindow(schedule.ContactWindow{Start: 600, End: 700}), wantField: "contact_windows[1].days"},
		{name: "duplicate day", ws: withWindow(schedule.ContactWindow{
			Days: []time.Weekday{time.Monday, time.Tuesday, time.Monday}, Start: 600, End: 700,
		}), wantField: "contact_windows[1].days"},
		{name: "day out of range", ws: withWindow(schedule.ContactWindow{
			Days: []time.Weekday{7}, Start: 600, End: 700,
		}), wantField: "contact_windows[1].days"},
		{name: "negative start", ws: withWindow(schedule.ContactWindow{Days: mon, Start: -1, End: 700}), wantField: "contact_windows[1].start"},
		{name: "start at end of day", ws: withWindow(schedule.ContactWindow{Days: mon, Start: schedule.Midnight, End: schedule.Midnight}), wantField: "contact_windows[1].start"},
		{name: "end past end of day", ws: withWindow(schedule.ContactWindow{Days: mon, Start: 600, End: schedule.Midnight + 1}), wantField: "contact_windows[1].end"},
		{name: "end equals start", ws: withWindow(schedule.ContactWindow{Days: mon, Start: 600, End: 600}), wantField: "contact_windows[1].end"},
		{name: "end before start", ws: withWindow(schedule.ContactWindow{Days: mon, Start: 22 * 60, End: 2 * 60}), wantField: "contact_windows[1].end"},
		{name: "shorter than the minimum", ws: withWindow(schedule.ContactWindow{Days: mon, Start: 600, End: 629}), wantField: "contact_windows[1].end"},
		{name: "first window is reported", ws: []schedule.ContactWindow{{Days: mon, Start: 600, End: 610}, {}}, wantField: "contact_windows[0].end"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := fieldOf(t, schedule.ValidateWindows(tt.ws))
			if diff := cmp.Diff(tt.wantField, got); diff != "" {
				t.Errorf("ValidateWindows field mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
