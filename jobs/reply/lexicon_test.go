package reply

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"saathi/locales/lexicon"
)

// readAll reads every embedded lexicon file, keyed by language.
func readAll(tb testing.TB) map[string]*lexiconFile {
	tb.Helper()
	names, err := lexiconNames(lexicon.FS)
	if err != nil {
		tb.Fatal(err)
	}
	files := make(map[string]*lexiconFile, len(names))
	for _, name := range names {
		f, err := readLexicon(lexicon.FS, name)
		if err != nil {
			tb.Fatal(err)
		}
		files[languageOf(name)] = f
	}
	return files
}

func TestLexiconFiles(t *testing.T) {
	t.Parallel()
	names, err := lexiconNames(lexicon.FS)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"en.toml", "gu.toml", "hi.toml", "pa.toml", "ur.toml"}, names); diff != "" {
		t.Fatalf("lexicon files mismatch (-want +got):\n%s", diff)
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			// readLexicon checks that the file parses with no unknown key,
			// and that every entry is non-empty after Normalize and unique
			// within its list.
			f, err := readLexicon(lexicon.FS, name)
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range f.lists() {
				switch l.name {
				case "opt_out", "opt_in", "help_info", "danger", "safe_negated", "negation.words":
					if len(l.entries) == 0 {
						t.Errorf("%s is empty: every language needs it", l.name)
					}
				case "common":
					// The duress word check leans on it: a short list lets
					// everyday words through.
					if len(l.entries) < 80 {
						t.Errorf("common has %d entries, want at least 80", len(l.entries))
					}
				}
				for _, e := range l.entries {
					if e != strings.TrimSpace(e) {
						t.Errorf("%s: entry %q has surrounding spaces", l.name, e)
					}
				}
			}
		})
	}
}

// TestLexiconConsistency checks the lists against each other, across all
// languages: what a phrase means must not depend on which file it is in.
func TestLexiconConsistency(t *testing.T) {
	t.Parallel()
	files := readAll(t)

	negations := make(map[string]bool)
	for _, f := range files {
		for _, w := range f.Negation.Words {
			negations[Normalize(w)] = true
		}
	}
	hasNegation := func(entry string) bool {
		return slices.ContainsFunc(strings.Fields(Normalize(entry)), func(w string) bool { return negations[w] })
	}
	danger := make(map[string]string)
	for lang, f := range files {
		for _, e := range slices.Concat(f.Danger, f.SafeNegated) {
			danger[Normalize(e)] = lang + ": " + e
		}
	}

	for lang, f := range files {
		for _, e := range f.OptOut {
			if d, ok := danger[Normalize(e)]; ok {
				t.Errorf("%s: opt-out phrase %q is also a danger phrase (%s)", lang, e, d)
			}
		}
		for _, e := range f.Danger {
			if hasNegation(e) {
				t.Errorf("%s: danger phrase %q contains a negation word: move it to safe_negated", lang, e)
			}
		}
		for _, e := range f.SafeNegated {
			if !hasNegation(e) {
				t.Errorf("%s: safe_negated phrase %q contains no negation word: move it to danger", lang, e)
			}
		}
		for _, e := range f.Negation.Inert {
			if !hasNegation(e) {
				t.Errorf("%s: inert phrase %q contains no negation word", lang, e)
			}
		}
	}
	if _, err := NewParser(lexicon.FS); err != nil {
		t.Errorf("NewParser(lexicon.FS): %v", err)
	}
}

func TestNewParserErrors(t *testing.T) {
	t.Parallel()
	valid := `opt_out = ["stop"]
danger = ["help me"]
`
	tests := []struct {
		name    string
		files   map[string]string
		wantErr string // substring of the error; "" for success
	}{
		{name: "minimal valid", files: map[string]string{"en.toml": valid}},
		{name: "no files", files: map[string]string{"README.md": "x"}, wantErr: "no lexicon files"},
		{name: "bad toml", files: map[string]string{"en.toml": `opt_out = [`}, wantErr: "parse lexicon en.toml"},
		{name: "unknown key", files: map[string]string{"en.toml": `opt_outs = ["stop"]`}, wantErr: `unknown key "opt_outs"`},
		{name: "empty entry", files: map[string]string{"en.toml": `danger = ["help", "!!"]`}, wantErr: `entry "!!" is empty`},
		{name: "duplicate after normalisation", files: map[string]string{"en.toml": `danger = ["help", "HELP!"]`}, wantErr: `duplicates "help"`},
		{name: "multi-word negation", files: map[string]string{"en.toml": "[negation]\nwords = [\"no way\"]"}, wantErr: "single word"},
		{name: "window too wide", files: map[string]string{"en.toml": "[negation]\nafter = 9"}, wantErr: "negation.after = 9"},
		{name: "empty common entry", files: map[string]string{"en.toml": `common = ["hello", "?"]`}, wantErr: `common: entry "?" is empty`},
		{name: "duplicate common entry", files: map[string]string{"en.toml": `common = ["thank you", "Thank-you!"]`}, wantErr: `common: entry "Thank-you!" duplicates "thank you"`},
		{name: "opt-out is danger in another language", files: map[string]string{
			"en.toml": valid,
			"hi.toml": `danger = ["stop"]`,
		}, wantErr: `opt-out phrase "stop" (en) is also a danger phrase`},
		{name: "opt-out is opt-in in another language", files: map[string]string{
			"en.toml": valid,
			"hi.toml": `opt_in = ["Stop"]`,
		}, wantErr: "is both opt_out"},
		{name: "inert is danger", files: map[string]string{
			"en.toml": "danger = [\"nahi to\"]\n[negation]\ninert = [\"nahi to\"]",
		}, wantErr: "inert negation"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fsys := fstest.MapFS{}
			for name, data := range tc.files {
				fsys[name] = &fstest.MapFile{Data: []byte(data)}
			}
			p, err := NewParser(fsys)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("NewParser: %v", err)
			case tc.wantErr == "" && p == nil:
				t.Fatal("NewParser returned nil parser and nil error")
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("NewParser error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestValidateDuressWordError(t *testing.T) {
	t.Parallel()
	err := setup(t).ValidateDuressWord("stop")
	if !errors.Is(err, ErrDuressWord) {
		t.Errorf("ValidateDuressWord(keyword) = %v, want ErrDuressWord", err)
	}
}
