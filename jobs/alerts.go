package jobs

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"saathi/db"
	"saathi/db/crypt"
	"saathi/jobs/risk"
	"saathi/locales"
	"saathi/locales/segment"
)

// Escalation levels: who an alert is sent to.
const (
	LevelCaseworker = 0 // the assigned caseworker
	LevelSupervisor = 1 // their supervisor, once the SLA has passed
	LevelAdmins     = 2 // every admin, once it has passed again
)

// RaiseFlag stores a risk flag and, when it is new, opens an alert for the
// survivor's caseworker in the same transaction: the alert's SMS and its
// escalation are River jobs inserted with it. A flag that already exists
// (a replayed webhook, a retried job) raises nothing.
func RaiseFlag(ctx context.Context, d *Deps, tx pgx.Tx, p db.RiskFlagCreateParams) (*db.Alert, error) {
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
	client := river.ClientFromContext[pgx.Tx](ctx)
	if d.rules().SendsSMS(sev) {
		// Urgent texts first when many alerts are waiting.
		prio := 5 - sev.Rank() // urgent 1, high 2, medium 3
		if _, err := client.InsertTx(ctx, tx, AlertNotifyArgs{AlertID: alert.ID, Level: LevelCaseworker}, &river.InsertOpts{Priority: min(max(prio, 1), 4)}); err != nil {
			return nil, fmt.Errorf("enqueue alert SMS: %w", err)
		}
	}
	if escalates {
		if _, err := client.InsertTx(ctx, tx, AlertEscalateArgs{AlertID: alert.ID, Level: LevelSupervisor}, &river.InsertOpts{ScheduledAt: *ap.SlaDueAt}); err != nil {
			return nil, fmt.Errorf("enqueue escalation: %w", err)
		}
	}
	return &alert, nil
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
	return q.AlertEventCreate(ctx, db.AlertEventCreateParams{AlertID: id, Kind: kind, StaffID: staff, Detail: raw, Now: now})
}

// AlertNotifyArgs texts an alert to the staff of one escalation level.
type AlertNotifyArgs struct {
	AlertID uuid.UUID `json:"alert_id" river:"unique"`
	Level   int       `json:"level" river:"unique"`
}

// Kind names the job.
func (AlertNotifyArgs) Kind() string { return "alert_notify" }

// InsertOpts: one notification per alert and level.
func (AlertNotifyArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 10, Queue: QueueAlerts, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// AlertNotifyWorker sends alert texts: a case reference, the severity, a
// dashboard link and the code to acknowledge — never the survivor's phone,
// name or words.
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
	recipients, err := alertRecipients(ctx, q, alert, job.Args.Level)
	if err != nil {
		return err
	}
	sv, err := q.SurvivorGet(ctx, alert.SurvivorID)
	if err != nil {
		return err
	}
	reference := "—"
	if sv.ReferenceEnc != nil {
		if reference, err = w.Deps.Keyring.OpenString(crypt.SurvivorReference, sv.ReferenceEnc); err != nil {
			return err
		}
	}
	msgID := locales.AlertSMS
	if job.Args.Level > LevelCaseworker {
		msgID = locales.AlertEscalatedSMS
	}
	purpose := fmt.Sprintf("alert_l%d", job.Args.Level)
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
			"Case": reference, "Severity": severity, "Code": alert.AckCode,
			"Link": w.Deps.PublicURL + "/dashboard/alerts/" + alert.ID.String(),
		})
		if err != nil {
			return err
		}
		sent, err := w.deliver(ctx, alert, st, purpose, msgID, to, body)
		if err != nil {
			return fmt.Errorf("alert %s to staff %s: %w", alert.ID, st.ID, err)
		}
		if sent {
			if err := AlertEvent(ctx, q, alert.ID, "notified", &st.ID, map[string]any{"level": job.Args.Level, "channel": "sms"}, w.Deps.now()); err != nil {
				return err
			}
		}
	}
	return nil
}

var severityMessage = map[string]string{
	"urgent": locales.SeverityUrgent, "high": locales.SeverityHigh,
	"medium": locales.SeverityMedium, "low": locales.SeverityLow,
}

// alertRecipients: level 0 the caseworker; level 1 their supervisor (the
// admins if they have none); level 2 the admins not already told.
func alertRecipients(ctx context.Context, q *db.Queries, alert db.Alert, level int) ([]db.Staff, error) {
	var cw *db.Staff
	if alert.CaseworkerID != nil {
		st, err := q.StaffGet(ctx, *alert.CaseworkerID)
		if err == nil {
			cw = &st
		} else if !errors.Is(db.NotFound(err), db.ErrNotFound) {
			return nil, err
		}
	}
	admins := func() ([]db.Staff, error) { return q.StaffListAdmins(ctx) }
	switch level {
	case LevelCaseworker:
		if cw == nil {
			return admins()
		}
		return []db.Staff{*cw}, nil
	case LevelSupervisor:
		if cw != nil && cw.SupervisorID != nil {
			sup, err := q.StaffGet(ctx, *cw.SupervisorID)
			if err == nil {
				return []db.Staff{sup}, nil
			}
			if !errors.Is(db.NotFound(err), db.ErrNotFound) {
				return nil, err
			}
		}
		return admins()
	default:
		if cw == nil || cw.SupervisorID == nil {
			return nil, nil // the admins were told at level 1
		}
		all, err := admins()
		if err != nil {
			return nil, err
		}
		out := all[:0]
		for _, a := range all {
			if a.ID != *cw.SupervisorID {
				out = append(out, a)
			}
		}
		return out, nil
	}
}

// deliver sends one alert text exactly once, with the same record-first,
// reconcile-on-retry discipline as check-ins. It reports whether the text
// was accepted in this call.
func (w *AlertNotifyWorker) deliver(ctx context.Context, alert db.Alert, st db.Staff, purpose, template, to, body string) (bool, error) {
	q := db.New(w.Deps.Pool)
	msgs, err := q.MessageListForAlert(ctx, db.MessageListForAlertParams{AlertID: alert.ID, StaffID: st.ID, Purpose: purpose})
	if err != nil {
		return false, err
	}
	now := w.Deps.now()
	for _, m := range msgs {
		if m.ProviderSid != nil {
			return false, nil
		}
		if m.Status == StatusAttempting {
			if age := now.Sub(m.CreatedAt); age < reconcileGrace {
				return false, river.JobSnooze(reconcileGrace - age)
			}
			candidates, err := w.Deps.Sender.FindSMS(ctx, to, body, m.CreatedAt.Add(-time.Minute))
			if err != nil {
				return false, err
			}
			res, found, err := unclaimed(ctx, q, candidates)
			if err != nil {
				return false, err
			}
			if found {
				return true, q.MessageAccepted(ctx, db.MessageAcceptedParams{ID: m.ID, ProviderSid: &res.SID, Status: orAccepted(res.Status), Now: now})
			}
			if err := q.MessageFailed(ctx, db.MessageFailedParams{ID: m.ID, ErrorMessage: ptr("not accepted by the provider (reconciled)"), Now: now}); err != nil {
				return false, err
			}
		}
	}
	enc, segs := segment.Count(body)
	attempt, err := q.MessageCreateAlertAttempt(ctx, db.MessageCreateAlertAttemptParams{
		StaffID: &st.ID, AlertID: &alert.ID, Purpose: purpose,
		PeerHash: w.Deps.Keyring.BlindIndex(to), PeerEnc: w.Deps.Keyring.SealString(crypt.MessagePeer, to),
		BodyEnc: w.Deps.Keyring.SealString(crypt.MessageBody, body), Template: &template, Language: &st.Language,
		Provider: providerName(w.Deps.Sender), Segments: ptr(int32(segs)), Encoding: ptr(string(enc)), Now: now,
	})
	if err != nil {
		return false, err
	}
	res, sendErr := w.Deps.Sender.SendSMS(ctx, SMS{To: to, Body: body,
		StatusCallback: w.Deps.PublicURL + "/twilio/status?m=" + fmt.Sprint(attempt.ID)})
	var se *SendError
	switch {
	case sendErr == nil:
		return true, q.MessageAccepted(ctx, db.MessageAcceptedParams{ID: attempt.ID, ProviderSid: &res.SID, Status: orAccepted(res.Status), Now: w.Deps.now()})
	case errors.As(sendErr, &se):
		code := int32(se.Code)
		if err := q.MessageFailed(ctx, db.MessageFailedParams{ID: attempt.ID, ErrorCode: &code, Now: w.Deps.now()}); err != nil {
			return false, err
		}
		if se.Retryable() {
			return false, sendErr
		}
		// A staff number Twilio refuses: on record in the alert's history;
		// the dashboard and the escalation still reach someone.
		return false, AlertEvent(ctx, q, alert.ID, "not_notified", &st.ID, map[string]any{"reason": "provider refused", "code": se.Code}, w.Deps.now())
	default:
		return false, sendErr // unknown outcome: the retry reconciles
	}
}

func orAccepted(s string) string {
	if s == "" {
		return "accepted"
	}
	return s
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
		if _, err := client.InsertTx(ctx, tx, AlertNotifyArgs{AlertID: alert.ID, Level: job.Args.Level}, nil); err != nil {
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
