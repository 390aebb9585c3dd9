package jobs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"saathi/db"
	"saathi/db/crypt"
	"saathi/jobs/reply"
	"saathi/locales"
	"saathi/locales/segment"
)

// Reply is what a survivor said: a text, or keys pressed on a check-in
// call. Both go through ReceiveReply, the one path from a transport to
// storage, understanding, consent, the answer and the assessment (which
// raises risk flags and alerts).
type Reply struct {
	Channel string // "sms" or "voice"
	// SID identifies this reply at the provider: a text's MessageSid, or a
	// call's CallSid and the step of the call. A second delivery of the
	// same SID changes nothing.
	SID string
	// From is the survivor's number (stored encrypted, as the peer).
	From       string
	Body       string // the text, or the keys pressed
	ReceivedAt time.Time
	// Spooled is set for a text replayed from the spool: Twilio was
	// answered long ago, with nothing, so the answer goes out as a text of
	// its own if it still may (ReplyAnswerArgs).
	Spooled bool
	// Call is the call the keys were pressed in (voice): the reply answers
	// that call's check-in.
	Call *db.Message
	// Answers maps what the reply meant to the locale message answering it
	// on this channel; an intent not in it is not answered.
	Answers map[reply.Intent]string
}

// ReplySurvivor is who sent a reply, as ReceiveReply needs them.
type ReplySurvivor struct {
	ID                 uuid.UUID
	Language           string
	Channels           []string
	DuressEnc, CodeEnc []byte
	SMSConsent         bool
}

// ReplyOutcome is what the transport answers with.
type ReplyOutcome struct {
	// Stored is false for a reply delivered before: nothing was done, and
	// nothing is answered again.
	Stored    bool
	MessageID int64
	Result    reply.Result
	// Answer is the locale message to answer with now ("" for none).
	Answer string
}

// AnswerLate is how long after a text arrived its answer may still go out
// as a text of its own, when the webhook could not answer at once (the
// text was spooled): later, "thank you" would puzzle more than help.
const AnswerLate = 15 * time.Minute

// SurvivorReply is one reply and who sent it.
type SurvivorReply struct {
	Survivor ReplySurvivor
	Reply    Reply
}

// ReceiveReply stores a survivor's reply once, inside the caller's
// transaction, and does at once what cannot wait: a STOP or START by text
// changes consent; the answer is chosen; the assessment job (which links
// the reply to its check-in and raises any risk flag) is inserted in the
// same transaction, urgent replies first.
func (d *Deps) ReceiveReply(ctx context.Context, ins Inserter, tx pgx.Tx, sv ReplySurvivor, r Reply) (ReplyOutcome, error) {
	outs, err := d.ReceiveReplies(ctx, ins, tx, []SurvivorReply{{Survivor: sv, Reply: r}})
	if err != nil {
		return ReplyOutcome{}, err
	}
	return outs[0], nil
}

// ReceiveReplies is ReceiveReply for several replies in one transaction
// (the texts of one group commit, see handlers), in a fixed number of
// round trips whatever their number: the messages are stored in one
// pipelined batch and the jobs inserted in one statement. Only a STOP or
// START takes statements of its own. The outcomes are in the order of rs.
func (d *Deps) ReceiveReplies(ctx context.Context, ins Inserter, tx pgx.Tx, rs []SurvivorReply) ([]ReplyOutcome, error) {
	q := db.New(tx)
	params := make([]db.MessageReceiveManyParams, len(rs))
	for i, sr := range rs {
		r := sr.Reply
		p := db.MessageReceiveManyParams{
			Channel: r.Channel, SurvivorID: &sr.Survivor.ID, Purpose: "reply",
			PeerHash: d.Keyring.BlindIndex(r.From), PeerEnc: d.Keyring.SealString(crypt.MessagePeer, r.From),
			BodyEnc: d.Keyring.SealString(crypt.MessageBody, r.Body), Provider: "twilio", ProviderSid: &r.SID, Now: r.ReceivedAt,
		}
		if r.Channel == "sms" {
			enc, segs := segment.Count(r.Body)
			p.Segments, p.Encoding = ptr(int32(segs)), ptr(string(enc))
		}
		if r.Call != nil {
			p.ReplyTo, p.CheckinID = &r.Call.ID, r.Call.CheckinID
		}
		params[i] = p
	}
	outs := make([]ReplyOutcome, len(rs))
	var storeErr error
	q.MessageReceiveMany(ctx, params).QueryRow(func(i int, id int64, err error) {
		switch {
		case err == nil:
			outs[i] = ReplyOutcome{Stored: true, MessageID: id}
		case errors.Is(err, pgx.ErrNoRows):
			// delivered before: nothing is done, nothing answered again
		case storeErr == nil:
			storeErr = fmt.Errorf("store reply: %w", err)
		}
	})
	if storeErr != nil {
		return nil, storeErr
	}

	var queued []river.InsertManyParams
	for i, sr := range rs {
		if !outs[i].Stored {
			continue
		}
		jobs, err := d.actOnReply(ctx, q, sr.Survivor, sr.Reply, &outs[i])
		if err != nil {
			return nil, err
		}
		queued = append(queued, jobs...)
	}
	if len(queued) > 0 {
		if _, err := ins.InsertManyTx(ctx, tx, queued); err != nil {
			return nil, fmt.Errorf("enqueue assessment: %w", err)
		}
	}
	return outs, nil
}

// actOnReply understands a stored reply, changes consent on a STOP or
// START by text, chooses the answer and returns the jobs to insert for it.
func (d *Deps) actOnReply(ctx context.Context, q *db.Queries, sv ReplySurvivor, r Reply, out *ReplyOutcome) ([]river.InsertManyParams, error) {
	res, err := d.Understand(r.Channel, r.Body, sv.DuressEnc, sv.CodeEnc)
	if err != nil {
		return nil, err
	}
	out.Result = res

	switch {
	case r.Channel != "sms":
		out.Answer = r.Answers[res.Intent] // a call they answered: always spoken to
	case res.Intent == reply.OptOut:
		// Withdrawn at once, confirmed once; nothing more until START.
		if sv.SMSConsent {
			if err := recordSurvivorConsent(ctx, q, sv.ID, "withdraw", r.ReceivedAt); err != nil {
				return nil, err
			}
			out.Answer = locales.OptOutConfirm
		}
	case res.Intent == reply.OptIn:
		if !sv.SMSConsent && slices.Contains(sv.Channels, "sms") {
			if err := recordSurvivorConsent(ctx, q, sv.ID, "give", r.ReceivedAt); err != nil {
				return nil, err
			}
			out.Answer = locales.OptInConfirm
		}
	case sv.SMSConsent:
		out.Answer = r.Answers[res.Intent]
	}

	opts := &river.InsertOpts{Priority: replyPriority(res)}
	var queued []river.InsertManyParams
	if r.Spooled {
		// Only what is sent goes on record: the answer job records its
		// own text when (and if) it goes out.
		if out.Answer != "" && d.now().Sub(r.ReceivedAt) <= AnswerLate {
			args := ReplyAnswerArgs{MessageID: out.MessageID, Answer: out.Answer, Deadline: r.ReceivedAt.Add(AnswerLate)}
			queued = append(queued, river.InsertManyParams{Args: args, InsertOpts: opts})
		}
		out.Answer = ""
	}
	queued = append(queued, river.InsertManyParams{Args: ReplyAssessArgs{MessageID: out.MessageID, Answer: out.Answer}, InsertOpts: opts})
	return queued, nil
}

// replyPriority: a "3" or the duress word must not wait behind a thousand
// "1"s.
func replyPriority(res reply.Result) int {
	switch {
	case res.Intent == reply.HelpNow || res.Intent == reply.Duress:
		return 1
	case res.Intent == reply.CallMe || len(res.Danger) > 0:
		return 2
	}
	return 3
}

// Understand reads a reply the same way wherever it is read (on arrival
// and in the assessment): keys on a call against the duress code; a text
// against the duress word, and as the duress code if that is all it says.
func (d *Deps) Understand(channel, body string, duressEnc, codeEnc []byte) (reply.Result, error) {
	word, code := "", ""
	var err error
	if duressEnc != nil {
		if word, err = d.Keyring.OpenString(crypt.SurvivorDuress, duressEnc); err != nil {
			return reply.Result{}, err
		}
	}
	if codeEnc != nil {
		if code, err = d.Keyring.OpenString(crypt.SurvivorDuressCode, codeEnc); err != nil {
			return reply.Result{}, err
		}
	}
	if channel == "voice" {
		return reply.ParseKeys(body, code), nil
	}
	if reply.IsDuressCode(body, code) {
		return reply.Result{Intent: reply.Duress, Evidence: []string{"duress code"}}, nil
	}
	return d.Replies.Parse(body, word), nil
}

// recordSurvivorConsent records the survivor's own STOP or START. The
// survivor's row is locked first, as every consent change does: the record
// then lands after (and takes effect no earlier than, see
// ConsentRecordCreate) any staff change made meanwhile.
func recordSurvivorConsent(ctx context.Context, q *db.Queries, id uuid.UUID, action string, now time.Time) error {
	if _, err := q.SurvivorGetForUpdate(ctx, id); err != nil {
		return err
	}
	_, err := q.ConsentRecordCreate(ctx, db.ConsentRecordCreateParams{
		SurvivorID: id, Action: action, Channels: []string{"sms"}, Method: "sms_keyword", Source: "survivor", RecordedAt: now,
	})
	return err
}
