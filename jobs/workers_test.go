package jobs_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"saathi/jobs"
	"saathi/jobs/schedule"
	"saathi/jobs/telephony/twiliofake"
)

// queueCheckins enrols n survivors reachable at any time and queues one
// check-in each, with its send job, as the planner would.
func (f *fixture) queueCheckins(n int) []uuid.UUID {
	f.t.Helper()
	allWeek := []schedule.ContactWindow{{Days: []time.Weekday{0, 1, 2, 3, 4, 5, 6}, Start: 0, End: schedule.Midnight}}
	client, err := river.NewClient(f.driver, f.riverConfig())
	if err != nil {
		f.t.Fatal(err)
	}
	ids := make([]uuid.UUID, n)
	params := make([]river.InsertManyParams, n)
	for i := range n {
		sp := f.defaultSpec("+9197" + strconv.Itoa(10000000+i))
		sp.windows = allWeek
		ids[i] = f.addCheckin(f.addSurvivor(sp), time.Now(), "queued", nil)
		params[i] = river.InsertManyParams{Args: jobs.CheckinSendArgs{CheckinID: ids[i]}}
	}
	if _, err := client.InsertMany(context.Background(), params); err != nil {
		f.t.Fatal(err)
	}
	return ids
}

// startClient starts a worker process's River client.
func (f *fixture) startClient(deps *jobs.Deps, mutate func(*river.Config)) *river.Client[pgx.Tx] {
	f.t.Helper()
	workers := river.NewWorkers()
	jobs.Register(workers, deps)
	cfg := &river.Config{
		Workers: workers, Logger: quiet(),
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 10}},
		FetchCooldown:     20 * time.Millisecond,
		FetchPollInterval: 100 * time.Millisecond,
	}
	if mutate != nil {
		mutate(cfg)
	}
	client, err := river.NewClient(f.driver, cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := client.Start(context.Background()); err != nil {
		f.t.Fatal(err)
	}
	return client
}

func (f *fixture) waitAllSent(n int, timeout time.Duration) {
	f.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		sent := f.count("SELECT count(*) FROM checkins WHERE state = 'sent'")
		if sent == n {
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("only %d of %d check-ins sent after %v", sent, n, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (f *fixture) requireEachOnce(n int) {
	f.t.Helper()
	msgs := f.fake.Messages()
	perNumber := map[string]int{}
	for _, m := range msgs {
		perNumber[m.To]++
	}
	if len(msgs) != n || len(perNumber) != n {
		f.t.Fatalf("Twilio received %d messages for %d numbers; want %d each exactly once", len(msgs), len(perNumber), n)
	}
}

// TestTwoWorkerProcesses: two River clients (two processes' worth) work
// the same queue: every check-in is sent once, and both did a share of
// the work (one idle client would prove nothing about two).
func TestTwoWorkerProcesses(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.deps.NowFunc = nil // real time: River schedules on it
	const n = 300
	f.queueCheckins(n)
	// Twilio answers in 5 ms, as a slow API would: neither client can
	// drain the queue before the other has started fetching.
	slow := make([]twiliofake.Fault, n)
	for i := range slow {
		slow[i] = twiliofake.Fault{Delay: 5 * time.Millisecond}
	}
	f.fake.Script(slow...)

	a := f.startClient(f.deps, nil)
	b := f.startClient(f.deps, nil)
	f.waitAllSent(n, 60*time.Second)
	for _, c := range []*river.Client[pgx.Tx]{a, b} {
		if err := c.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	f.requireEachOnce(n)
	rows, err := f.pool.Query(context.Background(), "SELECT attempted_by[1], count(*) FROM river_job WHERE kind = 'checkin_send' GROUP BY 1")
	if err != nil {
		t.Fatal(err)
	}
	shares := map[string]int{}
	for rows.Next() {
		var client string
		var count int
		if err := rows.Scan(&client, &count); err != nil {
			t.Fatal(err)
		}
		shares[client] = count
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(shares) != 2 {
		t.Fatalf("jobs were worked by %d clients, want 2: %v", len(shares), shares)
	}
	for client, count := range shares {
		if count < n/10 {
			t.Errorf("client %s worked %d of %d jobs: not a share", client, count, n)
		}
	}
}

// TestWorkerKilledMidBatch stops a worker hard while it is sending (its
// jobs' contexts cancelled, some Twilio calls in flight), then starts a
// fresh one: nothing is lost and nothing is sent twice.
func TestWorkerKilledMidBatch(t *testing.T) {
	t.Parallel()
	f := setup(t)
	const n = 200
	f.queueCheckins(n)
	killedAt, inFlight := f.killMidBatch(n, func() int { return len(f.fake.Messages()) })
	f.requireEachOnce(n)
	t.Logf("killed after %d of %d messages, %d sends in flight", killedAt, n, inFlight)
}

// killMidBatch works the queued check-ins with a worker that is stopped
// hard once a third of them reached the (slow) fake Twilio, then with a
// fresh worker whose clock is past the reconcile grace, until all n are
// sent. placed counts what Twilio has received. It returns that count at
// the kill and the sends then in flight.
func (f *fixture) killMidBatch(n int, placed func() int) (killedAt, inFlight int) {
	f.t.Helper()
	f.deps.NowFunc = nil
	// Twilio is slow: each answer takes 30 ms, so the kill lands mid-call.
	slow := make([]twiliofake.Fault, n)
	for i := range slow {
		slow[i] = twiliofake.Fault{Delay: 30 * time.Millisecond}
	}
	f.fake.Script(slow...)

	a := f.startClient(f.deps, nil)
	for placed() < n/3 {
		time.Sleep(10 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	_ = a.StopAndCancel(ctx)
	cancel()
	killedAt = placed()
	// Sends cut off mid-call leave attempts whose outcome is unknown: the
	// case that must not turn into a second message or call.
	inFlight = f.count("SELECT count(*) FROM messages WHERE status = 'attempting'")
	if inFlight == 0 {
		f.t.Error("the kill caught no send in flight; the test proves less than it should")
	}

	// The restarted process's clock is past the reconcile grace period of
	// any attempt the killed one left unconfirmed.
	restarted := *f.deps
	restarted.NowFunc = func() time.Time { return time.Now().Add(5 * time.Minute) }
	b := f.startClient(&restarted, func(c *river.Config) {
		// Jobs the killed client left 'running' are rescued quickly.
		c.JobTimeout = 2 * time.Second
		c.RescueStuckJobsAfter = 3 * time.Second
	})
	defer b.Stop(context.Background())
	f.waitAllSent(n, 90*time.Second)
	return killedAt, inFlight
}
