package reply

import (
	"errors"
	"strings"
	"testing"
)

func TestParseKeys(t *testing.T) {
	t.Parallel()
	tests := []struct {
		keys, code string
		want       Intent
	}{
		{"1", "", OK}, {"2", "", CallMe}, {"3", "", HelpNow},
		{"3#", "", HelpNow}, {" 1 ", "4821", OK},
		{"4821", "4821", Duress}, {"4821#", "4821", Duress},
		{"4822", "4821", FreeText}, {"5", "", FreeText}, {"", "", FreeText},
		{"4821", "", FreeText},
	}
	for _, tt := range tests {
		got := ParseKeys(tt.keys, tt.code)
		if got.Intent != tt.want {
			t.Errorf("ParseKeys(%q, %q) = %s, want %s", tt.keys, tt.code, got.Intent, tt.want)
		}
		for _, e := range got.Evidence {
			if tt.code != "" && strings.Contains(e, tt.code) {
				t.Errorf("evidence %q quotes the duress code", e)
			}
		}
	}
}

func TestIsDuressCode(t *testing.T) {
	t.Parallel()
	for text, want := range map[string]bool{
		"4821": true, " 4821# ": true, "४८२१": true, "4 8 2 1": true,
		"4821 please": false, "482": false, "14821": false,
	} {
		if got := IsDuressCode(text, "4821"); got != want {
			t.Errorf("IsDuressCode(%q) = %v, want %v", text, got, want)
		}
	}
	if IsDuressCode("4821", "") {
		t.Error("no duress code matched a text")
	}
}

func TestValidateDuressCode(t *testing.T) {
	t.Parallel()
	for code, ok := range map[string]bool{
		"4821": true, "905172": true, "0471": true,
		"482": false, "4821903": false, "48a1": false, "४८२१": false, "48 21": false,
		"1111": false, "000000": false, "1234": false, "3456": false, "9876": false, "654321": false,
	} {
		err := ValidateDuressCode(code)
		if (err == nil) != ok {
			t.Errorf("ValidateDuressCode(%q) = %v, want ok=%v", code, err, ok)
		}
		if err != nil && (!errors.Is(err, ErrDuressCode) || strings.Contains(err.Error(), code)) {
			t.Errorf("error %q: not ErrDuressCode, or quotes the code", err)
		}
	}
}
