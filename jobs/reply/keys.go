package reply

import (
	"errors"
	"fmt"
	"strings"
)

// ParseKeys understands the keys pressed on a check-in call: 1, 2 and 3
// mean what they mean in a text, and the survivor's duress code (typed and
// ended with #, so it never reaches here as one key) means what the duress
// word means. Anything else is free text: a mistyped code is kept for the
// caseworker to see. Evidence never quotes the duress code.
func ParseKeys(keys, duressCode string) Result {
	k := strings.Trim(strings.TrimSpace(keys), "#*")
	if duressCode != "" && k == duressCode {
		return Result{Intent: Duress, Evidence: []string{"duress code"}}
	}
	switch k {
	case "1":
		return Result{Intent: OK, Evidence: []string{`key "1"`}}
	case "2":
		return Result{Intent: CallMe, Evidence: []string{`key "2"`}}
	case "3":
		return Result{Intent: HelpNow, Evidence: []string{`key "3"`}}
	}
	return Result{Intent: FreeText, Evidence: []string{fmt.Sprintf("%d keys", len(k))}}
}

// IsDuressCode reports whether a text is exactly the duress code (in any
// script's digits, with spaces or # around it): a survivor who texts their
// code means it as much as one who types it on a call.
func IsDuressCode(text, duressCode string) bool {
	if duressCode == "" {
		return false
	}
	return strings.Trim(strings.ReplaceAll(Normalize(text), " ", ""), "#*") == duressCode
}

// ErrDuressCode is wrapped by ValidateDuressCode's errors.
var ErrDuressCode = errors.New("unsuitable duress code")

// ValidateDuressCode reports why code would make a poor duress code: it
// must be 4 to 6 digits (0–9), so that no single reply key can be it, and
// not one that anybody might press by chance or guess: one digit repeated
// ("1111") or a run ("1234", "9876"). Errors never quote the code.
func ValidateDuressCode(code string) error {
	if len(code) < 4 || len(code) > 6 {
		return fmt.Errorf("%w: it must be 4 to 6 digits", ErrDuressCode)
	}
	for _, r := range code {
		if r < '0' || r > '9' {
			return fmt.Errorf("%w: it must be digits only (0-9)", ErrDuressCode)
		}
	}
	same, up, down := true, true, true
	for i := 1; i < len(code); i++ {
		d := int(code[i]) - int(code[i-1])
		same, up, down = same && d == 0, up && d == 1, down && d == -1
	}
	if same || up || down {
		return fmt.Errorf("%w: one digit repeated or a run of digits is too easy to press by chance", ErrDuressCode)
	}
	return nil
}
