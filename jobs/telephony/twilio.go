// Package telephony implements jobs.Sender and jobs.Caller: Twilio through
// twilio-go, and the dev provider, which sends and calls nothing and keeps
// an outbox in PostgreSQL.
package telephony

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"time"

	"github.com/twilio/twilio-go"
	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"saathi/jobs"
)

// TwilioConfig configures the Twilio sender.
type TwilioConfig struct {
	AccountSID, AuthToken string
	// From is the sending number; MessagingServiceSID is used instead when
	// set (Twilio picks the sender, e.g. a DLT-registered one in India).
	From, MessagingServiceSID string
	// VoiceFrom is the caller ID of check-in calls; empty means From.
	// Twilio places calls to India only from non-Indian numbers, so it may
	// differ from the SMS sender. A messaging service cannot place calls:
	// with only MessagingServiceSID set, VoiceFrom is required.
	VoiceFrom string
	// BaseURL replaces https://api.twilio.com for every request: a fake in
	// tests, a staging proxy in practice.
	BaseURL string
	// Timeout bounds each request; twilio-go takes no context, so this is
	// the only deadline. Keep it below River's job timeout.
	Timeout time.Duration
}

// Twilio sends through Twilio's REST API.
type Twilio struct {
	api *openapi.ApiService
	cfg TwilioConfig
}

var (
	_ jobs.Sender = (*Twilio)(nil)
	_ jobs.Caller = (*Twilio)(nil)
)

// NewTwilio builds a twilio-go client whose requests go to cfg.BaseURL.
func NewTwilio(cfg TwilioConfig) (*Twilio, error) {
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	base, err := url.Parse(cfg.BaseURL)
	if err != nil || base.Host == "" {
		return nil, fmt.Errorf("TWILIO_API_BASE_URL %q is not a URL", cfg.BaseURL)
	}
	// Keep connections to Twilio open across sends: the default transport
	// keeps only two idle per host, so concurrent workers would open (and
	// TLS-handshake) a new connection for almost every message.
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConns = 256
	transport.MaxIdleConnsPerHost = 128
	c := &client.Client{
		Credentials: client.NewCredentials(cfg.AccountSID, cfg.AuthToken),
		HTTPClient: &http.Client{
			Timeout:   cfg.Timeout,
			Transport: rebase{base: base, next: transport},
			// Twilio never redirects API calls; following one could leak
			// credentials.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	c.SetAccountSid(cfg.AccountSID)
	rc := twilio.NewRestClientWithParams(twilio.ClientParams{Client: c})
	return &Twilio{api: rc.Api, cfg: cfg}, nil
}

// rebase sends every request to base instead of the host twilio-go chose
// (twilio-go has no base-URL option).
type rebase struct {
	base *url.URL
	next http.RoundTripper
}

func (r rebase) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.URL.Scheme, req.URL.Host = r.base.Scheme, r.base.Host
	req.URL.Path = r.base.Path + req.URL.Path
	req.Host = r.base.Host
	return r.next.RoundTrip(req)
}

// SendSMS creates a Message.
func (t *Twilio) SendSMS(ctx context.Context, sms jobs.SMS) (jobs.SendResult, error) {
	params := (&openapi.CreateMessageParams{}).SetTo(sms.To).SetBody(sms.Body)
	if t.cfg.MessagingServiceSID != "" {
		params.SetMessagingServiceSid(t.cfg.MessagingServiceSID)
	} else {
		params.SetFrom(t.cfg.From)
	}
	if sms.StatusCallback != "" {
		params.SetStatusCallback(sms.StatusCallback)
	}
	if sms.ValidFor > 0 {
		params.SetValidityPeriod(min(max(int(sms.ValidFor/time.Second), 1), 36000))
	}
	// Twilio takes no DLT template ID on the API (it maps registered
	// templates itself); sms.TemplateID is recorded by the caller.
	msg, err := t.api.CreateMessage(params)
	if err != nil {
		return jobs.SendResult{}, createError("create message", err)
	}
	return jobs.SendResult{SID: deref(msg.Sid), Status: deref(msg.Status)}, nil
}

// FindSMS looks for the messages to `to` with this body created at or
// after since. Twilio lists them newest first; FindSMS reads page after
// page until it reaches one created before since. A fixed number would
// not do: a caseworker's phone gets every alert of their cases, and the
// text sought may be behind hundreds of newer ones (not finding it sends
// it twice).
func (t *Twilio) FindSMS(ctx context.Context, to, body string, since time.Time) ([]jobs.SendResult, error) {
	params := (&openapi.ListMessageParams{}).SetTo(to).SetPageSize(findPageSize)
	cutoff := since.Truncate(time.Second)
	var out []jobs.SendResult
	token, page := "", ""
	for range findMaxPages {
		resp, err := t.api.PageMessage(params, token, page)
		if err != nil {
			return nil, lookupError("message", "list messages", err)
		}
		older := false
		for _, m := range resp.Messages {
			created, err := time.Parse(time.RFC1123Z, deref(m.DateCreated))
			if err == nil && created.Before(cutoff) {
				older = true
				continue
			}
			if deref(m.Body) == body {
				out = append(out, jobs.SendResult{SID: deref(m.Sid), Status: deref(m.Status)})
			}
		}
		if older || resp.NextPageUri == nil || *resp.NextPageUri == "" {
			return out, nil
		}
		next, err := url.Parse(*resp.NextPageUri)
		if err != nil {
			return nil, &RequestError{Op: "list messages", Cause: "next page URI does not parse"}
		}
		token, page = next.Query().Get("PageToken"), next.Query().Get("Page")
	}
	// Not seen everything since the attempt: no conclusion, retry later.
	return nil, &RequestError{Op: "list messages", Cause: fmt.Sprintf("more than %d pages of messages since the attempt", findMaxPages)}
}

// FindSMS reads up to findMaxPages pages of findPageSize messages (Twilio
// allows up to 1,000 a page).
const (
	findPageSize = 200
	findMaxPages = 50
)

// Call settings. Every call uses synchronous answering-machine detection
// ("Enable", never AsyncAmd): Twilio fetches the call's URL only once it
// knows who answered, so Saathi's first answer can hang up on a voicemail
// before it hears a word.
const (
	// DefaultRingFor is how long a call rings when jobs.Call.RingFor is
	// zero: short enough to end before most voicemail picks up (Twilio may
	// add about 5 s to it).
	DefaultRingFor = 20 * time.Second
	// DefaultTimeLimit ends a call when jobs.Call.TimeLimit is zero: a
	// check-in takes a minute; a call left open costs money and keeps the
	// survivor's line busy.
	DefaultTimeLimit = 3 * time.Minute
	// machineDetectionTimeout (seconds) bounds detection, during which the
	// person who answered hears silence; after it Twilio reports "unknown"
	// and Saathi asks for a key press before saying anything else. A
	// silent answer is already reported "unknown" after Twilio's 5 s
	// silence timeout (MachineDetectionSilenceTimeout); a short "hello?"
	// usually decides within a few seconds. Twilio's default of 30 s would
	// leave someone who keeps talking in silence for half a minute (they
	// hang up, or a bystander asks who it is), so 8 s leaves detection room
	// beyond the silence timeout and keeps the silence short.
	machineDetectionTimeout = 8
	maxRingSeconds          = 600   // Twilio's limit
	maxTimeLimitSeconds     = 14400 // Twilio's limit: 4 h
)

// callEvents are the status callback events every call reports: without
// them Twilio reports only "completed", and a call that rang out would look
// like one never placed.
var callEvents = []string{"initiated", "ringing", "answered", "completed"}

// ErrNoCallerID is PlaceCall's answer when no number is configured to call
// from: a messaging service sends texts but cannot place calls. Nothing was
// sent to Twilio.
var ErrNoCallerID = errors.New("twilio place call: no caller ID configured (TWILIO_VOICE_FROM, or TWILIO_FROM_NUMBER)")

// PlaceCall creates a Call with synchronous machine detection, every
// status event and a bounded ring and call time.
func (t *Twilio) PlaceCall(ctx context.Context, c jobs.Call) (jobs.SendResult, error) {
	from := t.cfg.VoiceFrom
	if from == "" {
		from = t.cfg.From
	}
	if from == "" {
		return jobs.SendResult{}, ErrNoCallerID
	}
	if err := checkCall(c); err != nil {
		return jobs.SendResult{}, err
	}
	params := (&openapi.CreateCallParams{}).SetTo(c.To).SetFrom(from).
		SetUrl(c.URL).SetMethod(http.MethodPost).
		SetStatusCallback(c.StatusCallback).SetStatusCallbackMethod(http.MethodPost).
		SetStatusCallbackEvent(callEvents).
		SetMachineDetection("Enable").SetMachineDetectionTimeout(machineDetectionTimeout).
		SetTimeout(seconds(c.RingFor, DefaultRingFor, maxRingSeconds)).
		SetTimeLimit(seconds(c.TimeLimit, DefaultTimeLimit, maxTimeLimitSeconds))
	call, err := t.api.CreateCall(params)
	if err != nil {
		return jobs.SendResult{}, createError("create call", err)
	}
	return jobs.SendResult{SID: deref(call.Sid), Status: deref(call.Status)}, nil
}

// checkCall refuses a call that would ring a survivor with nothing to say
// (no URL) or whose outcome would never reach Saathi (no status callback).
func checkCall(c jobs.Call) error {
	if c.URL == "" || c.StatusCallback == "" {
		return errors.New("place call: a call needs a URL and a status callback")
	}
	return nil
}

// seconds is d in whole seconds, def when d is zero, within 1..limit.
func seconds(d, def time.Duration, limit int) int {
	if d <= 0 {
		d = def
	}
	return min(max(int(d/time.Second), 1), limit)
}

// FindCalls lists the calls to `to` created at or after since, newest
// first. It asks twice, because Twilio's only time filter (StartTime>) is
// on the time a call was dialled, which a queued call does not have yet:
// Twilio queues calls beyond the account's calls per second (1 by
// default), and a call queued when a worker crashed is exactly the one
// reconciliation must not miss. So it lists the queued calls first, then
// those dialled since the start of since's day (Twilio documents the
// filter by date), and keeps those created since `since`. In that order a
// call that leaves the queue between the two requests is in the second.
func (t *Twilio) FindCalls(ctx context.Context, to string, since time.Time) ([]jobs.SendResult, error) {
	queued, err := t.api.ListCall((&openapi.ListCallParams{}).SetTo(to).SetStatus("queued").SetPageSize(50).SetLimit(50))
	if err != nil {
		return nil, lookupError("call", "list calls", err)
	}
	day := since.UTC().Truncate(24 * time.Hour)
	dialled, err := t.api.ListCall((&openapi.ListCallParams{}).SetTo(to).SetStartTimeAfter(day).SetPageSize(50).SetLimit(50))
	if err != nil {
		return nil, lookupError("call", "list calls", err)
	}
	type found struct {
		res     jobs.SendResult
		created time.Time
	}
	var calls []found
	seen := map[string]bool{}
	for _, c := range append(queued, dialled...) {
		sid := deref(c.Sid)
		if seen[sid] {
			continue
		}
		seen[sid] = true
		created, err := time.Parse(time.RFC1123Z, deref(c.DateCreated))
		if err == nil && created.Before(since.Truncate(time.Second)) {
			continue
		}
		calls = append(calls, found{jobs.SendResult{SID: sid, Status: deref(c.Status)}, created})
	}
	sort.SliceStable(calls, func(i, j int) bool { return calls[i].created.After(calls[j].created) })
	out := make([]jobs.SendResult, 0, len(calls))
	for _, c := range calls {
		out = append(out, c.res)
	}
	return out, nil
}

// createError maps a failed create request (a message or a call) to what
// the caller must do. A Twilio error with a code is a definite refusal
// (*jobs.SendError says whether to retry); anything else may have reached
// Twilio, so the outcome is unknown (*RequestError): JSON that is not
// Twilio's error (a proxy's 502 page), a timeout, a broken connection.
func createError(op string, err error) error {
	var te *client.TwilioRestError
	if errors.As(err, &te) && te.Code != 0 {
		return &jobs.SendError{HTTPStatus: te.Status, Code: te.Code}
	}
	if te != nil {
		return &RequestError{Op: op, Cause: fmt.Sprintf("HTTP %d without a Twilio error code", te.Status)}
	}
	return requestError(op, err)
}

// lookupError maps a failed lookup of messages or calls (resource).
func lookupError(resource, op string, err error) error {
	var te *client.TwilioRestError
	if errors.As(err, &te) {
		return &LookupError{Resource: resource, HTTPStatus: te.Status, Code: te.Code}
	}
	return requestError(op, err)
}

// Twilio's answers and twilio-go's errors quote phone numbers: an error
// body's message ("The 'To' number +91… is not a valid phone number."), and
// net/http's *url.Error, whose text holds the request's URL, which for a
// lookup is …/Messages.json?To=%2B91… (or …/Calls.json?To=…). These errors
// reach log lines and river_job.errors, so only codes, statuses and
// redacted causes leave this file.

// LookupError is Twilio's refusal of a message or call lookup (a rate
// limit, an outage, bad credentials): its HTTP status and code, never its
// text.
type LookupError struct {
	Resource   string // "message", "call"
	HTTPStatus int
	Code       int
}

func (e *LookupError) Error() string {
	return fmt.Sprintf("twilio refused %s lookup: HTTP %d, code %d", e.Resource, e.HTTPStatus, e.Code)
}

// RequestError is a request that got no usable answer: a timeout, a
// broken connection, an answer that could not be read. For a send, Twilio
// may have accepted the message all the same, so it is deliberately not a
// *jobs.SendError: the sender reconciles before sending again.
//
// It keeps no reference to the original error, whose text holds the URL:
// Cause is that text without URLs and with digit runs masked.
type RequestError struct {
	Op      string // "create message", "list calls", ...
	Timeout bool
	Cause   string
}

func (e *RequestError) Error() string {
	what := "no usable answer"
	if e.Timeout {
		what = "timed out"
	}
	return "twilio " + e.Op + ": " + what + ": " + e.Cause
}

// requestError describes a request that failed without an answer from
// Twilio.
func requestError(op string, err error) *RequestError {
	var ne net.Error // *url.Error reports timeouts, from dialling to reading the body
	return &RequestError{Op: op, Timeout: errors.As(err, &ne) && ne.Timeout(), Cause: redact(err)}
}

var (
	anyURL = regexp.MustCompile(`[a-zA-Z][a-zA-Z0-9+.-]*://[^\s"]*`)
	// A phone number, maybe with its + (or its URL encoding) and spaces or
	// hyphens: Twilio's SIDs lose their digits too, which costs nothing.
	digitRun = regexp.MustCompile(`(?:\+|%2[bB])?\d(?:[ -]?\d){6,}`)
)

// redact returns err's text with every URL (a *url.Error quotes its
// request's) and every run of seven or more digits (a number a decoder or
// a proxy quoted) masked.
func redact(err error) string {
	text := anyURL.ReplaceAllString(err.Error(), "[url]")
	return digitRun.ReplaceAllString(text, "[digits]")
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// Name identifies the provider on message rows.
func (t *Twilio) Name() string { return "twilio" }
