package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"saathi/db"
	"saathi/db/crypt"
	"saathi/jobs/schedule"
	"saathi/locales"
)

// ReplyAnswerArgs sends the answer to a survivor's text as a text of its
// own. The webhook answers in TwiML at once; this job is for a text that
// was spooled while the database was down, whose webhook was answered
// with nothing.
type ReplyAnswerArgs struct {
	MessageID int64 `json:"message_id" river:"unique"`
	// Answer is the message ID (locales) of the answer.
	Answer string `json:"answer"`
	// Deadline is when the answer is too late to send.
	Deadline time.Time `json:"deadline"`
}

// Kind names the job.
func (ReplyAnswerArgs) Kind() string { return "reply_answer" }

// InsertOpts: one answer per reply, in the replies queue (never behind
// routine check-ins).
func (ReplyAnswerArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 10, Queue: QueueReplies, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// ReplyAnswerWorker sends a late answer exactly once, inside the
// survivor's contact window and before its deadline, or not at all.
type ReplyAnswerWorker struct {
	river.WorkerDefaults[ReplyAnswerArgs]
	Deps *Deps
}

// Work sends the answer if it still may.
func (w *ReplyAnswerWorker) Work(ctx context.Context, job *river.Job[ReplyAnswerArgs]) error {
	q := db.New(w.Deps.Pool)
	m, err := q.MessageGetForAssess(ctx, job.Args.MessageID)
	if err != nil {
		return river.JobCancel(fmt.Errorf("message %d: %w", job.Args.MessageID, db.NotFound(err)))
	}
	if m.SurvivorStatus != "active" || m.PeerEnc == nil || m.SurvivorID == nil {
		return nil // erased since
	}
	earlier, err := q.MessageListForReply(ctx, m.ID)
	if err != nil {
		return err
	}
	// An attempt already made is settled whatever the clock says (it may
	// have reached the phone); only a first attempt checks the deadline,
	// the window and consent.
	if len(earlier) == 0 {
		if ok, snooze, err := w.mayStart(ctx, q, m, job.Args); !ok || err != nil {
			if snooze > 0 {
				return river.JobSnooze(snooze)
			}
			return err
		}
	}
	to, err := w.Deps.Keyring.OpenString(crypt.MessagePeer, m.PeerEnc)
	if err != nil {
		return err
	}
	body, err := w.Deps.Catalog.Text(m.SurvivorLanguage, job.Args.Answer, nil)
	if err != nil {
		return river.JobCancel(err)
	}
	_, refused, err := w.Deps.sendOnce(ctx, outboundSMS{
		to: to, body: body, template: job.Args.Answer, language: m.SurvivorLanguage,
		earlier: func(ctx context.Context, q *db.Queries) ([]db.Message, error) {
			return q.MessageListForReply(ctx, m.ID)
		},
		record: db.MessageCreateAttemptParams{SurvivorID: m.SurvivorID, ReplyTo: &m.ID, Purpose: "reply"},
	})
	if err != nil {
		return err
	}
	if refused != nil && refused.Code == CodeUnsubscribed {
		return pgx.BeginFunc(ctx, w.Deps.Pool, func(tx pgx.Tx) error {
			return withdrawByCarrier(ctx, db.New(tx), *m.SurvivorID, w.Deps.now())
		})
	}
	return nil
}

// mayStart decides whether a first attempt may be made now: before the
// deadline, inside a contact window (or snooze to the next one if it opens
// before the deadline), and with consent to text, except for the one
// confirmation of a STOP.
func (w *ReplyAnswerWorker) mayStart(ctx context.Context, q *db.Queries, m db.MessageGetForAssessRow, args ReplyAnswerArgs) (ok bool, snooze time.Duration, err error) {
	now := w.Deps.now()
	late := func(why string) (bool, time.Duration, error) {
		w.Deps.Logger.Info("answer to a spooled reply not sent", "message_id", m.ID, "reason", why)
		return false, 0, nil
	}
	if !now.Before(args.Deadline) {
		return late("too late")
	}
	consent, err := CurrentConsent(ctx, q, *m.SurvivorID)
	if err != nil {
		return false, 0, err
	}
	if !consent["sms"] && args.Answer != locales.OptOutConfirm {
		return late("no consent")
	}
	rows, err := q.ContactWindowList(ctx, *m.SurvivorID)
	if err != nil {
		return false, 0, err
	}
	windows := make([]schedule.ContactWindow, 0, len(rows))
	for _, r := range rows {
		cw, err := StoredWindow(r.Days, int(r.StartMinute), int(r.EndMinute))
		if err != nil {
			return false, 0, err
		}
		windows = append(windows, cw)
	}
	loc, err := time.LoadLocation(m.SurvivorTimezone)
	if err != nil {
		return false, 0, fmt.Errorf("time zone: %w", err)
	}
	if schedule.Allowed(windows, loc, now) {
		return true, 0, nil
	}
	if next, ok := schedule.NextSafe(windows, loc, now); ok && next.Before(args.Deadline) {
		return false, next.Sub(now), nil
	}
	return late("outside the contact window")
}
