package twiliofake_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"saathi/jobs"
	"saathi/jobs/telephony"
	"saathi/jobs/telephony/twiliofake"
)

func sender(t *testing.T, fake *twiliofake.Server, timeout time.Duration) *telephony.Twilio {
	t.Helper()
	tw, err := telephony.NewTwilio(telephony.TwilioConfig{
		AccountSID: fake.AccountSID, AuthToken: fake.AuthToken, From: "+15005550006",
		BaseURL: fake.URL, Timeout: timeout,
	})
	if err != nil {
		t.Fatal(err)
	}
	return tw
}

var text = jobs.SMS{To: "+919812345678", Body: "Hello"}

// A client that gives up (or dies) while Twilio works on its request does
// not undo it: the message is accepted all the same, which is what makes a
// killed sender's retry reconcile before it sends again.
func TestLatencyKeepsWorkingAfterTheClientGivesUp(t *testing.T) {
	t.Parallel()
	fake := twiliofake.New(t)
	fake.LatencyFunc = twiliofake.FixedLatency(500 * time.Millisecond)
	tw := sender(t, fake, 50*time.Millisecond)

	_, err := tw.SendSMS(context.Background(), text)
	var re *telephony.RequestError
	if !errors.As(err, &re) || !re.Timeout {
		t.Fatalf("SendSMS with a 50 ms timeout against 500 ms of latency: %v, want a timeout", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(fake.Messages()) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := len(fake.Messages()); got != 1 {
		t.Fatalf("messages accepted after the client gave up: %d, want 1", got)
	}
}

func TestUniformLatencyStaysInItsRange(t *testing.T) {
	t.Parallel()
	f := twiliofake.UniformLatency(100*time.Millisecond, 300*time.Millisecond)
	seen := map[bool]int{}
	for range 1000 {
		d := f()
		if d < 100*time.Millisecond || d >= 300*time.Millisecond {
			t.Fatalf("UniformLatency(100ms, 300ms) gave %s", d)
		}
		seen[d < 200*time.Millisecond]++
	}
	if seen[true] == 0 || seen[false] == 0 {
		t.Errorf("1000 draws all on one side of the middle: %v", seen)
	}
	if d := twiliofake.UniformLatency(time.Second, time.Second)(); d != time.Second {
		t.Errorf("UniformLatency(1s, 1s) = %s, want 1s", d)
	}
}

// Random faults fail the share of requests asked for, are counted by
// kind, and stop when the rate goes back to 0.
func TestRandomFaults(t *testing.T) {
	t.Parallel()
	fake := twiliofake.New(t)
	tw := sender(t, fake, 2*time.Second)
	ctx := context.Background()

	fake.SetRandomFaults(1, twiliofake.Fault{Status: 429, Code: 20429})
	_, err := tw.SendSMS(ctx, text)
	var se *jobs.SendError
	if !errors.As(err, &se) || se.HTTPStatus != 429 || se.Code != 20429 || !se.Retryable() {
		t.Fatalf("SendSMS at fault rate 1: %v, want a retryable 429", err)
	}

	fake.SetRandomFaults(0)
	if _, err := tw.SendSMS(ctx, text); err != nil {
		t.Fatalf("SendSMS at fault rate 0: %v", err)
	}

	// A lost answer: the message is taken, the client learns nothing.
	// Lookups never draw it, so reconciliation sees the message.
	fake.SetRandomFaults(1, twiliofake.Fault{Accept: true})
	_, err = tw.SendSMS(ctx, text)
	if err == nil || errors.As(err, &se) {
		t.Fatalf("SendSMS with the answer lost: %v, want an unknown outcome", err)
	}
	found, err := tw.FindSMS(ctx, text.To, text.Body, time.Now().Add(-time.Minute))
	if err != nil {
		t.Fatalf("FindSMS while lost answers are drawn: %v", err)
	}
	if len(found) != 2 {
		t.Errorf("FindSMS found %d messages, want 2 (one answered, one whose answer was lost)", len(found))
	}

	played := fake.FaultsPlayed()
	if played["429"] != 1 || played["accepted, answer lost"] != 1 || len(played) != 2 {
		t.Errorf("FaultsPlayed() = %v, want one 429 and one lost answer", played)
	}
}

// BadDay's faults are the ones the fault suite promises: rate limits,
// errors, timeouts taken or not, and lost answers.
func TestBadDayNames(t *testing.T) {
	t.Parallel()
	var got []string
	for _, f := range twiliofake.BadDay() {
		got = append(got, f.String())
	}
	want := []string{"429", "500", "timeout, accepted", "timeout", "accepted, answer lost"}
	if len(got) != len(want) {
		t.Fatalf("BadDay() = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("BadDay()[%d] = %q, want %q", i, got[i], want[i])
		}
	}
}
