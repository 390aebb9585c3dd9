package main

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/alexedwards/argon2id"
	"github.com/jackc/pgx/v5"

	"saathi/db/dbtest"
	"saathi/handlers"
)

// TestSeedDemoPrintsWorkingCredentials: what make run prints is what a
// newcomer types: each demo username with a password that signs them in,
// each API token next to its own staff member, and every command aimed at
// the service's address.
func TestSeedDemoPrintsWorkingCredentials(t *testing.T) {
	t.Parallel()
	dbURL := dbtest.NewURL(t)
	env := testEnv(t, dbURL)
	code, out, errOut := runCLI(t, env, "seed-demo")
	if code != 0 {
		t.Fatalf("seed-demo: exit %d: %s", code, errOut)
	}
	for _, want := range []string{"Open http://localhost:8080/dashboard", "http://localhost:8080/dev/simulator", "http://localhost:8080/dev/outbox"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	conn, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	cfg, err := LoadConfig(getenvFrom(env))
	if err != nil {
		t.Fatal(err)
	}
	kr, err := cfg.Keyring()
	if err != nil {
		t.Fatal(err)
	}

	logins := regexp.MustCompile(`username (admin|supervisor|caseworker)\s+password (\S+)`).FindAllStringSubmatch(out, -1)
	if len(logins) != 3 {
		t.Fatalf("printed logins: %q", logins)
	}
	for _, m := range logins {
		var role, hash string
		if err := conn.QueryRow(context.Background(), "SELECT role, password_hash FROM staff WHERE username_hash = $1", handlers.UsernameIndex(kr, m[1])).Scan(&role, &hash); err != nil {
			t.Fatalf("username %s: %v", m[1], err)
		}
		if ok, err := argon2id.ComparePasswordAndHash(m[2], hash); err != nil || !ok || role != m[1] {
			t.Errorf("username %s: the printed password does not sign in (%v, role %s)", m[1], err, role)
		}
		if strings.Contains(out, "sth_"+m[2]) {
			t.Errorf("username %s: the password is part of an API token", m[1])
		}
	}

	tokens := regexp.MustCompile(`(?m)^  (admin|supervisor|caseworker)\s+(\S+)\s+token (\S+)$`).FindAllStringSubmatch(out, -1)
	if len(tokens) != 3 {
		t.Fatalf("printed tokens: %q", tokens)
	}
	for _, m := range tokens {
		var n int
		if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM staff WHERE id::text = $1 AND role = $2 AND token_hash = $3", m[2], m[1], handlers.HashToken(m[3])).Scan(&n); err != nil || n != 1 {
			t.Errorf("%s: printed ID %s and token do not belong together (%v)", m[1], m[2], err)
		}
	}

	for line := range strings.Lines(out) {
		if !strings.Contains(line, "curl ") {
			continue
		}
		if !regexp.MustCompile(`curl -s (-X [A-Z]+ )?http://localhost:8080/`).MatchString(line) {
			t.Errorf("a command not aimed at the service: %s", line)
		}
		if strings.Contains(line, "Bearer ") && !regexp.MustCompile(`Bearer (\$ADMIN|sth_[A-Za-z0-9_-]+)"`).MatchString(line) {
			t.Errorf("a command without a token: %s", line)
		}
	}
}
