package reply

import (
	"strings"
	"testing"
	"unicode/utf8"
)

const m = DuressMarker

var redactCases = []struct {
	name, text, duress, want string
}{
	{name: "alone", text: "mango", duress: "mango", want: m},
	{name: "upper case", text: "MANGO!", duress: "mango", want: m + "!"},
	{name: "enrolled padded and capitalised", text: "a mango", duress: " Mango ", want: "a " + m},
	{name: "in a sentence with punctuation", text: "I ate a Mango. Fine", duress: "mango", want: "I ate a " + m + ". Fine"},
	{name: "quoted", text: `he said "mango"?`, duress: "mango", want: `he said "` + m + `"?`},
	{name: "repeated", text: "mango, mango\nMANGO", duress: "mango", want: m + ", " + m + "\n" + m},
	{name: "inside a longer word", text: "mangoes and mango", duress: "mango", want: "mangoes and " + m},
	{name: "glued twice", text: "mangomango", duress: "mango", want: "mangomango"},
	{name: "spelled out", text: "m a n g o", duress: "mango", want: "m a n g o"},
	{name: "with zero-width space inside", text: "man\u200bgo!", duress: "mango", want: m + "!"},
	{name: "full-width letters", text: "ＭＡＮＧＯ", duress: "mango", want: m},
	{name: "between emoji", text: "🙏mango🙏", duress: "mango", want: "🙏" + m + "🙏"},
	{name: "after a code", text: "1 mango", duress: "mango", want: "1 " + m},
	{name: "apostrophe dropped", text: "cant, can't", duress: "can't", want: m + ", " + m},
	{name: "multi-word", text: "the BLUE  sky is blue", duress: "blue sky", want: "the " + m + " is blue"},
	{name: "multi-word across punctuation", text: "blue, sky!", duress: "blue sky", want: m + "!"},
	{name: "multi-word partial", text: "blue skies, sky blue", duress: "blue sky", want: "blue skies, sky blue"},
	{name: "multi-word adjacent occurrences", text: "blue sky blue sky", duress: "blue sky", want: m + " " + m},
	{name: "multi-word overlapping occurrences", text: "la la la.", duress: "la la", want: m + "."},
	{name: "devanagari with danda", text: "आज आम।", duress: "आम", want: "आज " + m + "।"},
	{name: "devanagari inside a longer word", text: "आमदनी कम है", duress: "आम", want: "आमदनी कम है"},
	{name: "devanagari text with nukta", text: "ज़मीन पर", duress: "जमीन", want: m + " पर"},
	{name: "devanagari duress with nukta", text: "जमीन पर", duress: "ज़मीन", want: m + " पर"},
	{name: "devanagari decomposed nukta", text: "ज\u093cमीन", duress: "ज़मीन", want: m},
	{name: "devanagari chandrabindu", text: "पतँग उड़ी", duress: "पतंग", want: m + " उड़ी"},
	{name: "gurmukhi nukta and addak", text: "ਸ਼ੇਰ! ਪੱਕਾ", duress: "ਸੇਰ", want: m + "! ਪੱਕਾ"},
	{name: "gujarati", text: "મારો પતંગ.", duress: "પતંગ", want: "મારો " + m + "."},
	{name: "urdu arabic letters", text: "میری كتاب۔", duress: "کتاب", want: "میری " + m + "۔"},
	{name: "urdu heh variants", text: "پتنگه", duress: "پتنگہ", want: m},
	{name: "native digits", text: "मकान१ है", duress: "मकान1", want: m + " है"},
	{name: "sos emoji", text: "🆘 now", duress: "sos", want: m + " now"},
	{name: "invalid bytes kept", text: "a\xffb mango \xfe", duress: "mango", want: "a\xffb " + m + " \xfe"},
	{name: "not there", text: "all fine here", duress: "mango", want: "all fine here"},
	{name: "empty duress", text: "mango", duress: "", want: "mango"},
	{name: "duress of punctuation only", text: "!!! mango", duress: "!!!", want: "!!! mango"},
	{name: "empty text", text: "", duress: "mango", want: ""},
	{name: "duress is a marker word", text: "a word here", duress: "word", want: "a " + fallbackMarker + " here"},
	{name: "duress is the marker", text: "duress word", duress: "Duress Word", want: fallbackMarker},
}

func TestRedactDuress(t *testing.T) {
	t.Parallel()
	for _, tc := range redactCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := RedactDuress(tc.text, tc.duress); got != tc.want {
				t.Errorf("RedactDuress(%q, %q) = %q, want %q", tc.text, tc.duress, got, tc.want)
			}
		})
	}
}

// TestRedactDuressMatchesParse: whatever Parse reads as the duress word in
// the table's replies, RedactDuress removes, and nothing else.
func TestRedactDuressMatchesParse(t *testing.T) {
	t.Parallel()
	p := setup(t)
	for _, tc := range parseCases {
		checkRedaction(t, p, tc.text, tc.duress)
	}
}

// checkRedaction asserts RedactDuress's contract for one text.
func checkRedaction(t *testing.T, p *Parser, text, duress string) {
	t.Helper()
	got := RedactDuress(text, duress)
	if p.Parse(got, duress).Intent == Duress {
		t.Errorf("RedactDuress(%q, %q) = %q: Parse still finds the duress word", text, duress, got)
	}
	if p.Parse(text, duress).Intent != Duress {
		if got != text {
			t.Errorf("RedactDuress(%q, %q) = %q, want the text unchanged: it has no duress word", text, duress, got)
		}
		return
	}
	if !strings.Contains(got, DuressMarker) && !strings.Contains(got, fallbackMarker) {
		t.Errorf("RedactDuress(%q, %q) = %q has no marker", text, duress, got)
	}
}

func FuzzRedactDuress(f *testing.F) {
	for _, tc := range redactCases {
		f.Add(tc.text, tc.duress)
	}
	for _, tc := range parseCases {
		if tc.duress != "" {
			f.Add(tc.text, tc.duress)
		}
	}
	f.Add("x ¨mango½ ™ mango™", "mango")
	f.Add("e\u200d\u0301 mango", "e")
	p := setup(f)
	f.Fuzz(func(t *testing.T, text, duress string) {
		checkRedaction(t, p, text, duress)
		if got := RedactDuress(text, duress); utf8.ValidString(text) && !utf8.ValidString(got) {
			t.Errorf("RedactDuress(%q, %q) = %q, not valid UTF-8", text, duress, got)
		}
	})
}
