package locales

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

// namedIDs are the texts that name the service.
var namedIDs = []string{CheckinSMS, HelpInfo, OptOutConfirm, OptInConfirm, VoiceGreeting, AlertSMS, AlertEscalatedSMS}

// defaultNames is SenderName in each language: the default renders in the
// language's own script.
var defaultNames = map[string]string{"en": "Saathi", "hi": "साथी", "pa": "ਸਾਥੀ", "gu": "સાથી", "ur": "ساتھی"}

func TestSenderNameDefault(t *testing.T) {
	t.Parallel()
	c := setup(t)

	for _, lang := range Supported {
		got, err := c.Text(lang, SenderName, nil)
		if err != nil || got != defaultNames[lang] {
			t.Errorf("Text(%q, SenderName) = %q, %v; want %q", lang, got, err, defaultNames[lang])
		}
		for _, id := range namedIDs {
			text, err := c.Text(lang, id, sampleData(t, c, lang, SeverityHigh))
			if err != nil {
				t.Fatalf("Text(%q, %q) error = %v", lang, id, err)
			}
			if !strings.Contains(text, defaultNames[lang]) {
				t.Errorf("Text(%q, %q) = %q lacks the default name %q", lang, id, text, defaultNames[lang])
			}
		}
	}
	want := "Hello from Saathi. Reply 1 if all is well, 2 for a call, 3 for help."
	if got, _ := c.Text("en", CheckinSMS, nil); got != want {
		t.Errorf("Text(en, CheckinSMS) = %q, want %q", got, want)
	}
}

func TestWithSenderName(t *testing.T) {
	t.Parallel()
	c := setup(t)

	// Spaces are tidied, so a padded variable still reads naturally.
	kiran, err := c.WithSenderName("  Kiran \t Tailors ")
	if err != nil {
		t.Fatalf("WithSenderName() error = %v", err)
	}
	for lang, want := range map[string]string{
		"en": "Hello from Kiran Tailors. Reply 1 if all is well, 2 for a call, 3 for help.",
		"hi": "नमस्ते, यह Kiran Tailors है। सब ठीक है तो 1 भेजें, कॉल के लिए 2, मदद के लिए 3।",
		"ur": "سلام، یہ Kiran Tailors ہے۔ سب ٹھیک ہو تو 1 بھیجیں، کال کے لیے 2، مدد کے لیے 3۔",
	} {
		if got, err := kiran.Text(lang, CheckinSMS, nil); got != want || err != nil {
			t.Errorf("Text(%q, CheckinSMS) = %q, %v; want %q", lang, got, err, want)
		}
	}

	for _, nc := range setupNamed(t)[1:] {
		for _, lang := range Supported {
			if got, err := nc.Text(lang, SenderName, nil); got != nc.name || err != nil {
				t.Errorf("name %q: Text(%q, SenderName) = %q, %v", nc.name, lang, got, err)
			}
			for _, id := range nc.IDs() {
				text, err := nc.Text(lang, id, sampleData(t, nc.Catalog, lang, SeverityHigh))
				if err != nil {
					t.Fatalf("name %q: Text(%q, %q) error = %v", nc.name, lang, id, err)
				}
				if named := strings.Contains(text, nc.name); named != (id == SenderName || slices.Contains(namedIDs, id)) {
					t.Errorf("name %q: Text(%q, %q) = %q: contains the name = %v", nc.name, lang, id, text, named)
				}
				for _, d := range defaultNames {
					if strings.Contains(text, d) {
						t.Errorf("name %q: Text(%q, %q) = %q still says %q", nc.name, lang, id, text, d)
					}
				}
			}
		}
	}

	// The catalog it was made from is unchanged.
	for _, lang := range Supported {
		if got, _ := c.Text(lang, SenderName, nil); got != defaultNames[lang] {
			t.Errorf("after WithSenderName, the original Text(%q, SenderName) = %q", lang, got)
		}
	}
}

// TestTextReservesName: a caller's "Name" (which could be a survivor's or a
// caseworker's name) never reaches a text, not even by accident.
func TestTextReservesName(t *testing.T) {
	t.Parallel()
	c := setup(t)

	for _, id := range []string{CheckinSMS, ReplyThanks, AlertSMS, SenderName} {
		for _, value := range []any{"Priya", nil, ""} {
			data := map[string]any{NameField: value}
			if id == AlertSMS {
				data = sampleData(t, c, "hi", SeverityHigh)
				data[NameField] = value
			}
			got, err := c.Text("hi", id, data)
			if !errors.Is(err, ErrReservedField) || got != "" {
				t.Errorf("Text(hi, %q, Name=%#v) = %q, %v; want no text and ErrReservedField", id, value, got, err)
			}
		}
	}
}

// TestTextLeavesDataAlone: Text inserts the name into its own copy of the
// data, never into the caller's map.
func TestTextLeavesDataAlone(t *testing.T) {
	t.Parallel()
	c := setup(t)

	data := sampleData(t, c, "pa", SeverityLow)
	before := maps.Clone(data)
	if _, err := c.Text("pa", AlertSMS, data); err != nil {
		t.Fatalf("Text(pa, AlertSMS) error = %v", err)
	}
	if diff := cmp.Diff(before, data); diff != "" {
		t.Errorf("Text changed the caller's data (-before +after):\n%s", diff)
	}
}

func TestCheckSenderName(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		in      string
		wantErr string // substring; "" to accept
	}{
		{name: "latin", in: "Asha"},
		{name: "two words", in: "Kiran Tailors"},
		{name: "padded", in: "  Asha  "},
		{name: "hyphen and apostrophe", in: "D'Souza Sari-Centre"},
		{name: "curly apostrophe", in: "D’Souza Stores"},
		{name: "devanagari", in: "आशा"},
		{name: "devanagari with virama and ZWJ", in: "श्री\u200dकिरण"},
		{name: "gurmukhi with addak and tippi", in: "ਸਖੀ ਬੁਟੀਕ ਪੱਕੀ ਗੰਢ"},
		{name: "gujarati", in: "સખી"},
		{name: "urdu", in: "روشنی"},
		{name: "the default", in: "Saathi"},
		{name: "the default in devanagari", in: "साथी"},
		{name: "twenty characters", in: "Asha Kiran Devi Rani"},

		{name: "empty", in: "", wantErr: "must be 1 to 20 characters"},
		{name: "blank", in: " \t\n", wantErr: "must be 1 to 20 characters"},
		{name: "twenty-one characters", in: "Asha Kiran Devi Ranis", wantErr: "must be 1 to 20 characters"},
		{name: "ascii digit", in: "Asha2", wantErr: "must not contain digits"},
		{name: "devanagari digit", in: "आशा३", wantErr: "must not contain digits"},
		{name: "phone number", in: "Call +919876543210", wantErr: "must not contain digits"},
		{name: "domain", in: "asha.org", wantErr: "only letters"},
		{name: "url", in: "https:asha", wantErr: "only letters"},
		{name: "e-mail", in: "asha@mail", wantErr: "only letters"},
		{name: "slash", in: "Asha/Kiran", wantErr: "only letters"},
		{name: "emoji", in: "Asha 🌸", wantErr: "only letters"},
		{name: "starts with a hyphen", in: "-Asha", wantErr: "must start with a letter"},
		{name: "starts with a mark", in: "\u093eआशा", wantErr: "must start with a letter"},
		{name: "helpline", in: "Helpline", wantErr: "helpline*"},
		{name: "rescue home", in: "Rescue Home", wantErr: "rescu*"},
		{name: "shelter in hindi", in: "आश्रय", wantErr: "आश्रय"},
		{name: "police in punjabi", in: "ਪੁਲਿਸ", wantErr: "ਪੁਲਿਸ"},
		{name: "counselling centre", in: "Counselling Centre", wantErr: "counsel*"},
		{name: "case manager", in: "Case Manager", wantErr: "case manager*"},
		{name: "officer in hindi", in: "ऑफ़िसर", wantErr: "ऑफ़िसर"},
		{name: "complaint in urdu", in: "شکایت", wantErr: "شکایت"},
		{name: "thana", in: "Thana Road", wantErr: "thana*"},
		{name: "fir", in: "Fir", wantErr: `"fir"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := CheckSenderName(tc.in)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("CheckSenderName(%q) = %v, want nil", tc.in, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("CheckSenderName(%q) = %v, want an error containing %q", tc.in, err, tc.wantErr)
			}
			// WithSenderName refuses it the same way, and makes no catalog.
			c, werr := setup(t).WithSenderName(tc.in)
			if c != nil || werr == nil || werr.Error() != err.Error() {
				t.Errorf("WithSenderName(%q) = %v, %v; want nil and %v", tc.in, c, werr, err)
			}
		})
	}
}

// TestCheckSenderNameRenderedTexts checks what only rendering shows, on
// texts edited for the purpose: a name that overflows a text near its
// segment limit, and one that forms a forbidden word with the text around
// it.
func TestCheckSenderNameRenderedTexts(t *testing.T) {
	t.Parallel()

	// 8 + 292 characters of GSM-7: 300 of the 306 two segments hold with
	// "Saathi", 314 with a 20-character name.
	long := "{{.Name}}: " + strings.Repeat("a", 290) + " STOP"
	tests := []struct {
		name    string
		id      string
		text    string
		in      string
		wantErr string
	}{
		{name: "short name fits", id: HelpInfo, text: long, in: "Asha"},
		{name: "long name overflows", id: HelpInfo, text: long, in: "Asha Kiran Devi Rani", wantErr: "the en text HelpInfo would need 3 GSM-7 SMS segments"},
		{name: "word formed with the text", id: OptInConfirm, text: "{{.Name}}ice messages will start again. Reply STOP to end.", in: "Pol", wantErr: `makes the en text OptInConfirm contain ["police*"]`},
		{name: "harmless with the text", id: OptInConfirm, text: "{{.Name}}ice messages will start again. Reply STOP to end.", in: "Sl"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fsys := embeddedCopy(t)
			setMessage(t, fsys, "en", tc.id, tc.text)
			c, err := newCatalog(fsys)
			if err != nil {
				t.Fatalf("newCatalog() error = %v", err)
			}
			_, err = c.WithSenderName(tc.in)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("WithSenderName(%q) = %v, want nil", tc.in, err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("WithSenderName(%q) = %v, want an error containing %q", tc.in, err, tc.wantErr)
			}
		})
	}
}

func TestNewCatalogRejectsBadSenderName(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		edit func(t *testing.T, fsys fstest.MapFS)
	}{
		{
			name: "no language has SenderName",
			edit: func(t *testing.T, fsys fstest.MapFS) {
				for _, lang := range Supported {
					deleteMessage(t, fsys, lang, SenderName)
				}
			},
		},
		{
			name: "SenderName has a template field",
			edit: func(t *testing.T, fsys fstest.MapFS) { setMessage(t, fsys, "gu", SenderName, "{{.Case}}") },
		},
		{
			name: "SenderName refers to itself",
			edit: func(t *testing.T, fsys fstest.MapFS) { setMessage(t, fsys, "ur", SenderName, "{{.Name}}") },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fsys := embeddedCopy(t)
			tc.edit(t, fsys)
			if c, err := newCatalog(fsys); err == nil {
				t.Errorf("newCatalog() = %v, nil; want an error", c)
			}
		})
	}
}
