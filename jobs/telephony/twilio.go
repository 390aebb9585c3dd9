// Package telephony implements jobs.Sender: Twilio through twilio-go, and
// the dev provider, which sends nothing and keeps an outbox in PostgreSQL.
package telephony

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
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

var _ jobs.Sender = (*Twilio)(nil)

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
		var te *client.TwilioRestError
		if errors.As(err, &te) && te.Code != 0 {
			return jobs.SendResult{}, &jobs.SendError{HTTPStatus: te.Status, Code: te.Code}
		}
		if te != nil {
			// JSON that is not Twilio's error (a proxy's 502 page): the
			// request may have reached Twilio, so the outcome is unknown.
			return jobs.SendResult{}, &RequestError{Op: "create message", Cause: fmt.Sprintf("HTTP %d without a Twilio error code", te.Status)}
		}
		return jobs.SendResult{}, requestError("create message", err)
	}
	return jobs.SendResult{SID: deref(msg.Sid), Status: deref(msg.Status)}, nil
}

// FindSMS lists the latest messages to `to` and looks for this body,
// created at or after since.
func (t *Twilio) FindSMS(ctx context.Context, to, body string, since time.Time) ([]jobs.SendResult, error) {
	params := (&openapi.ListMessageParams{}).SetTo(to).SetPageSize(50).SetLimit(50)
	msgs, err := t.api.ListMessage(params)
	if err != nil {
		var te *client.TwilioRestError
		if errors.As(err, &te) {
			return nil, &LookupError{HTTPStatus: te.Status, Code: te.Code}
		}
		return nil, requestError("list messages", err)
	}
	var out []jobs.SendResult
	for _, m := range msgs {
		if deref(m.Body) != body {
			continue
		}
		created, err := time.Parse(time.RFC1123Z, deref(m.DateCreated))
		if err == nil && created.Before(since.Truncate(time.Second)) {
			continue
		}
		out = append(out, jobs.SendResult{SID: deref(m.Sid), Status: deref(m.Status)})
	}
	return out, nil
}

// Twilio's answers and twilio-go's errors quote phone numbers: an error
// body's message ("The 'To' number +91… is not a valid phone number."), and
// net/http's *url.Error, whose text holds the request's URL, which for a
// lookup is …/Messages.json?To=%2B91…. These errors reach log lines and
// river_job.errors, so only codes, statuses and redacted causes leave this
// file.

// LookupError is Twilio's refusal of a message lookup (a rate limit, an
// outage, bad credentials): its HTTP status and code, never its text.
type LookupError struct {
	HTTPStatus int
	Code       int
}

func (e *LookupError) Error() string {
	return fmt.Sprintf("twilio refused message lookup: HTTP %d, code %d", e.HTTPStatus, e.Code)
}

// RequestError is a request that got no usable answer: a timeout, a
// broken connection, an answer that could not be read. For a send, Twilio
// may have accepted the message all the same, so it is deliberately not a
// *jobs.SendError: the sender reconciles before sending again.
//
// It keeps no reference to the original error, whose text holds the URL:
// Cause is that text without URLs and with digit runs masked.
type RequestError struct {
	Op      string // "create message", "list messages"
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
