package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertest"

	"saathi/db"
	"saathi/jobs"
	"saathi/jobs/telephony/twiliofake"
)

func (f *fixture) sweep() int {
	f.t.Helper()
	client, err := river.NewClient(f.driver, f.riverConfig())
	if err != nil {
		f.t.Fatal(err)
	}
	n, err := (&jobs.CheckinSweepWorker{Deps: f.deps}).Sweep(rivertest.WorkContext(context.Background(), client), f.clock.Now())
	if err != nil {
		f.t.Fatalf("sweep: %v", err)
	}
	return n
}

// sendNow creates a check-in and sends it through the real sender.
func (f *fixture) sendNow(sv uuid.UUID, channel string) uuid.UUID {
	f.t.Helper()
	ci := f.addCheckin(sv, f.clock.Now(), "queued", &channel)
	if _, err := f.work(jobs.CheckinSendArgs{CheckinID: ci}); err != nil {
		f.t.Fatal(err)
	}
	if st := f.checkin(ci).State; st != "sent" {
		f.t.Fatalf("check-in %s, want sent", st)
	}
	return ci
}

// sendFollowup works the follow-up the sweeper created for parent.
func (f *fixture) sendFollowup(parent uuid.UUID) db.Checkin {
	f.t.Helper()
	fu, err := db.New(f.pool).CheckinFollowupOf(context.Background(), &parent)
	if err != nil {
		f.t.Fatalf("no follow-up for %s: %v", parent, err)
	}
	if _, err := f.work(jobs.CheckinSendArgs{CheckinID: fu.ID}); err != nil {
		f.t.Fatal(err)
	}
	return f.checkin(fu.ID)
}

// TestMissedCheckins: no answer in 24 h means missed and one follow-up;
// the follow-up missed too and the check-in before missed as well means
// unreachable. All on the injected clock.
func TestMissedCheckins(t *testing.T) {
	t.Parallel()
	f := setup(t)
	sp := f.defaultSpec("+919876543210")
	sp.windows[0].Days = append(sp.windows[0].Days, time.Saturday, time.Sunday)
	sv := f.addSurvivor(sp)

	first := f.sendNow(sv, "sms")
	f.clock.Add(23 * time.Hour)
	if n := f.sweep(); n != 0 {
		t.Fatalf("swept %d before the response window ended", n)
	}
	f.clock.Add(2 * time.Hour) // Thursday 12:00: 25 h later
	if n := f.sweep(); n != 1 {
		t.Fatalf("swept %d, want 1", n)
	}
	if st := f.checkin(first).State; st != "missed" {
		t.Fatalf("first check-in %s, want missed", st)
	}
	if n := f.sweep(); n != 0 {
		t.Errorf("a miss was assessed twice")
	}
	fu := f.sendFollowup(first)
	if fu.Kind != "followup" || *fu.Channel != "sms" || fu.State != "sent" {
		t.Fatalf("follow-up %+v: want an SMS (the only consented channel), sent", fu)
	}
	f.clock.Add(25 * time.Hour)
	f.sweep() // follow-up missed: the first check-in is missed for good
	if n := f.count("SELECT count(*) FROM risk_flags WHERE kind = 'unreachable'"); n != 0 {
		t.Fatal("unreachable after one missed check-in")
	}

	second := f.sendNow(sv, "sms")
	f.clock.Add(25 * time.Hour)
	f.sweep()
	f.sendFollowup(second)
	f.clock.Add(25 * time.Hour)
	f.sweep()
	if n := f.count("SELECT count(*) FROM risk_flags WHERE kind = 'unreachable' AND severity = 'medium' AND checkin_id = $1", second); n != 1 {
		t.Fatalf("unreachable flags on the second check-in = %d, want 1", n)
	}
	if n := f.count("SELECT count(*) FROM alerts WHERE kind = 'unreachable' AND severity = 'medium'"); n != 1 {
		t.Error("no alert for unreachable")
	}
	// Two texts per check-in (the check-in and its follow-up), nothing more.
	if n := len(f.fake.Messages()); n != 4 {
		t.Errorf("texts sent = %d, want 4", n)
	}
}

func TestFollowupOnOtherChannel(t *testing.T) {
	t.Parallel()
	f := setup(t)
	sp := f.defaultSpec("+919876543210")
	sp.channels, sp.consent = []string{"sms", "voice"}, []string{"sms", "voice"}
	sv := f.addSurvivor(sp)
	first := f.sendNow(sv, "sms")
	f.clock.Add(25 * time.Hour)
	f.sweep()
	fu, err := db.New(f.pool).CheckinFollowupOf(context.Background(), &first)
	if err != nil || *fu.Channel != "voice" {
		t.Fatalf("follow-up %+v %v, want on voice", fu, err)
	}
}

func TestAnsweredFollowupAnswersParent(t *testing.T) {
	t.Parallel()
	f := setup(t)
	sv := f.addSurvivor(f.defaultSpec("+919876543210"))
	first := f.sendNow(sv, "sms")
	f.clock.Add(25 * time.Hour)
	f.sweep()
	fu := f.sendFollowup(first)
	if err := db.New(f.pool).CheckinAnswer(context.Background(), db.CheckinAnswerParams{ID: fu.ID, Now: f.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	if a, b := f.checkin(first).State, f.checkin(fu.ID).State; a != "answered" || b != "answered" {
		t.Errorf("states %s, %s; want both answered", a, b)
	}
	f.clock.Add(48 * time.Hour)
	if n := f.sweep(); n != 0 {
		t.Errorf("answered check-ins swept: %d", n)
	}
}

func TestUndeliveredCountsAsMissedAtOnce(t *testing.T) {
	t.Parallel()
	f := setup(t)
	sv := f.addSurvivor(f.defaultSpec("+919876543210"))
	ci := f.sendNow(sv, "sms")
	if err := db.New(f.pool).CheckinDeliveryFailed(context.Background(), db.CheckinDeliveryFailedParams{ID: ci, Now: f.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	f.clock.Add(time.Minute)
	if n := f.sweep(); n != 1 || f.checkin(ci).State != "missed" {
		t.Fatalf("undelivered check-in not missed at once (%d swept, state %s)", n, f.checkin(ci).State)
	}
}

func TestInvalidNumberFlagsCaseworker(t *testing.T) {
	t.Parallel()
	f := setup(t)
	sv := f.addSurvivor(f.defaultSpec("+919876543210"))
	ci := f.addCheckin(sv, f.clock.Now(), "queued", sms())
	f.fake.Script(twiliofake.Fault{Status: 400, Code: 21211})
	client, err := river.NewClient(f.driver, f.riverConfig())
	if err != nil {
		t.Fatal(err)
	}
	_ = client
	if _, err := f.work(jobs.CheckinSendArgs{CheckinID: ci}); err != nil {
		t.Fatal(err)
	}
	if n := f.count("SELECT count(*) FROM alerts WHERE kind = 'invalid_number' AND severity = 'medium' AND survivor_id = $1", sv); n != 1 {
		t.Errorf("invalid-number alerts = %d, want 1", n)
	}
	// A retry of the same job raises nothing new.
	if _, err := f.work(jobs.CheckinSendArgs{CheckinID: ci}); err != nil {
		t.Fatal(err)
	}
	if n := f.count("SELECT count(*) FROM alerts"); n != 1 {
		t.Errorf("alerts = %d after a retry, want 1", n)
	}
}
