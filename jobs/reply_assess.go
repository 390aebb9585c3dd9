package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"saathi/db"
	"saathi/db/crypt"
	"saathi/jobs/reply"
	"saathi/locales/segment"
)

// answerWindow is how far back a reply may answer a check-in.
const answerWindow = 7 * 24 * time.Hour

// ReplyAssessArgs assesses one inbound reply. The webhook stores the
// message and inserts this job in the same transaction, then answers
// Twilio at once; everything slower happens here.
type ReplyAssessArgs struct {
	MessageID int64 `json:"message_id" river:"unique"`
	// Answer is the message ID (locales) of the TwiML answer the webhook
	// sent, recorded here on the survivor's timeline; "" for none.
	Answer string `json:"answer,omitempty"`
}

// Kind names the job.
func (ReplyAssessArgs) Kind() string { return "reply_assess" }

// InsertOpts: one assessment per message.
func (ReplyAssessArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 25, Queue: QueueReplies, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// ReplyAssessWorker records what a reply means, marks the check-in it
// answers, and raises a risk flag (and alert) when the reply calls for one.
type ReplyAssessWorker struct {
	river.WorkerDefaults[ReplyAssessArgs]
	Deps *Deps
}

// Evidence is what the dashboard shows of a reply's understanding; stored
// encrypted because it quotes the survivor's words.
type Evidence struct {
	Intent   string   `json:"intent"`
	Danger   []string `json:"danger,omitempty"`
	Evidence []string `json:"evidence,omitempty"`
}

// Work assesses the reply in one transaction: a retry finds the response
// already stored and does nothing twice.
func (w *ReplyAssessWorker) Work(ctx context.Context, job *river.Job[ReplyAssessArgs]) error {
	now := w.Deps.now()
	err := pgx.BeginFunc(ctx, w.Deps.Pool, func(tx pgx.Tx) error {
		q := db.New(tx)
		m, err := q.MessageGetForAssess(ctx, job.Args.MessageID)
		if err != nil {
			return db.NotFound(err)
		}
		if m.SurvivorStatus != "active" || m.BodyEnc == nil {
			return nil // erased since
		}
		body, err := w.Deps.Keyring.OpenString(crypt.MessageBody, m.BodyEnc)
		if err != nil {
			return err
		}
		res, err := w.Deps.Understand(m.Channel, body, m.DuressEnc, m.DuressCodeEnc)
		if err != nil {
			return err
		}
		evidence, err := json.Marshal(Evidence{Intent: string(res.Intent), Danger: res.Danger, Evidence: res.Evidence})
		if err != nil {
			return err
		}

		// Keys pressed on a call answer that call's check-in; a text
		// answers the latest check-in sent.
		checkinID := m.CheckinID
		if checkinID == nil {
			ci, err := q.CheckinAwaitingReply(ctx, db.CheckinAwaitingReplyParams{SurvivorID: *m.SurvivorID, Since: m.CreatedAt.Add(-answerWindow)})
			switch {
			case err == nil:
				checkinID = &ci.ID
			case !errors.Is(err, pgx.ErrNoRows):
				return err
			}
		}
		found := checkinID != nil
		rp := db.ResponseCreateParams{
			MessageID: m.ID, SurvivorID: *m.SurvivorID, Intent: string(res.Intent), CheckinID: checkinID,
			EvidenceEnc: w.Deps.Keyring.Seal(crypt.ResponseEvidence, evidence), Now: now,
		}
		resp, err := q.ResponseCreate(ctx, rp)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // assessed already
		}
		if err != nil {
			return err
		}
		if job.Args.Answer != "" {
			if err := w.recordAnswer(ctx, q, m, job.Args.Answer); err != nil {
				return err
			}
		}
		// STOP and START are not answers to a check-in.
		if found && res.Intent != reply.OptOut && res.Intent != reply.OptIn {
			if err := q.CheckinAnswer(ctx, db.CheckinAnswerParams{ID: *checkinID, Now: now}); err != nil {
				return err
			}
		}
		flag, raised := w.Deps.rules().Assess(res)
		if !raised {
			return nil
		}
		_, err = RaiseFlag(ctx, w.Deps, river.ClientFromContext[pgx.Tx](ctx), tx, db.RiskFlagCreateParams{
			SurvivorID: *m.SurvivorID, Kind: flag.Kind, Severity: string(flag.Severity), ResponseID: &resp.ID, CheckinID: rp.CheckinID, Now: now,
		})
		return err
	})
	if errors.Is(err, db.ErrNotFound) {
		return river.JobCancel(fmt.Errorf("message %d: %w", job.Args.MessageID, err))
	}
	return err
}

// recordAnswer puts the TwiML answer the survivor got on record, as an
// outbound message (Twilio sends it; it has no SID of its own here).
func (w *ReplyAssessWorker) recordAnswer(ctx context.Context, q *db.Queries, m db.MessageGetForAssessRow, id string) error {
	text, err := w.Deps.Catalog.Text(m.SurvivorLanguage, id, nil)
	if err != nil {
		return err
	}
	enc, segs := segment.Count(text)
	return q.MessageRecordReply(ctx, db.MessageRecordReplyParams{
		Channel: m.Channel, SurvivorID: m.SurvivorID, ReplyTo: m.ReplyTo, PeerHash: m.PeerHash, PeerEnc: m.PeerEnc,
		BodyEnc: w.Deps.Keyring.SealString(crypt.MessageBody, text), Template: &id, Language: &m.SurvivorLanguage,
		Provider: m.Provider, Segments: ptr(int32(segs)), Encoding: ptr(string(enc)), Now: m.CreatedAt,
	})
}
