package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"saathi/db/dbtest"
	"saathi/handlers"
	"saathi/jobs"
)

// demoService boots the real service (web and workers, dev provider) with
// the make-run demo staff, and returns a caller of its API as the demo
// admin and the demo caseworker's ID.
func demoService(t *testing.T, env map[string]string) (call func(method, path string, body any) (int, map[string]any), caseworker string) {
	t.Helper()
	code, out, errOut := runCLI(t, env, "seed-demo")
	if code != 0 {
		t.Fatalf("seed-demo: exit %d: %s", code, errOut)
	}
	admin := regexp.MustCompile(`admin\s+\S+\s+token (sth_\S+)`).FindStringSubmatch(out)
	cw := regexp.MustCompile(`caseworker\s+(\S+)\s+token`).FindStringSubmatch(out)
	if admin == nil || cw == nil {
		t.Fatalf("seed-demo printed no admin token or caseworker: %q", out)
	}
	cfg, err := LoadConfig(getenvFrom(env))
	if err != nil {
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
	return func(method, path string, body any) (int, map[string]any) {
		t.Helper()
		var rd io.Reader
		if body != nil {
			raw, _ := json.Marshal(body)
			rd = bytes.NewReader(raw)
		}
		req, _ := http.NewRequest(method, m.URL()+path, rd)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+admin[1])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}, cw[1]
}

// exportAudits counts survivor.export audit rows made by the CLI.
func exportAudits(t *testing.T, url, survivor string) int {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM audit_log
		WHERE action = 'survivor.export' AND survivor_id = $1 AND staff_id IS NULL AND detail->>'via' = 'cli'`, survivor).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestExportSurvivor: a survivor asks for their data. The demo flow runs
// (enrol with a duress word, a cadence, reply "3", use the duress word, an
// alert resolved with a note); the export has their profile with their
// number in full, consent history, windows, cadence, what they said and
// what Saathi sent, the alerts with their notes, in a new file only its
// owner can read, and it is audited. The duress word never appears.
func TestExportSurvivor(t *testing.T) {
	t.Parallel()
	url := dbtest.NewURL(t)
	env := testEnv(t, url)
	call, cw := demoService(t, env)

	all := []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}
	code, sv := call("POST", "/api/v1/survivors", map[string]any{
		"reference": "DEMO-0001", "phone": "+919876543210", "language": "hi", "channels": []string{"sms", "voice"},
		"timezone": "Asia/Kolkata", "caseworker_id": cw, "duress_word": "mango", "duress_code": "4821",
		"contact_windows": []map[string]any{{"days": all, "start": "00:00", "end": "24:00"}},
		"consent":         map[string]any{"channels": []string{"sms", "voice"}, "method": "verbal", "recorded_at": "2026-11-20T10:00:00+05:30"},
	})
	if code != http.StatusCreated {
		t.Fatalf("enrol: %d %v", code, sv)
	}
	id := sv["id"].(string)
	if code, body := call("PUT", "/api/v1/survivors/"+id+"/cadence", map[string]any{"phases": []map[string]any{{"every_days": 7, "times": 4}}}); code != http.StatusOK {
		t.Fatalf("cadence: %d %v", code, body)
	}
	for _, text := range []string{"3", "mango is ripe"} {
		if code, body := call("POST", "/dev/inbound", map[string]any{"from": "+919876543210", "body": text}); code != http.StatusOK {
			t.Fatalf("reply %q: %d %v", text, code, body)
		}
	}
	var alerts []any
	for deadline := time.Now().Add(15 * time.Second); len(alerts) < 2; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("two alerts were not raised within 15 s: %v", alerts)
		}
		_, body := call("GET", "/api/v1/alerts", nil)
		alerts, _ = body["alerts"].([]any)
	}
	first := alerts[0].(map[string]any)["id"].(string)
	if code, body := call("POST", "/api/v1/alerts/"+first+"/resolve", map[string]any{"note": "Called her; she is safe"}); code != http.StatusOK {
		t.Fatalf("resolve: %d %v", code, body)
	}

	file := filepath.Join(t.TempDir(), "export.json")
	code, out, errOut := runCLI(t, env, "export", "--survivor", id, "--out", file)
	if code != 0 || out != "" || !strings.Contains(errOut, "audited as survivor.export") {
		t.Fatalf("export: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	info, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("export file mode %v, want 0600", info.Mode().Perm())
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"mango", "4821"} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Errorf("the export contains the duress secret %q", secret)
		}
	}
	var exp handlers.SurvivorExport
	if err := json.Unmarshal(raw, &exp); err != nil {
		t.Fatal(err)
	}
	s := exp.Survivor
	if exp.Format != handlers.SurvivorExportFormat || s.ID.String() != id || s.Phone != "+919876543210" || s.Reference != "DEMO-0001" ||
		!s.HasDuressWord || !s.HasDuressCode || len(s.ContactWindows) != 1 || len(s.ConsentHistory) != 1 || s.Cadence == nil ||
		!s.Consent["sms"] || !s.Consent["voice"] {
		t.Errorf("profile: %+v", s)
	}
	if len(exp.PlannedCheckins) == 0 {
		t.Error("no planned check-ins from the cadence")
	}
	said := map[string]bool{}
	kinds := map[string]int{}
	for _, e := range exp.Timeline {
		kinds[e.Type]++
		if e.Type == "message" && e.Data["direction"] == "in" {
			said[e.Data["body"].(string)] = true
		}
	}
	if !said["3"] || !said["[duress word] is ripe"] {
		t.Errorf("the survivor's words in the timeline: %v", said)
	}
	for _, typ := range []string{"message", "response", "flag", "alert", "consent"} {
		if kinds[typ] == 0 {
			t.Errorf("timeline has no %s: %v", typ, kinds)
		}
	}
	notes := 0
	for _, a := range exp.Alerts {
		if a.Resolution == "Called her; she is safe" {
			notes++
		}
		if a.Evidence == nil || a.Evidence.Reply == "" || len(a.Timeline) == 0 {
			t.Errorf("alert %s without its words or history: %+v", a.ID, a)
		}
	}
	if len(exp.Alerts) != 2 || notes != 1 {
		t.Errorf("alerts: %d, with the resolution note: %d; want 2 and 1", len(exp.Alerts), notes)
	}
	if len(exp.Withheld) == 0 {
		t.Error("the export does not say what it withholds")
	}

	// To standard output: the JSON alone on stdout, the note on stderr.
	code, out, errOut = runCLI(t, env, "export", "--survivor", id)
	var again handlers.SurvivorExport
	if code != 0 || json.Unmarshal([]byte(out), &again) != nil || again.Survivor.Phone != "+919876543210" || strings.Contains(out, "audited") {
		t.Errorf("export to stdout: exit %d, stderr %q", code, errOut)
	}
	if n := exportAudits(t, url, id); n != 2 {
		t.Errorf("%d survivor.export audit rows, want 2", n)
	}

	// An existing file is never written over, and nothing is exported.
	code, _, errOut = runCLI(t, env, "export", "--survivor", id, "--out", file)
	if code != 1 || !strings.Contains(errOut, "already exists") {
		t.Errorf("export over an existing file: exit %d, %q", code, errOut)
	}
	if after, _ := os.ReadFile(file); !bytes.Equal(after, raw) {
		t.Error("an existing file was changed")
	}
	if n := exportAudits(t, url, id); n != 2 {
		t.Errorf("a refused export was audited: %d rows", n)
	}

	// Erased: nothing personal left, a clear error, no file.
	if code, body := call("DELETE", "/api/v1/survivors/"+id, nil); code != http.StatusNoContent {
		t.Fatalf("erase: %d %v", code, body)
	}
	gone := filepath.Join(t.TempDir(), "erased.json")
	code, out, errOut = runCLI(t, env, "export", "--survivor", id, "--out", gone)
	if code != 1 || !strings.Contains(errOut, "survivor erased on") || !strings.Contains(errOut, "nothing personal is left to export") || out != "" {
		t.Errorf("export of an erased survivor: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if _, err := os.Stat(gone); !os.IsNotExist(err) {
		t.Errorf("a failed export left a file: %v", err)
	}
}

// TestExportUsage: mistakes name the problem; an unknown survivor is an
// error, not an empty export.
func TestExportUsage(t *testing.T) {
	t.Parallel()
	env := testEnv(t, dbtest.NewURL(t))
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"export"}, 2, "export: --survivor ID is required"},
		{[]string{"export", "--survivor", "SA-4821"}, 2, `export: --survivor "SA-4821" is not a survivor ID`},
		{[]string{"export", "--survivor", "00000000-0000-4000-8000-000000000099", "extra"}, 2, `export: unexpected argument "extra"`},
		{[]string{"export", "--who", "x"}, 2, "flag provided but not defined: -who"},
		{[]string{"export", "--survivor", "00000000-0000-4000-8000-000000000099"}, 1, "no survivor with ID 00000000-0000-4000-8000-000000000099"},
	} {
		code, out, errOut := runCLI(t, env, tt.args...)
		if code != tt.code || !strings.Contains(errOut, tt.want) || out != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit %d and %q", tt.args, code, out, errOut, tt.code, tt.want)
		}
	}
}

// TestRetentionSetting: SAATHI_RETENTION defaults to 18 months and names
// itself when wrong.
func TestRetentionSetting(t *testing.T) {
	t.Parallel()
	env := testEnv(t, "postgres://x@127.0.0.1/x")
	cfg, err := LoadConfig(getenvFrom(env))
	if err != nil || cfg.Retention != jobs.DefaultRetention || cfg.Retention.String() != "18mo" {
		t.Errorf("default retention: %v, %v", cfg.Retention, err)
	}
	env["SAATHI_RETENTION"] = "540d"
	if cfg, err := LoadConfig(getenvFrom(env)); err != nil || cfg.Retention != (jobs.RetentionPeriod{Days: 540}) {
		t.Errorf("540d: %v, %v", cfg.Retention, err)
	}
	env["SAATHI_RETENTION"] = "18 months"
	code, _, errOut := runCLI(t, env, "keys", "status")
	if code != 1 || !strings.Contains(errOut, `SAATHI_RETENTION must be a number of months or days such as 18mo or 540d`) {
		t.Errorf("bad SAATHI_RETENTION: exit %d, %q", code, errOut)
	}
}
