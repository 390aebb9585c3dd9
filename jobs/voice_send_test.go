package jobs_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"saathi/db"
	"saathi/jobs"
	"saathi/jobs/telephony/twiliofake"
)

func voice() *string { s := "voice"; return &s }

// TestCallReconcilesLostAnswer: Twilio placed the call but its answer
// never arrived. The retry finds the call at Twilio instead of calling
// the survivor a second time.
func TestCallReconcilesLostAnswer(t *testing.T) {
	t.Parallel()
	f := setup(t)
	sp := f.defaultSpec("+919876543210")
	sp.channels, sp.consent = []string{"voice"}, []string{"voice"}
	ci := f.addCheckin(f.addSurvivor(sp), f.clock.Now(), "queued", voice())
	f.fake.Script(twiliofake.Fault{Accept: true})

	if _, err := f.work(jobs.CheckinSendArgs{CheckinID: ci}); err == nil {
		t.Fatal("a lost answer must be retried")
	}
	if n := len(f.fake.Calls()); n != 1 {
		t.Fatalf("calls at Twilio: %d", n)
	}
	f.clock.Add(30 * time.Second)
	if res, err := f.work(jobs.CheckinSendArgs{CheckinID: ci}); err != nil || res.EventKind != river.EventKindJobSnoozed {
		t.Fatalf("retry inside the grace period: %v %+v", err, res)
	}
	f.clock.Add(3 * time.Minute)
	if res, err := f.work(jobs.CheckinSendArgs{CheckinID: ci}); err != nil || res.EventKind != river.EventKindJobCompleted {
		t.Fatalf("reconcile: %v %+v", err, res)
	}
	calls := f.fake.Calls()
	if len(calls) != 1 {
		t.Fatalf("Twilio has %d calls, want 1: the retry called again", len(calls))
	}
	if n := f.count("SELECT count(*) FROM messages WHERE checkin_id = $1 AND channel = 'voice' AND provider_sid = $2", ci, calls[0].SID); n != 1 {
		t.Error("the CallSid found at Twilio was not recorded")
	}
	if got := f.checkin(ci); got.State != "sent" || got.Calls != 1 {
		t.Errorf("check-in %+v, want sent after one call", got)
	}
}

// TestCallInvalidNumberIsFinal: Twilio refuses the number (21214): no
// retry, and the caseworker is asked to fix it.
func TestCallInvalidNumberIsFinal(t *testing.T) {
	t.Parallel()
	f := setup(t)
	sp := f.defaultSpec("+919876543210")
	sp.channels, sp.consent = []string{"voice"}, []string{"voice"}
	sv := f.addSurvivor(sp)
	ci := f.addCheckin(sv, f.clock.Now(), "queued", voice())
	f.fake.Script(twiliofake.Fault{Status: 400, Code: 21214})
	if _, err := f.work(jobs.CheckinSendArgs{CheckinID: ci}); err != nil {
		t.Fatalf("a refused number must not be retried: %v", err)
	}
	if got := f.checkin(ci); got.State != "failed" {
		t.Errorf("check-in %s, want failed", got.State)
	}
	if n := f.count("SELECT count(*) FROM risk_flags WHERE survivor_id = $1 AND kind = 'invalid_number'", sv); n != 1 {
		t.Error("no invalid_number flag")
	}
}

// TestCallWorkerKilledMidBatch: a worker stopped hard while placing calls,
// then a fresh one: every survivor is called exactly once.
func TestCallWorkerKilledMidBatch(t *testing.T) {
	t.Parallel()
	f := setup(t)
	const n = 120
	ids := f.queueCheckins(n)
	if _, err := f.pool.Exec(context.Background(), "UPDATE checkins SET channel = 'voice' WHERE id = ANY($1)", ids); err != nil {
		t.Fatal(err)
	}
	if _, err := f.pool.Exec(context.Background(), "UPDATE survivors SET channels = '{voice}'; UPDATE consent_records SET channels = '{voice}'"); err != nil {
		t.Fatal(err)
	}
	_, inFlight := f.killMidBatch(n, func() int { return len(f.fake.Calls()) })
	perNumber := map[string]int{}
	for _, c := range f.fake.Calls() {
		perNumber[c.To]++
	}
	if len(f.fake.Calls()) != n || len(perNumber) != n {
		t.Fatalf("Twilio placed %d calls to %d numbers; want %d, each once", len(f.fake.Calls()), len(perNumber), n)
	}
	if len(f.fake.Messages()) != 0 {
		t.Errorf("%d texts sent to voice-only survivors", len(f.fake.Messages()))
	}
	t.Logf("%d calls in flight at the kill", inFlight)
}

// endCall ends a check-in's latest call with no key pressed, as the status
// callback does, and returns the send jobs waiting to place the next one.
func (f *fixture) endCall(ci uuid.UUID) []*rivertype.JobRow {
	f.t.Helper()
	ctx := context.Background()
	client, err := river.NewClient(f.driver, f.riverConfig())
	if err != nil {
		f.t.Fatal(err)
	}
	err = pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
		var id int64
		if err := tx.QueryRow(ctx, "SELECT id FROM messages WHERE checkin_id = $1 ORDER BY id DESC LIMIT 1", ci).Scan(&id); err != nil {
			return err
		}
		m, err := db.New(tx).MessageGet(ctx, id)
		if err != nil {
			return err
		}
		return jobs.CallEnded(ctx, client, tx, m, f.deps.CallRate, f.clock.Now())
	})
	if err != nil {
		f.t.Fatal(err)
	}
	res, err := client.JobList(ctx, river.NewJobListParams().Kinds("checkin_send").States(rivertype.JobStateScheduled, rivertype.JobStateAvailable))
	if err != nil {
		f.t.Fatal(err)
	}
	calls := f.checkin(ci).Calls
	var next []*rivertype.JobRow
	for _, j := range res.Jobs {
		var args jobs.CheckinSendArgs
		if err := json.Unmarshal(j.EncodedArgs, &args); err != nil {
			f.t.Fatal(err)
		}
		if args.CheckinID == ci && args.Call == int(calls) {
			next = append(next, j)
		}
	}
	return next
}

// TestCallAgainKeepsToWindowsAndLimit: a call nobody answered is placed
// again 30 minutes later at the earliest, never outside the survivor's
// windows, twice at most; after the third, the check-in is missed and
// followed up on the other channel.
func TestCallAgainKeepsToWindowsAndLimit(t *testing.T) {
	t.Parallel()
	f := setup(t)
	sp := f.defaultSpec("+919876543210") // weekdays 10:00–17:00 IST
	sp.channels, sp.consent = []string{"sms", "voice"}, []string{"sms", "voice"}
	sv := f.addSurvivor(sp)
	f.clock.Set(time.Date(2026, 11, 25, 16, 20, 0, 0, kolkata)) // Wednesday
	ci := f.addCheckin(sv, f.clock.Now(), "queued", voice())
	if _, err := f.work(jobs.CheckinSendArgs{CheckinID: ci}); err != nil {
		t.Fatal(err)
	}
	next := f.endCall(ci)
	if len(next) != 1 || next[0].ScheduledAt.Sub(f.clock.Now()) != 30*time.Minute {
		t.Fatalf("second call jobs %+v, want one 30 min on", next)
	}
	// 16:55 is in the window's last 10 minutes: not now, next morning.
	f.clock.Set(time.Date(2026, 11, 25, 16, 55, 0, 0, kolkata))
	res, err := f.work(jobs.CheckinSendArgs{CheckinID: ci, Call: 1})
	if err != nil || res.EventKind != river.EventKindJobSnoozed {
		t.Fatalf("second call at 16:55: %v %+v, want snoozed", err, res)
	}
	if n := len(f.fake.Calls()); n != 1 {
		t.Fatalf("called outside the window: %d calls", n)
	}
	f.clock.Set(time.Date(2026, 11, 26, 10, 1, 0, 0, kolkata))
	if _, err := f.work(jobs.CheckinSendArgs{CheckinID: ci, Call: 1}); err != nil {
		t.Fatal(err)
	}
	f.endCall(ci)
	f.clock.Add(31 * time.Minute)
	if _, err := f.work(jobs.CheckinSendArgs{CheckinID: ci, Call: 2}); err != nil {
		t.Fatal(err)
	}
	if n := len(f.fake.Calls()); n != 3 {
		t.Fatalf("calls placed: %d, want 3", n)
	}
	if next := f.endCall(ci); len(next) != 0 {
		t.Errorf("a fourth call was scheduled: %+v", next)
	}
	if got := f.checkin(ci); got.Calls != 3 || got.DeliveryFailedAt == nil {
		t.Fatalf("check-in after three unanswered calls: %+v", got)
	}
	f.sweep()
	if got := f.checkin(ci); got.State != "missed" {
		t.Errorf("check-in %s, want missed", got.State)
	}
	if n := f.count("SELECT count(*) FROM checkins WHERE parent_id = $1 AND kind = 'followup' AND channel = 'sms'", ci); n != 1 {
		t.Error("no follow-up by text")
	}
}

// TestVoiceOnlyFollowupIsCalled: a voice-only survivor's follow-up is a
// call now, not "skipped".
func TestVoiceOnlyFollowupIsCalled(t *testing.T) {
	t.Parallel()
	f := setup(t)
	sp := f.defaultSpec("+919876543210")
	sp.channels, sp.consent = []string{"voice"}, []string{"voice"}
	parent := f.addCheckin(f.addSurvivor(sp), f.clock.Now(), "missed", voice())
	fu, err := db.New(f.pool).CheckinCreate(context.Background(), db.CheckinCreateParams{
		SurvivorID: f.checkin(parent).SurvivorID, Kind: "followup", Channel: voice(), DueAt: f.clock.Now(), State: "queued", ParentID: &parent,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.work(jobs.CheckinSendArgs{CheckinID: fu.ID}); err != nil {
		t.Fatal(err)
	}
	if got := f.checkin(fu.ID); got.State != "sent" || got.Reason != nil {
		t.Errorf("voice follow-up %s (%v), want sent", got.State, got.Reason)
	}
	if n := len(f.fake.Calls()); n != 1 {
		t.Errorf("calls placed: %d, want 1", n)
	}
}
