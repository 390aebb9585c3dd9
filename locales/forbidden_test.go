package locales

import (
	"io/fs"
	"strings"
	"testing"
	"unicode"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/text/unicode/norm"
)

func TestForbiddenFindsBadText(t *testing.T) {
	t.Parallel()

	bad := map[string]string{
		"English":                  "Saathi: talk to the POLICE today",
		"English prefix":           "You were rescued by us",
		"English two words":        "Your Case Worker will call",
		"English NGO":              "Message from an NGO.",
		"romanised Hindi":          "Pulis aa rahi hai",
		"romanised Urdu":           "aap ki madad, panahgah se",
		"Hindi":                    "आपकी पुलिस से बात होगी",
		"Hindi with nukta":         "आप पीड़ित हैं",
		"Hindi without nukta":      "आप पीडित हैं",
		"Hindi in NFD":             norm.NFD.String("ख़तरा है"),
		"Hindi with a ZWJ inside":  "तस्\u200dकरी",
		"Hindi ZWNJ inside":        "पु\u200cलिस",
		"Punjabi":                  "ਪੁਲਿਸ ਨੂੰ ਦੱਸੋ",
		"Punjabi victim":           "ਪੀੜਤ ਲਈ",
		"Gujarati":                 "પોલીસને જાણ કરો",
		"Gujarati trafficking":     "તસ્કરી",
		"Urdu":                     "پولیس سے رابطہ",
		"Urdu shelter":             "شیلٹر میں",
		"Urdu with Arabic letters": "كيس وركر",
		"Urdu with tatweel":        "پولـیس",

		// Case manager, officer, counsellor, helpline, complaint, FIR, thana.
		"English case manager":        "Your Case Manager will call",
		"English case-manager":        "case-managers",
		"English officer":             "An officer will visit",
		"English officers":            "OFFICERS",
		"English counsellor":          "Talk to your counsellor",
		"English counselor":           "counselor",
		"English counselling":         "free counselling",
		"English helpline":            "Call our Helpline",
		"English help line":           "the help line is open",
		"English childline":           "Childline 1098",
		"English complaint":           "Your complaint was noted",
		"English complained":          "she complained",
		"English FIR":                 "File an FIR today",
		"English F.I.R.":              "F.I.R. filed",
		"English first information":   "First Information Report",
		"romanised case manager":      "case manager se milo",
		"romanised afsar":             "afsar aa rahe hain",
		"romanised adhikari":          "adhikari se milo",
		"romanised shikayat":          "shikayat darj karo",
		"romanised shikaayat":         "Shikaayat",
		"romanised fariyad":           "fariyad karo",
		"romanised kaunsalar":         "kaunsalar didi",
		"romanised thana":             "thana chalo",
		"romanised thanedar":          "thanedar ji",
		"romanised ef ai ar":          "ef ai ar likhao",
		"Hindi case manager":          "केस मैनेजर से बात करें",
		"Hindi officer adhikari":      "अधिकारी आएँगे",
		"Hindi officer with nukta":    "ऑफ़िसर",
		"Hindi officer without nukta": "ऑफिसर",
		"Hindi officer aa":            "आफिसर",
		"Hindi afsar with nukta":      "अफ़सर से मिलो",
		"Hindi afsar without nukta":   "अफसर",
		"Hindi counsellor":            "काउंसलर",
		"Hindi counsellor e":          "काउंसेलर",
		"Hindi counselling":           "काउन्सलिंग",
		"Hindi helpline":              "हेल्पलाइन पर",
		"Hindi help line":             "हेल्प लाइन",
		"Hindi complaint":             "शिकायत दर्ज करें",
		"Hindi complaint loanword":    "कंप्लेंट",
		"Hindi FIR":                   "एफआईआर",
		"Hindi FIR with nukta":        "एफ़आईआर",
		"Hindi FIR with dots":         "एफ.आई.आर.",
		"Hindi FIR spaced":            "एफ आई आर",
		"Hindi FIR formal":            "प्राथमिकी",
		"Hindi thanedar":              "थानेदार",
		"Hindi kotwali":               "कोतवाली",
		"Punjabi case manager":        "ਕੇਸ ਮੈਨੇਜਰ",
		"Punjabi afsar with nukta":    "ਅਫ਼ਸਰ",
		"Punjabi afsar without nukta": "ਅਫਸਰ",
		"Punjabi adhikari":            "ਅਧਿਕਾਰੀ",
		"Punjabi counsellor":          "ਕਾਉਂਸਲਰ",
		"Punjabi counsellor tippi":    "ਕਾਉੰਸਲਰ",
		"Punjabi helpline":            "ਹੈਲਪਲਾਈਨ",
		"Punjabi complaint":           "ਸ਼ਿਕਾਇਤ",
		"Punjabi complaint no nukta":  "ਸਿਕਾਇਤ",
		"Punjabi FIR":                 "ਐਫਆਈਆਰ",
		"Punjabi FIR with addak":      "ਐੱਫਆਈਆਰ",
		"Punjabi thanedar":            "ਥਾਣੇਦਾਰ",
		"Gujarati case manager":       "કેસ મેનેજર",
		"Gujarati adhikari":           "અધિકારી",
		"Gujarati officer o":          "ઓફિસર",
		"Gujarati officer candra o":   "ઑફિસર",
		"Gujarati counsellor":         "કાઉન્સેલર",
		"Gujarati helpline":           "હેલ્પલાઇન",
		"Gujarati complaint":          "ફરિયાદ નોંધાવો",
		"Gujarati FIR":                "એફઆઈઆર",
		"Gujarati thana":              "થાણામાં",
		"Urdu case manager":           "کیس مینیجر",
		"Urdu afsar":                  "افسر",
		"Urdu officer":                "آفیسر",
		"Urdu ahalkar":                "اہلکار",
		"Urdu counsellor":             "کونسلر",
		"Urdu helpline":               "ہیلپ لائن",
		"Urdu complaint":              "شکایت درج کرائیں",
		"Urdu complaint Arabic kaf":   "شكايت",
		"Urdu FIR":                    "ایف آئی آر",
		"Urdu thanedar":               "تھانیدار",
		"Urdu thana with Arabic heh":  "تهانه",
		"Urdu thane with yeh barree":  "تھانے",
	}
	for name, text := range bad {
		if hits := Forbidden(text); len(hits) == 0 {
			t.Errorf("%s: Forbidden(%q) found nothing", name, text)
		}
	}
}

func TestForbiddenPassesInnocentText(t *testing.T) {
	t.Parallel()

	good := []string{
		"Hello from Saathi. Reply 1 if all is well, 2 for a call, 3 for help.",
		"mango, bingo, firm, first, fire, affirm, copper, policy",
		"the office is open, officially",
		"case SA7K2M9Q4X1B needs attention (urgent)",
		"Kiran Tailors, Asha",
		"धन्यवाद। अपना ध्यान रखें।",
		"फिर से शुरू करने के लिए START भेजें।", // फिर: "again", in Devanagari
		"मैं ऑफिस में हूँ",                     // office, not officer
		"apna adhikar", // a right, not an official
		"ਦੁਬਾਰਾ ਸ਼ੁਰੂ ਕਰਨ ਲਈ ਫਿਰ",
		"ફરી શરૂ કરવા START મોકલો.",
		"شکریہ۔ اپنا خیال رکھیں۔",
	}
	for _, text := range good {
		if hits := Forbidden(text); len(hits) > 0 {
			t.Errorf("Forbidden(%q) = %v, want none", text, hits)
		}
	}
}

// TestForbiddenKnownFalsePositive records, rather than hides, what the
// Latin "fir" costs: romanised Hindi "fir" ("again") is flagged. Saathi's
// texts are in native script, and a sender name "Fir" can be refused.
func TestForbiddenKnownFalsePositive(t *testing.T) {
	t.Parallel()

	if diff := cmp.Diff([]string{"fir"}, Forbidden("fir se shuru karo")); diff != "" {
		t.Errorf("Forbidden(fir se shuru karo) mismatch (-want +got):\n%s", diff)
	}
}

func TestForbiddenReportsEachWordOnce(t *testing.T) {
	t.Parallel()

	got := Forbidden("Police, POLICE and पुलिस; the police helpline")
	want := []string{"helpline*", "police*", "पुलिस"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Forbidden() mismatch (-want +got):\n%s", diff)
	}
	if got := Forbidden("all well"); got != nil {
		t.Errorf("Forbidden(all well) = %#v, want nil", got)
	}
}

// TestForbiddenEntries keeps the list consistent with how it is matched:
// Latin entries (word boundaries) only in the English and romanised lists,
// native script entries (anywhere) only in their language's list.
func TestForbiddenEntries(t *testing.T) {
	t.Parallel()

	scripts := map[string]*unicode.RangeTable{
		"hi": unicode.Devanagari, "pa": unicode.Gurmukhi, "gu": unicode.Gujarati, "ur": unicode.Arabic,
	}
	for list, words := range forbiddenWords {
		for _, w := range words {
			if strings.TrimSpace(fold(strings.TrimSuffix(w, "*"))) == "" {
				t.Errorf("%s: entry %q is empty once folded", list, w)
				continue
			}
			for _, r := range w {
				switch {
				case !unicode.IsLetter(r):
				case list == "en" || list == "romanised":
					if r >= 0x80 {
						t.Errorf("%s: entry %q has the non-ASCII letter %q", list, w, r)
					}
				case !unicode.Is(scripts[list], r):
					t.Errorf("%s: entry %q has the letter %q outside its script", list, w, r)
				}
			}
			if list != "en" && list != "romanised" && strings.HasSuffix(w, "*") {
				t.Errorf("%s: entry %q: native-script entries always match as prefixes; drop the *", list, w)
			}
		}
	}
}

// TestForbiddenWordsInTexts renders every message of every language, with
// the default name and with every cover name, and scans what a phone would
// show. It also scans the raw files: translators' notes and comments are
// read and copied, so they follow the same rule.
func TestForbiddenWordsInTexts(t *testing.T) {
	t.Parallel()

	for _, c := range setupNamed(t) {
		for _, lang := range Supported {
			t.Run(c.name+"/"+lang, func(t *testing.T) {
				t.Parallel()
				data := sampleData(t, c.Catalog, lang, SeverityUrgent)
				for _, id := range c.IDs() {
					got, err := c.Text(lang, id, data)
					if err != nil {
						t.Fatalf("Text(%q, %q) error = %v", lang, id, err)
					}
					if hits := Forbidden(got); len(hits) > 0 {
						t.Errorf("name %q: %s %s contains forbidden %q: %q", c.name, lang, id, hits, got)
					}
				}
			})
		}
	}

	for lang, mf := range messageFiles(t) {
		t.Run(lang+"/raw", func(t *testing.T) {
			t.Parallel()
			for _, m := range mf.Messages {
				for _, text := range []string{m.Zero, m.One, m.Two, m.Few, m.Many, m.Other, m.Description} {
					if hits := Forbidden(text); len(hits) > 0 {
						t.Errorf("active.%s.toml %s contains forbidden %q: %q", lang, m.ID, hits, text)
					}
				}
			}
			buf, err := fs.ReadFile(files, "active."+lang+".toml")
			if err != nil {
				t.Fatal(err)
			}
			if hits := Forbidden(string(buf)); len(hits) > 0 {
				t.Errorf("active.%s.toml contains forbidden %q", lang, hits)
			}
		})
	}
}
