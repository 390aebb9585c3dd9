package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertest"

	"saathi/db"
	"saathi/db/crypt"
	"saathi/jobs"
)

// staffWithPhone adds a staff member with a phone for alert texts.
func (f *fixture) staffWithPhone(role, phone string, supervisor *uuid.UUID) uuid.UUID {
	f.t.Helper()
	st, err := db.New(f.pool).StaffCreate(context.Background(), db.StaffCreateParams{
		NameEnc: f.keyring.SealString(crypt.StaffName, role), Role: role, SupervisorID: supervisor, Language: "en",
		PhoneEnc: f.keyring.SealString(crypt.StaffPhone, phone), PhoneHash: f.keyring.BlindIndex(phone),
		TokenHash: []byte(uuid.NewString()),
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return st.ID
}

// raise opens an alert as the reply assessment would.
func (f *fixture) raise(survivor uuid.UUID, kind, severity string) db.Alert {
	f.t.Helper()
	client, err := river.NewClient(f.driver, f.riverConfig())
	if err != nil {
		f.t.Fatal(err)
	}
	ctx := rivertest.WorkContext(context.Background(), client)
	var alert *db.Alert
	err = pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
		var err error
		alert, err = jobs.RaiseFlag(ctx, f.deps, client, tx, db.RiskFlagCreateParams{SurvivorID: survivor, Kind: kind, Severity: severity, Now: f.clock.Now(), CheckinID: ptr(f.addCheckin(survivor, f.clock.Now(), "sent", nil))})
		return err
	})
	if err != nil || alert == nil {
		f.t.Fatalf("raise: %v", err)
	}
	return *alert
}

func (f *fixture) notify(alert uuid.UUID, level int) {
	f.t.Helper()
	w := rivertest.NewWorker(f.t, f.driver, f.riverConfig(), &jobs.AlertNotifyWorker{Deps: f.deps})
	tx, err := f.pool.Begin(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := w.Work(context.Background(), f.t, tx, jobs.AlertNotifyArgs{AlertID: alert, Level: level}, nil); err != nil {
		f.t.Fatalf("notify: %v", err)
	}
}

func (f *fixture) escalate(alert uuid.UUID, level int) *rivertest.WorkResult {
	f.t.Helper()
	client, err := river.NewClient(f.driver, f.riverConfig())
	if err != nil {
		f.t.Fatal(err)
	}
	w := rivertest.NewWorker(f.t, f.driver, f.riverConfig(), &jobs.AlertEscalateWorker{Deps: f.deps})
	ctx := rivertest.WorkContext(context.Background(), client)
	tx, err := f.pool.Begin(ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	res, err := w.Work(ctx, f.t, tx, jobs.AlertEscalateArgs{AlertID: alert, Level: level}, nil)
	if err != nil {
		f.t.Fatalf("escalate: %v", err)
	}
	return res
}

func (f *fixture) textsTo(phone string) int {
	n := 0
	for _, m := range f.fake.Messages() {
		if m.To == phone {
			n++
		}
	}
	return n
}

// TestEscalationChain: an urgent alert nobody acknowledges goes to the
// caseworker, after 15 minutes to the supervisor, after 15 more to every
// admin; each step is in the alert's history. Driven by the injected
// clock: no sleeping.
func TestEscalationChain(t *testing.T) {
	t.Parallel()
	f := setup(t)
	sup := f.staffWithPhone("supervisor", "+919000000002", nil)
	if _, err := f.pool.Exec(context.Background(), "UPDATE staff SET supervisor_id = $1, phone_enc = $2, phone_hash = $3 WHERE id = $4",
		sup, f.keyring.SealString(crypt.StaffPhone, "+919000000001"), f.keyring.BlindIndex("+919000000001"), f.caseworker); err != nil {
		t.Fatal(err)
	}
	f.staffWithPhone("admin", "+919000000003", nil)
	f.staffWithPhone("admin", "+919000000005", nil)
	sv := f.addSurvivor(f.defaultSpec("+919876543210"))

	alert := f.raise(sv, "help_now", "urgent")
	if alert.SlaDueAt == nil || !alert.SlaDueAt.Equal(f.clock.Now().Add(15*time.Minute)) {
		t.Fatalf("SLA due %v, want +15m", alert.SlaDueAt)
	}
	f.notify(alert.ID, jobs.LevelCaseworker)
	f.notify(alert.ID, jobs.LevelCaseworker) // retried: not texted twice
	if n := f.textsTo("+919000000001"); n != 1 {
		t.Fatalf("caseworker texts = %d, want 1", n)
	}

	// Ten minutes on: not yet.
	f.clock.Add(10 * time.Minute)
	if res := f.escalate(alert.ID, jobs.LevelSupervisor); res.EventKind != river.EventKindJobSnoozed {
		t.Fatalf("escalated before the SLA: %v", res.EventKind)
	}
	f.clock.Add(6 * time.Minute)
	f.escalate(alert.ID, jobs.LevelSupervisor)
	f.notify(alert.ID, jobs.LevelSupervisor)
	if n := f.textsTo("+919000000002"); n != 1 {
		t.Fatalf("supervisor texts = %d, want 1", n)
	}
	f.clock.Add(16 * time.Minute)
	f.escalate(alert.ID, jobs.LevelAdmins)
	f.notify(alert.ID, jobs.LevelAdmins)
	if a, b := f.textsTo("+919000000003"), f.textsTo("+919000000005"); a != 1 || b != 1 {
		t.Fatalf("admin texts = %d, %d; want 1 each", a, b)
	}
	var kinds []string
	rows, _ := f.pool.Query(context.Background(), "SELECT kind || coalesce(':' || (detail->>'level'), '') FROM alert_events WHERE alert_id = $1 ORDER BY id", alert.ID)
	kinds, _ = pgx.CollectRows(rows, pgx.RowTo[string])
	want := []string{"created", "notified:0", "escalated:1", "notified:1", "escalated:2", "notified:2", "notified:2"}
	if len(kinds) != len(want) {
		t.Fatalf("history %v, want %v", kinds, want)
	}
	for i := range want {
		if kinds[i] != want[i] {
			t.Errorf("history %v, want %v", kinds, want)
			break
		}
	}
}

func TestAcknowledgedAlertDoesNotEscalate(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.fake.AllowUnused()
	sv := f.addSurvivor(f.defaultSpec("+919876543210"))
	alert := f.raise(sv, "call_me", "high")
	if _, err := db.New(f.pool).AlertAcknowledge(context.Background(), db.AlertAcknowledgeParams{ID: alert.ID, StaffID: &f.caseworker, Now: ptr(f.clock.Now())}); err != nil {
		t.Fatal(err)
	}
	f.clock.Add(5 * time.Hour)
	f.escalate(alert.ID, jobs.LevelSupervisor)
	if n := f.count("SELECT count(*) FROM alert_events WHERE alert_id = $1 AND kind = 'escalated'", alert.ID); n != 0 {
		t.Error("acknowledged alert escalated")
	}
	if n := f.count("SELECT count(*) FROM river_job WHERE kind = 'alert_notify' AND args->>'level' = '1'"); n != 0 {
		t.Error("supervisor notification queued for an acknowledged alert")
	}
}

func TestLowAlertsAreNotTexted(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.fake.AllowUnused()
	sv := f.addSurvivor(f.defaultSpec("+919876543210"))
	alert := f.raise(sv, "free_text", "low")
	if alert.SlaDueAt != nil {
		t.Error("low alert has an SLA")
	}
	if n := f.count("SELECT count(*) FROM river_job WHERE kind IN ('alert_notify', 'alert_escalate')"); n != 0 {
		t.Errorf("%d jobs for a low alert", n)
	}
}
