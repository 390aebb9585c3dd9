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
