package reply

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzParse(f *testing.F) {
	for _, tc := range parseCases {
		if len(tc.text) <= 1000 {
			f.Add(tc.text, tc.duress)
		}
	}
	f.Add("mango", "o")
	f.Add("3 = 3", " = ")
	f.Add("code 3", "code")

	p := setup(f)
	lexiconDanger := make(map[string]bool)
	for _, lf := range readAll(f) {
		for _, e := range lf.Danger {
			lexiconDanger[e] = true
		}
		for _, e := range lf.SafeNegated {
			lexiconDanger[e] = true
		}
	}

	f.Fuzz(func(t *testing.T, text, duress string) {
		got := p.Parse(text, duress)
		if !got.Intent.Valid() {
			t.Errorf("Parse(%q, %q).Intent = %q, not valid", text, duress, got.Intent)
		}
		for _, d := range got.Danger {
			if !lexiconDanger[d] {
				t.Errorf("Parse(%q).Danger has %q, not a lexicon entry", text, d)
			}
		}
		if utf8.RuneCountInString(duress) > 2 {
			for _, e := range got.Evidence {
				if strings.Contains(e, duress) {
					t.Errorf("Parse(%q, %q).Evidence %q contains the duress word", text, duress, e)
				}
			}
		}
		n := Normalize(text)
		if again := Normalize(n); again != n {
			t.Errorf("Normalize not idempotent: %q → %q → %q", text, n, again)
		}
		if n != strings.TrimSpace(n) || strings.Contains(n, "  ") || strings.ContainsAny(n, "\n\t") {
			t.Errorf("Normalize(%q) = %q, want single-spaced and trimmed", text, n)
		}
		if !utf8.ValidString(n) {
			t.Errorf("Normalize(%q) = %q, not valid UTF-8", text, n)
		}
	})
}
