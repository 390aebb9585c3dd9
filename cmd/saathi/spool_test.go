package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"saathi/db"
	"saathi/db/crypt"
	"saathi/handlers"
	"saathi/jobs/telephony/twiliofake"
)

// TestServeReplaysSpool: a reply spooled by an earlier process (sealed with
// the configured key, signed by Twilio) reaches the database once `saathi
// serve` is up, through the replayer Main starts: nothing here calls
// ReplaySpool.
func TestServeReplaysSpool(t *testing.T) {
	t.Parallel()
	fake := twiliofake.New(t)
	fake.AllowUnused() // the sender is nobody Saathi knows: nothing is sent
	spoolDir := filepath.Join(t.TempDir(), "spool")
	env := twilioEnv(t, fake, spoolDir)
	cfg, err := LoadConfig(getenvFrom(env))
	if err != nil {
		t.Fatal(err)
	}
	keyring, err := cfg.Keyring()
	if err != nil {
		t.Fatal(err)
	}

	// Spooled by an earlier process while the database was down.
	const sid, text = "SM0123456789abcdef0123456789abcdef", "3 मुझे मदद चाहिए"
	form := url.Values{"MessageSid": {sid}, "AccountSid": {fake.AccountSID}, "From": {"+919811111111"}, "To": {"+15005550006"}, "Body": {text}}
	params := map[string]string{}
	for k, v := range form {
		params[k] = v[0]
	}
	webhook := cfg.PublicURL + "/twilio/sms"
	earlier, err := handlers.NewSpool(spoolDir, keyring)
	if err != nil {
		t.Fatal(err)
	}
	if err := earlier.Append(handlers.SpooledRequest{
		URL: webhook, Params: params, Signature: twiliofake.Signature(fake.AuthToken, webhook, form), ReceivedAt: time.Now(),
	}); err != nil {
		t.Fatal(err)
	}

	m := NewMain()
	m.Config = cfg
	m.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := m.Run(context.Background()); err != nil {
		t.Fatalf("run: %v", err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})

	ctx := context.Background()
	pool, err := db.Connect(ctx, cfg.DatabaseURL, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var bodyEnc []byte
		err := pool.QueryRow(ctx, "SELECT body_enc FROM messages WHERE direction = 'in' AND provider_sid = $1", sid).Scan(&bodyEnc)
		if err == nil {
			if body, err := keyring.OpenString(crypt.MessageBody, bodyEnc); err != nil || body != text {
				t.Fatalf("stored body %q (%v), want the spooled text", body, err)
			}
			break
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("the spooled reply did not reach the database within 15 s of serve starting")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
