package main

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"saathi/db/dbtest"
)

// TestStaffTokenAndDeactivateCommands: an NGO's engineer rotates a lost
// token and ends a leaver's access from the command line; mistakes name
// the problem and exit non-zero, changing nothing.
func TestStaffTokenAndDeactivateCommands(t *testing.T) {
	t.Parallel()
	url := dbtest.NewURL(t)
	env := testEnv(t, url)
	code, out, errOut := runCLI(t, env, "staff", "add", "--name", "Kiran", "--role", "caseworker", "--phone", "+919000000001")
	if code != 0 {
		t.Fatalf("staff add: exit %d: %s", code, errOut)
	}
	id := regexp.MustCompile(`\(id ([0-9a-f-]{36})\)`).FindStringSubmatch(out)[1]
	first := tokenRE.FindStringSubmatch(out)[1]

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tokenHash := func() string {
		var h string
		if err := conn.QueryRow(ctx, "SELECT encode(token_hash, 'hex') FROM staff WHERE id = $1", id).Scan(&h); err != nil {
			t.Fatal(err)
		}
		return h
	}
	before := tokenHash()

	code, out, errOut = runCLI(t, env, "staff", "token", id)
	second := regexp.MustCompile(`(sth_[A-Za-z0-9_-]+)`).FindStringSubmatch(out)
	if code != 0 || second == nil || second[1] == first || tokenHash() == before {
		t.Fatalf("staff token: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"staff", "deactivate"}, 2, "give exactly one staff ID"},
		{[]string{"staff", "deactivate", "nope"}, 2, `"nope" is not a staff ID`},
		{[]string{"staff", "deactivate", "00000000-0000-4000-8000-000000000099"}, 1, "no staff member with that ID"},
		{[]string{"staff", "token", "00000000-0000-4000-8000-000000000099"}, 1, "no staff member with that ID"},
		{[]string{"staff", "retire", id}, 2, `unknown subcommand "retire"`},
	} {
		code, _, errOut := runCLI(t, env, tt.args...)
		if code != tt.code || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", tt.args, code, errOut, tt.code, tt.want)
		}
	}

	if code, out, errOut := runCLI(t, env, "staff", "deactivate", id); code != 0 || !strings.Contains(out, "deactivated") {
		t.Fatalf("deactivate: exit %d, %q %q", code, out, errOut)
	}
	var deactivated bool
	if err := conn.QueryRow(ctx, "SELECT deactivated_at IS NOT NULL FROM staff WHERE id = $1", id).Scan(&deactivated); err != nil || !deactivated {
		t.Errorf("not deactivated: %v", err)
	}
	var audited int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM audit_log WHERE action IN ('staff.deactivate', 'staff.token.rotate') AND detail->>'staff_id' = $1 AND detail->>'via' = 'cli'", id).Scan(&audited); err != nil || audited != 2 {
		t.Errorf("CLI actions audited: %d, %v; want 2", audited, err)
	}
	if code, _, errOut := runCLI(t, env, "staff", "deactivate", id); code != 1 || !strings.Contains(errOut, "deactivated") {
		t.Errorf("deactivate twice: exit %d, %q", code, errOut)
	}
	if code, _, errOut := runCLI(t, env, "staff", "token", id); code != 1 || !strings.Contains(errOut, "deactivated") {
		t.Errorf("token for a deactivated member: exit %d, %q", code, errOut)
	}
}
