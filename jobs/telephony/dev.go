package telephony

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"saathi/db"
	"saathi/db/crypt"
	"saathi/jobs"
)

// Dev is the no-network provider: every message and call is stored in the
// dev_outbox table (encrypted like everything else) and shown at
// /dev/outbox, so a newcomer sees check-ins flow without a Twilio account.
type Dev struct {
	pool    *pgxpool.Pool
	keyring *crypt.Keyring
}

var (
	_ jobs.Sender = (*Dev)(nil)
	_ jobs.Caller = (*Dev)(nil)
)

// Outbox channels.
const (
	channelSMS  = "sms"
	channelCall = "call"
)

// NewDev returns the dev provider.
func NewDev(pool *pgxpool.Pool, keyring *crypt.Keyring) *Dev {
	return &Dev{pool: pool, keyring: keyring}
}

// SendSMS stores the text in the outbox.
func (d *Dev) SendSMS(ctx context.Context, sms jobs.SMS) (jobs.SendResult, error) {
	sid := newSID("SM")
	_, err := db.New(d.pool).DevOutboxCreate(ctx, db.DevOutboxCreateParams{
		Sid: sid, Channel: channelSMS,
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
		if r.Channel == channelSMS && err1 == nil && err2 == nil && rto == to && rbody == body {
			out = append(out, jobs.SendResult{SID: r.Sid, Status: "sent"})
		}
	}
	return out, nil
}

// PlaceCall stores the call in the outbox, with the URL Twilio would fetch
// as its body: it holds IDs, never personal data, and it is what a
// simulated answer requests. The call stays "queued": nothing dials it.
func (d *Dev) PlaceCall(ctx context.Context, c jobs.Call) (jobs.SendResult, error) {
	if err := checkCall(c); err != nil {
		return jobs.SendResult{}, err
	}
	sid := newSID("CA")
	_, err := db.New(d.pool).DevOutboxCreate(ctx, db.DevOutboxCreateParams{
		Sid: sid, Channel: channelCall,
		ToEnc:   d.keyring.SealString(crypt.OutboxTo, c.To),
		BodyEnc: d.keyring.SealString(crypt.OutboxBody, c.URL),
	})
	if err != nil {
		return jobs.SendResult{}, fmt.Errorf("dev outbox: store call: %w", err)
	}
	return jobs.SendResult{SID: sid, Status: "queued"}, nil
}

// FindCalls looks through the outbox, newest first.
func (d *Dev) FindCalls(ctx context.Context, to string, since time.Time) ([]jobs.SendResult, error) {
	rows, err := db.New(d.pool).DevOutboxSince(ctx, since.Add(-time.Second))
	if err != nil {
		return nil, fmt.Errorf("dev outbox: find calls: %w", err)
	}
	var out []jobs.SendResult
	for i := len(rows) - 1; i >= 0; i-- {
		r := rows[i]
		if r.Channel != channelCall {
			continue
		}
		if rto, err := d.keyring.OpenString(crypt.OutboxTo, r.ToEnc); err == nil && rto == to {
			out = append(out, jobs.SendResult{SID: r.Sid, Status: "queued"})
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
