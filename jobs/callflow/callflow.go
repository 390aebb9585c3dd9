// Package callflow renders the TwiML Twilio runs at each step of a
// check-in call, in the survivor's language. It is pure: the handlers
// choose the URLs and what step the call is at, and write the answer.
//
// The steps, by what Twilio reports and what the survivor does:
//
//	answered by a machine or fax   Machine: hang up, say nothing (never leave a voicemail)
//	answered, "unknown"            Gate: "press any key" once; no key, hang up
//	answered by a person           Menu: greeting and question, waiting for a key
//	no key                         NoInput: "we did not hear a key", the question again
//	no key again                   Goodbye: a polite goodbye, hang up
//	9, or a key that means nothing Repeat: the question again
//	1, 2, 3, the duress code       Answer: the answer to it, hang up
//	a missed call (they ring us)   Reject: busy, never answered, nobody billed
//
// Each prompt is a <Say> with the language's voice or a <Play> of its
// recording, as locales.Voice says. Twilio speaks an error message into a
// call whose webhook fails ("an application error has occurred"), even to
// a voicemail: a handler that cannot render a step answers Hangup().
package callflow

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/twilio/twilio-go/twiml"

	"saathi/jobs/reply"
	"saathi/locales"
)

// Gather settings. A key is taken without # after keyTimeout seconds of
// quiet, so one key (1, 2, 3, 9) needs no # and a longer code (the duress
// code) ends with #. numDigits is never set on the menu: it would cut a
// code off at its first digit.
const (
	keyTimeout  = "3"
	gateTimeout = "5"
	finishKey   = "#"
)

// The documents that need no language. Literal, so they cannot fail:
// TestFixedDocuments checks them against what twiml renders.
const (
	hangupXML = `<?xml version="1.0" encoding="UTF-8"?><Response><Hangup/></Response>`
	rejectXML = `<?xml version="1.0" encoding="UTF-8"?><Response><Reject reason="busy"/></Response>`
)

// Machine answers a call a machine or fax picked up: it hangs up at once,
// with nothing said or played, so no voicemail is ever left.
func Machine() string { return hangupXML }

// Hangup ends the call at once. Handlers answer with it whenever they
// cannot render the step (an error, an unknown call): anything but a 200
// with TwiML makes Twilio speak an error message into the call.
func Hangup() string { return hangupXML }

// Reject answers a missed call (the survivor rings Saathi's number) with
// busy before it is answered: nobody is billed, and the survivor is called
// back.
func Reject() string { return rejectXML }

// ErrNoAnswer is returned by Answer for a message that is not one of the
// spoken answers.
var ErrNoAnswer = errors.New("not a spoken answer")

// answers is what the survivor hears for each intent a key press can
// have. The duress code gets exactly what 1 gets: the same words, the same
// bytes of TwiML.
var answers = map[reply.Intent]string{
	reply.OK:      locales.VoiceThanks,
	reply.Duress:  locales.VoiceThanks,
	reply.CallMe:  locales.VoiceCallMe,
	reply.HelpNow: locales.VoiceHelpNow,
}

// Answers maps what keys meant to the voice prompt answering them, for
// jobs.Reply.Answers; an intent not in it (a key that means nothing) gets
// the question again (Repeat). A new map on every call.
func Answers() map[reply.Intent]string {
	out := make(map[reply.Intent]string, len(answers))
	for i, id := range answers {
		out[i] = id
	}
	return out
}

// Flow renders the steps of a call. It is safe for concurrent use.
type Flow struct {
	voice     *locales.Voice
	audioBase string
}

// Next says where Twilio goes after the question: Action gets the keys
// pressed (Twilio posts Digits there), NoInput is fetched when none were.
// Both are absolute http(s) URLs; the handlers choose them, e.g. with the
// call and step in the query, which is escaped here.
type Next struct {
	Action  string
	NoInput string
}

// New returns a Flow speaking with voice, whose recordings are served
// under audioBaseURL: a prompt's recording is played from
// audioBaseURL + "/" + Prompt.Audio, e.g.
// https://saathi.example.org/twilio/voice/audio/ur/VoiceGreeting.wav?v=…
func New(voice *locales.Voice, audioBaseURL string) (*Flow, error) {
	if voice == nil {
		return nil, errors.New("callflow: no voice")
	}
	base := strings.TrimSuffix(audioBaseURL, "/")
	if err := checkURL(base); err != nil {
		return nil, fmt.Errorf("callflow: audio base URL: %w", err)
	}
	if u, _ := url.Parse(base); u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("callflow: audio base URL: no query or fragment")
	}
	return &Flow{voice: voice, audioBase: base}, nil
}

// Gate asks whoever answered (machine detection said "unknown") to press
// any key; a key is posted to action, and silence hangs up. The prompt
// names nothing: a voicemail may record it.
func (f *Flow) Gate(lang, action string) (string, error) {
	if err := checkURL(action); err != nil {
		return "", fmt.Errorf("gate: action: %w", err)
	}
	gate, err := f.prompt(lang, locales.VoiceGate)
	if err != nil {
		return "", err
	}
	// Any key, # and * included: the empty finishOnKey turns # into a key
	// like the others (twiml drops empty attributes; render sets it).
	return render([]twiml.Element{
		twiml.VoiceGather{Input: "dtmf", NumDigits: "1", Timeout: gateTimeout, Action: action, Method: "POST", InnerElements: []twiml.Element{gate}},
		twiml.VoiceHangup{},
	}, true)
}

// Menu greets a person who answered and asks the question.
func (f *Flow) Menu(lang string, next Next) (string, error) {
	return f.ask(lang, next, locales.VoiceGreeting, locales.VoiceCheckin)
}

// Repeat asks the question again (the survivor pressed 9, or a key that
// means nothing).
func (f *Flow) Repeat(lang string, next Next) (string, error) {
	return f.ask(lang, next, locales.VoiceCheckin)
}

// NoInput says no key was heard and asks the question again; the second
// time no key comes, the handler answers Goodbye.
func (f *Flow) NoInput(lang string, next Next) (string, error) {
	return f.ask(lang, next, locales.VoiceNoInput, locales.VoiceCheckin)
}

// Answer speaks the answer to a key press and hangs up. messageID is one
// of the prompts Answers maps intents to (ErrNoAnswer otherwise).
func (f *Flow) Answer(lang, messageID string) (string, error) {
	switch messageID {
	case locales.VoiceThanks, locales.VoiceCallMe, locales.VoiceHelpNow:
	default:
		return "", fmt.Errorf("answer %q: %w", messageID, ErrNoAnswer)
	}
	return f.sayAndHangUp(lang, messageID)
}

// Goodbye ends a call in which no key was pressed after the question was
// asked twice.
func (f *Flow) Goodbye(lang string) (string, error) {
	return f.sayAndHangUp(lang, locales.VoiceGoodbye)
}

// ask plays the prompts inside a Gather, so a key cuts them short (a
// survivor who knows the menu presses 3 at once), then redirects to
// NoInput when no key came.
func (f *Flow) ask(lang string, next Next, ids ...string) (string, error) {
	if err := checkURL(next.Action); err != nil {
		return "", fmt.Errorf("question: action: %w", err)
	}
	if err := checkURL(next.NoInput); err != nil {
		return "", fmt.Errorf("question: no-input URL: %w", err)
	}
	prompts := make([]twiml.Element, 0, len(ids))
	for _, id := range ids {
		p, err := f.prompt(lang, id)
		if err != nil {
			return "", err
		}
		prompts = append(prompts, p)
	}
	return render([]twiml.Element{
		twiml.VoiceGather{Input: "dtmf", FinishOnKey: finishKey, Timeout: keyTimeout, Action: next.Action, Method: "POST", InnerElements: prompts},
		twiml.VoiceRedirect{Url: next.NoInput, Method: "POST"},
	}, false)
}

func (f *Flow) sayAndHangUp(lang, id string) (string, error) {
	p, err := f.prompt(lang, id)
	if err != nil {
		return "", err
	}
	return render([]twiml.Element{p, twiml.VoiceHangup{}}, false)
}

// prompt is the verb for one prompt: <Say> in the language's voice, or
// <Play> of its recording.
func (f *Flow) prompt(lang, id string) (twiml.Element, error) {
	p, err := f.voice.Prompt(lang, id)
	if err != nil {
		return nil, err
	}
	if p.Audio != "" {
		return twiml.VoicePlay{Url: f.audioBase + "/" + p.Audio}, nil
	}
	return twiml.VoiceSay{Message: p.Text, Language: p.Language, Voice: p.Voice}, nil
}

// render writes verbs as a TwiML document. twilio-go writes attributes in
// Go's random map order; they are sorted, so a step renders to the same
// bytes every time (the duress code's answer is byte for byte the answer
// to 1). emptyFinishOnKey adds finishOnKey="" to the Gather, which twiml
// cannot write.
func render(verbs []twiml.Element, emptyFinishOnKey bool) (string, error) {
	doc, response := twiml.CreateDocument()
	twiml.AddAllVerbs(response, verbs)
	for _, el := range response.FindElements(".//*") {
		if emptyFinishOnKey && el.Tag == "Gather" {
			el.CreateAttr("finishOnKey", "")
		}
		el.SortAttrs()
	}
	xml, err := twiml.ToXML(doc)
	if err != nil {
		return "", fmt.Errorf("render TwiML: %w", err)
	}
	return xml, nil
}

// checkURL accepts an absolute http or https URL. An empty action would
// make Twilio post to the document's own URL and loop the call.
func checkURL(s string) error {
	if s == "" {
		return errors.New("empty")
	}
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http(s) URL", s)
	}
	return nil
}
