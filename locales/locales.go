// Package locales holds every user-facing text of Saathi, one go-i18n TOML
// file per language (active.<lang>.toml), embedded in the binary, and the
// Catalog that renders them.
//
// Texts reach phones that other people may read, including the people a
// survivor escaped from. They stay short and neutral, and never write the
// service's name out: they insert {{.Name}}, which is each file's
// SenderName or a deployment's cover name (WithSenderName), since a real
// NGO's name on a phone can give a survivor away. Forbidden lists the
// words that would give away what Saathi is for; the tests scan every
// rendered text with it, and CheckSenderName every cover name.
//
// The Voice* texts are spoken on check-in calls: Voice says how, per
// language (voice.toml), by a Twilio text-to-speech voice or from
// recordings (audio/, or a deployment's own directory).
//
// Unlike go-i18n's defaults, a Catalog never falls back: a missing language
// or message is an error, never English text or a related language's text
// sent to someone who may not read it.
package locales

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/nicksnyder/go-i18n/v2/i18n"
	"github.com/nicksnyder/go-i18n/v2/i18n/template"
	"golang.org/x/text/language"
)

// Message IDs. Each is a key in every active.*.toml file.
const (
	// SenderName is the name texts give the service ("Saathi", in each
	// language's script). Texts insert it as {{.Name}}; a deployment may
	// replace it in every language with a cover name (WithSenderName).
	SenderName = "SenderName"
	// CheckinSMS asks the survivor to reply 1 (all is well), 2 (call me) or
	// 3 (help now).
	CheckinSMS = "CheckinSMS"
	// ReplyThanks answers a reply of 1 and, looking just as ordinary, the
	// duress word.
	ReplyThanks = "ReplyThanks"
	// ReplyCallMe answers a reply of 2.
	ReplyCallMe = "ReplyCallMe"
	// ReplyHelpNow answers a reply of 3.
	ReplyHelpNow = "ReplyHelpNow"
	// ReplyFreeText answers any other message.
	ReplyFreeText = "ReplyFreeText"
	// HelpInfo explains the reply codes and STOP.
	HelpInfo = "HelpInfo"
	// OptOutConfirm confirms STOP (once) and mentions START.
	OptOutConfirm = "OptOutConfirm"
	// OptInConfirm confirms START and mentions STOP.
	OptInConfirm = "OptInConfirm"
	// VoiceGate asks whoever answered a call that machine detection could
	// not place (Twilio's AnsweredBy "unknown") to press any key. It may be
	// heard by a voicemail, so it says nothing else, not even the name.
	VoiceGate = "VoiceGate"
	// VoiceGreeting opens a check-in call; it is the one voice prompt that
	// names the service.
	VoiceGreeting = "VoiceGreeting"
	// VoiceCheckin asks for a key: 1 (all is well), 2 (call me), 3 (help
	// now), 9 (hear it again). It follows VoiceGreeting, and is repeated
	// alone.
	VoiceCheckin = "VoiceCheckin"
	// VoiceNoInput is spoken when no key was pressed, before asking again.
	VoiceNoInput = "VoiceNoInput"
	// VoiceThanks answers the key 1 and, sounding just the same, the
	// duress code, before hanging up.
	VoiceThanks = "VoiceThanks"
	// VoiceCallMe answers the key 2, before hanging up.
	VoiceCallMe = "VoiceCallMe"
	// VoiceHelpNow answers the key 3, before hanging up.
	VoiceHelpNow = "VoiceHelpNow"
	// VoiceGoodbye ends a call in which no key was pressed after the
	// question was asked twice.
	VoiceGoodbye = "VoiceGoodbye"

	// AlertSMS tells a caseworker a case needs attention. TemplateData:
	// Case (the survivor's case code), Severity (a rendered Severity* text), Link, Code.
	AlertSMS = "AlertSMS"
	// AlertEscalatedSMS tells a supervisor an alert was not acknowledged in
	// time. TemplateData as AlertSMS.
	AlertEscalatedSMS = "AlertEscalatedSMS"
	// AlertAckConfirm confirms an ACK. TemplateData: Case.
	AlertAckConfirm = "AlertAckConfirm"
	// AlertAckUnknown answers an ACK whose code matches no open alert.
	AlertAckUnknown = "AlertAckUnknown"
	// SeverityUrgent is the one-word severity "urgent", for AlertSMS.
	SeverityUrgent = "SeverityUrgent"
	// SeverityHigh is the one-word severity "high", for AlertSMS.
	SeverityHigh = "SeverityHigh"
	// SeverityMedium is the one-word severity "medium", for AlertSMS.
	SeverityMedium = "SeverityMedium"
	// SeverityLow is the one-word severity "low", for AlertSMS.
	SeverityLow = "SeverityLow"
)

// messageIDs are the IDs the code relies on; English must define them all.
var messageIDs = []string{
	SenderName, CheckinSMS, ReplyThanks, ReplyCallMe, ReplyHelpNow, ReplyFreeText,
	HelpInfo, OptOutConfirm, OptInConfirm,
	VoiceGate, VoiceGreeting, VoiceCheckin, VoiceNoInput, VoiceThanks, VoiceCallMe, VoiceHelpNow, VoiceGoodbye,
	AlertSMS, AlertEscalatedSMS, AlertAckConfirm, AlertAckUnknown,
	SeverityUrgent, SeverityHigh, SeverityMedium, SeverityLow,
}

// Supported lists the languages Saathi speaks, as stored on a survivor or
// staff record: English, Hindi, Punjabi (Gurmukhi), Gujarati, Urdu.
var Supported = []string{"en", "hi", "pa", "gu", "ur"}

// sourceLanguage is the language every other file is checked against.
const sourceLanguage = "en"

// ErrUnsupportedLanguage is returned by Text for a language not in Supported.
var ErrUnsupportedLanguage = errors.New("unsupported language")

// ErrMissingMessage is returned by Text for a message ID the language lacks.
var ErrMissingMessage = errors.New("missing message")

// ErrReservedField is returned by Text when data carries NameField: the
// name a text gives the service is the catalog's to insert, never a
// caller's (a caller's "Name" could be a survivor's or a caseworker's).
var ErrReservedField = errors.New("reserved template field")

// NameField is the template field ({{.Name}}) through which every text
// names the service. Text fills it in.
const NameField = "Name"

//go:embed active.*.toml
var files embed.FS

// IsSupported reports whether lang is one of Supported. Codes are matched
// exactly ("hi", not "hi-IN" or "HI"): they come from our own records.
func IsSupported(lang string) bool {
	return slices.Contains(Supported, lang)
}

// Catalog renders user-facing text. It is safe for concurrent use.
type Catalog struct {
	localizers map[string]*i18n.Localizer
	tags       map[string]language.Tag
	ids        []string
	parser     template.Parser
	// names is the service's name by language, inserted as {{.Name}}:
	// each file's SenderName, or one deployment name for all (WithSenderName).
	names map[string]string
}

// NewCatalog loads the embedded active.*.toml files, one per supported
// language. It fails if a file is missing, a file exists for a language not
// in Supported, a language lacks a message English has (or has one English
// lacks), a message is empty, or a template does not parse: survivor texts
// never silently fall back to another language.
func NewCatalog() (*Catalog, error) {
	return newCatalog(files)
}

func newCatalog(fsys fs.FS) (*Catalog, error) {
	// missingkey=error: a template field the caller forgot is an error, not
	// "<no value>" in a text message.
	parser := &template.TextParser{Option: "missingkey=error"}

	names, err := fs.Glob(fsys, "active.*.toml")
	if err != nil {
		return nil, fmt.Errorf("list message files: %w", err)
	}
	for _, name := range names {
		lang := strings.TrimSuffix(strings.TrimPrefix(path.Base(name), "active."), ".toml")
		if !IsSupported(lang) {
			return nil, fmt.Errorf("message file %s: %w %q", name, ErrUnsupportedLanguage, lang)
		}
	}

	bundle := i18n.NewBundle(language.English)
	bundle.RegisterUnmarshalFunc("toml", toml.Unmarshal)
	messages := make(map[string]map[string]*i18n.Message, len(Supported))
	tags := make(map[string]language.Tag, len(Supported))
	for _, lang := range Supported {
		name := "active." + lang + ".toml"
		mf, err := bundle.LoadMessageFileFS(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("load %s: %w", name, err)
		}
		if want := language.Make(lang); mf.Tag != want {
			return nil, fmt.Errorf("load %s: language %s, want %s", name, mf.Tag, want)
		}
		byID := make(map[string]*i18n.Message, len(mf.Messages))
		for _, m := range mf.Messages {
			if err := checkMessage(parser, m); err != nil {
				return nil, fmt.Errorf("load %s: %w", name, err)
			}
			byID[m.ID] = m
		}
		messages[lang] = byID
		tags[lang] = mf.Tag
	}

	source := messages[sourceLanguage]
	for _, id := range messageIDs {
		if source[id] == nil {
			return nil, fmt.Errorf("active.%s.toml: %w %s", sourceLanguage, ErrMissingMessage, id)
		}
	}
	ids := make([]string, 0, len(source))
	for id := range source {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, lang := range Supported {
		for _, id := range ids {
			if messages[lang][id] == nil {
				return nil, fmt.Errorf("active.%s.toml: %w %s (present in active.%s.toml)", lang, ErrMissingMessage, id, sourceLanguage)
			}
		}
		for id := range messages[lang] {
			if source[id] == nil {
				return nil, fmt.Errorf("active.%s.toml: message %s is not in active.%s.toml", lang, id, sourceLanguage)
			}
		}
	}

	localizers := make(map[string]*i18n.Localizer, len(Supported))
	for _, lang := range Supported {
		// One language per localizer and no fallback list: go-i18n would
		// otherwise match a related language or English.
		localizers[lang] = i18n.NewLocalizer(bundle, lang)
	}
	c := &Catalog{localizers: localizers, tags: tags, ids: ids, parser: parser, names: make(map[string]string, len(Supported))}
	for _, lang := range Supported {
		// Rendered, not read from the file, so the name goes through the
		// same checks as any text; a field in it fails (missingkey=error).
		name, _, err := localizers[lang].LocalizeWithTag(&i18n.LocalizeConfig{MessageID: SenderName, TemplateParser: parser})
		if err != nil {
			return nil, fmt.Errorf("active.%s.toml: render %s: %w", lang, SenderName, err)
		}
		c.names[lang] = name
	}
	return c, nil
}

// checkMessage rejects messages that could only fail (or say nothing) when
// rendered. Saathi renders no plural forms, so "other" is the text.
func checkMessage(parser template.Parser, m *i18n.Message) error {
	if strings.TrimSpace(m.Other) == "" {
		return fmt.Errorf("message %s: empty \"other\" text", m.ID)
	}
	if _, err := parser.Parse(m.Other, m.LeftDelim, m.RightDelim); err != nil {
		return fmt.Errorf("message %s: %w", m.ID, err)
	}
	return nil
}

// Text renders message id in lang with data (nil for messages without
// fields), inserting the service's name as {{.Name}} itself. It returns an
// error, and no text, for an unsupported language, a message the language
// lacks, a template field missing from data, or data that carries
// NameField (ErrReservedField). Text(lang, SenderName, nil) is the name.
func (c *Catalog) Text(lang, id string, data map[string]any) (string, error) {
	loc, ok := c.localizers[lang]
	if !ok {
		return "", fmt.Errorf("render %s: %w %q", id, ErrUnsupportedLanguage, lang)
	}
	if _, ok := data[NameField]; ok {
		return "", fmt.Errorf("render %s in %s: %w %s: the catalog inserts the name", id, lang, ErrReservedField, NameField)
	}
	if id == SenderName {
		return c.names[lang], nil
	}
	// A copy: the caller's map is neither changed nor kept.
	fields := make(map[string]any, len(data)+1)
	maps.Copy(fields, data)
	fields[NameField] = c.names[lang]
	lc := &i18n.LocalizeConfig{MessageID: id, TemplateParser: c.parser, TemplateData: fields}
	// On a missing message go-i18n returns English text and an error: the
	// text is dropped, the error kept.
	text, tag, err := loc.LocalizeWithTag(lc)
	if _, notFound := errors.AsType[*i18n.MessageNotFoundErr](err); notFound {
		return "", fmt.Errorf("render %s in %s: %w: %w", id, lang, ErrMissingMessage, err)
	}
	if err != nil {
		return "", fmt.Errorf("render %s in %s: %w", id, lang, err)
	}
	if tag != c.tags[lang] {
		return "", fmt.Errorf("render %s in %s: matched language %s instead", id, lang, tag)
	}
	return text, nil
}

// IDs lists every message ID, sorted.
func (c *Catalog) IDs() []string {
	return slices.Clone(c.ids)
}

// MessageIDs lists the message IDs the code uses.
func MessageIDs() []string { return slices.Clone(messageIDs) }
