package locales

import (
	"embed"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"
)

// The dashboard's words: ui.<lang>.toml, and more files of the same form
// for parts of it (ui_<part>.<lang>.toml), all loaded together.
//
//go:embed ui*.toml
var uiFiles embed.FS

// UI renders the dashboard's own words (buttons, labels, headings) for
// staff. Unlike Catalog (what survivors and staff phones receive), a word
// missing in a language falls back to English: a half-translated page is
// better than none, and nothing here reaches a survivor.
type UI struct {
	localizers map[string]*i18n.Localizer
	langs      []string
}

// UILanguages are the languages the dashboard speaks, English first.
func (u *UI) Languages() []string { return slices.Clone(u.langs) }

// NewUI loads the embedded ui.<lang>.toml files: English must exist and
// define every ID; a file may exist only for a supported language.
func NewUI() (*UI, error) {
	bundle := i18n.NewBundle(language.English)
	bundle.RegisterUnmarshalFunc("toml", toml.Unmarshal)
	names, err := uiFiles.ReadDir(".")
	if err != nil {
		return nil, err
	}
	u := &UI{localizers: map[string]*i18n.Localizer{}}
	var english map[string]bool
	for _, e := range names {
		base := strings.TrimSuffix(path.Base(e.Name()), ".toml")
		lang := base[strings.LastIndex(base, ".")+1:]
		if !IsSupported(lang) {
			return nil, fmt.Errorf("ui file %s: %w %q", e.Name(), ErrUnsupportedLanguage, lang)
		}
		mf, err := bundle.LoadMessageFileFS(uiFiles, e.Name())
		if err != nil {
			return nil, fmt.Errorf("load %s: %w", e.Name(), err)
		}
		if lang == sourceLanguage {
			if english == nil {
				english = map[string]bool{}
			}
			for _, m := range mf.Messages {
				english[m.ID] = true
			}
		}
		if !slices.Contains(u.langs, lang) {
			u.langs = append(u.langs, lang)
		}
	}
	if english == nil {
		return nil, fmt.Errorf("ui.%s.toml: missing", sourceLanguage)
	}
	slices.SortFunc(u.langs, func(a, b string) int {
		return slices.Index(Supported, a) - slices.Index(Supported, b)
	})
	for _, lang := range u.langs {
		u.localizers[lang] = i18n.NewLocalizer(bundle, lang, sourceLanguage)
	}
	return u, nil
}

// T renders message id in lang (English when lang or the message is
// missing; the ID itself as a last resort, so a page never breaks).
func (u *UI) T(lang, id string, data map[string]any) string {
	loc, ok := u.localizers[lang]
	if !ok {
		loc = u.localizers[sourceLanguage]
	}
	lc := &i18n.LocalizeConfig{MessageID: id}
	if data != nil {
		lc.TemplateData = data
	}
	text, err := loc.Localize(lc)
	if err != nil && text == "" {
		return id
	}
	return text
}

// Has reports whether the English UI files define id (every other
// language falls back to them).
func (u *UI) Has(id string) bool {
	_, err := u.localizers[sourceLanguage].Localize(&i18n.LocalizeConfig{MessageID: id})
	return err == nil
}
