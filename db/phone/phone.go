// Package phone normalises phone numbers to E.164 and masks them for display.
package phone

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
	"unicode"

	"github.com/nyaruka/phonenumbers"
)

// DefaultRegion is assumed for numbers written without a country code.
const DefaultRegion = "IN"

// ErrInvalid is returned for input that is not a valid, dialable number.
var ErrInvalid = errors.New("not a valid phone number")

// e164 is the shape of a number Normalize returns: at most 15 digits.
var e164 = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)

// Normalize parses a number as people write it ("98765 43210",
// "+91-98765-43210", "09876543210") and returns it in E.164
// ("+919876543210").
//
// Letters are refused: the parser would read them as a keypad's
// ("9876 5OOOOO", a letter O typed for a zero, is a valid, different
// number), and a survivor's check-in must never go to a stranger's phone.
func Normalize(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" || len(raw) > 32 || strings.IndexFunc(raw, unicode.IsLetter) >= 0 {
		return "", ErrInvalid
	}
	num, err := phonenumbers.Parse(raw, DefaultRegion)
	if err != nil || !phonenumbers.IsValidNumber(num) {
		return "", ErrInvalid
	}
	// The parser's metadata accepts some numbers longer than E.164 allows
	// (+49 with a 15-digit national number): no carrier would route them.
	out := phonenumbers.Format(num, phonenumbers.E164)
	if !e164.MatchString(out) {
		return "", ErrInvalid
	}
	return out, nil
}

// Mask hides all but the country code and the last four digits of an E.164
// number: "+919876543210" becomes "+91******3210".
func Mask(e164 string) string {
	num, err := phonenumbers.Parse(e164, DefaultRegion)
	if err != nil {
		return "****"
	}
	cc := "+" + strconv.Itoa(int(num.GetCountryCode()))
	national := phonenumbers.GetNationalSignificantNumber(num)
	if len(national) <= 4 {
		return cc + strings.Repeat("*", len(national))
	}
	return cc + strings.Repeat("*", len(national)-4) + national[len(national)-4:]
}
