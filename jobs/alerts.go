package jobs

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"saathi/db"
	"saathi/db/crypt"
	"saathi/jobs/risk"
	"saathi/locales"
)

// Escalation levels: who an alert is sent to.
const (
	LevelCaseworker = 0 // the assigned caseworker
	LevelSupervisor = 1 // their supervisor, once the SLA has passed
	LevelAdmins     = 2 // every admin, once it has passed again
)

// Inserter inserts River jobs inside the caller's transaction: a worker's
// own client (river.ClientFromContext) or the web process's insert-only
// client. *river.Client[pgx.Tx] is one.
type Inserter interface {
	InsertTx(ctx context.Context, tx pgx.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
	InsertManyTx(ctx context.Context, tx pgx.Tx, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error)
}

// RaiseFlag stores a risk flag and, when it is new, opens an alert for the
// survivor's caseworker in the same transaction: the alert's SMS and its
// escalation are River jobs inserted with it. A flag that already exists
// (a replayed webhook, a retried job) raises nothing.
func RaiseFlag(ctx context.Context, d *Deps, ins Inserter, tx pgx.Tx, p db.RiskFlagCreateParams) (*db.Alert, error) {
	q := db.New(tx)
	flag, err := q.RiskFlagCreate(ctx, p)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("create risk flag: %w", err)
	}
	sv, err := q.SurvivorGet(ctx, flag.SurvivorID)
	if err != nil {
		return nil, fmt.Errorf("flag %d: %w", flag.ID, err)
	}
	sev := risk.Severity(flag.Severity)
	sla, escalates := d.rules().SLAFor(sev)
	ap := db.AlertCreateParams{
		FlagID: flag.ID, SurvivorID: flag.SurvivorID, CaseworkerID: sv.CaseworkerID,
		Severity: flag.Severity, Kind: flag.Kind, AckCode: ackCode(), Now: p.Now,
	}
	if escalates {
		due := p.Now.Add(sla)
		ap.SlaDueAt = &due
	}
	alert, err := q.AlertCreate(ctx, ap)
	if err != nil {
		return nil, fmt.Errorf("create alert: %w", err)
	}
	if err := AlertEvent(ctx, q, alert.ID, "created", nil, map[string]any{"severity": flag.Severity, "kind": flag.Kind}, p.Now); err != nil {
		return nil, err
	}
	d.Metrics.AlertRaised(flag.Severity, flag.Kind)
	if d.rules().SendsSMS(sev) {
		if _, err := ins.InsertTx(ctx, tx, AlertNotifyArgs{AlertID: alert.ID, Level: LevelCaseworker}, &river.InsertOpts{Priority: alertPriority(sev)}); err != nil {
			return nil, fmt.Errorf("enqueue alert SMS: %w", err)
		}
	}
	if escalates {
		if _, err := ins.InsertTx(ctx, tx, AlertEscalateArgs{AlertID: alert.ID, Level: LevelSupervisor}, &river.InsertOpts{ScheduledAt: *ap.SlaDueAt}); err != nil {
			return nil, fmt.Errorf("enqueue escalation: %w", err)
		}
	}
	return &alert, nil
}

// alertPriority puts urgent texts first when many alerts are waiting:
// urgent 1, high 2, medium 3, low 4.
func alertPriority(sev risk.Severity) int {
	return min(max(5-sev.Rank(), 1), 4)
}

// FollowSurvivor moves a survivor's unresolved alerts to the caseworker
// they are assigned to now, records the move in each alert's history, and
// texts the alerts to whoever answers for the case now (the new
// caseworker, or their supervisor). Run it in the transaction that
// reassigns the survivor.
func FollowSurvivor(ctx context.Context, d *Deps, ins Inserter, tx pgx.Tx, survivorID uuid.UUID, from, to *uuid.UUID, by *uuid.UUID, now time.Time) error {
	q := db.New(tx)
	alerts, err := q.AlertFollowSurvivor(ctx, db.AlertFollowSurvivorParams{SurvivorID: survivorID, CaseworkerID: to})
	if err != nil {
		return fmt.Errorf("move alerts: %w", err)
	}
	return renotify(ctx, d, ins, tx, alerts, LevelCaseworker, "reassigned", by, map[string]any{"from": from, "to": to}, now)
}

// RenotifyDeactivated sends the alerts a deactivated staff member
// answered for to whoever answers for them now: the unresolved alerts of
// their own survivors (to their supervisor, until the survivors are
// reassigned), and, for a supervisor, the open alerts that had escalated
// to them (to the admins).
func RenotifyDeactivated(ctx context.Context, d *Deps, ins Inserter, tx pgx.Tx, staffID uuid.UUID, by *uuid.UUID, now time.Time) error {
	q := db.New(tx)
	detail := map[string]any{"staff": staffID}
	own, err := q.AlertListUnresolvedForCaseworker(ctx, &staffID)
	if err != nil {
		return err
	}
	if err := renotify(ctx, d, ins, tx, own, LevelCaseworker, "caseworker_deactivated", by, detail, now); err != nil {
		return err
	}
	escalated, err := q.AlertListEscalatedInTeam(ctx, &staffID)
	if err != nil {
		return err
	}
	return renotify(ctx, d, ins, tx, escalated, LevelSupervisor, "supervisor_deactivated", by, detail, now)
}

// renotify records why each alert moved and sends it again, to the
// recipients of every level from fromLevel up to the one it has escalated
// to (an escalated alert reaches the new supervisor too). Each move is its
// own notification (keyed by the event's ID), so a survivor moved back
// and forth is texted each time.
func renotify(ctx context.Context, d *Deps, ins Inserter, tx pgx.Tx, alerts []db.Alert, fromLevel int, kind string, by *uuid.UUID, detail map[string]any, now time.Time) error {
	q := db.New(tx)
	raw, err := json.Marshal(detail)
	if err != nil {
		return err
	}
	for _, a := range alerts {
		move, err := q.AlertEventCreate(ctx, db.AlertEventCreateParams{AlertID: a.ID, Kind: kind, StaffID: by, Detail: raw, Now: now})
		if err != nil {
			return fmt.Errorf("alert %s: %w", a.ID, err)
		}
		sev := risk.Severity(a.Severity)
		if !d.rules().SendsSMS(sev) {
			continue
		}
		for level := fromLevel; level <= int(a.EscalationLevel); level++ {
			args := AlertNotifyArgs{AlertID: a.ID, Level: level, Move: move}
			if _, err := ins.InsertTx(ctx, tx, args, &river.InsertOpts{Priority: alertPriority(sev)}); err != nil {
				return fmt.Errorf("enqueue alert SMS: %w", err)
			}
		}
	}
	return nil
}

// ackCode is the six-digit code a caseworker texts back ("ACK 482913").
func ackCode() string {
	n, err := rand.Int(rand.Reader, big.NewInt(900000))
	if err != nil {
		panic(err)
	}
	return fmt.Sprintf("%06d", n.Int64()+100000)
}

// AlertEvent appends a step to an alert's history. detail holds IDs,
// levels and codes, never personal data.
func AlertEvent(ctx context.Context, q *db.Queries, id uuid.UUID, kind string, staff *uuid.UUID, detail map[string]any, now time.Time) error {
	raw := []byte("{}")
	if detail != nil {
		var err error
		if raw, err = json.Marshal(detail); err != nil {
			return err
		}
	}
	_, err := q.AlertEventCreate(ctx, db.AlertEventCreateParams{AlertID: id, Kind: kind, StaffID: staff, Detail: raw, Now: now})
	return err
}

// AlertNotifyArgs texts an alert to the staff of one escalation level.
type AlertNotifyArgs struct {
	AlertID uuid.UUID `json:"alert_id" river:"unique"`
	Level   int       `json:"level" river:"unique"`
	// Move, when set, is the alert event (a reassignment, a deactivated
	// caseworker) that sends the alert again to whoever answers for the
	// case now.
	Move int64 `json:"move,omitempty" river:"unique"`
}

// Kind names the job.
func (AlertNotifyArgs) Kind() string { return "alert_notify" }

// InsertOpts: one notification per alert, level and move.
func (AlertNotifyArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 10, Queue: QueueAlerts, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// AlertNotifyWorker sends alert texts: the case code, the severity, a
// dashboard link and the code to acknowledge — never the survivor's phone,
// name, reference or words.
type AlertNotifyWorker struct {
	river.WorkerDefaults[AlertNotifyArgs]
	Deps *Deps
}

// Work texts every recipient of the level who has a phone, once each.
func (w *AlertNotifyWorker) Work(ctx context.Context, job *river.Job[AlertNotifyArgs]) error {
	q := db.New(w.Deps.Pool)
	alert, err := q.AlertGet(ctx, job.Args.AlertID)
	if err != nil {
		return river.JobCancel(fmt.Errorf("alert %s: %w", job.Args.AlertID, db.NotFound(err)))
	}
	if alert.Status == "resolved" || (alert.Status != "open" && job.Args.Level > LevelCaseworker) {
		return nil // dealt with before this text went out
	}
	sv, err := q.SurvivorGet(ctx, alert.SurvivorID)
	if err != nil {
		return err
	}
	recipients, err := alertRecipients(ctx, q, sv.CaseworkerID, job.Args.Level)
	if err != nil {
		return err
	}
	msgID := locales.AlertSMS
	if job.Args.Level > LevelCaseworker {
		msgID = locales.AlertEscalatedSMS
	}
	purpose := fmt.Sprintf("alert_l%d", job.Args.Level)
	if job.Args.Move != 0 {
		purpose = fmt.Sprintf("alert_move_%d", job.Args.Move)
	}
	for _, st := range recipients {
		now := w.Deps.now()
		if st.PhoneEnc == nil {
			if err := AlertEvent(ctx, q, alert.ID, "not_notified", &st.ID, map[string]any{"level": job.Args.Level, "reason": "no phone on record"}, now); err != nil {
				return err
			}
			continue
		}
		to, err := w.Deps.Keyring.OpenString(crypt.StaffPhone, st.PhoneEnc)
		if err != nil {
			return err
		}
		severity, err := w.Deps.Catalog.Text(st.Language, severityMessage[alert.Severity], nil)
		if err != nil {
			return err
		}
		body, err := w.Deps.Catalog.Text(st.Language, msgID, map[string]any{
			"Case": sv.CaseCode, "Severity": severity, "Code": alert.AckCode,
			"Link": w.Deps.PublicURL + "/dashboard/alerts/" + alert.ID.String(),
		})
		if err != nil {
			return err
		}
		text := outboundSMS{
			to: to, body: body, template: msgID, language: st.Language,
			earlier: func(ctx context.Context, q *db.Queries) ([]db.Message, error) {
				return q.MessageListForAlert(ctx, db.MessageListForAlertParams{AlertID: alert.ID, StaffID: st.ID, Purpose: purpose})
			},
			record: db.MessageCreateAttemptParams{StaffID: &st.ID, AlertID: &alert.ID, Purpose: purpose},
		}
		sent, refused, err := w.Deps.sendOnce(ctx, text)
		if err != nil {
			return fmt.Errorf("alert %s to staff %s: %w", alert.ID, st.ID, err)
		}
		switch {
		case refused != nil:
			// A staff number Twilio refuses: on record in the alert's
			// history; the dashboard and the escalation still reach someone.
			err = AlertEvent(ctx, q, alert.ID, "not_notified", &st.ID, map[string]any{"level": job.Args.Level, "reason": "provider refused", "code": refused.Code}, w.Deps.now())
		case sent:
			err = AlertEvent(ctx, q, alert.ID, "notified", &st.ID, map[string]any{"level": job.Args.Level, "channel": "sms"}, w.Deps.now())
		}
		if err != nil {
			return err
		}
	}
	return nil
}

var severityMessage = map[string]string{
	"urgent": locales.SeverityUrgent, "high": locales.SeverityHigh,
	"medium": locales.SeverityMedium, "low": locales.SeverityLow,
}

// alertRecipients is who an alert on a survivor of caseworkerID goes to at
// an escalation level. Each level goes one step up a chain of the people
// who answer for the case: the caseworker, their supervisor, then every
// other admin. A deactivated caseworker or supervisor is skipped (their
// survivors' alerts go to the next one up until they are reassigned), so
// level 0 always reaches someone active. Past the end of the chain, nobody
// is told again.
func alertRecipients(ctx context.Context, q *db.Queries, caseworkerID *uuid.UUID, level int) ([]db.Staff, error) {
	var chain [][]db.Staff
	var supervisorID *uuid.UUID
	if caseworkerID != nil {
		cw, err := q.StaffGetAny(ctx, *caseworkerID)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return nil, err
		}
		if err == nil {
			if cw.DeactivatedAt == nil {
				chain = append(chain, []db.Staff{cw})
			}
			supervisorID = cw.SupervisorID
		}
	}
	if supervisorID != nil {
		sup, err := q.StaffGet(ctx, *supervisorID) // active only
		switch {
		case err == nil:
			chain = append(chain, []db.Staff{sup})
		case !errors.Is(err, pgx.ErrNoRows):
			return nil, err
		}
	}
	admins, err := q.StaffListAdmins(ctx)
	if err != nil {
		return nil, err
	}
	if supervisorID != nil {
		admins = slices.DeleteFunc(admins, func(a db.Staff) bool { return a.ID == *supervisorID })
	}
	chain = append(chain, admins)
	if level < len(chain) {
		return chain[level], nil
	}
	return nil, nil
}

// AlertEscalateArgs moves an unacknowledged alert up a level.
type AlertEscalateArgs struct {
	AlertID uuid.UUID `json:"alert_id" river:"unique"`
	Level   int       `json:"level" river:"unique"`
}

// Kind names the job.
func (AlertEscalateArgs) Kind() string { return "alert_escalate" }

// InsertOpts: one escalation per alert and level.
func (AlertEscalateArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 10, Queue: QueueAlerts, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// AlertEscalateWorker escalates an alert nobody acknowledged within its
// SLA: to the supervisor, then to every admin.
type AlertEscalateWorker struct {
	river.WorkerDefaults[AlertEscalateArgs]
	Deps *Deps
}

// Work escalates if the alert is still open and its deadline has passed.
func (w *AlertEscalateWorker) Work(ctx context.Context, job *river.Job[AlertEscalateArgs]) error {
	now := w.Deps.now()
	var snooze time.Duration
	err := pgx.BeginFunc(ctx, w.Deps.Pool, func(tx pgx.Tx) error {
		q := db.New(tx)
		alert, err := q.AlertGetForUpdate(ctx, job.Args.AlertID)
		if err != nil {
			return db.NotFound(err)
		}
		if alert.Status != "open" || int(alert.EscalationLevel) >= job.Args.Level {
			return nil
		}
		if alert.SlaDueAt != nil && now.Before(*alert.SlaDueAt) {
			snooze = alert.SlaDueAt.Sub(now)
			return nil
		}
		var next *time.Time
		sla, _ := w.Deps.rules().SLAFor(risk.Severity(alert.Severity))
		if job.Args.Level < LevelAdmins && sla > 0 {
			t := now.Add(sla)
			next = &t
		}
		if _, err := q.AlertEscalate(ctx, db.AlertEscalateParams{ID: alert.ID, Level: int32(job.Args.Level), FromLevel: int32(job.Args.Level - 1), NextDue: next}); err != nil {
			return fmt.Errorf("escalate: %w", db.NotFound(err))
		}
		if err := AlertEvent(ctx, q, alert.ID, "escalated", nil, map[string]any{"level": job.Args.Level}, now); err != nil {
			return err
		}
		client := river.ClientFromContext[pgx.Tx](ctx)
		if _, err := client.InsertTx(ctx, tx, AlertNotifyArgs{AlertID: alert.ID, Level: job.Args.Level}, &river.InsertOpts{Priority: alertPriority(risk.Severity(alert.Severity))}); err != nil {
			return err
		}
		if next != nil {
			_, err = client.InsertTx(ctx, tx, AlertEscalateArgs{AlertID: alert.ID, Level: job.Args.Level + 1}, &river.InsertOpts{ScheduledAt: *next})
		}
		return err
	})
	if err != nil {
		if errors.Is(err, db.ErrNotFound) {
			return river.JobCancel(err)
		}
		return err
	}
	if snooze > 0 {
		return river.JobSnooze(snooze)
	}
	return nil
}
