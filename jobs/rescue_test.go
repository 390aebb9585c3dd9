package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"saathi/jobs"
)

// TestKilledWorkersJobsAreRescuedSoon: a worker process killed mid-job
// (SIGKILL, OOM, a lost machine) leaves its jobs 'running' in River's
// table. With the production River configuration, another worker must take
// them over within minutes, not River's default hour: here the job is the
// assessment of a "3", and an hour's wait would hold the urgent alert past
// its 15-minute SLA four times over.
func TestKilledWorkersJobsAreRescuedSoon(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.fake.AllowUnused() // the caseworker has no phone: the alert is not texted
	ctx := context.Background()
	const phone = "+919812300001"
	survivor := f.addSurvivor(f.defaultSpec(phone))

	inserter, err := river.NewClient(f.driver, f.riverConfig())
	if err != nil {
		t.Fatal(err)
	}
	err = pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
		_, err := f.deps.ReceiveReply(ctx, inserter, tx,
			jobs.ReplySurvivor{ID: survivor, Language: "hi", Channels: []string{"sms"}, SMSConsent: true},
			jobs.Reply{Channel: "sms", SID: "SM0123456789abcdef0123456789abcdef", From: phone, Body: "3", ReceivedAt: f.clock.Now()})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// The worker that fetched the assessment died two minutes ago, mid-job.
	tag, err := f.pool.Exec(ctx, `UPDATE river_job SET state = 'running', attempt = 1,
		attempted_at = now() - interval '2 minutes', attempted_by = ARRAY['killed-worker']
		WHERE kind = 'reply_assess'`)
	if err != nil || tag.RowsAffected() != 1 {
		t.Fatalf("mark the assessment as running on a dead worker: %v (%d rows)", err, tag.RowsAffected())
	}

	workers := river.NewWorkers()
	jobs.Register(workers, f.deps)
	client, err := river.NewClient(f.driver, jobs.ClientConfig(workers, 5, quiet()))
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = client.Stop(ctx)
	})

	deadline := time.Now().Add(45 * time.Second)
	for f.count(`SELECT count(*) FROM alerts WHERE survivor_id = $1 AND severity = 'urgent'`, survivor) == 0 {
		if time.Now().After(deadline) {
			state := f.count(`SELECT count(*) FROM river_job WHERE kind = 'reply_assess' AND state = 'running'`)
			t.Fatalf("no urgent alert 45 s after a live worker started; assessments still 'running' on the dead worker: %d", state)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestRescuedSendDoesNotCallAgain: a worker placed a check-in call and
// recorded it, then died before River recorded the job done. Nobody
// pressed a key, so the check-in is queued again for a call half an hour
// later, by a job of its own. When River's rescuer runs the first job
// again, it must not call the survivor a second time now; the later call
// still goes out. (Found by cmd/faultsuite at 10,000 survivors.)
func TestRescuedSendDoesNotCallAgain(t *testing.T) {
	t.Parallel()
	f := setup(t)
	sp := f.defaultSpec("+919812300002")
	sp.channels, sp.consent = []string{"voice"}, []string{"voice"}
	ci := f.addCheckin(f.addSurvivor(sp), f.clock.Now(), "queued", voice())
	first := jobs.CheckinSendArgs{CheckinID: ci}
	if res, err := f.work(first); err != nil || res.EventKind != river.EventKindJobCompleted {
		t.Fatalf("first call: %v %+v", err, res)
	}
	if next := f.endCall(ci); len(next) != 1 {
		t.Fatalf("jobs for the next call after no key: %d, want 1", len(next))
	}

	if res, err := f.work(first); err != nil || res.EventKind != river.EventKindJobCompleted {
		t.Fatalf("the rescued first job: %v %+v", err, res)
	}
	if n := len(f.fake.Calls()); n != 1 {
		t.Fatalf("calls after the first job ran again: %d, want 1 (the survivor was called twice)", n)
	}

	f.clock.Add(31 * time.Minute)
	if res, err := f.work(jobs.CheckinSendArgs{CheckinID: ci, Call: 1}); err != nil || res.EventKind != river.EventKindJobCompleted {
		t.Fatalf("the second call's job: %v %+v", err, res)
	}
	if n := len(f.fake.Calls()); n != 2 {
		t.Fatalf("calls after the second call's job: %d, want 2", n)
	}
	if got := f.checkin(ci); got.State != "sent" || got.Calls != 2 {
		t.Errorf("check-in %s after two calls, calls %d; want sent, 2", got.State, got.Calls)
	}
}
