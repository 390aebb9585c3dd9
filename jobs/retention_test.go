package jobs_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertest"

	"saathi/db"
	"saathi/db/crypt"
	"saathi/jobs"
)

func TestParseRetention(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		want jobs.RetentionPeriod
		ok   bool
	}{
		{"18mo", jobs.RetentionPeriod{Months: 18}, true},
		{"540d", jobs.RetentionPeriod{Days: 540}, true},
		{" 3mo ", jobs.RetentionPeriod{Months: 3}, true},
		{"90d", jobs.RetentionPeriod{Days: 90}, true},
		{"120mo", jobs.RetentionPeriod{Months: 120}, true},
		{"2mo", jobs.RetentionPeriod{}, false},   // too short: open cases would lose their evidence
		{"89d", jobs.RetentionPeriod{}, false},   // too short
		{"121mo", jobs.RetentionPeriod{}, false}, // over ten years
		{"3661d", jobs.RetentionPeriod{}, false},
		{"18", jobs.RetentionPeriod{}, false}, // no unit: months or days?
		{"18m", jobs.RetentionPeriod{}, false},
		{"1.5y", jobs.RetentionPeriod{}, false},
		{"-18mo", jobs.RetentionPeriod{}, false},
		{"+18mo", jobs.RetentionPeriod{}, false},
		{"mo", jobs.RetentionPeriod{}, false},
		{"", jobs.RetentionPeriod{}, false},
	} {
		got, err := jobs.ParseRetention(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseRetention(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
	if got := (jobs.RetentionPeriod{Months: 18}).Cutoff(time.Date(2026, 11, 25, 11, 0, 0, 0, time.UTC)); !got.Equal(time.Date(2025, 5, 25, 11, 0, 0, 0, time.UTC)) {
		t.Errorf("18mo before 2026-11-25 = %v", got)
	}
}

// retentionData is a database with contents on both sides of the cutoff,
// and an erased survivor whose residue a job in flight wrote after the
// erasure.
type retentionData struct {
	active, erased       uuid.UUID
	oldMsgs, newMsgs     []int64
	unmatchedOld         int64
	oldResp, newResp     int64
	oldAlert, newAlert   uuid.UUID
	erasedMsg, alertText int64
	erasedResp           int64
	erasedAlert          uuid.UUID
	oldOutbox, newOutbox int64
	erasedConsent        int64
}

const (
	oldBody = "main theek hoon, old words"
	newBody = "recent words"
)

func (f *fixture) exec(sql string, args ...any) {
	f.t.Helper()
	if _, err := f.pool.Exec(context.Background(), sql, args...); err != nil {
		f.t.Fatalf("%s: %v", sql, err)
	}
}

func (f *fixture) id(sql string, args ...any) (id int64) {
	f.t.Helper()
	if err := f.pool.QueryRow(context.Background(), sql, args...).Scan(&id); err != nil {
		f.t.Fatalf("%s: %v", sql, err)
	}
	return id
}

// message stores a text to or from survivor (nil: an unmatched sender, or
// staff when alert is set) at `at`.
func (f *fixture) message(survivor *uuid.UUID, alert *uuid.UUID, at time.Time, body string) int64 {
	f.t.Helper()
	staff, direction := (*uuid.UUID)(nil), "in"
	if alert != nil {
		staff, direction = &f.caseworker, "out"
	}
	m, err := db.New(f.pool).MessageCreate(context.Background(), db.MessageCreateParams{
		Direction: direction, Channel: "sms", SurvivorID: survivor, StaffID: staff, AlertID: alert, Purpose: "reply",
		PeerHash: f.keyring.BlindIndex("+919876500001"), PeerEnc: f.keyring.SealString(crypt.MessagePeer, "+919876500001"),
		BodyEnc: f.keyring.SealString(crypt.MessageBody, body), Provider: "twilio", Status: "received", Now: at,
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return m.ID
}

func (f *fixture) response(msg int64, survivor uuid.UUID, at time.Time) int64 {
	f.t.Helper()
	return f.id(`INSERT INTO responses (message_id, survivor_id, intent, evidence_enc, created_at) VALUES ($1, $2, 'free_text', $3, $4) RETURNING id`,
		msg, survivor, f.keyring.Seal(crypt.ResponseEvidence, []byte(`{"evidence":"words"}`)), at)
}

// resolvedAlert raises a flag and an alert at `at`, acknowledged an hour
// later and resolved with a note a day later.
func (f *fixture) resolvedAlert(survivor uuid.UUID, at time.Time) uuid.UUID {
	f.t.Helper()
	flag := f.id(`INSERT INTO risk_flags (survivor_id, kind, severity, created_at) VALUES ($1, 'help', 'urgent', $2) RETURNING id`, survivor, at)
	var id uuid.UUID
	err := f.pool.QueryRow(context.Background(), `
		INSERT INTO alerts (flag_id, survivor_id, caseworker_id, severity, status, ack_code, kind, created_at,
		                    acknowledged_by, acknowledged_at, resolved_by, resolved_at, resolution_enc)
		VALUES ($1, $2, $3, 'urgent', 'resolved', $4, 'help', $5, $3, $5::timestamptz + interval '1 hour', $3, $5::timestamptz + interval '1 day', $6)
		RETURNING id`,
		flag, survivor, f.caseworker, uuid.NewString()[:6], at, f.keyring.SealString(crypt.AlertResolution, "called her, safe")).Scan(&id)
	if err != nil {
		f.t.Fatal(err)
	}
	return id
}

func (f *fixture) sentCheckin(survivor uuid.UUID, at time.Time, state string) {
	f.t.Helper()
	f.exec(`INSERT INTO checkins (survivor_id, kind, channel, due_at, state, sent_at) VALUES ($1, 'adhoc', 'sms', $2, $3, $2)`, survivor, at, state)
}

func (f *fixture) outbox(at time.Time) int64 {
	f.t.Helper()
	return f.id(`INSERT INTO dev_outbox (sid, channel, to_enc, body_enc, created_at) VALUES ($1, 'sms', $2, $3, $4) RETURNING id`,
		"SMdev"+uuid.NewString(), f.keyring.SealString(crypt.OutboxTo, "+919876500001"), f.keyring.SealString(crypt.OutboxBody, "hello"), at)
}

// retentionFixture fills the database: 12 old messages (more than the
// test's batch of 5), 3 recent ones, old and recent evidence, alert notes
// and outbox entries, and an erased survivor with residue.
func (f *fixture) retentionFixture() retentionData {
	f.t.Helper()
	now := f.clock.Now()
	old := now.AddDate(-2, 0, 0)    // before the 18-month cutoff
	recent := now.AddDate(0, -1, 0) // after it
	d := retentionData{active: f.addSurvivor(f.defaultSpec("+919876500001"))}
	for i := range 12 {
		d.oldMsgs = append(d.oldMsgs, f.message(&d.active, nil, old.Add(time.Duration(i)*time.Hour), oldBody))
	}
	for i := range 3 {
		d.newMsgs = append(d.newMsgs, f.message(&d.active, nil, recent.Add(time.Duration(i)*time.Hour), newBody))
	}
	d.unmatchedOld = f.message(nil, nil, old, "who is this")
	d.oldResp = f.response(d.oldMsgs[0], d.active, old)
	d.newResp = f.response(d.newMsgs[0], d.active, recent)
	d.oldAlert = f.resolvedAlert(d.active, old)
	d.newAlert = f.resolvedAlert(d.active, recent)
	f.sentCheckin(d.active, old, "answered")
	f.sentCheckin(d.active, recent, "sent")
	d.oldOutbox, d.newOutbox = f.outbox(old), f.outbox(recent)

	// The erased survivor: erased as the API erases, then a reply that
	// was being stored, its assessment, its alert and the alert's text
	// landed after the erasure (recent, so only erasure explains blanking).
	d.erased = f.addSurvivor(f.defaultSpec("+919876500002"))
	d.erasedConsent = f.id(`INSERT INTO consent_records (survivor_id, action, channels, method, source, recorded_at, note_enc)
		VALUES ($1, 'give', '{sms}', 'in_person', 'staff', $2, $3) RETURNING id`, d.erased, recent, f.keyring.SealString(crypt.ConsentNote, "she asked again"))
	q := db.New(f.pool)
	if err := q.SurvivorErase(context.Background(), db.SurvivorEraseParams{ID: d.erased, Now: now}); err != nil {
		f.t.Fatal(err)
	}
	d.erasedMsg = f.message(&d.erased, nil, recent, "residue words")
	d.erasedResp = f.response(d.erasedMsg, d.erased, recent)
	d.erasedAlert = f.resolvedAlert(d.erased, recent)
	d.alertText = f.message(nil, &d.erasedAlert, recent, "Alert SA-1234 urgent")
	return d
}

// report is the programme report's four queries since 2024.
func (f *fixture) report() any {
	f.t.Helper()
	ctx, q := context.Background(), db.New(f.pool)
	since := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	checkins, err1 := q.ReportCheckins(ctx, since)
	flags, err2 := q.ReportFlags(ctx, since)
	acks, err3 := q.ReportAcknowledge(ctx, since)
	weekly, err4 := q.ReportWeekly(ctx, since)
	for _, err := range []error{err1, err2, err3, err4} {
		if err != nil {
			f.t.Fatal(err)
		}
	}
	return []any{checkins, flags, acks, weekly}
}

// retain works one retention job with a batch of 5 rows.
func (f *fixture) retain() {
	f.t.Helper()
	worker := &jobs.RetentionWorker{Deps: f.deps, BatchSize: 5}
	cfg := f.riverConfig()
	river.AddWorker(cfg.Workers, worker)
	w := rivertest.NewWorker(f.t, f.driver, cfg, worker)
	ctx := context.Background()
	tx, err := f.pool.Begin(ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := w.Work(ctx, f.t, tx, jobs.RetentionArgs{}, nil); err != nil {
		f.t.Fatalf("retention: %v", err)
	}
}

// retentionAudits returns the counts of every retention.run audit row.
func (f *fixture) retentionAudits() []jobs.RetentionCounts {
	f.t.Helper()
	rows, err := f.pool.Query(context.Background(), `SELECT detail->'counts' FROM audit_log WHERE action = 'retention.run' AND staff_id IS NULL ORDER BY id`)
	if err != nil {
		f.t.Fatal(err)
	}
	raws, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		f.t.Fatal(err)
	}
	out := []jobs.RetentionCounts{}
	for _, raw := range raws {
		var c jobs.RetentionCounts
		if err := json.Unmarshal(raw, &c); err != nil {
			f.t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

// TestRetentionBlanksOldContentsAndErasedResidue: an NGO keeps what people
// said for 18 months; after that the words and numbers go and the counts
// stay, so the programme report is unchanged; what an erased survivor left
// behind goes whatever its age; a second run finds nothing to do.
func TestRetentionBlanksOldContentsAndErasedResidue(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.fake.AllowUnused()
	d := f.retentionFixture()
	reportBefore := f.report()
	messagesBefore := f.count("SELECT count(*) FROM messages")

	f.retain()

	// Old contents blanked, rows kept.
	if n := f.count("SELECT count(*) FROM messages WHERE id = ANY($1) AND body_enc IS NULL AND peer_enc IS NULL AND peer_hash IS NULL", d.oldMsgs); n != 12 {
		t.Errorf("old messages blanked: %d of 12", n)
	}
	if n := f.count("SELECT count(*) FROM messages WHERE id = $1 AND body_enc IS NULL AND peer_enc IS NULL", d.unmatchedOld); n != 1 {
		t.Error("an old text from an unknown number kept its contents")
	}
	if n := f.count("SELECT count(*) FROM messages"); n != messagesBefore {
		t.Errorf("messages: %d rows after, %d before: rows must stay for the counts", n, messagesBefore)
	}
	// Recent contents kept, and still open.
	for _, id := range d.newMsgs {
		m, err := db.New(f.pool).MessageGet(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		body, err := f.keyring.OpenString(crypt.MessageBody, m.BodyEnc)
		if err != nil || body != newBody || m.PeerEnc == nil || m.PeerHash == nil {
			t.Errorf("recent message %d: body %q, %v, peer kept %v", id, body, err, m.PeerEnc != nil && m.PeerHash != nil)
		}
	}
	checks := []struct {
		name string
		sql  string
		arg  any
		want int
	}{
		{"old evidence blanked", "SELECT count(*) FROM responses WHERE id = $1 AND evidence_enc IS NULL", d.oldResp, 1},
		{"recent evidence kept", "SELECT count(*) FROM responses WHERE id = $1 AND evidence_enc IS NOT NULL", d.newResp, 1},
		{"old resolution note blanked", "SELECT count(*) FROM alerts WHERE id = $1 AND resolution_enc IS NULL", d.oldAlert, 1},
		{"recent resolution note kept", "SELECT count(*) FROM alerts WHERE id = $1 AND resolution_enc IS NOT NULL", d.newAlert, 1},
		{"old outbox entry deleted", "SELECT count(*) FROM dev_outbox WHERE id = $1", d.oldOutbox, 0},
		{"recent outbox entry kept", "SELECT count(*) FROM dev_outbox WHERE id = $1", d.newOutbox, 1},
		{"erased survivor's late reply blanked", "SELECT count(*) FROM messages WHERE id = $1 AND body_enc IS NULL AND peer_enc IS NULL AND peer_hash IS NULL", d.erasedMsg, 1},
		{"erased survivor's late evidence blanked", "SELECT count(*) FROM responses WHERE id = $1 AND evidence_enc IS NULL", d.erasedResp, 1},
		{"erased survivor's alert note blanked", "SELECT count(*) FROM alerts WHERE id = $1 AND resolution_enc IS NULL", d.erasedAlert, 1},
		{"erased survivor's alert text blanked, staff number kept", "SELECT count(*) FROM messages WHERE id = $1 AND body_enc IS NULL AND peer_enc IS NOT NULL", d.alertText, 1},
		{"erased survivor's consent note blanked", "SELECT count(*) FROM consent_records WHERE id = $1 AND note_enc IS NULL", d.erasedConsent, 1},
		{"active survivor untouched", "SELECT count(*) FROM survivors WHERE id = $1 AND phone_enc IS NOT NULL AND phone_hash IS NOT NULL AND reference_enc IS NOT NULL", d.active, 1},
	}
	for _, c := range checks {
		if n := f.count(c.sql, c.arg); n != c.want {
			t.Errorf("%s: %d, want %d", c.name, n, c.want)
		}
	}
	if diff := cmp.Diff(reportBefore, f.report()); diff != "" {
		t.Errorf("programme report changed (-before +after):\n%s", diff)
	}
	// Texts from unknown numbers listed for admins: only those with
	// contents (a blanked one cannot be shown, and is past keeping).
	unmatched, err := db.New(f.pool).MessageListUnmatched(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range unmatched {
		if m.BodyEnc == nil || m.PeerEnc == nil {
			t.Errorf("unmatched list includes blanked message %d: the admins' list would fail to open it", m.ID)
		}
	}

	want := []jobs.RetentionCounts{{
		Messages: 13, Evidence: 1, ResolutionNotes: 1, OutboxEntries: 1,
		ErasedMessages: 1, ErasedAlertTexts: 1, ErasedEvidence: 1, ErasedResolutions: 1, ErasedConsent: 1,
	}}
	if diff := cmp.Diff(want, f.retentionAudits()); diff != "" {
		t.Errorf("audited counts (-want +got):\n%s", diff)
	}

	// A second run has nothing to do: no change, no new audit row.
	dump := dumpContents(f)
	f.retain()
	if diff := cmp.Diff(want, f.retentionAudits()); diff != "" {
		t.Errorf("second run audited (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(dump, dumpContents(f)); diff != "" {
		t.Errorf("second run changed contents (-first +second):\n%s", diff)
	}
}

// dumpContents is every sealed column's contents, to show a run changed nothing.
func dumpContents(f *fixture) []string {
	f.t.Helper()
	rows, err := f.pool.Query(context.Background(), `
		SELECT 'm' || id || encode(coalesce(body_enc, ''), 'hex') || encode(coalesce(peer_enc, ''), 'hex') FROM messages
		UNION ALL SELECT 'r' || id || encode(coalesce(evidence_enc, ''), 'hex') FROM responses
		UNION ALL SELECT 'a' || id || encode(coalesce(resolution_enc, ''), 'hex') FROM alerts
		UNION ALL SELECT 'o' || id FROM dev_outbox
		ORDER BY 1`)
	if err != nil {
		f.t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		f.t.Fatal(err)
	}
	return out
}

// TestRetentionResumesAfterAnInterruptedRun: a sweep killed after its
// first batch keeps that batch, and the next run blanks the rest.
func TestRetentionResumesAfterAnInterruptedRun(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.fake.AllowUnused()
	d := f.retentionFixture()
	cutoff := jobs.DefaultRetention.Cutoff(f.clock.Now())

	// What a worker killed after its first statement left behind.
	n, err := db.New(f.pool).RetentionBlankMessages(context.Background(), db.RetentionBlankMessagesParams{Cutoff: cutoff, Now: f.clock.Now(), Lim: 5})
	if err != nil || n != 5 {
		t.Fatalf("first batch: %d, %v", n, err)
	}
	old := append([]int64{d.unmatchedOld}, d.oldMsgs...) // 13
	if n := f.count("SELECT count(*) FROM messages WHERE id = ANY($1) AND body_enc IS NOT NULL", old); n != 8 {
		t.Fatalf("after one batch %d old messages keep contents, want 8", n)
	}

	f.retain()
	if n := f.count("SELECT count(*) FROM messages WHERE id = ANY($1) AND body_enc IS NOT NULL", old); n != 0 {
		t.Errorf("%d old messages keep contents after the next run", n)
	}
	got := f.retentionAudits()
	if len(got) != 1 || got[0].Messages != 8 {
		t.Errorf("second run audited %+v, want 8 messages", got)
	}
}

// TestRetentionSkipsLockedRows: a row a transaction holds (a reply being
// assessed) is left alone, not waited on, and blanked by the next run.
func TestRetentionSkipsLockedRows(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.fake.AllowUnused()
	d := f.retentionFixture()
	ctx := context.Background()
	tx, err := f.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "SELECT 1 FROM messages WHERE id = $1 FOR UPDATE", d.oldMsgs[3]); err != nil {
		t.Fatal(err)
	}
	f.retain()
	if n := f.count("SELECT count(*) FROM messages WHERE id = ANY($1) AND body_enc IS NOT NULL", d.oldMsgs); n != 1 {
		t.Errorf("%d old messages keep contents while one is locked, want 1", n)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	f.retain()
	if n := f.count("SELECT count(*) FROM messages WHERE id = ANY($1) AND body_enc IS NOT NULL", d.oldMsgs); n != 0 {
		t.Errorf("%d old messages keep contents after the lock ended", n)
	}
}

// TestRetentionPausesAtItsBudget: a run stops between batches once its time
// budget is spent and snoozes (River's rescuer would take a job running
// past RescueAfter for a dead worker's and start it again beside itself);
// what it did is committed and audited, and the next runs finish the work.
func TestRetentionPausesAtItsBudget(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.fake.AllowUnused()
	d := f.retentionFixture()
	old := append([]int64{d.unmatchedOld}, d.oldMsgs...) // 13

	worker := &jobs.RetentionWorker{Deps: f.deps, BatchSize: 5, Budget: time.Nanosecond}
	if timeout := worker.Timeout(nil); timeout >= jobs.RescueAfter {
		t.Errorf("a run may last %s, not under River's rescue time %s", timeout, jobs.RescueAfter)
	}
	cfg := f.riverConfig()
	river.AddWorker(cfg.Workers, worker)
	w := rivertest.NewWorker(t, f.driver, cfg, worker)
	work := func() river.EventKind {
		t.Helper()
		tx, err := f.pool.Begin(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(context.Background())
		res, err := w.Work(context.Background(), t, tx, jobs.RetentionArgs{}, nil)
		if err != nil {
			t.Fatalf("retention: %v", err)
		}
		return res.EventKind
	}

	// The budget is spent before the first batch: it snoozes, changing nothing.
	if kind := work(); kind != river.EventKindJobSnoozed {
		t.Fatalf("a run out of time: %s, want snoozed", kind)
	}
	if n := f.count("SELECT count(*) FROM messages WHERE id = ANY($1) AND body_enc IS NOT NULL", old); n != 13 {
		t.Errorf("%d old messages keep contents, want all 13", n)
	}
	// With time, one run does it all and completes.
	worker.Budget = time.Minute
	if kind := work(); kind != river.EventKindJobCompleted {
		t.Fatalf("a run with time: %s, want completed", kind)
	}
	if n := f.count("SELECT count(*) FROM messages WHERE id = ANY($1) AND body_enc IS NOT NULL", old); n != 0 {
		t.Errorf("%d old messages keep contents", n)
	}
}
