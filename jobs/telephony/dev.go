package telephony

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"saathi/db"
	"saathi/db/crypt"
	"saathi/jobs"
)

// Dev is the no-network provider: every message is stored in the
// dev_outbox table (encrypted like everything else) and shown at
// /dev/outbox, so a newcomer sees check-ins flow without a Twilio account.
type Dev struct {
	pool    *pgxpool.Pool
	keyring *crypt.Keyring
}

var _ jobs.Sender = (*Dev)(nil)

// NewDev returns the dev provider.
func NewDev(pool *pgxpool.Pool, keyring *crypt.Keyring) *Dev {
	return &Dev{pool: pool, keyring: keyring}
}

// SendSMS stores the text in the outbox.
func (d *Dev) SendSMS(ctx context.Context, sms jobs.SMS) (jobs.SendResult, error) {
	sid := newSID("SM")
	_, err := db.New(d.pool).DevOutboxCreate(ctx, db.DevOutboxCreateParams{
		Sid: sid, Channel: "sms",
		ToEnc:   d.keyring.SealString(crypt.OutboxTo, sms.To),
		BodyEnc: d.keyring.SealString(crypt.OutboxBody, sms.Body),
	})
	if err != nil {
		return jobs.SendResult{}, err
	}
	return jobs.SendResult{SID: sid, Status: "sent"}, nil
}

// FindSMS looks through the outbox.
func (d *Dev) FindSMS(ctx context.Context, to, body string, since time.Time) ([]jobs.SendResult, error) {
	rows, err := db.New(d.pool).DevOutboxSince(ctx, since.Add(-time.Second))
	if err != nil {
		return nil, err
	}
	var out []jobs.SendResult
	for i := len(rows) - 1; i >= 0; i-- {
		r := rows[i]
		rto, err1 := d.keyring.OpenString(crypt.OutboxTo, r.ToEnc)
		rbody, err2 := d.keyring.OpenString(crypt.OutboxBody, r.BodyEnc)
		if err1 == nil && err2 == nil && rto == to && rbody == body {
			out = append(out, jobs.SendResult{SID: r.Sid, Status: "sent"})
		}
	}
	return out, nil
}

// newSID makes a Twilio-shaped SID: a two-letter prefix and 32 hex digits.
func newSID(prefix string) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// Name identifies the provider on message rows.
func (d *Dev) Name() string { return "dev" }
