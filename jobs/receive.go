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

// ReceiveReply stores a survivor's reply once, inside the caller's
// transaction, and does at once what cannot wait: a STOP or START by text
// changes consent; the answer is chosen; the assessment job (which links
// the reply to its check-in and raises any risk flag) is inserted in the
// same transaction, urgent replies first.
func (d *Deps) ReceiveReply(ctx context.Context, ins Inserter, tx pgx.Tx, sv ReplySurvivor, r Reply) (ReplyOutcome, error) {
	q := db.New(tx)
	p := db.MessageReceiveParams{
		Channel: r.Channel, SurvivorID: &sv.ID, Purpose: "reply",
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
	msgID, err := q.MessageReceive(ctx, p)
	if errors.Is(err, pgx.ErrNoRows) {
		return ReplyOutcome{}, nil // delivered before
	}
	if err != nil {
		return ReplyOutcome{}, fmt.Errorf("store reply: %w", err)
	}
	res, err := d.Understand(r.Channel, r.Body, sv.DuressEnc, sv.CodeEnc)
	if err != nil {
		return ReplyOutcome{}, err
	}
	out := ReplyOutcome{Stored: true, MessageID: msgID, Result: res}

	switch {
	case r.Channel != "sms":
		out.Answer = r.Answers[res.Intent] // a call they answered: always spoken to
	case res.Intent == reply.OptOut:
		// Withdrawn at once, confirmed once; nothing more until START.
		if sv.SMSConsent {
			if err := recordSurvivorConsent(ctx, q, sv.ID, "withdraw", r.ReceivedAt); err != nil {
				return ReplyOutcome{}, err
			}
			out.Answer = locales.OptOutConfirm
		}
	case res.Intent == reply.OptIn:
		if !sv.SMSConsent && slices.Contains(sv.Channels, "sms") {
			if err := recordSurvivorConsent(ctx, q, sv.ID, "give", r.ReceivedAt); err != nil {
				return ReplyOutcome{}, err
			}
			out.Answer = locales.OptInConfirm
		}
	case sv.SMSConsent:
		out.Answer = r.Answers[res.Intent]
	}

	priority := replyPriority(res)
	if r.Spooled {
		// Only what is sent goes on record: the answer job records its
		// own text when (and if) it goes out.
		if out.Answer != "" && d.now().Sub(r.ReceivedAt) <= AnswerLate {
			args := ReplyAnswerArgs{MessageID: msgID, Answer: out.Answer, Deadline: r.ReceivedAt.Add(AnswerLate)}
			if _, err := ins.InsertTx(ctx, tx, args, &river.InsertOpts{Priority: priority}); err != nil {
				return ReplyOutcome{}, fmt.Errorf("enqueue answer: %w", err)
			}
		}
		out.Answer = ""
	}
	if _, err := ins.InsertTx(ctx, tx, ReplyAssessArgs{MessageID: msgID, Answer: out.Answer}, &river.InsertOpts{Priority: priority}); err != nil {
		return ReplyOutcome{}, fmt.Errorf("enqueue assessment: %w", err)
	}
	return out, nil
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
