package telephony_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

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
