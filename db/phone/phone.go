// Package phone normalises phone numbers to E.164 and masks them for display.
package phone

import (
	"errors"
	"strconv"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// DefaultRegion is assumed for numbers written without a country code.
const DefaultRegion = "IN"

// ErrInvalid is returned for input that is not a valid, dialable number.
var ErrInvalid = errors.New("not a valid phone number")

// Normalize parses a number as people write it ("98765 43210",
// "+91-98765-43210", "09876543210") and returns it in E.164
// ("+919876543210").
func Normalize(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" || len(raw) > 32 {
		return "", ErrInvalid
	}
	num, err := phonenumbers.Parse(raw, DefaultRegion)
	if err != nil || !phonenumbers.IsValidNumber(num) {
		return "", ErrInvalid
	}
	return phonenumbers.Format(num, phonenumbers.E164), nil
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
