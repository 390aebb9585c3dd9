package handlers_test

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
	"github.com/riverqueue/river/rivertype"

	"saathi/jobs"
	"saathi/jobs/telephony"
	"saathi/jobs/telephony/twiliofake"
)

// twilio starts the fake Twilio and the job dependencies that send
// through it (once per fixture).
func (f *fixture) twilio() *twiliofake.Server {
	f.t.Helper()
	if f.fake != nil {
		return f.fake
	}
	f.fake = twiliofake.New(f.t)
	sender, err := telephony.NewTwilio(telephony.TwilioConfig{
		AccountSID: f.fake.AccountSID, AuthToken: f.fake.AuthToken, From: "+15005550006", BaseURL: f.fake.URL, Timeout: 2 * time.Second,
	})
	if err != nil {
		f.t.Fatal(err)
	}
	f.deps = &jobs.Deps{
		Pool: f.pool, Keyring: f.keyring, Catalog: f.server.Catalog, Replies: f.server.Replies, Sender: sender, Caller: sender,
		Logger: quietLogger(), PublicURL: testPublicURL, NowFunc: func() time.Time { return f.now },
	}
	return f.fake
}

// workJobs works every job that is due now, the way a worker process
// would, until none is left: assessments, alert texts, sends.
func (f *fixture) workJobs() int {
	f.t.Helper()
	f.twilio()
	ctx := context.Background()
	driver := riverpgxv5.New(f.pool)
	workers := river.NewWorkers()
	jobs.Register(workers, f.deps)
	cfg := &river.Config{Workers: workers, Logger: quietLogger()}
	client, err := river.NewClient(driver, cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	worked := 0
	for range 20 {
		ids := f.dueJobs()
		if len(ids) == 0 {
			return worked
		}
		for _, id := range ids {
			row, err := client.JobGet(ctx, id)
			if err != nil {
				f.t.Fatal(err)
			}
			tx, err := f.pool.Begin(ctx)
			if err != nil {
				f.t.Fatal(err)
			}
			defer tx.Rollback(ctx) // after a failure, so the pool can close
			if _, err := workJob(f, tx, row); err != nil {
				f.t.Fatalf("job %s %d: %v", row.Kind, row.ID, err)
			}
			if err := tx.Commit(ctx); err != nil {
				f.t.Fatal(err)
			}
			worked++
		}
	}
	f.t.Fatal("jobs keep coming after 20 rounds")
	return worked
}

// dueJobs lists the jobs a worker would take now, oldest first.
func (f *fixture) dueJobs() []int64 {
	f.t.Helper()
	rows, err := f.pool.Query(context.Background(), `SELECT id FROM river_job WHERE state IN ('available', 'retryable', 'scheduled') AND scheduled_at <= now() ORDER BY id`)
	if err != nil {
		f.t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		f.t.Fatal(err)
	}
	return ids
}

func workJob(f *fixture, tx pgx.Tx, row *rivertype.JobRow) (*rivertest.WorkResult, error) {
	ctx := context.Background()
	driver := riverpgxv5.New(f.pool)
	cfg := &river.Config{Logger: quietLogger()}
	switch row.Kind {
	case jobs.ReplyAssessArgs{}.Kind():
		return rivertest.NewWorker(f.t, driver, cfg, &jobs.ReplyAssessWorker{Deps: f.deps}).WorkJob(ctx, f.t, tx, row)
	case jobs.ReplyAnswerArgs{}.Kind():
		return rivertest.NewWorker(f.t, driver, cfg, &jobs.ReplyAnswerWorker{Deps: f.deps}).WorkJob(ctx, f.t, tx, row)
	case jobs.AlertNotifyArgs{}.Kind():
		return rivertest.NewWorker(f.t, driver, cfg, &jobs.AlertNotifyWorker{Deps: f.deps}).WorkJob(ctx, f.t, tx, row)
	case jobs.AlertEscalateArgs{}.Kind():
		return rivertest.NewWorker(f.t, driver, cfg, &jobs.AlertEscalateWorker{Deps: f.deps}).WorkJob(ctx, f.t, tx, row)
	case jobs.CheckinSendArgs{}.Kind():
		return rivertest.NewWorker(f.t, driver, cfg, &jobs.CheckinSendWorker{Deps: f.deps}).WorkJob(ctx, f.t, tx, row)
	}
	f.t.Fatalf("no worker for %s", row.Kind)
	return nil, nil
}
