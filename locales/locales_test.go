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

// survivorVoice are the texts spoken to a survivor.
var survivorVoice = voicePrompts

var severities = []string{SeverityUrgent, SeverityHigh, SeverityMedium, SeverityLow}

// coverNames are sender names a deployment might choose: every test that
// renders texts renders them with these too.
var coverNames = []string{"Asha", "Kiran Tailors", "आशा", "ਸਖੀ ਬੁਟੀਕ", "સખી", "روشنی"}

func setup(t *testing.T) *Catalog {
	t.Helper()
	c, err := NewCatalog()
	if err != nil {
		t.Fatalf("NewCatalog() error = %v", err)
	}
	return c
}

// namedCatalog is a catalog whose texts name the service as name ("" for
// each file's own SenderName, the default).
type namedCatalog struct {
	name string
	*Catalog
}

// setupNamed returns the default catalog and one per cover name.
func setupNamed(t *testing.T) []namedCatalog {
	t.Helper()
	c := setup(t)
	out := []namedCatalog{{"", c}}
	for _, name := range coverNames {
		nc, err := c.WithSenderName(name)
		if err != nil {
			t.Fatalf("WithSenderName(%q) error = %v", name, err)
		}
		out = append(out, namedCatalog{name, nc})
	}
	return out
}

// sampleData is TemplateData for every message, with the severity word
// rendered in lang as the alert jobs will do.
func sampleData(t *testing.T, c *Catalog, lang, severityID string) map[string]any {
	t.Helper()
	data, err := sampleFields(c, lang, severityID)
	if err != nil {
		t.Fatalf("sampleFields(%q, %q) error = %v", lang, severityID, err)
	}
	return data
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

	for _, c := range setupNamed(t) {
		for _, lang := range Supported {
			for _, id := range c.IDs() {
				t.Run(c.name+"/"+lang+"/"+id, func(t *testing.T) {
					t.Parallel()
					got, err := c.Text(lang, id, sampleData(t, c.Catalog, lang, SeverityUrgent))
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

	// Survivor texts with the default name and every cover name.
	for _, nc := range setupNamed(t) {
		for _, lang := range Supported {
			for _, id := range survivorSMS {
				got, err := nc.Text(lang, id, nil)
				if err != nil {
					t.Fatalf("Text(%q, %q) error = %v", lang, id, err)
				}
				enc, n := segment.Count(got)
				if nc.name == "" {
					t.Logf("%s %-14s %s %d segment(s), %d UTF-16 units", lang, id, enc, n, utf16Len(got))
				}
				if n < 1 || n > maxSurvivorSegments {
					t.Errorf("name %q: Text(%q, %q) needs %d %s segments, want 1 to %d: %q", nc.name, lang, id, n, enc, maxSurvivorSegments, got)
				}
				// The check-in is sent most: in one segment with the
				// default name or any name of up to 4 letters (see
				// CheckSenderName).
				if id == CheckinSMS && utf16Len(nc.name) <= 4 && n != 1 {
					t.Errorf("name %q: Text(%q, CheckinSMS) needs %d segments, want 1: %q", nc.name, lang, n, got)
				}
				// English survivor texts stay GSM-7: a stray typographic
				// quote would silently make every English check-in cost
				// UCS-2 rates. (A name in another script is a deployment's
				// choice, and does.)
				if lang == "en" && enc != segment.GSM7 && isGSM7(nc.name) {
					t.Errorf("name %q: Text(en, %q) is %s, want GSM-7: %q", nc.name, id, enc, got)
				}
			}
		}
	}
	for _, lang := range Supported {
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
// take only the service's name, staff texts also the case reference,
// severity, link and code. The texts that name the service do so through
// {{.Name}} in every language, and none writes a name out.
func TestTemplateFields(t *testing.T) {
	t.Parallel()

	const name = "{{.Name}}"
	alert := []string{name, "{{.Case}}", "{{.Severity}}", "{{.Link}}", "{{.Code}}"}
	fields := map[string][]string{
		CheckinSMS:        {name},
		HelpInfo:          {name},
		OptOutConfirm:     {name},
		OptInConfirm:      {name},
		VoiceGreeting:     {name},
		AlertSMS:          alert,
		AlertEscalatedSMS: alert,
		AlertAckConfirm:   {"{{.Case}}"},
	}
	files := messageFiles(t)
	// Every language's default name, in every script: none may appear
	// written out in a text, where a deployment's name could not replace it.
	var literalNames []string
	for lang, mf := range files {
		i := slices.IndexFunc(mf.Messages, func(m *i18n.Message) bool { return m.ID == SenderName })
		if i < 0 {
			t.Fatalf("active.%s.toml has no %s", lang, SenderName)
		}
		literalNames = append(literalNames, fold(mf.Messages[i].Other))
	}
	for lang, mf := range files {
		for _, m := range mf.Messages {
			text := m.Other
			for _, field := range fields[m.ID] {
				if !strings.Contains(text, field) {
					t.Errorf("%s %s: %q lacks %s", lang, m.ID, text, field)
				}
				text = strings.ReplaceAll(text, field, "")
			}
			if strings.Contains(text, "{{") || strings.Contains(text, "}}") {
				t.Errorf("%s %s: %q uses template fields other than %v", lang, m.ID, m.Other, fields[m.ID])
			}
			if m.ID != SenderName {
				for _, literal := range literalNames {
					if strings.Contains(fold(text), literal) {
						t.Errorf("%s %s: %q writes the name %q out: use %s", lang, m.ID, m.Other, literal, name)
					}
				}
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

func isGSM7(s string) bool {
	enc, _ := segment.Count(s)
	return enc == segment.GSM7
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
