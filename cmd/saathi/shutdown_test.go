package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"saathi/db"
	"saathi/db/dbtest"
	"saathi/handlers"
	"saathi/jobs/telephony/twiliofake"
)

// TestMain lets a test run `saathi serve` as a real process: the test
// binary started with SAATHI_TEST_CHILD=serve is the saathi binary, main
// and its signal handling included.
func TestMain(m *testing.M) {
	if os.Getenv("SAATHI_TEST_CHILD") == "serve" {
		os.Args = []string{"saathi", "serve"}
		main()
		return
	}
	os.Exit(m.Run())
}

// child is `saathi serve` running in a process of its own.
type child struct {
	cmd     *exec.Cmd
	url     string
	started time.Time // when it said it was listening
	mu      sync.Mutex
	log     strings.Builder
	exited  chan error
}

var listeningRE = regexp.MustCompile(`msg=listening url=(http://\S+)`)

// startServe starts `saathi serve` with env and waits until it is ready.
func startServe(t *testing.T, env map[string]string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SAATHI_TEST_CHILD=serve")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, exited: make(chan error, 1)}
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			c.mu.Lock()
			c.log.WriteString(sc.Text() + "\n")
			c.mu.Unlock()
			if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil {
				urls <- m[1]
			}
		}
		c.exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
		}
	})
	select {
	case c.url = <-urls:
		c.started = time.Now()
	case err := <-c.exited:
		t.Fatalf("saathi serve exited before listening (%v):\n%s", err, c.logText())
	case <-time.After(30 * time.Second):
		t.Fatalf("saathi serve did not listen within 30 s:\n%s", c.logText())
	}
	waitFor(t, "readyz", func() (bool, bool) {
		resp, err := http.Get(c.url + "/readyz")
		if err != nil {
			return false, false
		}
		resp.Body.Close()
		return true, resp.StatusCode == http.StatusOK
	})
	return c
}

func (c *child) logText() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.log.String()
}

// stop sends SIGTERM, as an orchestrator does.
func (c *child) stop(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
}

// wait returns the exit code once the process has ended.
func (c *child) wait(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case err := <-c.exited:
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatal(err)
		}
		return c.cmd.ProcessState.ExitCode()
	case <-time.After(within):
		t.Fatalf("saathi serve still running %s after SIGTERM:\n%s", within, c.logText())
		return -1
	}
}

// enrolReachable enrols a survivor who may be texted at any hour and
// returns their ID.
func enrolReachable(t *testing.T, api apiClient, token, caseworker, phone string) string {
	t.Helper()
	all := []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}
	code, sv := api.call("POST", "/api/v1/survivors", token, map[string]any{
		"reference": "R-" + phone[len(phone)-4:], "phone": phone, "language": "hi", "channels": []string{"sms"},
		"contact_windows": []map[string]any{{"days": all, "start": "00:00", "end": "24:00"}},
		"caseworker_id":   caseworker,
		"consent":         map[string]any{"channels": []string{"sms"}, "method": "verbal", "recorded_at": time.Now().Add(-time.Hour).Format(time.RFC3339)},
	})
	if code != http.StatusCreated {
		t.Fatalf("enrol: %d %v", code, sv)
	}
	return sv["id"].(string)
}

// TestGracefulShutdown runs `saathi serve` as a process and sends it
// SIGTERM while a request is half sent, a check-in's send is at the
// provider, and a reply waits in the spool. The request gets its answer
// and is stored, the send finishes and is recorded, the reply is replayed
// into the database before the process ends, nothing new is accepted
// meanwhile, and the exit code is 0.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	fake := twiliofake.New(t)
	fake.LatencyFunc = twiliofake.FixedLatency(1500 * time.Millisecond)
	spoolDir := filepath.Join(t.TempDir(), "spool")
	env := twilioEnv(t, fake, spoolDir)
	env["SAATHI_SHUTDOWN_TIMEOUT_SECONDS"] = "20"
	admin := addStaff(t, env, "--name", "Asha", "--role", "admin")
	cw := addStaff(t, env, "--name", "Kiran", "--role", "caseworker")
	srv := startServe(t, env)
	api := apiClient{t: t, base: srv.url}
	sending := enrolReachable(t, api, admin.token, cw.id, "+919876543210")
	asking := enrolReachable(t, api, admin.token, cw.id, "+919876543211")

	// A check-in whose send is at the provider (1.5 s) when SIGTERM comes.
	if code, body := api.call("POST", "/api/v1/survivors/"+sending+"/checkins", admin.token, map[string]any{"channel": "sms"}); code != http.StatusAccepted {
		t.Fatalf("check-in: %d %v", code, body)
	}
	waitFor(t, "the send at the fake Twilio", func() (bool, bool) { return true, fake.InFlight() > 0 })

	// A reply spooled (by this replica, during an outage) since the last
	// replay: the periodic replay comes only every 10 s.
	cfg, err := LoadConfig(getenvFrom(env))
	if err != nil {
		t.Fatal(err)
	}
	const spooledSID = "SM" + "5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f"
	// From a number nobody enrolled: stored, answered with nothing.
	sp := spoolSMS(t, cfg, fake, spoolDir, spooledSID, "1")

	// A request in flight: headers and half the body sent.
	addr := strings.TrimPrefix(srv.url, "http://")
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"channel": "sms"}`
	fmt.Fprintf(conn, "POST /api/v1/survivors/%s/checkins HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		asking, addr, admin.token, len(body), body[:8])
	time.Sleep(200 * time.Millisecond) // the handler is reading the body

	if since := time.Since(srv.started); since > 8*time.Second {
		t.Fatalf("the test took %s to get here: the periodic spool replay (every 10 s) may have run, so the flush at shutdown cannot be told apart", since)
	}
	srv.stop(t)

	// No new connection is taken once shutdown has begun.
	refused := waitFor(t, "the listener to close", func() (error, bool) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err, err != nil
	})
	t.Logf("a new connection after SIGTERM: %v", refused)

	// The rest of the body: the answer is the usual one.
	if _, err := io.WriteString(conn, body[8:]); err != nil {
		t.Fatalf("finish the request: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("the in-flight request got no answer: %v\n%s", err, srv.logText())
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Errorf("the in-flight request: %s, want 202", resp.Status)
	}

	if code := srv.wait(t, 30*time.Second); code != 0 {
		t.Errorf("exit code %d, want 0:\n%s", code, srv.logText())
	}

	pool, err := db.Connect(context.Background(), cfg.DatabaseURL, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	count := func(sql string, args ...any) int {
		t.Helper()
		var n int
		if err := pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return n
	}
	// The send running at SIGTERM finished: accepted once, recorded.
	if n := count(`SELECT count(*) FROM checkins WHERE survivor_id = $1 AND state = 'sent'`, uuid.MustParse(sending)); n != 1 {
		t.Errorf("check-ins sent to the survivor whose send was running: %d, want 1", n)
	}
	// The in-flight request is stored with its job. The workers, still
	// running while the HTTP server drained, may have sent it too; either
	// way no job is lost or left half done.
	if n := count(`SELECT count(*) FROM checkins c JOIN river_job j ON (j.args->>'checkin_id')::uuid = c.id WHERE c.survivor_id = $1 AND c.kind = 'adhoc'`, uuid.MustParse(asking)); n != 1 {
		t.Errorf("check-ins stored from the in-flight request, with their job: %d, want 1", n)
	}
	if n := count(`SELECT count(*) FROM river_job WHERE kind = 'checkin_send' AND state NOT IN ('completed', 'available')`); n != 0 {
		t.Errorf("%d send jobs neither done nor waiting for a worker", n)
	}
	sent := map[string]int{}
	for _, m := range fake.Messages() {
		sent[m.To]++
	}
	if sent["+919876543210"] != 1 || sent["+919876543211"] > 1 || len(sent) > 2 {
		t.Errorf("texts at the fake Twilio per number: %v; want one for the send that was running, at most one for the other, none else", sent)
	}
	// The spooled reply went in at shutdown, and the spool is empty.
	if n := count(`SELECT count(*) FROM messages WHERE direction = 'in' AND provider_sid = $1`, spooledSID); n != 1 {
		t.Errorf("the spooled reply stored %d times, want 1:\n%s", n, srv.logText())
	}
	if !strings.Contains(srv.logText(), `msg="spooled replies stored at shutdown" count=1`) {
		t.Errorf("the spool was not flushed at shutdown:\n%s", srv.logText())
	}
	if files, lines, _, err := sp.SpoolPending(); err != nil || files+lines != 0 {
		t.Errorf("spool left: %d files, %d lines (%v)", files, lines, err)
	}
}

// TestShutdownLeavesLongJobsForTheRescuer: a send still at the provider
// when the shutdown timeout and the hard stop after it have passed is
// left 'running' for River's rescuer (its attempt recorded, to be
// reconciled before any resend); the process still exits 0, promptly.
func TestShutdownLeavesLongJobsForTheRescuer(t *testing.T) {
	t.Parallel()
	fake := twiliofake.New(t)
	fake.LatencyFunc = twiliofake.FixedLatency(9 * time.Second)
	env := twilioEnv(t, fake, filepath.Join(t.TempDir(), "spool"))
	env["SAATHI_SHUTDOWN_TIMEOUT_SECONDS"] = "1"
	admin := addStaff(t, env, "--name", "Asha", "--role", "admin")
	cw := addStaff(t, env, "--name", "Kiran", "--role", "caseworker")
	srv := startServe(t, env)
	api := apiClient{t: t, base: srv.url}
	id := enrolReachable(t, api, admin.token, cw.id, "+919876543210")
	if code, body := api.call("POST", "/api/v1/survivors/"+id+"/checkins", admin.token, map[string]any{"channel": "sms"}); code != http.StatusAccepted {
		t.Fatalf("check-in: %d %v", code, body)
	}
	waitFor(t, "the send at the fake Twilio", func() (bool, bool) { return true, fake.InFlight() > 0 })
	stopped := time.Now()
	srv.stop(t)
	if code := srv.wait(t, 20*time.Second); code != 0 {
		t.Errorf("exit code %d, want 0:\n%s", code, srv.logText())
	}
	// 1 s to stop, 5 s to cancel, then out: not held by the 9 s send.
	if took := time.Since(stopped); took > 8*time.Second {
		t.Errorf("exit took %s after SIGTERM, want under 8 s", took)
	}
	if !strings.Contains(srv.logText(), "left for River's rescuer") {
		t.Errorf("no word of the job left for the rescuer:\n%s", srv.logText())
	}

	pool, err := pgxpool.New(context.Background(), env["DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var jobState, msgStatus string
	if err := pool.QueryRow(context.Background(), `SELECT state FROM river_job WHERE kind = 'checkin_send'`).Scan(&jobState); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(context.Background(), `SELECT status FROM messages WHERE direction = 'out'`).Scan(&msgStatus); err != nil {
		t.Fatal(err)
	}
	if jobState != "running" || msgStatus != "attempting" {
		t.Errorf("job %s, attempt %s; want running (for the rescuer) and attempting (reconciled before any resend)", jobState, msgStatus)
	}
}

// TestShutdownKeepsSpoolWhileDatabaseDown: when the database is down at
// shutdown, the final replay keeps the spooled reply on disk, sealed, and
// the next start replays it: never lost.
func TestShutdownKeepsSpoolWhileDatabaseDown(t *testing.T) {
	t.Parallel()
	fake := twiliofake.New(t)
	fake.AllowUnused() // the sender is nobody Saathi knows: nothing is sent
	spoolDir := filepath.Join(t.TempDir(), "spool")
	env := twilioEnv(t, fake, spoolDir)
	cfg, err := LoadConfig(getenvFrom(env))
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer // the replayer may still write while it is read
	m := NewMain()
	m.Config, m.Role = cfg, "web"
	m.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}

	// The database goes away: no new connection to it, and the ones open
	// are ended...
	ctx := context.Background()
	admin, err := pgxpool.New(ctx, dbtest.ServerURL())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	dbcfg, err := pgxpool.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	name := dbcfg.ConnConfig.Database
	if _, err := admin.Exec(ctx, fmt.Sprintf("ALTER DATABASE %q WITH ALLOW_CONNECTIONS false", name)); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name); err != nil {
		t.Fatal(err)
	}
	// ...and a reply is spooled meanwhile (after the replay at start,
	// before the next one).
	const sid = "SM" + "6e6e6e6e6e6e6e6e6e6e6e6e6e6e6e6e"
	sp := spoolSMS(t, cfg, fake, spoolDir, sid, "3")

	if err := m.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	if files, lines, _, err := sp.SpoolPending(); err != nil || lines != 1 {
		t.Fatalf("spool after shutdown with the database down: %d files, %d lines (%v); want the line kept", files, lines, err)
	}
	if !strings.Contains(logs.String(), "spool left on disk for the next start") {
		t.Errorf("the final replay did not say it kept the spool:\n%s", logs.String())
	}

	// The database is back; the next process replays the line at start.
	if _, err := admin.Exec(ctx, fmt.Sprintf("ALTER DATABASE %q WITH ALLOW_CONNECTIONS true", name)); err != nil {
		t.Fatal(err)
	}
	next := NewMain()
	next.Config, next.Role = cfg, "web"
	next.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := next.Run(ctx); err != nil {
		t.Fatal(err)
	}
	defer next.Close()
	pool, err := db.Connect(ctx, cfg.DatabaseURL, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	waitFor(t, "the kept reply in the database", func() (bool, bool) {
		var n int
		err := pool.QueryRow(ctx, "SELECT count(*) FROM messages WHERE direction = 'in' AND provider_sid = $1", sid).Scan(&n)
		return true, err == nil && n == 1
	})
}

// syncBuffer is a log destination safe to read while goroutines write.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// spoolSMS puts a text from a number nobody enrolled into the spool, signed
// as Twilio signs it, as a web replica does while the database is away.
func spoolSMS(t *testing.T, cfg Config, fake *twiliofake.Server, spoolDir, sid, body string) *handlers.Spool {
	t.Helper()
	keyring, err := cfg.Keyring()
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"MessageSid": {sid}, "AccountSid": {fake.AccountSID}, "From": {"+919811111111"}, "To": {"+15005550006"}, "Body": {body}}
	params := map[string]string{}
	for k, v := range form {
		params[k] = v[0]
	}
	sp, err := handlers.NewSpool(spoolDir, keyring)
	if err != nil {
		t.Fatal(err)
	}
	webhook := cfg.PublicURL + "/twilio/sms"
	if err := sp.Append(handlers.SpooledRequest{URL: webhook, Params: params, Signature: twiliofake.Signature(fake.AuthToken, webhook, form), ReceivedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	return sp
}
