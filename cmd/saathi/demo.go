package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"

	"github.com/google/uuid"

	"saathi/db"
	"saathi/db/crypt"
	"saathi/handlers"
)

// Demo staff have fixed IDs so seed-demo can run on every `make run` and
// hand out fresh tokens without piling up staff.
var (
	demoAdminID      = uuid.MustParse("00000000-0000-4000-8000-00000000000a")
	demoSupervisorID = uuid.MustParse("00000000-0000-4000-8000-00000000000b")
	demoCaseworkerID = uuid.MustParse("00000000-0000-4000-8000-00000000000c")
)

// seedDemoCmd creates (or refreshes) a demo admin, supervisor and
// caseworker and prints their tokens and a first request to try. It refuses
// to run unless the provider is dev: demo accounts have no place in a real
// deployment.
func seedDemoCmd(ctx context.Context, cfg Config, stdout io.Writer) error {
	if cfg.Provider != "dev" {
		return errors.New("seed-demo only runs with SAATHI_PROVIDER=dev")
	}
	pool, kr, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	q := db.New(pool)

	type demo struct {
		id              uuid.UUID
		name, role, tel string
		supervisor      *uuid.UUID
		token, password string
	}
	staff := []*demo{
		{id: demoAdminID, name: "Demo Admin", role: handlers.RoleAdmin},
		{id: demoSupervisorID, name: "Demo Supervisor", role: handlers.RoleSupervisor, tel: "+919000000002"},
		{id: demoCaseworkerID, name: "Demo Caseworker", role: handlers.RoleCaseworker, tel: "+919000000001", supervisor: &demoSupervisorID},
	}
	for _, d := range staff {
		token, hash := handlers.NewToken()
		// A fresh password on every run too, apart from the token (80
		// random bits): demo accounts are never guessable, even on a laptop
		// left open.
		d.password = rand.Text()[:16]
		pwHash, err := handlers.HashPassword(d.password)
		if err != nil {
			return err
		}
		p := db.StaffUpsertDemoParams{
			ID: d.id, NameEnc: kr.SealString(crypt.StaffName, d.name), Role: d.role, SupervisorID: d.supervisor,
			Language: "en", TokenHash: hash, PasswordHash: &pwHash,
			UsernameHash: handlers.UsernameIndex(kr, d.role), UsernameEnc: kr.SealString(crypt.StaffUsername, d.role),
		}
		if d.tel != "" {
			p.PhoneEnc, p.PhoneHash = kr.SealString(crypt.StaffPhone, d.tel), kr.BlindIndex(d.tel)
		}
		if _, err := q.StaffUpsertDemo(ctx, p); err != nil {
			return fmt.Errorf("seed %s: %w", d.name, err)
		}
		d.token = token
	}
	fmt.Fprintf(stdout, `Open %[1]s/dashboard and sign in (fresh passwords on every run):
  username admin       password %[2]s
  username supervisor  password %[3]s
  username caseworker  password %[4]s

The whole loop in two minutes, in the browser:
  1. Sign in as admin. Survivors → Enrol: any Indian mobile number (e.g. +919876543210),
     caseworker "Demo Caseworker", tick every day and set the safe time 00:00 to 23:59
     so the check-in can go now (a real window keeps it for a safe moment).
  2. On their page, "Ask for a check-in by SMS" → Send.
  3. Be the survivor: open %[1]s/dev/simulator in another tab, pick their phone
     (the check-in is there), and reply 3. Or ask for a voice check-in, answer the
     call and press 3, or give a missed call.
  4. Back on %[1]s/dashboard, the urgent alert appears without a reload. Open it,
     Acknowledge, then Resolve with a note. The caseworker's text with the alert's
     link is in %[1]s/dev/outbox; the link opens the alert after sign-in.
`, cfg.PublicURL, staff[0].password, staff[1].password, staff[2].password)
	fmt.Fprintf(stdout, `
Demo staff for the API (fresh tokens on every run):
  admin       %s  token %s
  supervisor  %s  token %s
  caseworker  %s  token %s

Try it (the survivor's window below is open all day, every day, so the check-in goes out at once):

  export ADMIN=%s
  curl -s -X POST %s/api/v1/survivors -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' -d '{
    "reference": "DEMO-0001", "phone": "+919876543210", "language": "hi", "channels": ["sms", "voice"],
    "timezone": "Asia/Kolkata", "caseworker_id": "%s", "duress_word": "mango",
    "contact_windows": [{"days": ["mon","tue","wed","thu","fri","sat","sun"], "start": "00:00", "end": "24:00"}],
    "duress_code": "4821",
    "consent": {"channels": ["sms", "voice"], "method": "verbal", "recorded_at": "2026-11-20T10:00:00+05:30"}}'
  export SURVIVOR=<id from above>
  curl -s -X POST %s/api/v1/survivors/$SURVIVOR/checkins -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' -d '{"channel": "sms"}'
  curl -s %s/dev/outbox

Then reply as the survivor would ("3" = I need help now) and watch the alert reach the caseworker:

  curl -s -X POST %s/dev/inbound -H 'Content-Type: application/json' -d '{"from": "+919876543210", "body": "3"}'
  curl -s %s/api/v1/alerts -H "Authorization: Bearer %s"
  curl -s %s/dev/outbox

A check-in call: the call appears in the outbox (channel "call"); answer it as a person would, then press 3:

  curl -s -X POST %s/api/v1/survivors/$SURVIVOR/checkins -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' -d '{"channel": "voice"}'
  curl -s %s/dev/outbox
  curl -s -X POST %s/dev/voice/answer -H 'Content-Type: application/json' -d '{"call": "<sid of the call>", "answered_by": "human"}'
  curl -s -X POST %s/dev/voice/press -H 'Content-Type: application/json' -d '{"call": "<sid of the call>", "digits": "3"}'

A missed call from the survivor is rejected (nobody pays) and called back once:

  curl -s -X POST %s/dev/voice/missed -H 'Content-Type: application/json' -d '{"from": "+919876543210"}'
`, staff[0].id, staff[0].token, staff[1].id, staff[1].token, staff[2].id, staff[2].token,
		staff[0].token, cfg.PublicURL, staff[2].id, cfg.PublicURL, cfg.PublicURL,
		cfg.PublicURL, cfg.PublicURL, staff[2].token, cfg.PublicURL,
		cfg.PublicURL, cfg.PublicURL, cfg.PublicURL, cfg.PublicURL, cfg.PublicURL)
	return nil
}
