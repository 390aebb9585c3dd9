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
		m, err := q.ReplyForAssess(ctx, db.ReplyForAssessParams{ID: job.Args.MessageID, AnswerWindowSeconds: answerWindow.Seconds()})
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
		if checkinID == nil && len(m.AwaitingCheckin) > 0 {
			checkinID = &m.AwaitingCheckin[0]
		}
		found := checkinID != nil
		rp := db.ResponseRecordParams{
			MessageID: m.ID, SurvivorID: *m.SurvivorID, Intent: string(res.Intent), CheckinID: checkinID,
			EvidenceEnc: w.Deps.Keyring.Seal(crypt.ResponseEvidence, evidence), Now: now,
		}
		if job.Args.Answer != "" {
			// The TwiML answer the survivor got, on record with the response.
			if err := w.answerRecord(&rp, m, job.Args.Answer); err != nil {
				return err
			}
		}
		responseID, err := q.ResponseRecord(ctx, rp)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // assessed already
		}
		if err != nil {
			return err
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
			SurvivorID: *m.SurvivorID, Kind: flag.Kind, Severity: string(flag.Severity), ResponseID: &responseID, CheckinID: rp.CheckinID, Now: now,
		})
		return err
	})
	if errors.Is(err, db.ErrNotFound) {
		return river.JobCancel(fmt.Errorf("message %d: %w", job.Args.MessageID, err))
	}
	return err
}

// answerRecord fills in the TwiML answer the survivor got, to be put on
// record as an outbound message (Twilio sends it; it has no SID of its own
// here) with the response.
func (w *ReplyAssessWorker) answerRecord(rp *db.ResponseRecordParams, m db.ReplyForAssessRow, id string) error {
	text, err := w.Deps.Catalog.Text(m.SurvivorLanguage, id, nil)
	if err != nil {
		return err
	}
	enc, segs := segment.Count(text)
	rp.Channel, rp.ReplyTo, rp.PeerHash, rp.PeerEnc = m.Channel, m.ReplyTo, m.PeerHash, m.PeerEnc
	rp.AnswerEnc = w.Deps.Keyring.SealString(crypt.MessageBody, text)
	rp.Template, rp.Language, rp.Provider = &id, &m.SurvivorLanguage, m.Provider
	rp.Segments, rp.Encoding, rp.AnsweredAt = ptr(int32(segs)), ptr(string(enc)), m.CreatedAt
	return nil
}
