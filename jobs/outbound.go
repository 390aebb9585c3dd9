package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"saathi/db"
	"saathi/db/crypt"
	"saathi/locales/segment"
)

// outboundSMS is one text that must reach its recipient at most once,
// whatever the retries: an alert text to a staff member, or the answer to
// a survivor's reply.
type outboundSMS struct {
	to, body, template, language string
	// earlier lists the attempts already made at this same text.
	earlier func(context.Context, *db.Queries) ([]db.Message, error)
	// record is the new attempt's row; sendOnce fills in the peer, body,
	// template, provider, segments and time.
	record db.MessageCreateAttemptParams
}

// sendOnce sends a text exactly once, with the same record-first,
// reconcile-on-retry discipline as check-ins: an attempt is committed
// before the provider is called; an attempt whose outcome is unknown is
// given time for its status callback, then looked up at the provider
// before anything is sent again. It reports whether the text was accepted
// in this call, or the provider's final refusal of the number. A retryable
// refusal or an unknown outcome is returned as an error: River retries.
func (d *Deps) sendOnce(ctx context.Context, o outboundSMS) (sent bool, refused *SendError, err error) {
	q := db.New(d.Pool)
	msgs, err := o.earlier(ctx, q)
	if err != nil {
		return false, nil, err
	}
	now := d.now()
	for _, m := range msgs {
		if m.ProviderSid != nil {
			return false, nil, nil // sent before
		}
		if m.Status != StatusAttempting {
			continue
		}
		if age := now.Sub(m.CreatedAt); age < reconcileGrace {
			return false, nil, river.JobSnooze(reconcileGrace - age)
		}
		candidates, err := d.Sender.FindSMS(ctx, o.to, o.body, m.CreatedAt.Add(-time.Minute))
		if err != nil {
			return false, nil, err
		}
		res, found, err := unclaimed(ctx, q, candidates)
		if err != nil {
			return false, nil, err
		}
		if found {
			return true, nil, q.MessageAccepted(ctx, db.MessageAcceptedParams{ID: m.ID, ProviderSid: &res.SID, Status: orAccepted(res.Status), Now: now})
		}
		if err := q.MessageFailed(ctx, db.MessageFailedParams{ID: m.ID, ErrorMessage: ptr("not accepted by the provider (reconciled)"), Now: now}); err != nil {
			return false, nil, err
		}
	}

	enc, segs := segment.Count(o.body)
	p := o.record
	p.PeerHash, p.PeerEnc = d.Keyring.BlindIndex(o.to), d.Keyring.SealString(crypt.MessagePeer, o.to)
	p.BodyEnc = d.Keyring.SealString(crypt.MessageBody, o.body)
	p.Template, p.Language = &o.template, &o.language
	p.Provider, p.Segments, p.Encoding, p.Now = providerName(d.Sender), ptr(int32(segs)), ptr(string(enc)), now
	attempt, err := q.MessageCreateAttempt(ctx, p)
	if err != nil {
		return false, nil, err
	}
	res, sendErr := d.Sender.SendSMS(ctx, SMS{To: o.to, Body: o.body,
		StatusCallback: d.PublicURL + "/twilio/status?m=" + fmt.Sprint(attempt.ID)})
	d.Metrics.sendOutcome("sms", sendErr)
	var se *SendError
	switch {
	case sendErr == nil:
		return true, nil, q.MessageAccepted(ctx, db.MessageAcceptedParams{ID: attempt.ID, ProviderSid: &res.SID, Status: orAccepted(res.Status), Now: d.now()})
	case errors.As(sendErr, &se):
		code := int32(se.Code)
		if err := q.MessageFailed(ctx, db.MessageFailedParams{ID: attempt.ID, ErrorCode: &code, Now: d.now()}); err != nil {
			return false, nil, err
		}
		if se.Retryable() {
			return false, nil, sendErr
		}
		return false, se, nil
	default:
		return false, nil, sendErr // unknown outcome: the retry reconciles
	}
}

func orAccepted(s string) string {
	if s == "" {
		return "accepted"
	}
	return s
}
