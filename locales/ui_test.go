package locales

import (
	"io/fs"
	"maps"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/BurntSushi/toml"
	"golang.org/x/text/unicode/norm"
)

// TestUIHindiHasEveryWord: every dashboard word in English has its Hindi
// (a staff member who chose Hindi should not meet English mid-page), in
// Devanagari, and neither file has a word the other lacks.
func TestUIHindiHasEveryWord(t *testing.T) {
	t.Parallel()
	names, err := fs.Glob(uiFiles, "ui*.en.toml")
	if err != nil || len(names) == 0 {
		t.Fatal(names, err)
	}
	read := func(name string) map[string]string {
		raw, err := fs.ReadFile(uiFiles, name)
		if err != nil {
			t.Fatal(err)
		}
		words := map[string]string{}
		if err := toml.Unmarshal(raw, &words); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return words
	}
	for _, en := range names {
		hi := strings.TrimSuffix(en, ".en.toml") + ".hi.toml"
		enWords, hiWords := read(en), read(hi)
		for _, id := range slices.Sorted(maps.Keys(enWords)) {
			text, ok := hiWords[id]
			switch {
			case !ok:
				t.Errorf("%s: no %s", hi, id)
			case !norm.NFC.IsNormalString(text):
				t.Errorf("%s %s: not in Unicode NFC", hi, id)
			case !strings.ContainsFunc(text, func(r rune) bool { return unicode.Is(unicode.Devanagari, r) }) && text != enWords[id]:
				t.Errorf("%s %s: %q is not in Devanagari", hi, id, text)
			}
		}
		for id := range hiWords {
			if _, ok := enWords[id]; !ok {
				t.Errorf("%s: %s is not in %s", hi, id, en)
			}
		}
	}
}
