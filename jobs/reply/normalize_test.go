package reply

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNormalize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "empty", in: "", want: ""},
		{name: "case and punctuation", in: "  Mango!! ", want: "mango"},
		{name: "whitespace collapsed", in: "a \t\n b", want: "a b"},
		{name: "full-width letters", in: "ＭＡＮＧＯ", want: "mango"},
		{name: "german sharp s folds", in: "STRAẞE", want: "strasse"},
		{name: "apostrophes dropped", in: "can't won’t", want: "cant wont"},
		{name: "hyphen splits", in: "help-me", want: "help me"},
		{name: "emoji become spaces", in: "ok👍fine🙂", want: "ok fine"},
		{name: "keycap emoji", in: "3️⃣", want: "3"},
		{name: "sos emoji", in: "🆘🆘", want: "sos sos"},
		{name: "zero-width joiner and non-joiner removed", in: "क्\u200dष म\u200cद", want: "क्ष मद"},
		{name: "bom and bidi marks removed", in: "\ufeff\u200fمدد\u200e", want: "مدد"},
		{name: "devanagari digits", in: "०१२३४५६७८९", want: "0123456789"},
		{name: "gurmukhi digits", in: "੦੧੨੩੪੫੬੭੮੯", want: "0123456789"},
		{name: "gujarati digits", in: "૦૧૨૩૪૫૬૭૮૯", want: "0123456789"},
		{name: "extended arabic-indic digits", in: "۰۱۲۳۴۵۶۷۸۹", want: "0123456789"},
		{name: "arabic-indic digits", in: "٠١٢٣٤٥٦٧٨٩", want: "0123456789"},
		{name: "devanagari nukta precomposed", in: "ज़रूरत फ़ोन", want: "जरूरत फोन"},
		{name: "devanagari nukta decomposed", in: "ज\u093cरूरत", want: "जरूरत"},
		{name: "devanagari chandrabindu", in: "हूँ", want: "हूं"},
		{name: "devanagari danda", in: "मदद।", want: "मदद"},
		{name: "gurmukhi nukta", in: "ਸ਼ੁਰੂ ਖ਼ਤਰਾ", want: "ਸੁਰੂ ਖਤਰਾ"},
		{name: "gurmukhi tippi and addak", in: "ਮੈਨੂੰ ਮੱਦਦ", want: "ਮੈਨੂਂ ਮਦਦ"},
		{name: "gujarati chandrabindu", in: "હાઁ", want: "હાં"},
		{name: "urdu arabic yeh and kaf", in: "كيا", want: "کیا"},
		{name: "urdu heh variants", in: "ه ھ ہ ۃ", want: "ہ ہ ہ ہ"},
		{name: "urdu yeh barree", in: "مجھے", want: "مجہی"},
		{name: "urdu alef variants", in: "آ أ إ", want: "ا ا ا"},
		{name: "urdu waw hamza", in: "بچاؤ", want: "بچاو"},
		{name: "urdu noon ghunna", in: "نہیں", want: "نہین"},
		{name: "urdu harakat and tatweel", in: "مَـدَد", want: "مدد"},
		{name: "urdu full stop and comma", in: "مدد۔ بچاؤ،", want: "مدد بچاو"},
		{name: "orphan marks dropped", in: "🙂\u093e ok", want: "ok"},
		{name: "invalid utf-8", in: "a\xffb", want: "a b"},
		{name: "control characters", in: "a\x00b\x07c", want: "a b c"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := Normalize(tc.in)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Normalize(%q) mismatch (-want +got):\n%s", tc.in, diff)
			}
			if again := Normalize(got); again != got {
				t.Errorf("Normalize is not idempotent: %q → %q → %q", tc.in, got, again)
			}
		})
	}
}

func TestNormalizeClauses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "full stop", in: "no. help me", want: "no\nhelp me"},
		{name: "comma then space", in: "no , they", want: "no\nthey"},
		{name: "danda", in: "नहीं। मदद", want: "नहीं\nमदद"},
		{name: "leading and trailing punctuation", in: "!!help!!", want: "help"},
		{name: "emoji is no clause break", in: "ok 🙂 fine", want: "ok fine"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tc.want, normalize(tc.in, true)); diff != "" {
				t.Errorf("normalize(%q, true) mismatch (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}
