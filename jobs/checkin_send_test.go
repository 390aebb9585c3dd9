package jobs_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertest"

	"saathi/db"
	"saathi/jobs"
	"saathi/jobs/telephony/twiliofake"
)

// work runs one send job through River's test worker.
func (f *fixture) work(args jobs.CheckinSendArgs) (*rivertest.WorkResult, error) {
	f.t.Helper()
	w := rivertest.NewWorker(f.t, f.driver, f.riverConfig(), &jobs.CheckinSendWorker{Deps: f.deps})
	ctx := context.Background()
	tx, err := f.pool.Begin(ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	return w.Work(ctx, f.t, tx, args, nil)
}

func sms() *string { s := "sms"; return &s }

func TestSendCheckin(t *testing.T) {
	t.Parallel()
	f := setup(t)
	sv := f.addSurvivor(f.defaultSpec("+919876543210"))
	ci := f.addCheckin(sv, f.clock.Now(), "queued", sms())

	res, err := f.work(jobs.CheckinSendArgs{CheckinID: ci})
	if err != nil || res.EventKind != river.EventKindJobCompleted {
		t.Fatalf("work: %v %+v", err, res)
	}
	msgs := f.fake.Messages()
	if len(msgs) != 1 {
		t.Fatalf("fake received %d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if m.To != "+919876543210" || !regexp.MustCompile(`\p{Devanagari}`).MatchString(m.Body) {
		t.Errorf("sent %+v, want a Hindi text to the survivor", m)
	}
	if !strings.HasPrefix(m.StatusCallback, "https://saathi.example.org/twilio/status?m=") {
		t.Errorf("status callback %q", m.StatusCallback)
	}
	got := f.checkin(ci)
	if got.State != "sent" || got.SentAt == nil || *got.Channel != "sms" {
		t.Errorf("check-in after send: %+v", got)
	}
	var status, sid, enc string
	var segs int
	if err := f.pool.QueryRow(context.Background(), "SELECT status, provider_sid, segments, encoding FROM messages WHERE checkin_id = $1", ci).Scan(&status, &sid, &segs, &enc); err != nil {
		t.Fatal(err)
	}
	if status != "queued" || sid != m.SID || segs != 1 || enc != "UCS-2" {
		t.Errorf("message row: %s %s %d %s", status, sid, segs, enc)
	}

	// Running the job again (a duplicate delivery) sends nothing more.
	if _, err := f.work(jobs.CheckinSendArgs{CheckinID: ci}); err != nil {
		t.Fatal(err)
	}
	if n := len(f.fake.Messages()); n != 1 {
		t.Errorf("second run sent again: %d messages", n)
	}
}

func TestSendWaitsForWindow(t *testing.T) {
	t.Parallel()
	f := setup(t)
	sv := f.addSurvivor(f.defaultSpec("+919876543210"))
	// Wednesday 18:00: the 10:00-17:00 window has closed.
	f.clock.Set(time.Date(2026, 11, 25, 18, 0, 0, 0, kolkata))
	ci := f.addCheckin(sv, f.clock.Now(), "queued", sms())

	res, err := f.work(jobs.CheckinSendArgs{CheckinID: ci})
	if err != nil || res.EventKind != river.EventKindJobSnoozed {
		t.Fatalf("work: %v %+v, want snoozed", err, res)
	}
	// River schedules on the real clock: the snooze is the 16 hours until
	// Thursday 10:00.
	if wait := time.Until(res.Job.ScheduledAt); wait < 16*time.Hour-time.Minute || wait > 16*time.Hour+time.Minute {
		t.Errorf("snoozed for %v, want 16h (until the window opens)", wait)
	}
	if n := len(f.fake.Messages()); n != 0 {
		t.Fatalf("sent outside the window: %d", n)
	}
	// Last 10 minutes of the window: too late to start.
	f.clock.Set(time.Date(2026, 11, 26, 16, 55, 0, 0, kolkata))
	if res, err := f.work(jobs.CheckinSendArgs{CheckinID: ci}); err != nil || res.EventKind != river.EventKindJobSnoozed {
		t.Fatalf("16:55: %v %+v, want snoozed", err, res)
	}
	f.clock.Set(time.Date(2026, 11, 27, 10, 0, 0, 0, kolkata))
	if res, err := f.work(jobs.CheckinSendArgs{CheckinID: ci}); err != nil || res.EventKind != river.EventKindJobCompleted {
		t.Fatalf("10:00 next day: %v %+v", err, res)
	}
	if n := len(f.fake.Messages()); n != 1 {
		t.Fatalf("messages = %d, want 1", n)
	}
}

func TestSendWithoutConsentSkips(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.fake.AllowUnused()
	sp := f.defaultSpec("+919876543210")
	sv := f.addSurvivor(sp)
	ci := f.addCheckin(sv, f.clock.Now(), "queued", sms())
	// Consent withdrawn after the check-in was queued: checked again now.
	if _, err := db.New(f.pool).ConsentRecordCreate(context.Background(), db.ConsentRecordCreateParams{
		SurvivorID: sv, Action: "withdraw", Channels: []string{"sms"}, Method: "verbal", Source: "staff", RecordedAt: f.clock.Now(),
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.work(jobs.CheckinSendArgs{CheckinID: ci}); err != nil {
		t.Fatal(err)
	}
	got := f.checkin(ci)
	if got.State != "skipped" || got.Reason == nil || *got.Reason != "no consent" {
		t.Errorf("check-in %+v, want skipped for no consent", got)
	}
	if n := len(f.fake.Messages()); n != 0 {
		t.Errorf("sent without consent: %d", n)
	}
}

func TestSendRetriesRateLimitAndServerErrors(t *testing.T) {
	t.Parallel()
	f := setup(t)
	sv := f.addSurvivor(f.defaultSpec("+919876543210"))
	ci := f.addCheckin(sv, f.clock.Now(), "queued", sms())
	f.fake.Script(twiliofake.Fault{Status: 429, Code: 20429}, twiliofake.Fault{Status: 500, Code: 20500})

	for i, wantErr := range []bool{true, true, false} {
		_, err := f.work(jobs.CheckinSendArgs{CheckinID: ci})
		if (err != nil) != wantErr {
			t.Fatalf("attempt %d: err = %v, want error %v", i+1, err, wantErr)
		}
	}
	if n := len(f.fake.Messages()); n != 1 {
		t.Fatalf("fake accepted %d messages, want exactly 1", n)
	}
	if f.checkin(ci).State != "sent" {
		t.Error("check-in not sent")
	}
	// Each refused attempt is on record with the provider's code.
	if n := f.count("SELECT count(*) FROM messages WHERE checkin_id = $1 AND status = 'failed' AND error_code IN (20429, 20500)", ci); n != 2 {
		t.Errorf("failed attempts on record = %d, want 2", n)
	}
}

func TestSendInvalidNumberIsFinal(t *testing.T) {
	t.Parallel()
	f := setup(t)
	sv := f.addSurvivor(f.defaultSpec("+919876543210"))
	ci := f.addCheckin(sv, f.clock.Now(), "queued", sms())
	f.fake.Script(twiliofake.Fault{Status: 400, Code: 21211})

	res, err := f.work(jobs.CheckinSendArgs{CheckinID: ci})
	if err != nil || res.EventKind != river.EventKindJobCompleted {
		t.Fatalf("21211 should end the job without a retry: %v %+v", err, res)
	}
	got := f.checkin(ci)
	if got.State != "failed" || *got.Reason != "invalid number" {
		t.Errorf("check-in %+v", got)
	}
	if n := f.count("SELECT count(*) FROM messages WHERE checkin_id = $1 AND error_code = 21211", ci); n != 1 {
		t.Errorf("error not recorded on the message row")
	}
}

func TestSendUnsubscribedWithdrawsConsent(t *testing.T) {
	t.Parallel()
	f := setup(t)
	sv := f.addSurvivor(f.defaultSpec("+919876543210"))
	ci := f.addCheckin(sv, f.clock.Now(), "queued", sms())
	f.fake.Script(twiliofake.Fault{Status: 400, Code: 21610})

	if _, err := f.work(jobs.CheckinSendArgs{CheckinID: ci}); err != nil {
		t.Fatal(err)
	}
	if got := f.checkin(ci); got.State != "skipped" {
		t.Errorf("check-in %+v", got)
	}
	if n := f.count("SELECT count(*) FROM consent_records WHERE survivor_id = $1 AND action = 'withdraw' AND source = 'carrier' AND 'sms' = ANY(channels)", sv); n != 1 {
		t.Fatal("carrier opt-out not recorded as a withdrawal")
	}
	// The next check-in is not sent at all.
	next := f.addCheckin(sv, f.clock.Now(), "queued", sms())
	if _, err := f.work(jobs.CheckinSendArgs{CheckinID: next}); err != nil {
		t.Fatal(err)
	}
	if got := f.checkin(next); got.State != "skipped" || *got.Reason != "no consent" {
		t.Errorf("next check-in %+v", got)
	}
	if n := len(f.fake.Messages()); n != 0 {
		t.Errorf("messages sent: %d", n)
	}
}

// TestSendReconcilesLostAnswer: Twilio accepted the message but the answer
// never arrived (a crash, a cut connection). The retry must find the
// message at Twilio instead of sending a second one.
func TestSendReconcilesLostAnswer(t *testing.T) {
	t.Parallel()
	f := setup(t)
	sv := f.addSurvivor(f.defaultSpec("+919876543210"))
	ci := f.addCheckin(sv, f.clock.Now(), "queued", sms())
	f.fake.Script(twiliofake.Fault{Accept: true})

	if _, err := f.work(jobs.CheckinSendArgs{CheckinID: ci}); err == nil {
		t.Fatal("a lost answer must be retried")
	}
	// Within the grace period the retry waits for a status callback.
	f.clock.Add(30 * time.Second)
	if res, err := f.work(jobs.CheckinSendArgs{CheckinID: ci}); err != nil || res.EventKind != river.EventKindJobSnoozed {
		t.Fatalf("retry inside grace: %v %+v", err, res)
	}
	f.clock.Add(3 * time.Minute)
	if res, err := f.work(jobs.CheckinSendArgs{CheckinID: ci}); err != nil || res.EventKind != river.EventKindJobCompleted {
		t.Fatalf("reconcile: %v %+v", err, res)
	}
	msgs := f.fake.Messages()
	if len(msgs) != 1 {
		t.Fatalf("fake has %d messages, want 1: the retry sent again", len(msgs))
	}
	if n := f.count("SELECT count(*) FROM messages WHERE checkin_id = $1 AND provider_sid = $2", ci, msgs[0].SID); n != 1 {
		t.Error("the SID found at Twilio was not recorded")
	}
	if f.checkin(ci).State != "sent" {
		t.Error("check-in not marked sent")
	}
}

// TestSendAfterCrashBeforeCall: the attempt was recorded but the process
// died before calling Twilio. The retry finds nothing at Twilio and sends.
func TestSendAfterCrashBeforeCall(t *testing.T) {
	t.Parallel()
	f := setup(t)
	sv := f.addSurvivor(f.defaultSpec("+919876543210"))
	ci := f.addCheckin(sv, f.clock.Now(), "queued", sms())
	// Simulate the crash: the first transaction's work, then nothing.
	ctx := context.Background()
	err := pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
		q := db.New(tx)
		now := f.clock.Now()
		_, err := q.MessageCreate(ctx, db.MessageCreateParams{
			Direction: "out", Channel: "sms", SurvivorID: &sv, CheckinID: &ci, Purpose: "checkin", Provider: "twilio",
			Status: jobs.StatusAttempting, Now: now,
			PeerEnc: f.keyring.SealString("messages.peer", "+919876543210"), BodyEnc: f.keyring.SealString("messages.body", "x"),
		})
		if err != nil {
			return err
		}
		return q.CheckinSetState(ctx, db.CheckinSetStateParams{ID: ci, State: "sending", Channel: sms(), Now: now})
	})
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Add(5 * time.Minute)
	for i := range 2 {
		if _, err := f.work(jobs.CheckinSendArgs{CheckinID: ci}); err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
	}
	if n := len(f.fake.Messages()); n != 1 {
		t.Fatalf("fake has %d messages, want 1", n)
	}
	if f.checkin(ci).State != "sent" {
		t.Error("check-in not sent")
	}
}

func TestSendSkipsErasedSurvivor(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.fake.AllowUnused()
	sv := f.addSurvivor(f.defaultSpec("+919876543210"))
	ci := f.addCheckin(sv, f.clock.Now(), "queued", sms())
	if err := db.New(f.pool).SurvivorErase(context.Background(), db.SurvivorEraseParams{ID: sv, Now: f.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.work(jobs.CheckinSendArgs{CheckinID: ci}); err != nil {
		t.Fatal(err)
	}
	if got := f.checkin(ci); got.State != "skipped" {
		t.Errorf("check-in %+v", got)
	}
}

// TestReconcileNeverTakesAnotherCheckinsMessage: two check-ins to one
// survivor have identical texts. The first's send is lost (no answer, not
// accepted); the second goes through. Reconciling the first must not adopt
// the second's message.
func TestReconcileNeverTakesAnotherCheckinsMessage(t *testing.T) {
	t.Parallel()
	f := setup(t)
	sv := f.addSurvivor(f.defaultSpec("+919876543210"))
	a := f.addCheckin(sv, f.clock.Now(), "queued", sms())
	b := f.addCheckin(sv, f.clock.Now(), "queued", sms())
	f.fake.Script(twiliofake.Fault{Status: 502, RawBody: "<html>proxy error</html>"})
	if _, err := f.work(jobs.CheckinSendArgs{CheckinID: a}); err == nil {
		t.Fatal("an unreadable answer must be retried")
	}
	if _, err := f.work(jobs.CheckinSendArgs{CheckinID: b}); err != nil {
		t.Fatal(err)
	}
	f.clock.Add(3 * time.Minute)
	for range 2 { // reconcile (nothing of A's at Twilio), then send A afresh
		if _, err := f.work(jobs.CheckinSendArgs{CheckinID: a}); err != nil {
			t.Fatal(err)
		}
	}
	if f.checkin(a).State != "sent" || f.checkin(b).State != "sent" {
		t.Fatalf("states %s %s", f.checkin(a).State, f.checkin(b).State)
	}
	if n := len(f.fake.Messages()); n != 2 {
		t.Fatalf("Twilio has %d messages, want one per check-in", n)
	}
	if n := f.count("SELECT count(DISTINCT provider_sid) FROM messages WHERE provider_sid IS NOT NULL"); n != 2 {
		t.Errorf("distinct SIDs recorded = %d, want 2", n)
	}
}

func TestSendGivesUpVisibly(t *testing.T) {
	t.Parallel()
	f := setup(t)
	sv := f.addSurvivor(f.defaultSpec("+919876543210"))
	ci := f.addCheckin(sv, f.clock.Now(), "queued", sms())
	f.fake.Script(twiliofake.Fault{Status: 503, Code: 20503})
	w := rivertest.NewWorker(t, f.driver, f.riverConfig(), &jobs.CheckinSendWorker{Deps: f.deps})
	tx, err := f.pool.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	// The last attempt River will make.
	if _, err := w.Work(context.Background(), t, tx, jobs.CheckinSendArgs{CheckinID: ci}, &river.InsertOpts{MaxAttempts: 1}); err == nil {
		t.Fatal("want the provider error")
	}
	if got := f.checkin(ci); got.State != "failed" || !strings.HasPrefix(*got.Reason, "gave up after") {
		t.Errorf("check-in %s %v, want failed: a check-in must not stay queued with no job", got.State, got.Reason)
	}
}

func TestSendLimitsQueueingToTheWindow(t *testing.T) {
	t.Parallel()
	f := setup(t)
	sv := f.addSurvivor(f.defaultSpec("+919876543210")) // window closes 17:00, now 11:00
	ci := f.addCheckin(sv, f.clock.Now(), "queued", sms())
	if _, err := f.work(jobs.CheckinSendArgs{CheckinID: ci}); err != nil {
		t.Fatal(err)
	}
	if got := f.fake.Messages()[0].ValidityPeriod; got != "21600" {
		t.Errorf("ValidityPeriod %q, want 21600 (six hours to the window's end)", got)
	}
}

func TestProviderErrorTextNotStored(t *testing.T) {
	t.Parallel()
	f := setup(t)
	sv := f.addSurvivor(f.defaultSpec("+919876543210"))
	ci := f.addCheckin(sv, f.clock.Now(), "queued", sms())
	// Twilio's 21211 text quotes the number.
	if _, err := f.pool.Exec(context.Background(), "UPDATE survivors SET phone_enc = $1 WHERE id = $2", f.keyring.SealString("survivors.phone", "+91123"), sv); err != nil {
		t.Fatal(err)
	}
	if _, err := f.work(jobs.CheckinSendArgs{CheckinID: ci}); err != nil {
		t.Fatal(err)
	}
	if n := f.count("SELECT count(*) FROM messages WHERE error_code = 21211 AND error_message IS NULL"); n != 1 {
		t.Error("provider error text stored: it may quote the number")
	}
}

func TestSendRecordsDLTTemplateID(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.deps.Templates = map[string]string{"CheckinSMS.hi": "1107161234567890123"}
	sv := f.addSurvivor(f.defaultSpec("+919876543210"))
	ci := f.addCheckin(sv, f.clock.Now(), "queued", sms())
	if _, err := f.work(jobs.CheckinSendArgs{CheckinID: ci}); err != nil {
		t.Fatal(err)
	}
	if n := f.count("SELECT count(*) FROM messages WHERE checkin_id = $1 AND dlt_template_id = '1107161234567890123' AND template = 'CheckinSMS'", ci); n != 1 {
		t.Error("the DLT template ID is not on the message record")
	}
}
