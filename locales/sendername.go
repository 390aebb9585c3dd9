package locales

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"saathi/locales/segment"
)

// maxSenderName bounds a deployment's sender name, in characters (Unicode
// code points, after trimming). Every survivor SMS must still fit its
// segment limit with the name in it; see CheckSenderName.
const maxSenderName = 20

// maxSurvivorSegments is the most SMS segments a survivor text may need,
// in any language, with any sender name.
const maxSurvivorSegments = 2

// survivorSMS are the texts sent by SMS to a survivor: the ones a sender
// name must keep within maxSurvivorSegments.
var survivorSMS = []string{
	CheckinSMS, ReplyThanks, ReplyCallMe, ReplyHelpNow, ReplyFreeText,
	HelpInfo, OptOutConfirm, OptInConfirm,
}

// Representative alert data, for rendering staff texts when a sender name
// is checked: the longest case reference production sends.
const (
	sampleReference = "SA7K2M9Q4X1B" // 12 characters
	sampleLink      = "https://saathi.example.org/a/0123456789abcdef"
	sampleCode      = "482913"
)

// WithSenderName returns a copy of c in which every text, in every
// language, names the service as name (SAATHI_SENDER_NAME) instead of each
// file's SenderName. The name is trimmed, its inner spaces collapsed and
// put in Unicode NFC; it must pass CheckSenderName. c itself is unchanged.
func (c *Catalog) WithSenderName(name string) (*Catalog, error) {
	name = cleanSenderName(name)
	if err := c.checkSenderName(name); err != nil {
		return nil, err
	}
	return c.withName(name), nil
}

// CheckSenderName reports why name cannot be a deployment's sender name,
// with a message meant to follow the variable's name ("must be ...",
// "contains ..."). After trimming, a name must be 1 to 20 characters of
// letters (any script, with their vowel signs), spaces, hyphens and
// apostrophes: no digits, nothing that reads as a link, address or
// number. It must contain no forbidden word, and neither may any text
// rendered with it, in any language. Every survivor SMS must still fit in
// two segments in every language.
//
// It does not require the check-in to stay in one segment, which would
// refuse almost every name: one UCS-2 segment is 70 units, and the Hindi,
// Punjabi, Gujarati and Urdu check-ins leave room for a name of 5, 6, 4
// and 5 units (the default names use 4, 4, 4 and 5); the English one for
// 98 GSM-7 letters, or 8 characters of another script (the text is then
// UCS-2). A longer name makes those check-ins two segments, at twice the
// price; names of up to 4 letters keep every check-in in one.
func CheckSenderName(name string) error {
	c, err := NewCatalog()
	if err != nil {
		return err
	}
	return c.checkSenderName(cleanSenderName(name))
}

// cleanSenderName is the form of a configured name that is checked and
// used: single spaces between words, none around them, NFC.
func cleanSenderName(name string) string {
	return norm.NFC.String(strings.Join(strings.Fields(name), " "))
}

func (c *Catalog) withName(name string) *Catalog {
	out := *c
	out.names = make(map[string]string, len(c.names))
	for _, lang := range Supported {
		out.names[lang] = name
	}
	return &out
}

// checkSenderName implements CheckSenderName for a cleaned name.
func (c *Catalog) checkSenderName(name string) error {
	if n := utf8.RuneCountInString(name); n < 1 || n > maxSenderName {
		return fmt.Errorf("must be 1 to %d characters (it has %d)", maxSenderName, n)
	}
	if err := checkSenderNameRunes(name); err != nil {
		return err
	}
	if hits := Forbidden(name); len(hits) > 0 {
		return fmt.Errorf("contains %q, which says what the service is for", hits)
	}
	named := c.withName(name)
	for _, lang := range Supported {
		data, err := sampleFields(named, lang, SeverityUrgent)
		if err != nil {
			return fmt.Errorf("render %s: %w", lang, err)
		}
		for _, id := range c.ids {
			text, err := named.Text(lang, id, data)
			if err != nil {
				return fmt.Errorf("cannot be inserted into the %s text %s: %w", lang, id, err)
			}
			if hits := Forbidden(text); len(hits) > 0 {
				return fmt.Errorf("makes the %s text %s contain %q, which says what the service is for", lang, id, hits)
			}
		}
		for _, id := range survivorSMS {
			text, err := named.Text(lang, id, nil)
			if err != nil {
				return fmt.Errorf("cannot be inserted into the %s text %s: %w", lang, id, err)
			}
			if enc, n := segment.Count(text); n > maxSurvivorSegments {
				return fmt.Errorf("is too long: the %s text %s would need %d %s SMS segments (at most %d)", lang, id, n, enc, maxSurvivorSegments)
			}
		}
	}
	return nil
}

// checkSenderNameRunes allows letters of any script with their combining
// marks (Indic vowel signs, viramas), ZWJ and ZWNJ (some Indic spellings
// need them), and single spaces, hyphens and apostrophes between letters.
// Digits, dots, slashes, @ and the like would make the name read as a
// phone number, link or address.
func checkSenderNameRunes(name string) error {
	if strings.IndexFunc(name, unicode.IsNumber) >= 0 {
		return errors.New("must not contain digits")
	}
	first, _ := utf8.DecodeRuneInString(name)
	if !unicode.IsLetter(first) {
		return errors.New("must start with a letter")
	}
	for _, r := range name {
		switch {
		case unicode.IsLetter(r), unicode.IsMark(r), r == ' ', r == '-', r == '\'', r == '\u2019', r == '\u200C', r == '\u200D':
		default:
			return fmt.Errorf("must contain only letters, spaces, hyphens and apostrophes, not %q", r)
		}
	}
	return nil
}

// sampleFields is TemplateData for any message in lang: the sample alert
// data, with the severity word rendered in lang as the alert jobs do.
// Messages without fields ignore it.
func sampleFields(c *Catalog, lang, severityID string) (map[string]any, error) {
	severity, err := c.Text(lang, severityID, nil)
	if err != nil {
		return nil, err
	}
	return map[string]any{"Case": sampleReference, "Severity": severity, "Link": sampleLink, "Code": sampleCode}, nil
}
