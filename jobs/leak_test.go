package jobs_test

import (
	"bytes"
	"context"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertest"

	"saathi/db/dbtest"
	"saathi/jobs"
	"saathi/jobs/telephony"
	"saathi/jobs/telephony/twiliofake"
)

// logCapture keeps every log line written to it.
type logCapture struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *logCapture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.Write(p)
}

func (c *logCapture) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

// jobRunner works jobs one at a time through River's executor (rivertest)
// and commits each, as a worker process would: River's executor logs the
// error and stores it in river_job.errors, and the error goes to Saathi's
// ErrorHandler exactly as River would pass it.
type jobRunner struct {
	f      *fixture
	cfg    *river.Config
	client *river.Client[pgx.Tx]
	errs   jobs.ErrorHandler
}

func newJobRunner(f *fixture, logger *slog.Logger) *jobRunner {
	f.t.Helper()
	cfg := &river.Config{Logger: logger}
	client, err := river.NewClient(f.driver, cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	return &jobRunner{f: f, cfg: cfg, client: client, errs: jobs.ErrorHandler{Logger: logger}}
}

func (r *jobRunner) insert(args river.JobArgs, opts *river.InsertOpts) int64 {
	r.f.t.Helper()
	res, err := r.client.Insert(context.Background(), args, opts)
	if err != nil {
		r.f.t.Fatal(err)
	}
	return res.Job.ID
}

// run works job id once, whatever its scheduled time (the fixture's clock
// decides what is due).
func (r *jobRunner) run(id int64) (river.EventKind, error) {
	t := r.f.t
	t.Helper()
	ctx := context.Background()
	row, err := r.client.JobGet(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := r.f.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // committed below
	var res *rivertest.WorkResult
	var workErr error
	switch row.Kind {
	case jobs.CheckinSendArgs{}.Kind():
		res, workErr = rivertest.NewWorker(t, r.f.driver, r.cfg, &jobs.CheckinSendWorker{Deps: r.f.deps}).WorkJob(ctx, t, tx, row)
	case jobs.AlertNotifyArgs{}.Kind():
		res, workErr = rivertest.NewWorker(t, r.f.driver, r.cfg, &jobs.AlertNotifyWorker{Deps: r.f.deps}).WorkJob(ctx, t, tx, row)
	default:
		t.Fatalf("no worker for %s", row.Kind)
	}
	if res == nil {
		t.Fatalf("job %s %d: %v", row.Kind, id, workErr)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if workErr != nil {
		r.errs.HandleError(ctx, res.Job, workErr)
	}
	return res.EventKind, workErr
}

// leakStep is one run of a job and what it must come to.
type leakStep struct {
	name    string
	advance time.Duration // moved on the clock before the run
	want    river.EventKind
	wantErr string // a regexp the job's error matches; "" means no error
}

// timedOut is how net/http words a client timeout (it depends on where the
// request was when time ran out).
const timedOut = `deadline exceeded|Client\.Timeout`

func (r *jobRunner) steps(job int64, steps []leakStep) {
	t := r.f.t
	t.Helper()
	for _, s := range steps {
		r.f.clock.Add(s.advance)
		kind, err := r.run(job)
		switch {
		case kind != s.want:
			t.Fatalf("%s: %s (err %v), want %s", s.name, kind, err, s.want)
		case s.wantErr == "" && err != nil:
			t.Fatalf("%s: unexpected error %v", s.name, err)
		case s.wantErr != "" && (err == nil || !regexp.MustCompile(s.wantErr).MatchString(err.Error())):
			t.Fatalf("%s: error %v, want one mentioning %q", s.name, err, s.wantErr)
		}
	}
}

// TestNoPhoneNumberInLogsOrJobRows drives a survivor's check-in and the
// alert text to their caseworker through every failure that puts an error
// in a log line or a job row, against a fake Twilio whose every error text
// quotes the number and whose lookups time out (their URL holds the number
// too): 429, 21408, a send timeout, a reconciliation lookup that times out
// and one refused with 429, then 21211, which is final and raises an
// invalid-number alert; the alert text meets 429, 21408, a timeout and a
// timed-out lookup before it goes through; a second check-in gives up on
// its last attempt. Then neither number, nor its last eight digits, may be
// in any log line, any river_job row, or the database's dump.
func TestNoPhoneNumberInLogsOrJobRows(t *testing.T) {
	t.Parallel()
	f := setup(t)
	var logs logCapture
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f.deps.Logger = logger
	// The client gives up long before a delayed fault answers.
	sender, err := telephony.NewTwilio(telephony.TwilioConfig{
		AccountSID: f.fake.AccountSID, AuthToken: f.fake.AuthToken, From: "+15005550006",
		BaseURL: f.fake.URL, Timeout: 2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	f.deps.Sender = sender
	r := newJobRunner(f, logger)

	// Last eight digits that no timestamp, ID or code contains by chance.
	const survivorPhone, staffPhone = "+919417386052", "+917359246180"
	f.caseworker = f.staffWithPhone("caseworker", staffPhone, nil)
	sv := f.addSurvivor(f.defaultSpec(survivorPhone))
	ci := f.addCheckin(sv, f.clock.Now(), "queued", sms())

	// Twilio never takes the message: the client times out, the late
	// answer is an error nobody reads.
	timeout := twiliofake.Fault{Delay: time.Minute, Status: 503, Code: 20503}
	f.fake.ScriptTo(survivorPhone,
		twiliofake.Fault{Status: 429, Code: 20429},
		twiliofake.Fault{Status: 400, Code: 21408},
		timeout,
		twiliofake.Fault{Status: 400, Code: 21211})
	f.fake.ScriptList(twiliofake.Fault{Delay: time.Minute}, twiliofake.Fault{Status: 429, Code: 20429})
	r.steps(r.insert(jobs.CheckinSendArgs{CheckinID: ci}, nil), []leakStep{
		{name: "check-in 429", want: river.EventKindJobFailed, wantErr: "code 20429"},
		{name: "check-in 21408", want: river.EventKindJobFailed, wantErr: "code 21408"},
		{name: "check-in send times out", want: river.EventKindJobFailed, wantErr: timedOut},
		{name: "check-in waits for a status callback", want: river.EventKindJobSnoozed},
		{name: "check-in lookup times out", advance: 3 * time.Minute, want: river.EventKindJobFailed, wantErr: timedOut},
		{name: "check-in lookup 429", want: river.EventKindJobFailed, wantErr: "code 20429"},
		{name: "check-in not at Twilio", want: river.EventKindJobSnoozed},
		{name: "check-in 21211", want: river.EventKindJobCompleted},
	})
	if got := f.checkin(ci); got.State != "failed" || got.Reason == nil || *got.Reason != "invalid number" {
		t.Fatalf("check-in %s %v, want failed for an invalid number", got.State, got.Reason)
	}

	var notify int64
	if err := f.pool.QueryRow(context.Background(), "SELECT id FROM river_job WHERE kind = 'alert_notify'").Scan(&notify); err != nil {
		t.Fatalf("the invalid number raised no alert text: %v", err)
	}
	f.fake.ScriptTo(staffPhone,
		twiliofake.Fault{Status: 429, Code: 20429},
		twiliofake.Fault{Status: 400, Code: 21408},
		timeout)
	f.fake.ScriptList(twiliofake.Fault{Delay: time.Minute})
	r.steps(notify, []leakStep{
		{name: "alert 429", want: river.EventKindJobFailed, wantErr: "code 20429"},
		{name: "alert 21408", want: river.EventKindJobFailed, wantErr: "code 21408"},
		{name: "alert send times out", want: river.EventKindJobFailed, wantErr: timedOut},
		{name: "alert waits for a status callback", want: river.EventKindJobSnoozed},
		{name: "alert lookup times out", advance: 3 * time.Minute, want: river.EventKindJobFailed, wantErr: timedOut},
		{name: "alert sent", want: river.EventKindJobCompleted},
	})

	// A check-in whose last attempt is refused: the sender logs giving up.
	last := f.addCheckin(sv, f.clock.Now(), "queued", sms())
	f.fake.ScriptTo(survivorPhone, twiliofake.Fault{Status: 500, Code: 20500})
	r.steps(r.insert(jobs.CheckinSendArgs{CheckinID: last}, &river.InsertOpts{MaxAttempts: 1}), []leakStep{
		{name: "last attempt 500", want: river.EventKindJobFailed, wantErr: "code 20500"},
	})

	// The paths really ran: Twilio saw every request, the errors are on
	// the job rows and in the logs.
	if n := f.fake.Requests(); n != 14 {
		t.Errorf("fake Twilio got %d requests, want 14 (8 check-in sends, 6 alert sends and lookups)", n)
	}
	if f.textsTo(staffPhone) != 1 || f.textsTo(survivorPhone) != 0 {
		t.Errorf("accepted texts: %d to the caseworker (want 1), %d to the survivor (want 0)", f.textsTo(staffPhone), f.textsTo(survivorPhone))
	}
	if n := f.count("SELECT count(*) FROM messages WHERE error_code = 21211"); n != 1 {
		t.Errorf("%d messages refused with 21211, want 1", n)
	}
	if n := f.count("SELECT coalesce(sum(cardinality(errors)), 0)::int FROM river_job"); n != 10 {
		t.Errorf("river_job rows hold %d errors, want 10", n)
	}
	logText := logs.String()
	for _, want := range []string{"Job errored", `"msg":"job failed"`, "check-in not sent", "20429", "21408", "20500", timedOut} {
		if !regexp.MustCompile(want).MatchString(logText) {
			t.Errorf("no log line mentions %q: the test would prove nothing", want)
		}
	}

	haystacks := []struct{ name, text string }{
		{"log lines", logText},
		{"river_job rows", riverJobRows(t, f)},
		{"table rows", dbtest.DumpRows(t, f.pool)},
		{"pg_dump", dbtest.DumpData(t, f.pool)},
	}
	for _, h := range haystacks {
		for _, needle := range []string{survivorPhone, survivorPhone[len(survivorPhone)-8:], staffPhone, staffPhone[len(staffPhone)-8:]} {
			if line, ok := lineWith(h.text, needle); ok {
				t.Errorf("%s contain %s: %s", h.name, needle, line)
			}
		}
	}
}

// riverJobRows is every river_job row, every column, as text.
func riverJobRows(t *testing.T, f *fixture) string {
	t.Helper()
	rows, err := f.pool.Query(context.Background(), "SELECT t::text FROM river_job t")
	if err != nil {
		t.Fatal(err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) < 3 {
		t.Fatalf("%d river_job rows: the test would prove nothing", len(lines))
	}
	return strings.Join(lines, "\n")
}

// lineWith returns the first line of text containing needle.
func lineWith(text, needle string) (string, bool) {
	for line := range strings.Lines(text) {
		if strings.Contains(line, needle) {
			return strings.TrimSpace(line), true
		}
	}
	return "", false
}
