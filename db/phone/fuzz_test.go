package phone_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"saathi/db/phone"
)

// e164 is what every normalised number looks like: a plus, a country code
// that does not start with 0, and at most 15 digits in all (ITU-T E.164).
var e164 = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)

// TestNormalizeRefusesLettersAndLongNumbers: found by FuzzNormalize. The
// parser reads letters as a keypad's, so a letter O typed for a zero made
// a valid number of someone else; and it accepted a German number of 17
// digits, which is not E.164 and which no carrier routes.
func TestNormalizeRefusesLettersAndLongNumbers(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"9876 5OOOOO", "+91 98765 ABCDE", "+91 9876 FLOWER", "+-4X20AA00000000000", "+49202200000000000", "+4920220000000000"} {
		if got, err := phone.Normalize(in); !errors.Is(err, phone.ErrInvalid) {
			t.Errorf("Normalize(%q) = %q, %v; want ErrInvalid", in, got, err)
		}
	}
	// A long number that is still E.164 stays valid.
	if got, err := phone.Normalize("+49 30 12345678"); err != nil || got != "+493012345678" {
		t.Errorf("Normalize(+49 30 12345678) = %q, %v", got, err)
	}
}

// FuzzNormalize: whatever people (or a webhook) type, Normalize returns a
// number in E.164 or ErrInvalid; a normalised number normalises to itself
// (it is how survivors are found again: the blind index of a number must
// not depend on how often it was normalised); and its mask shows the
// country code and the last four digits only.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{
		"+919876543210", "+91 98765-43210", "09876543210", "9876543210", "  +91 98765 43210 ",
		"+44 20 7946 0958", "+1 (415) 555-2671", "0091 98765 43210", "+91 ९८७६५ ४३२१०", "+٩١٩٨٧٦٥٤٣٢١٠",
		"+91 98765 43210 ext. 12", "tel:+91-98765-43210", "+91 98765 4321x", "+999 1234567", "12345",
		"+9198765432101234", "", "+", "++919876543210", "+0919876543210", "\x00+919876543210", "98765\u00a043210",
		"+-4X20AA00000000000", "+49202200000000000", "9876 5OOOOO", "+91 98765 ABCDE",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := phone.Normalize(raw)
		if err != nil {
			if !errors.Is(err, phone.ErrInvalid) || got != "" {
				t.Fatalf("Normalize(%q) = %q, %v: want \"\" and ErrInvalid", raw, got, err)
			}
			return
		}
		if !e164.MatchString(got) {
			t.Fatalf("Normalize(%q) = %q: not E.164", raw, got)
		}
		again, err := phone.Normalize(got)
		if err != nil || again != got {
			t.Fatalf("Normalize(%q) = %q, but Normalize(%q) = %q, %v", raw, got, got, again, err)
		}
		masked := phone.Mask(got)
		if len(masked) != len(got) || !strings.HasSuffix(got, masked[len(masked)-4:]) {
			t.Fatalf("Mask(%q) = %q: want the same length, ending in the last four digits", got, masked)
		}
		// Everything between the country code and the last four digits is
		// hidden: at most the country code's digits (1 to 3) and four more
		// may show.
		shown := strings.IndexFunc(masked, func(r rune) bool { return r == '*' })
		if shown < 0 && len(got) > 8 {
			t.Fatalf("Mask(%q) = %q hides nothing", got, masked)
		}
		if digits := strings.Count(masked, "*"); digits < len(got)-1-3-4 {
			t.Fatalf("Mask(%q) = %q shows too much", got, masked)
		}
	})
}
