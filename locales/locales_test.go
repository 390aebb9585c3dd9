package locales

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"unicode"

	"github.com/BurntSushi/toml"
	"github.com/google/go-cmp/cmp"
	"github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"
	"golang.org/x/text/unicode/norm"

	"saathi/locales/segment"
)

// survivorSMS are the texts sent by SMS to a survivor.
var survivorSMS = []string{
	CheckinSMS, ReplyThanks, ReplyCallMe, ReplyHelpNow, ReplyFreeText,
	HelpInfo, OptOutConfirm, OptInConfirm,
}

// survivorVoice are the texts spoken to a survivor.
var survivorVoice = []string{VoiceCheckin, VoiceNoInput, VoiceThanks}

var severities = []string{SeverityUrgent, SeverityHigh, SeverityMedium, SeverityLow}

// Representative alert data: the longest values production sends.
const (
	sampleReference = "SA7K2M9Q4X1B" // 12 characters
	sampleLink      = "https://saathi.example.org/a/0123456789abcdef"
	sampleCode      = "482913"
)

func setup(t *testing.T) *Catalog {
	t.Helper()
	c, err := NewCatalog()
	if err != nil {
		t.Fatalf("NewCatalog() error = %v", err)
	}
	return c
}

// sampleData is TemplateData for every message, with the severity word
// rendered in lang as the alert jobs will do.
func sampleData(t *testing.T, c *Catalog, lang, severityID string) map[string]any {
	t.Helper()
	severity, err := c.Text(lang, severityID, nil)
	if err != nil {
		t.Fatalf("Text(%q, %q) error = %v", lang, severityID, err)
	}
	return map[string]any{
		"Case": sampleReference,
		"Severity":  severity,
		"Link":      sampleLink,
		"Code":      sampleCode,
	}
}

// messageFiles parses every embedded active.*.toml file with go-i18n's own
// parser and returns its raw bytes and messages by language.
func messageFiles(t *testing.T) map[string]*i18n.MessageFile {
	t.Helper()
	names, err := fs.Glob(files, "active.*.toml")
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != len(Supported) {
		t.Fatalf("embedded %d message files %v, want %d (one per supported language)", len(names), names, len(Supported))
	}
	unmarshal := map[string]i18n.UnmarshalFunc{"toml": toml.Unmarshal}
	out := map[string]*i18n.MessageFile{}
	for _, name := range names {
		buf, err := fs.ReadFile(files, name)
		if err != nil {
			t.Fatal(err)
		}
		mf, err := i18n.ParseMessageFileBytes(buf, name, unmarshal)
		if err != nil {
			t.Fatalf("parse %s: %v", name, err)
		}
		out[mf.Tag.String()] = mf
	}
	return out
}

func TestIDs(t *testing.T) {
	t.Parallel()
	c := setup(t)

	want := slices.Sorted(slices.Values(messageIDs))
	if diff := cmp.Diff(want, c.IDs()); diff != "" {
		t.Errorf("IDs() mismatch (-want +got):\n%s", diff)
	}
	// IDs returns a copy.
	c.IDs()[0] = "changed"
	if c.IDs()[0] == "changed" {
		t.Error("IDs() exposes the catalog's own slice")
	}
}

func TestEveryLanguageRendersEveryMessage(t *testing.T) {
	t.Parallel()
	c := setup(t)

	for _, lang := range Supported {
		for _, id := range c.IDs() {
			t.Run(lang+"/"+id, func(t *testing.T) {
				t.Parallel()
				got, err := c.Text(lang, id, sampleData(t, c, lang, SeverityUrgent))
				if err != nil {
					t.Fatalf("Text(%q, %q) error = %v", lang, id, err)
				}
				if strings.TrimSpace(got) == "" || strings.Contains(got, "<no value>") || strings.Contains(got, "{{") {
					t.Errorf("Text(%q, %q) = %q, want a complete text", lang, id, got)
				}
			})
		}
	}
}

func TestTextWithoutDataForPlainMessages(t *testing.T) {
	t.Parallel()
	c := setup(t)

	for _, lang := range Supported {
		for _, id := range append(append([]string{AlertAckUnknown}, survivorSMS...), survivorVoice...) {
			if _, err := c.Text(lang, id, nil); err != nil {
				t.Errorf("Text(%q, %q, nil) error = %v", lang, id, err)
			}
		}
	}
}

func TestTextMissingTemplateField(t *testing.T) {
	t.Parallel()
	c := setup(t)

	tests := []struct {
		name string
		data map[string]any
	}{
		{"nil data", nil},
		{"no code", map[string]any{"Case": sampleReference, "Severity": "urgent", "Link": sampleLink}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, lang := range Supported {
				got, err := c.Text(lang, AlertSMS, tt.data)
				if err == nil {
					t.Errorf("Text(%q, AlertSMS) = %q, want an error for a missing field", lang, got)
				}
			}
		})
	}
}

func TestTextUnsupportedLanguage(t *testing.T) {
	t.Parallel()
	c := setup(t)

	// "mr" (Marathi) and "ne" share Devanagari with Hindi: go-i18n alone would
	// answer them in Hindi. "hi-IN" and "HI" are not codes Saathi stores.
	for _, lang := range []string{"fr", "mr", "ne", "bn", "", "hi-IN", "HI", "pa-Arab", "und"} {
		got, err := c.Text(lang, CheckinSMS, nil)
		if !errors.Is(err, ErrUnsupportedLanguage) {
			t.Errorf("Text(%q, CheckinSMS) = %q, %v; want ErrUnsupportedLanguage", lang, got, err)
		}
		if got != "" {
			t.Errorf("Text(%q, CheckinSMS) returned text %q with its error", lang, got)
		}
		if IsSupported(lang) {
			t.Errorf("IsSupported(%q) = true", lang)
		}
	}
	for _, lang := range Supported {
		if !IsSupported(lang) {
			t.Errorf("IsSupported(%q) = false", lang)
		}
	}
}

func TestTextUnknownMessage(t *testing.T) {
	t.Parallel()
	c := setup(t)

	for _, lang := range Supported {
		got, err := c.Text(lang, "NoSuchMessage", nil)
		if !errors.Is(err, ErrMissingMessage) || got != "" {
			t.Errorf("Text(%q, NoSuchMessage) = %q, %v; want no text and ErrMissingMessage", lang, got, err)
		}
	}
}

// TestTextDropsEnglishFallback builds a catalog by hand (the constructor
// would refuse the files) in which Hindi lacks a message English has:
// go-i18n then returns the English text with an error, and Text must return
// the error and no English.
func TestTextDropsEnglishFallback(t *testing.T) {
	t.Parallel()

	bundle := i18n.NewBundle(language.English)
	bundle.MustAddMessages(language.English, &i18n.Message{ID: ReplyThanks, Other: "Thank you. Take care."})
	bundle.MustAddMessages(language.Hindi, &i18n.Message{ID: ReplyCallMe, Other: "धन्यवाद।"})
	c := &Catalog{
		localizers: map[string]*i18n.Localizer{"hi": i18n.NewLocalizer(bundle, "hi")},
		tags:       map[string]language.Tag{"hi": language.Hindi},
		parser:     setup(t).parser,
	}

	got, err := c.Text("hi", ReplyThanks, nil)
	if !errors.Is(err, ErrMissingMessage) {
		t.Errorf("Text(hi, ReplyThanks) error = %v, want ErrMissingMessage", err)
	}
	if got != "" {
		t.Errorf("Text(hi, ReplyThanks) = %q, want no text (not English)", got)
	}
}

// TestRelatedLanguageTrap guards against go-i18n's matcher answering a
// language with a related one (with only en and hi loaded, gu matches hi).
func TestRelatedLanguageTrap(t *testing.T) {
	t.Parallel()
	c := setup(t)

	want := map[string]*unicode.RangeTable{
		"en": unicode.Latin,
		"hi": unicode.Devanagari,
		"pa": unicode.Gurmukhi,
		"gu": unicode.Gujarati,
		"ur": unicode.Arabic,
	}
	for _, lang := range Supported {
		for _, id := range []string{CheckinSMS, ReplyThanks, VoiceCheckin} {
			got, err := c.Text(lang, id, nil)
			if err != nil {
				t.Fatalf("Text(%q, %q) error = %v", lang, id, err)
			}
			counts := scriptCounts(got)
			if counts[want[lang]] == 0 {
				t.Errorf("Text(%q, %q) = %q has no letters in the %s script", lang, id, got, scriptName(want[lang]))
			}
			for script, n := range counts {
				if script != want[lang] && script != unicode.Latin && n > 0 {
					t.Errorf("Text(%q, %q) = %q has %d letters in the %s script", lang, id, got, n, scriptName(script))
				}
			}
		}
	}
}

// TestScriptOfEveryMessage checks every rendered message is written in its
// language's script; Latin letters are allowed only in the machine keywords
// and in the data the alerts carry.
func TestScriptOfEveryMessage(t *testing.T) {
	t.Parallel()
	c := setup(t)

	want := map[string]*unicode.RangeTable{
		"en": unicode.Latin, "hi": unicode.Devanagari, "pa": unicode.Gurmukhi,
		"gu": unicode.Gujarati, "ur": unicode.Arabic,
	}
	strip := strings.NewReplacer("STOP", "", "START", "", "ACK", "",
		sampleReference, "", sampleLink, "", sampleCode, "")
	for _, lang := range Supported {
		for _, id := range c.IDs() {
			got, err := c.Text(lang, id, sampleData(t, c, lang, SeverityHigh))
			if err != nil {
				t.Fatalf("Text(%q, %q) error = %v", lang, id, err)
			}
			for _, r := range strip.Replace(got) {
				if unicode.IsLetter(r) && !unicode.Is(want[lang], r) {
					t.Errorf("Text(%q, %q) = %q: letter %q is not in the %s script", lang, id, got, r, scriptName(want[lang]))
					break
				}
			}
		}
	}
}

func TestSMSSegments(t *testing.T) {
	t.Parallel()
	c := setup(t)

	for _, lang := range Supported {
		for _, id := range survivorSMS {
			got, err := c.Text(lang, id, nil)
			if err != nil {
				t.Fatalf("Text(%q, %q) error = %v", lang, id, err)
			}
			enc, n := segment.Count(got)
			t.Logf("%s %-14s %s %d segment(s), %d UTF-16 units", lang, id, enc, n, utf16Len(got))
			if n < 1 || n > 2 {
				t.Errorf("Text(%q, %q) needs %d %s segments, want 1 or 2: %q", lang, id, n, enc, got)
			}
			// English survivor texts stay GSM-7: a stray typographic quote
			// would silently make every English check-in cost UCS-2 rates.
			if lang == "en" && enc != segment.GSM7 {
				t.Errorf("Text(en, %q) is %s, want GSM-7: %q", id, enc, got)
			}
		}
		for _, id := range []string{AlertSMS, AlertEscalatedSMS} {
			for _, sev := range severities {
				got, err := c.Text(lang, id, sampleData(t, c, lang, sev))
				if err != nil {
					t.Fatalf("Text(%q, %q) error = %v", lang, id, err)
				}
				enc, n := segment.Count(got)
				if sev == SeverityUrgent {
					t.Logf("%s %-17s %s %d segment(s), %d UTF-16 units", lang, id, enc, n, utf16Len(got))
				}
				if n > 2 {
					t.Errorf("Text(%q, %q) with %s needs %d %s segments, want at most 2: %q", lang, id, sev, n, enc, got)
				}
			}
		}
	}
}

func TestCheckinAsksForOneTwoThree(t *testing.T) {
	t.Parallel()
	c := setup(t)

	// ASCII, Devanagari, Gurmukhi, Gujarati, Extended Arabic-Indic (Urdu).
	digits := map[rune][]rune{
		'1': {'1', '१', '੧', '૧', '۱'},
		'2': {'2', '२', '੨', '૨', '۲'},
		'3': {'3', '३', '੩', '૩', '۳'},
	}
	for _, lang := range Supported {
		for _, id := range []string{CheckinSMS, HelpInfo, VoiceCheckin} {
			got, err := c.Text(lang, id, nil)
			if err != nil {
				t.Fatalf("Text(%q, %q) error = %v", lang, id, err)
			}
			for d, forms := range digits {
				if !strings.ContainsAny(got, string(forms)) {
					t.Errorf("Text(%q, %q) = %q lacks the digit %c", lang, id, got, d)
				}
			}
		}
	}
}

func TestKeywordsStayLatin(t *testing.T) {
	t.Parallel()
	c := setup(t)

	for _, lang := range Supported {
		for id, keyword := range map[string]string{HelpInfo: "STOP", OptOutConfirm: "START", OptInConfirm: "STOP"} {
			got, err := c.Text(lang, id, nil)
			if err != nil {
				t.Fatalf("Text(%q, %q) error = %v", lang, id, err)
			}
			if !strings.Contains(got, keyword) {
				t.Errorf("Text(%q, %q) = %q lacks the keyword %s", lang, id, got, keyword)
			}
		}
		for _, id := range []string{AlertSMS, AlertEscalatedSMS} {
			got, err := c.Text(lang, id, sampleData(t, c, lang, SeverityLow))
			if err != nil {
				t.Fatalf("Text(%q, %q) error = %v", lang, id, err)
			}
			// At the end, together, so the reply is easy to copy.
			if !strings.HasSuffix(got, "ACK "+sampleCode) {
				t.Errorf("Text(%q, %q) = %q, want it to end with %q", lang, id, got, "ACK "+sampleCode)
			}
			if !strings.Contains(got, sampleReference) || !strings.Contains(got, sampleLink) {
				t.Errorf("Text(%q, %q) = %q lacks the reference or link", lang, id, got)
			}
		}
	}
}

// TestTemplateFields keeps personal data out of every text: survivor texts
// take no data at all, staff texts only the case reference, severity, link
// and code.
func TestTemplateFields(t *testing.T) {
	t.Parallel()

	allowed := map[string][]string{
		AlertSMS:          {"{{.Case}}", "{{.Severity}}", "{{.Link}}", "{{.Code}}"},
		AlertEscalatedSMS: {"{{.Case}}", "{{.Severity}}", "{{.Link}}", "{{.Code}}"},
		AlertAckConfirm:   {"{{.Case}}"},
	}
	for lang, mf := range messageFiles(t) {
		for _, m := range mf.Messages {
			text := m.Other
			for _, field := range allowed[m.ID] {
				if !strings.Contains(text, field) {
					t.Errorf("%s %s: %q lacks %s", lang, m.ID, text, field)
				}
				text = strings.ReplaceAll(text, field, "")
			}
			if strings.Contains(text, "{{") || strings.Contains(text, "}}") {
				t.Errorf("%s %s: %q uses template fields other than %v", lang, m.ID, m.Other, allowed[m.ID])
			}
			if m.LeftDelim != "" || m.RightDelim != "" {
				t.Errorf("%s %s: custom template delimiters", lang, m.ID)
			}
			if m.Zero+m.One+m.Two+m.Few+m.Many != "" {
				t.Errorf("%s %s: plural forms are never rendered; use \"other\" only", lang, m.ID)
			}
			if strings.TrimSpace(m.Description) == "" {
				t.Errorf("%s %s: no description for translators", lang, m.ID)
			}
		}
	}
}

// TestFilesAreNFC keeps the texts canonical, so what is sent, counted and
// scanned is the same sequence of code points.
func TestFilesAreNFC(t *testing.T) {
	t.Parallel()

	for lang, mf := range messageFiles(t) {
		for _, m := range mf.Messages {
			if !norm.NFC.IsNormalString(m.Other) {
				t.Errorf("%s %s: text is not in Unicode NFC: %q", lang, m.ID, m.Other)
			}
		}
	}
}

func TestNewCatalogRejects(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		edit    func(t *testing.T, fsys fstest.MapFS)
		wantErr error // nil: any error
	}{
		{
			name:    "a language lacks a message English has",
			edit:    func(t *testing.T, fsys fstest.MapFS) { deleteMessage(t, fsys, "hi", ReplyThanks) },
			wantErr: ErrMissingMessage,
		},
		{
			name:    "Urdu lacks a staff message",
			edit:    func(t *testing.T, fsys fstest.MapFS) { deleteMessage(t, fsys, "ur", SeverityLow) },
			wantErr: ErrMissingMessage,
		},
		{
			name: "English and every language lack a message the code uses",
			edit: func(t *testing.T, fsys fstest.MapFS) {
				for _, lang := range Supported {
					deleteMessage(t, fsys, lang, VoiceThanks)
				}
			},
			wantErr: ErrMissingMessage,
		},
		{
			name:    "a language file is missing",
			edit:    func(t *testing.T, fsys fstest.MapFS) { delete(fsys, "active.gu.toml") },
			wantErr: fs.ErrNotExist,
		},
		{
			name:    "a language file is empty",
			edit:    func(t *testing.T, fsys fstest.MapFS) { fsys["active.pa.toml"] = &fstest.MapFile{} },
			wantErr: ErrMissingMessage,
		},
		{
			name: "a file for an unsupported language",
			edit: func(t *testing.T, fsys fstest.MapFS) {
				fsys["active.mr.toml"] = &fstest.MapFile{Data: fsys["active.hi.toml"].Data}
			},
			wantErr: ErrUnsupportedLanguage,
		},
		{
			name: "a language has a message English lacks",
			edit: func(t *testing.T, fsys fstest.MapFS) {
				setMessage(t, fsys, "gu", "CheckinSMSTypo", "નમસ્તે")
			},
		},
		{
			name: "a template does not parse",
			edit: func(t *testing.T, fsys fstest.MapFS) {
				setMessage(t, fsys, "ur", AlertAckConfirm, "تصدیق ہو گئی: کیس {{.Reference}")
			},
		},
		{
			name: "a message is blank",
			edit: func(t *testing.T, fsys fstest.MapFS) { setMessage(t, fsys, "pa", ReplyThanks, " ") },
		},
		{
			name: "a file is not TOML",
			edit: func(t *testing.T, fsys fstest.MapFS) {
				fsys["active.hi.toml"] = &fstest.MapFile{Data: []byte("[ReplyThanks\nother = ")}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fsys := embeddedCopy(t)
			if _, err := newCatalog(fsys); err != nil {
				t.Fatalf("newCatalog(unchanged copy) error = %v", err)
			}
			tt.edit(t, fsys)
			c, err := newCatalog(fsys)
			if err == nil {
				t.Fatalf("newCatalog() = %v, nil; want an error", c)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("newCatalog() error = %v, want %v", err, tt.wantErr)
			}
			t.Logf("newCatalog() error = %v", err)
		})
	}
}

func embeddedCopy(t *testing.T) fstest.MapFS {
	t.Helper()
	out := fstest.MapFS{}
	for _, lang := range Supported {
		name := "active." + lang + ".toml"
		buf, err := fs.ReadFile(files, name)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = &fstest.MapFile{Data: buf}
	}
	return out
}

func decodeFile(t *testing.T, fsys fstest.MapFS, lang string) map[string]map[string]string {
	t.Helper()
	var m map[string]map[string]string
	if err := toml.Unmarshal(fsys["active."+lang+".toml"].Data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func encodeFile(t *testing.T, fsys fstest.MapFS, lang string, m map[string]map[string]string) {
	t.Helper()
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(m); err != nil {
		t.Fatal(err)
	}
	fsys["active."+lang+".toml"] = &fstest.MapFile{Data: buf.Bytes()}
}

func deleteMessage(t *testing.T, fsys fstest.MapFS, lang, id string) {
	t.Helper()
	m := decodeFile(t, fsys, lang)
	if _, ok := m[id]; !ok {
		t.Fatalf("active.%s.toml has no %s to delete", lang, id)
	}
	delete(m, id)
	encodeFile(t, fsys, lang, m)
}

func setMessage(t *testing.T, fsys fstest.MapFS, lang, id, text string) {
	t.Helper()
	m := decodeFile(t, fsys, lang)
	m[id] = map[string]string{"description": "test", "other": text}
	encodeFile(t, fsys, lang, m)
}

func scriptCounts(s string) map[*unicode.RangeTable]int {
	counts := map[*unicode.RangeTable]int{}
	for _, r := range s {
		if !unicode.IsLetter(r) {
			continue
		}
		for _, script := range []*unicode.RangeTable{unicode.Latin, unicode.Devanagari, unicode.Gurmukhi, unicode.Gujarati, unicode.Arabic} {
			if unicode.Is(script, r) {
				counts[script]++
			}
		}
	}
	return counts
}

func scriptName(table *unicode.RangeTable) string {
	for name, t := range unicode.Scripts {
		if t == table {
			return name
		}
	}
	return fmt.Sprintf("%p", table)
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n++
		if r > 0xFFFF {
			n++
		}
	}
	return n
}

// forbiddenWords would tell whoever reads the phone what Saathi is for, who
// works for it or who the person is. No text in any file may contain one,
// in any language or script. Latin-script entries match at the start of a
// word, and only as a whole word unless they end in "*" (a prefix: "rescu*"
// also catches "rescued"). Entries in other scripts match anywhere: Indic
// and Urdu words take attached endings and postpositions.
var forbiddenWords = map[string][]string{
	"en": {
		"traffick*", "human trade*", "smuggl*", "rescu*", "police*", "policewom*", "cop", "cops",
		"victim*", "survivor*", "ngo", "ngos", "non-governmental*", "non governmental*", "charity", "charities",
		"shelter*", "safe house*", "safehouse*", "refuge*", "abus*", "danger*", "emergenc*",
		"caseworker*", "case worker*", "case-worker*", "social worker*", "counsellor*", "counselor*",
		"counselling", "counseling", "exploit*", "brothel*", "pimp*", "prostitut*", "sex work*",
		"rehab*", "raid", "raids", "fir", "helpline*", "hotline*",
	},
	// Romanised Hindi, Punjabi, Gujarati and Urdu, as typed on phones.
	"romanised": {
		"taskar*", "taskri*", "tashkar*", "pulis*", "puleas*", "polis", "police wal*", "thana", "thane", "thaana",
		"bachao", "bachav", "bachaav", "bachaw", "peedit*", "pidit*", "peerat", "pirat", "peedat",
		"ashray*", "aashray*", "aasra", "ashram", "shoshan*", "sosan", "dushkarm*", "durvyavahar*",
		"khatra", "khatre", "khatrah", "khatara", "khatro", "jokham", "aapat*", "apatkal*", "katokati",
		"emergency", "dalal", "dallal", "kotha", "kothe", "vaishya*", "veshya*", "deh vyapar", "jism faroshi",
		"jismfaroshi", "istehsal", "istahsal", "panahgah", "panah gah", "darul aman", "dar-ul-aman",
		"mutasir*", "mutassir*", "mutasira", "shikar", "salahkar", "paramarsh*", "punarvas*", "punarvasan",
		"bahali", "chhapa", "chapa", "darod*", "smagl*", "ismagl*",
	},
	"hi": {
		"तस्कर", "मानव व्यापार", "पुलिस", "पुलीस", "थाना", "थाने", "बचाव", "रेस्क्यू", "छुड़ा", "छापा",
		"पीड़ित", "पीडित", "विक्टिम", "सर्वाइवर", "आश्रय", "शेल्टर", "शोषण", "दुर्व्यवहार", "उत्पीड़न",
		"ख़तर", "खतर", "आपात", "इमरजेंसी", "इमर्जेंसी", "एनजीओ", "गैर सरकारी", "गैर-सरकारी",
		"स्वयंसेवी", "केसवर्कर", "केस वर्कर", "काउंसलर", "काउन्सलर", "परामर्श", "वेश्या", "कोठा", "कोठे",
		"देह व्यापार", "जिस्मफ़रोशी", "दलाल", "पुनर्वास",
	},
	"pa": {
		"ਤਸਕਰ", "ਮਨੁੱਖੀ ਵਪਾਰ", "ਪੁਲਿਸ", "ਪੁਲੀਸ", "ਪੁਲਸ", "ਥਾਣਾ", "ਥਾਣੇ", "ਬਚਾਅ", "ਬਚਾਓ", "ਰੈਸਕਿਊ", "ਛਾਪਾ",
		"ਪੀੜਤ", "ਪੀੜਿਤ", "ਆਸਰਾ", "ਸ਼ੈਲਟਰ", "ਸ਼ੋਸ਼ਣ", "ਦੁਰਵਿਹਾਰ", "ਖ਼ਤਰ", "ਖਤਰ", "ਐਮਰਜੈਂਸੀ", "ਐਮਰਜੰਸੀ",
		"ਐਨਜੀਓ", "ਐਨ.ਜੀ.ਓ", "ਕੇਸ ਵਰਕਰ", "ਕੇਸਵਰਕਰ", "ਕਾਉਂਸਲਰ", "ਸਲਾਹਕਾਰ", "ਵੇਸਵਾ", "ਕੋਠਾ", "ਕੋਠੇ",
		"ਦਲਾਲ", "ਮੁੜ ਵਸੇਬ", "ਮੁੜ-ਵਸੇਬ",
	},
	"gu": {
		"તસ્કર", "માનવ હેરફેર", "પોલીસ", "પોલિસ", "થાણ", "બચાવ", "રેસ્ક્યુ", "દરોડ", "પીડિત",
		"આશ્રય", "શેલ્ટર", "શોષણ", "દુર્વ્યવહાર", "જોખમ", "ખતર", "કટોકટી", "ઇમરજન્સી", "ઈમરજન્સી",
		"એનજીઓ", "કેસ વર્કર", "કેસવર્કર", "કાઉન્સેલર", "કાઉન્સિલર", "સલાહકાર", "વેશ્યા", "કોઠો", "કોઠા",
		"દલાલ", "પુનર્વસન",
	},
	"ur": {
		"اسمگل", "سمگل", "انسانی تجارت", "پولیس", "پولس", "تھانہ", "تھانے", "بچاؤ", "بچاو", "ریسکیو", "چھاپہ",
		"متاثرہ", "متاثرین", "شکار", "شیلٹر", "پناہ", "دارالامان", "استحصال", "زیادتی", "بدسلوکی",
		"خطرہ", "خطرے", "خطرناک", "ایمرجنسی", "ہنگامی", "این جی او", "غیر سرکاری", "کیس ورکر", "کونسلر",
		"کاؤنسلر", "مشیر", "جسم فروشی", "کوٹھا", "کوٹھے", "دلال", "بحالی",
	},
}

// fold makes the scanner blind to spellings that look alike on a screen:
// NFC, lower case, no invisible format characters (ZWJ, ZWNJ, soft hyphen,
// bidi marks) or Arabic tatweel, no nukta (so ड़ and ड, ख़ and ख match), and
// Arabic-keyboard letters mapped to their Urdu forms.
func fold(s string) string {
	s = norm.NFC.String(strings.ToLower(s))
	return strings.Map(func(r rune) rune {
		switch {
		case unicode.Is(unicode.Cf, r), r == '\u0640', r == '\u093C', r == '\u0A3C', r == '\u0ABC':
			return -1
		case r == 'ك':
			return 'ک'
		case r == 'ي', r == 'ى':
			return 'ی'
		case r == 'ه', r == 'ة':
			return 'ہ'
		}
		return r
	}, s)
}

// forbiddenIn returns the forbidden words found in text.
func forbiddenIn(text string) []string {
	text = fold(text)
	var hits []string
	for _, words := range forbiddenWords {
		for _, w := range words {
			if matchWord(text, w) {
				hits = append(hits, w)
			}
		}
	}
	slices.Sort(hits)
	return hits
}

func matchWord(text, word string) bool {
	prefix := strings.HasSuffix(word, "*")
	word = fold(strings.TrimSuffix(word, "*"))
	latin := word[0] < 0x80
	for i := 0; ; {
		j := strings.Index(text[i:], word)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(word)
		i = start + 1
		if !latin {
			return true
		}
		before := start == 0 || !isWordByte(text[start-1])
		after := prefix || end == len(text) || !isWordByte(text[end])
		if before && after {
			return true
		}
	}
}

// isWordByte reports whether b continues a Latin word (a letter, a digit,
// or any byte of a non-ASCII rune such as é).
func isWordByte(b byte) bool {
	return b >= 0x80 || b == '_' || ('a' <= b && b <= 'z') || ('0' <= b && b <= '9')
}

func TestForbiddenWords(t *testing.T) {
	t.Parallel()

	t.Run("scanner finds known-bad text", func(t *testing.T) {
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
		}
		for name, text := range bad {
			if hits := forbiddenIn(text); len(hits) == 0 {
				t.Errorf("%s: forbiddenIn(%q) found nothing", name, text)
			}
		}
	})

	t.Run("scanner passes innocent text", func(t *testing.T) {
		t.Parallel()
		good := []string{
			"Hello from Saathi. Reply 1 if all is well, 2 for a call, 3 for help.",
			"mango, bingo, firm, first, copper, policy",
			"case SA7K2M9Q4X1B needs attention (urgent)",
			"धन्यवाद। अपना ध्यान रखें।",
			"شکریہ۔ اپنا خیال رکھیں۔",
		}
		for _, text := range good {
			if hits := forbiddenIn(text); len(hits) > 0 {
				t.Errorf("forbiddenIn(%q) = %v, want none", text, hits)
			}
		}
	})

	for lang, mf := range messageFiles(t) {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			for _, m := range mf.Messages {
				for _, text := range []string{m.Zero, m.One, m.Two, m.Few, m.Many, m.Other} {
					if hits := forbiddenIn(text); len(hits) > 0 {
						t.Errorf("active.%s.toml %s contains forbidden %q: %q", lang, m.ID, hits, text)
					}
				}
			}
		})
	}

	// The whole file too: translators' notes and comments are read and
	// copied, so they follow the same rule.
	for _, lang := range Supported {
		t.Run(lang+"/whole file", func(t *testing.T) {
			t.Parallel()
			buf, err := fs.ReadFile(files, "active."+lang+".toml")
			if err != nil {
				t.Fatal(err)
			}
			if hits := forbiddenIn(string(buf)); len(hits) > 0 {
				t.Errorf("active.%s.toml contains forbidden %q", lang, hits)
			}
		})
	}
}
