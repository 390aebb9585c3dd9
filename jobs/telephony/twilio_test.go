package telephony_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/twilio/twilio-go"
	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"saathi/jobs"
	"saathi/jobs/telephony"
	"saathi/jobs/telephony/twiliofake"
)

func newTwilio(t *testing.T, fake *twiliofake.Server, mutate func(*telephony.TwilioConfig)) *telephony.Twilio {
	t.Helper()
	cfg := telephony.TwilioConfig{
		AccountSID: fake.AccountSID, AuthToken: fake.AuthToken, From: "+15005550006",
		BaseURL: fake.URL, Timeout: 2 * time.Second,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	tw, err := telephony.NewTwilio(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tw
}

func TestTwilioSendSMS(t *testing.T) {
	t.Parallel()
	fake := twiliofake.New(t)
	tw := newTwilio(t, fake, nil)
	res, err := tw.SendSMS(context.Background(), jobs.SMS{To: "+919876543210", Body: "नमस्ते 1 2 3", StatusCallback: "https://saathi.example.org/twilio/status?m=7"})
	if err != nil {
		t.Fatal(err)
	}
	msgs := fake.Messages()
	if len(msgs) != 1 {
		t.Fatalf("fake received %d messages", len(msgs))
	}
	m := msgs[0]
	if res.SID != m.SID || !strings.HasPrefix(res.SID, "SM") || res.Status != "queued" {
		t.Errorf("result %+v, fake %+v", res, m)
	}
	if m.To != "+919876543210" || m.Body != "नमस्ते 1 2 3" || m.From != "+15005550006" || m.StatusCallback != "https://saathi.example.org/twilio/status?m=7" {
		t.Errorf("fake got %+v", m)
	}
}

func TestTwilioMessagingService(t *testing.T) {
	t.Parallel()
	fake := twiliofake.New(t)
	tw := newTwilio(t, fake, func(c *telephony.TwilioConfig) { c.MessagingServiceSID = "MG0000000000000000000000000000000a" })
	res, err := tw.SendSMS(context.Background(), jobs.SMS{To: "+919876543210", Body: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	m := fake.Messages()[0]
	if m.MessagingServiceSID != "MG0000000000000000000000000000000a" || m.From != "" || res.Status != "accepted" {
		t.Errorf("fake got %+v, result %+v", m, res)
	}
}

func TestTwilioErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		fault     twiliofake.Fault
		to        string
		wantCode  int
		retryable bool
		unknown   bool // no definite answer: the caller must reconcile
	}{
		{name: "rate limited", fault: twiliofake.Fault{Status: 429, Code: 20429}, wantCode: 20429, retryable: true},
		{name: "server error", fault: twiliofake.Fault{Status: 500, Code: 20500}, wantCode: 20500, retryable: true},
		{name: "invalid number", to: "+91123", wantCode: 21211},
		{name: "unsubscribed", fault: twiliofake.Fault{Status: 400, Code: 21610}, wantCode: 21610},
		{name: "not a mobile", fault: twiliofake.Fault{Status: 400, Code: 21614}, wantCode: 21614},
		{name: "geo permission (account)", fault: twiliofake.Fault{Status: 400, Code: 21408}, wantCode: 21408, retryable: true},
		{name: "proxy html 502", fault: twiliofake.Fault{Status: 502, RawBody: "<html>bad gateway</html>"}, unknown: true},
		// JSON, but not Twilio's error: the proxy may have passed the
		// request on, so it is no refusal (a resend could duplicate).
		{name: "proxy json 502", fault: twiliofake.Fault{Status: 502, RawBody: `{"message": "Bad Gateway"}`}, unknown: true},
		{name: "timeout", fault: twiliofake.Fault{Delay: 3 * time.Second}, unknown: true},
		{name: "accepted, answer lost", fault: twiliofake.Fault{Accept: true}, unknown: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := twiliofake.New(t)
			fake.Script(tt.fault)
			tw := newTwilio(t, fake, func(c *telephony.TwilioConfig) { c.Timeout = time.Second })
			to := tt.to
			if to == "" {
				to = "+919876543210"
			}
			_, err := tw.SendSMS(context.Background(), jobs.SMS{To: to, Body: "hello"})
			var se *jobs.SendError
			if tt.unknown {
				if err == nil || errors.As(err, &se) {
					t.Fatalf("err = %v, want an unknown outcome (not a SendError)", err)
				}
				return
			}
			if !errors.As(err, &se) {
				t.Fatalf("err = %v, want *jobs.SendError", err)
			}
			if se.Code != tt.wantCode || se.Retryable() != tt.retryable {
				t.Errorf("code %d retryable %v; want %d %v", se.Code, se.Retryable(), tt.wantCode, tt.retryable)
			}
		})
	}
}

func TestTwilioFindSMS(t *testing.T) {
	t.Parallel()
	fake := twiliofake.New(t)
	fake.Script(twiliofake.Fault{Accept: true})
	tw := newTwilio(t, fake, nil)
	since := time.Now().Add(-time.Minute)
	if _, err := tw.SendSMS(context.Background(), jobs.SMS{To: "+919876543210", Body: "check-in"}); err == nil {
		t.Fatal("lost answer reported as success")
	}
	found, err := tw.FindSMS(context.Background(), "+919876543210", "check-in", since)
	if err != nil || len(found) != 1 || found[0].SID != fake.Messages()[0].SID {
		t.Fatalf("FindSMS = %+v, %v", found, err)
	}
	if found, _ := tw.FindSMS(context.Background(), "+919876543210", "other body", since); len(found) != 0 {
		t.Error("found a message with another body")
	}
	if found, _ := tw.FindSMS(context.Background(), "+919876543210", "check-in", time.Now().Add(time.Hour)); len(found) != 0 {
		t.Error("found a message older than since")
	}
}

func TestTwilioValidityPeriod(t *testing.T) {
	t.Parallel()
	fake := twiliofake.New(t)
	tw := newTwilio(t, fake, nil)
	for _, tt := range []struct {
		validFor time.Duration
		want     string
	}{{90 * time.Minute, "5400"}, {20 * time.Hour, "36000"}, {0, ""}} {
		if _, err := tw.SendSMS(context.Background(), jobs.SMS{To: "+919876543210", Body: "x", ValidFor: tt.validFor}); err != nil {
			t.Fatal(err)
		}
		msgs := fake.Messages()
		if got := msgs[len(msgs)-1].ValidityPeriod; got != tt.want {
			t.Errorf("ValidFor %v sent ValidityPeriod %q, want %q", tt.validFor, got, tt.want)
		}
	}
}

func TestTwilioBadCredentials(t *testing.T) {
	t.Parallel()
	fake := twiliofake.New(t)
	tw := newTwilio(t, fake, func(c *telephony.TwilioConfig) { c.AuthToken = "wrongtoken123" })
	_, err := tw.SendSMS(context.Background(), jobs.SMS{To: "+919876543210", Body: "x"})
	var se *jobs.SendError
	// An account problem hits every survivor and is fixed at the account:
	// retried, never a final failure of this check-in.
	if !errors.As(err, &se) || se.Code != 20003 || !se.Retryable() {
		t.Fatalf("err = %v, want a retryable 20003", err)
	}
}

// TestTwilioErrorsNeverQuoteTheNumber: whatever Twilio, a proxy or the
// network does, the error a send or a lookup returns (which River logs and
// stores in river_job.errors) holds neither the number nor the request's
// URL, whose query has the number in a lookup. The fake quotes the number
// in every error text, as Twilio does for 21211 and 21408.
func TestTwilioErrorsNeverQuoteTheNumber(t *testing.T) {
	t.Parallel()
	const to = "+919417386052"
	type outcome int
	const (
		refused outcome = iota // a *jobs.SendError or *telephony.LookupError
		unknown                // a *telephony.RequestError: Twilio may have the message
		timeout                // the same, timed out
	)
	slow := twiliofake.Fault{Delay: time.Minute, Status: 503, Code: 20503}
	tests := []struct {
		name   string
		lookup bool
		fault  twiliofake.Fault
		want   outcome
		text   string // in the error
	}{
		{name: "send 429", fault: twiliofake.Fault{Status: 429, Code: 20429}, want: refused, text: "HTTP 429, code 20429"},
		{name: "send 500", fault: twiliofake.Fault{Status: 500, Code: 20500}, want: refused, text: "HTTP 500, code 20500"},
		{name: "send 21211", fault: twiliofake.Fault{Status: 400, Code: 21211}, want: refused, text: "HTTP 400, code 21211"},
		{name: "send 21408", fault: twiliofake.Fault{Status: 400, Code: 21408}, want: refused, text: "HTTP 400, code 21408"},
		{name: "send 21610", fault: twiliofake.Fault{Status: 400, Code: 21610}, want: refused, text: "HTTP 400, code 21610"},
		{name: "send times out", fault: slow, want: timeout, text: "twilio create message: timed out"},
		{name: "send answer lost", fault: twiliofake.Fault{Accept: true}, want: unknown, text: "twilio create message: no usable answer"},
		{name: "send proxy page quoting the number", fault: twiliofake.Fault{Status: 502, RawBody: "<html>502: POST Messages.json To=" + to + "</html>"}, want: unknown, text: "HTTP error code: 502"},
		{name: "send error body not Twilio's shape", fault: twiliofake.Fault{Status: 400, RawBody: `{"code": "21211", "message": "The 'To' number ` + to + ` is not a valid phone number."}`}, want: unknown, text: "cannot unmarshal string"},
		{name: "lookup times out", lookup: true, fault: twiliofake.Fault{Delay: time.Minute}, want: timeout, text: "twilio list messages: timed out"},
		{name: "lookup 429", lookup: true, fault: twiliofake.Fault{Status: 429, Code: 20429}, want: refused, text: "twilio refused message lookup: HTTP 429, code 20429"},
		{name: "lookup proxy page quoting the number", lookup: true, fault: twiliofake.Fault{Status: 502, RawBody: "<html>GET /Messages.json?To=%2B919417386052</html>"}, want: unknown, text: "twilio list messages: no usable answer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := twiliofake.New(t)
			tw := newTwilio(t, fake, func(c *telephony.TwilioConfig) { c.Timeout = time.Second })
			var err error
			if tt.lookup {
				fake.ScriptList(tt.fault)
				_, err = tw.FindSMS(context.Background(), to, "hello", time.Now().Add(-time.Minute))
			} else {
				fake.ScriptTo(to, tt.fault)
				_, err = tw.SendSMS(context.Background(), jobs.SMS{To: to, Body: "hello"})
			}
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			for _, leak := range []string{to, to[len(to)-8:], fake.URL, "Messages.json", "://"} {
				if strings.Contains(msg, leak) {
					t.Errorf("error %q contains %q", msg, leak)
				}
			}
			if !strings.Contains(msg, tt.text) {
				t.Errorf("error %q does not say %q", msg, tt.text)
			}
			var se *jobs.SendError
			var le *telephony.LookupError
			var re *telephony.RequestError
			switch {
			case tt.want == refused && !errors.As(err, &se) && !errors.As(err, &le):
				t.Errorf("%T %v, want a refusal", err, err)
			case tt.want != refused && (!errors.As(err, &re) || errors.As(err, &se)):
				t.Errorf("%T %v, want an unknown outcome (a *telephony.RequestError)", err, err)
			case tt.want != refused && re.Timeout != (tt.want == timeout):
				t.Errorf("Timeout = %v in %v", re.Timeout, err)
			}
		})
	}
}

// callTo is a survivor's number; every call test calls it.
const callTo = "+919417386052"

func checkinCall() jobs.Call {
	return jobs.Call{
		To: callTo, URL: "https://saathi.example.org/twilio/voice/answer?c=41",
		StatusCallback: "https://saathi.example.org/twilio/voice/status?c=41",
		RingFor:        25 * time.Second, TimeLimit: 2 * time.Minute,
	}
}

// TestTwilioPlaceCall reads back from the fake every field a check-in call
// must carry: synchronous machine detection, all four status events, the
// ring and call limits, POST for both URLs, and the voice caller ID.
func TestTwilioPlaceCall(t *testing.T) {
	t.Parallel()
	every := []string{"initiated", "ringing", "answered", "completed"}
	want := twiliofake.Call{
		To: callTo, From: "+447700900123",
		URL: "https://saathi.example.org/twilio/voice/answer?c=41", Method: "POST",
		StatusCallback: "https://saathi.example.org/twilio/voice/status?c=41", StatusCallbackMethod: "POST",
		StatusCallbackEvent: every, MachineDetection: "Enable", MachineDetectionTimeout: "8",
		Timeout: "25", TimeLimit: "120", Status: "queued",
	}
	tests := []struct {
		name   string
		mutate func(*telephony.TwilioConfig)
		call   func(*jobs.Call)
		want   func(*twiliofake.Call)
	}{
		{name: "voice caller ID", mutate: func(c *telephony.TwilioConfig) { c.VoiceFrom = "+447700900123" }},
		{
			name: "no voice caller ID: the SMS number",
			want: func(c *twiliofake.Call) { c.From = "+15005550006" },
		},
		{
			name: "voice caller ID beside a messaging service",
			mutate: func(c *telephony.TwilioConfig) {
				c.From, c.MessagingServiceSID, c.VoiceFrom = "", "MG0000000000000000000000000000000a", "+447700900123"
			},
		},
		{
			name:   "default ring and call time",
			mutate: func(c *telephony.TwilioConfig) { c.VoiceFrom = "+447700900123" },
			call:   func(c *jobs.Call) { c.RingFor, c.TimeLimit = 0, 0 },
			want:   func(c *twiliofake.Call) { c.Timeout, c.TimeLimit = "20", "180" },
		},
		{
			name:   "limits within Twilio's",
			mutate: func(c *telephony.TwilioConfig) { c.VoiceFrom = "+447700900123" },
			call:   func(c *jobs.Call) { c.RingFor, c.TimeLimit = time.Hour, 10*time.Hour },
			want:   func(c *twiliofake.Call) { c.Timeout, c.TimeLimit = "600", "14400" },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := twiliofake.New(t)
			tw := newTwilio(t, fake, tt.mutate)
			call := checkinCall()
			if tt.call != nil {
				tt.call(&call)
			}
			res, err := tw.PlaceCall(context.Background(), call)
			if err != nil {
				t.Fatal(err)
			}
			calls := fake.Calls()
			if len(calls) != 1 {
				t.Fatalf("fake received %d calls", len(calls))
			}
			got := calls[0]
			if res.SID != got.SID || !strings.HasPrefix(res.SID, "CA") || res.Status != "queued" {
				t.Errorf("result %+v, fake has %s", res, got.SID)
			}
			w := want
			if tt.want != nil {
				tt.want(&w)
			}
			if diff := cmp.Diff(w, got, cmpopts.IgnoreFields(twiliofake.Call{}, "SID", "Form", "Created")); diff != "" {
				t.Errorf("call (-want +got):\n%s", diff)
			}
			// Nothing that would speak before detection, or leave a message.
			for _, k := range []string{"AsyncAmd", "Twiml", "SendDigits", "Record", "ApplicationSid"} {
				if v, ok := got.Form[k]; ok {
					t.Errorf("sent %s=%q", k, v)
				}
			}
		})
	}
}

// TestTwilioPlaceCallRefusedLocally: a call that cannot be placed safely
// never reaches Twilio.
func TestTwilioPlaceCallRefusedLocally(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(*telephony.TwilioConfig)
		call   func(*jobs.Call)
		is     error
	}{
		{
			name: "only a messaging service: no caller ID",
			mutate: func(c *telephony.TwilioConfig) {
				c.From, c.MessagingServiceSID = "", "MG0000000000000000000000000000000a"
			},
			is: telephony.ErrNoCallerID,
		},
		{name: "no status callback", call: func(c *jobs.Call) { c.StatusCallback = "" }},
		{name: "no URL", call: func(c *jobs.Call) { c.URL = "" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := twiliofake.New(t)
			fake.AllowUnused()
			tw := newTwilio(t, fake, tt.mutate)
			call := checkinCall()
			if tt.call != nil {
				tt.call(&call)
			}
			_, err := tw.PlaceCall(context.Background(), call)
			if err == nil || (tt.is != nil && !errors.Is(err, tt.is)) {
				t.Fatalf("err = %v, want %v", err, tt.is)
			}
			var se *jobs.SendError
			if errors.As(err, &se) {
				t.Errorf("err = %v: a provider's refusal, but nothing was sent", err)
			}
			if n := fake.Requests(); n != 0 {
				t.Errorf("%d requests reached Twilio", n)
			}
		})
	}
}

// TestTwilioCallErrors: each kind of failure to place a call or to look
// calls up is classified as for texts (a refusal with its code, final only
// for the number itself; or an unknown outcome to reconcile), and no error
// text quotes the number or a URL, though the fake quotes the number in
// every error and Twilio's geo-permission error holds a URL.
func TestTwilioCallErrors(t *testing.T) {
	t.Parallel()
	type outcome int
	const (
		refused outcome = iota // a *jobs.SendError or *telephony.LookupError
		unknown                // a *telephony.RequestError: Twilio may have the call
		timeout                // the same, timed out
	)
	tests := []struct {
		name      string
		lookup    bool
		to        string
		fault     *twiliofake.Fault
		want      outcome
		code      int
		retryable bool
		text      string // in the error
		placed    bool   // the fake has the call all the same
	}{
		{name: "rate limited", fault: &twiliofake.Fault{Status: 429, Code: 20429}, want: refused, code: 20429, retryable: true, text: "HTTP 429, code 20429"},
		{name: "server error", fault: &twiliofake.Fault{Status: 500, Code: 20500}, want: refused, code: 20500, retryable: true, text: "HTTP 500, code 20500"},
		{name: "invalid number (scripted)", fault: &twiliofake.Fault{Status: 400, Code: 21211}, want: refused, code: 21211, text: "HTTP 400, code 21211"},
		{name: "invalid number (real)", to: "+9112345", want: refused, code: 21211, text: "HTTP 400, code 21211"},
		{name: "unreachable", fault: &twiliofake.Fault{Status: 400, Code: 21214}, want: refused, code: 21214, text: "HTTP 400, code 21214"},
		{name: "geo permission (account)", fault: &twiliofake.Fault{Status: 400, Code: 21215}, want: refused, code: 21215, retryable: true, text: "HTTP 400, code 21215"},
		{name: "times out", fault: &twiliofake.Fault{Delay: time.Minute, Status: 503, Code: 20503}, want: timeout, text: "twilio create call: timed out"},
		{name: "accepted, answer lost", fault: &twiliofake.Fault{Accept: true}, want: unknown, text: "twilio create call: no usable answer", placed: true},
		{name: "proxy json without a code", fault: &twiliofake.Fault{Status: 502, RawBody: `{"message": "Bad Gateway for ` + callTo + `"}`}, want: unknown, text: "HTTP 0 without a Twilio error code"},
		{name: "proxy page quoting the number", fault: &twiliofake.Fault{Status: 502, RawBody: "<html>502: POST Calls.json To=" + callTo + "</html>"}, want: unknown, text: "HTTP error code: 502"},
		{name: "lookup times out", lookup: true, fault: &twiliofake.Fault{Delay: time.Minute}, want: timeout, text: "twilio list calls: timed out"},
		{name: "lookup 429", lookup: true, fault: &twiliofake.Fault{Status: 429, Code: 20429}, want: refused, code: 20429, text: "twilio refused call lookup: HTTP 429, code 20429"},
		{name: "lookup proxy page quoting the number", lookup: true, fault: &twiliofake.Fault{Status: 502, RawBody: "<html>GET /Calls.json?To=%2B919417386052</html>"}, want: unknown, text: "twilio list calls: no usable answer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := twiliofake.New(t)
			tw := newTwilio(t, fake, func(c *telephony.TwilioConfig) { c.Timeout = time.Second })
			call := checkinCall()
			if tt.to != "" {
				call.To = tt.to
			}
			var err error
			if tt.lookup {
				fake.ScriptList(*tt.fault)
				_, err = tw.FindCalls(context.Background(), call.To, time.Now().Add(-time.Minute))
			} else {
				if tt.fault != nil {
					fake.ScriptTo(call.To, *tt.fault)
				}
				_, err = tw.PlaceCall(context.Background(), call)
			}
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			for _, leak := range []string{call.To, call.To[len(call.To)-7:], fake.URL, "Calls.json", "://", "twilio.com"} {
				if strings.Contains(msg, leak) {
					t.Errorf("error %q contains %q", msg, leak)
				}
			}
			if !strings.Contains(msg, tt.text) {
				t.Errorf("error %q does not say %q", msg, tt.text)
			}
			var se *jobs.SendError
			var le *telephony.LookupError
			var re *telephony.RequestError
			switch {
			case tt.want == refused && tt.lookup:
				if !errors.As(err, &le) || le.Code != tt.code {
					t.Errorf("%T %v, want a lookup refusal with code %d", err, err, tt.code)
				}
			case tt.want == refused:
				if !errors.As(err, &se) || se.Code != tt.code || se.Retryable() != tt.retryable {
					t.Errorf("%T %v, want a refusal with code %d, retryable %v", err, err, tt.code, tt.retryable)
				}
			case !errors.As(err, &re) || errors.As(err, &se):
				t.Errorf("%T %v, want an unknown outcome (a *telephony.RequestError)", err, err)
			case re.Timeout != (tt.want == timeout):
				t.Errorf("Timeout = %v in %v", re.Timeout, err)
			}
			if placed := len(fake.Calls()) == 1; !tt.lookup && placed != tt.placed {
				t.Errorf("fake has the call: %v, want %v", placed, tt.placed)
			}
		})
	}
}

// TestTwilioFindCalls: after an unknown outcome, FindCalls finds the calls
// to the number created since a time, whether Twilio has dialled them yet
// or not (a queued call has no start time, so Twilio's StartTime> filter
// alone would miss it), newest first; not older calls, nor calls to
// another number. The fake's clock puts calls in the past.
func TestTwilioFindCalls(t *testing.T) {
	t.Parallel()
	fake := twiliofake.New(t)
	var mu sync.Mutex
	now := time.Date(2026, 11, 24, 23, 59, 30, 0, time.UTC) // just before midnight UTC
	fake.NowFunc = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	at := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); now = now.Add(d) }
	tw := newTwilio(t, fake, nil)
	place := func(to string) string {
		t.Helper()
		c := checkinCall()
		c.To = to
		res, err := tw.PlaceCall(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		return res.SID
	}

	late := place(callTo) // created yesterday, dialled after midnight
	at(time.Minute)
	fake.SetCallStatus(late, "ringing")
	fake.SetCallStatus(late, "no-answer")
	old := place(callTo) // created and answered just before since
	fake.SetCallStatus(old, "in-progress")
	fake.SetCallStatus(old, "completed")
	at(time.Second)
	since := now
	at(time.Second)
	dialled := place(callTo)
	fake.SetCallStatus(dialled, "ringing")
	at(time.Second)
	fake.ScriptTo(callTo, twiliofake.Fault{Accept: true})
	if _, err := tw.PlaceCall(context.Background(), checkinCall()); err == nil {
		t.Fatal("lost answer reported as success")
	}
	calls := fake.Calls()
	queued := calls[len(calls)-1].SID // never dialled: no start time
	place("+919876543210")

	// Twilio lists the old call among those dialled today; it was created
	// before since.
	found, err := tw.FindCalls(context.Background(), callTo, since)
	if err != nil {
		t.Fatal(err)
	}
	want := []jobs.SendResult{{SID: queued, Status: "queued"}, {SID: dialled, Status: "ringing"}}
	if diff := cmp.Diff(want, found); diff != "" {
		t.Errorf("FindCalls since %v (-want +got):\n%s", since, diff)
	}

	// Since yesterday evening: the calls before since too, among them one
	// created yesterday and dialled today.
	found, err = tw.FindCalls(context.Background(), callTo, since.Add(-2*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, jobs.SendResult{SID: old, Status: "completed"}, jobs.SendResult{SID: late, Status: "no-answer"})
	if diff := cmp.Diff(want, found); diff != "" {
		t.Errorf("FindCalls since yesterday (-want +got):\n%s", diff)
	}

	found, err = tw.FindCalls(context.Background(), callTo, now.Add(time.Minute))
	if err != nil || len(found) != 0 {
		t.Errorf("FindCalls after every call = %+v, %v", found, err)
	}
}

// TestFakeStartTimeFilter pins the Twilio behaviour FindCalls is built
// around: a queued call has no start time, so listing by StartTime> leaves
// it out until it is dialled.
func TestFakeStartTimeFilter(t *testing.T) {
	t.Parallel()
	fake := twiliofake.New(t)
	tw := newTwilio(t, fake, nil)
	res, err := tw.PlaceCall(context.Background(), checkinCall())
	if err != nil {
		t.Fatal(err)
	}
	api := twilioAPI(fake)
	list := func() []string {
		t.Helper()
		calls, err := api.ListCall((&openapi.ListCallParams{}).SetTo(callTo).SetStartTimeAfter(time.Now().Add(-time.Hour)))
		if err != nil {
			t.Fatal(err)
		}
		var sids []string
		for _, c := range calls {
			sids = append(sids, *c.Sid)
		}
		return sids
	}
	if sids := list(); len(sids) != 0 {
		t.Errorf("StartTime> listed a queued call: %v", sids)
	}
	fake.SetCallStatus(res.SID, "ringing")
	if sids := list(); len(sids) != 1 || sids[0] != res.SID {
		t.Errorf("StartTime> after dialling = %v, want [%s]", sids, res.SID)
	}
}

// TestFakeFetchCall: a call fetched by SID shows its status and times as
// the test moved it; an unknown SID is Twilio's 404.
func TestFakeFetchCall(t *testing.T) {
	t.Parallel()
	fake := twiliofake.New(t)
	tw := newTwilio(t, fake, nil)
	res, err := tw.PlaceCall(context.Background(), checkinCall())
	if err != nil {
		t.Fatal(err)
	}
	api := twilioAPI(fake)
	c, err := api.FetchCall(res.SID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if *c.Status != "queued" || c.StartTime != nil || *c.To != callTo {
		t.Errorf("new call: status %v, start %v, to %v", deref(c.Status), deref(c.StartTime), deref(c.To))
	}
	fake.SetCallStatus(res.SID, "in-progress")
	fake.SetCallStatus(res.SID, "completed")
	c, err = api.FetchCall(res.SID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if *c.Status != "completed" || c.StartTime == nil || c.EndTime == nil || c.Duration == nil {
		t.Errorf("completed call: %+v", c)
	}
	var te *client.TwilioRestError
	if _, err := api.FetchCall("CA00000000000000000000000000000000", nil); !errors.As(err, &te) || te.Status != 404 || te.Code != 20404 {
		t.Errorf("unknown call: %v", err)
	}
}

// TestFakeRefusesUnsafeCall: the fake fails the test, and refuses the
// request, when a call is created without synchronous machine detection, a
// status callback or a ring timeout; a complete request passes.
func TestFakeRefusesUnsafeCall(t *testing.T) {
	t.Parallel()
	complete := url.Values{
		"To": {callTo}, "From": {"+447700900123"}, "Url": {"https://saathi.example.org/twilio/voice/answer"},
		"StatusCallback": {"https://saathi.example.org/twilio/voice/status"}, "MachineDetection": {"Enable"}, "Timeout": {"20"},
	}
	tests := []struct {
		name   string
		change func(url.Values)
		lacks  string // in the test failure; "" for a complete call
	}{
		{name: "complete", change: func(url.Values) {}},
		{name: "no machine detection", change: func(v url.Values) { v.Del("MachineDetection") }, lacks: "MachineDetection"},
		{name: "detection waits for the beep", change: func(v url.Values) { v.Set("MachineDetection", "DetectMessageEnd") }, lacks: "MachineDetection"},
		{name: "asynchronous detection", change: func(v url.Values) { v.Set("AsyncAmd", "true") }, lacks: "synchronous"},
		{name: "no status callback", change: func(v url.Values) { v.Del("StatusCallback") }, lacks: "StatusCallback"},
		{name: "no ring timeout", change: func(v url.Values) { v.Del("Timeout") }, lacks: "Timeout"},
		{name: "zero ring timeout", change: func(v url.Values) { v.Set("Timeout", "0") }, lacks: "Timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tb := &recordingTB{TB: t}
			fake := twiliofake.New(tb)
			form := url.Values{}
			for k, v := range complete {
				form[k] = append([]string(nil), v...)
			}
			tt.change(form)
			req, err := http.NewRequest(http.MethodPost, fake.URL+"/2010-04-01/Accounts/"+fake.AccountSID+"/Calls.json", strings.NewReader(form.Encode()))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(fake.AccountSID, fake.AuthToken)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var body struct{ Code int }
			_ = json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()

			failures := tb.failures()
			if tt.lacks == "" {
				if resp.StatusCode != http.StatusCreated || len(failures) != 0 || len(fake.Calls()) != 1 {
					t.Errorf("complete call: HTTP %d, failures %q, %d calls", resp.StatusCode, failures, len(fake.Calls()))
				}
				return
			}
			if resp.StatusCode != http.StatusBadRequest || body.Code != twiliofake.CodeUnsafeCall {
				t.Errorf("HTTP %d code %d, want 400 %d", resp.StatusCode, body.Code, twiliofake.CodeUnsafeCall)
			}
			if len(failures) != 1 || !strings.Contains(failures[0], tt.lacks) {
				t.Errorf("test failures %q, want one naming %q", failures, tt.lacks)
			}
			if n := len(fake.Calls()); n != 0 {
				t.Errorf("the fake kept %d unsafe calls", n)
			}
		})
	}
}

// recordingTB is the testing.TB a fake under test reports to: it records
// failures instead of failing the test.
type recordingTB struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recordingTB) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recordingTB) failures() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.errs...)
}

// twilioAPI is a twilio-go client of the fake, for reading it the way
// Twilio is read.
func twilioAPI(fake *twiliofake.Server) *openapi.ApiService {
	c := &client.Client{
		Credentials: client.NewCredentials(fake.AccountSID, fake.AuthToken),
		HTTPClient:  &http.Client{Timeout: 2 * time.Second, Transport: rebaseTo(fake.URL)},
	}
	c.SetAccountSid(fake.AccountSID)
	return twilio.NewRestClientWithParams(twilio.ClientParams{Client: c}).Api
}

// rebaseTo sends requests to base instead of api.twilio.com.
type rebaseTo string

func (b rebaseTo) RoundTrip(req *http.Request) (*http.Response, error) {
	u, err := url.Parse(string(b))
	if err != nil {
		return nil, err
	}
	req = req.Clone(req.Context())
	req.URL.Scheme, req.URL.Host, req.Host = u.Scheme, u.Host, u.Host
	return http.DefaultTransport.RoundTrip(req)
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
