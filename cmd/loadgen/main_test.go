package main

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"saathi/db/dbtest"
)

// timeoutErr is what net/http returns when a client times out.
type timeoutErr struct{}

func (timeoutErr) Error() string   { return "timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// Failures are counted apart: the rate and the percentiles are the
// successes', and only 200s are to be found in the database.
func TestPhaseCountsFailuresApart(t *testing.T) {
	t.Parallel()
	p := newPhase()
	for i := range 10 {
		p.record(time.Duration(i+1)*time.Millisecond, "SM"+string(rune('a'+i)), http.StatusOK, nil)
	}
	p.record(5*time.Second, "SMfail", http.StatusServiceUnavailable, nil)
	p.record(5*time.Second, "SMfail2", http.StatusServiceUnavailable, nil)
	p.record(10*time.Second, "", 0, timeoutErr{})
	p.record(0, "", 0, errors.New("connection refused"))
	p.elapsed = 2 * time.Second

	if got := p.rate(); got != 5 {
		t.Errorf("rate = %v/s, want 5/s (10 successes in 2 s)", got)
	}
	if len(p.stored) != 10 || strings.Contains(strings.Join(p.stored, ","), "fail") {
		t.Errorf("stored = %v, want the 10 successes' SIDs only", p.stored)
	}
	want := map[string]int{"status 503": 2, "timeout": 1, "transport error": 1}
	for k, n := range want {
		if p.failures[k] != n {
			t.Errorf("failures[%q] = %d, want %d (all: %v)", k, p.failures[k], n, p.failures)
		}
	}
	r := p.report("x")
	for _, s := range []string{"14 sent", "10 ok = 5/s", "max 10ms", "4 failed", "status 503: 2", "timeout: 1"} {
		if !strings.Contains(r, s) {
			t.Errorf("report %q does not say %q", r, s)
		}
	}
}

// The open loop times each request from when it was due, so requests
// queued behind a slow server show their wait: a server doing one request
// per 20 ms, offered 100 a second for a second, leaves the last ones
// waiting about a second. A closed loop with one client would see 20 ms.
func TestOpenLoopCountsQueueing(t *testing.T) {
	t.Parallel()
	var server sync.Mutex
	slow := func() (string, int, error) {
		server.Lock()
		defer server.Unlock()
		time.Sleep(20 * time.Millisecond)
		return "SM1", http.StatusOK, nil
	}
	p := openLoop(100, time.Second, 1000, slow)
	if p.sent != 100 || len(p.ok) != 100 {
		t.Fatalf("sent %d, ok %d; want 100 each", p.sent, len(p.ok))
	}
	p.report("open") // sorts
	if worst := pct(p.ok, 100); worst < 500*time.Millisecond {
		t.Errorf("worst latency %s: the queue behind the server is not counted", worst)
	}

	closed := closedLoop(1, 200*time.Millisecond, slow)
	closed.report("closed")
	if worst := pct(closed.ok, 100); worst > 400*time.Millisecond {
		t.Errorf("closed loop worst %s: want about one request's time", worst)
	}
}

// Every 200 must be in messages, now or once the spool is replayed;
// verifyStored waits for late ones and counts those that never come.
func TestVerifyStored(t *testing.T) {
	t.Parallel()
	url := dbtest.NewURL(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	store := func(sid string) {
		t.Helper()
		if _, err := conn.Exec(ctx, "INSERT INTO messages (direction, channel, purpose, provider, provider_sid, status) VALUES ('in', 'sms', 'reply', 'twilio', $1, 'received')", sid); err != nil {
			t.Fatal(err)
		}
	}
	store("SMstored")

	missing, err := verifyStored(ctx, url, []string{"SMstored", "SMlost"}, 0)
	if err != nil || missing != 1 {
		t.Fatalf("verifyStored = %d, %v; want 1 missing", missing, err)
	}

	// A reply stored late (replayed from the spool) is found.
	go func() {
		time.Sleep(1500 * time.Millisecond)
		c, err := pgx.Connect(ctx, url)
		if err != nil {
			return
		}
		defer c.Close(ctx)
		_, _ = c.Exec(ctx, "INSERT INTO messages (direction, channel, purpose, provider, provider_sid, status) VALUES ('in', 'sms', 'reply', 'twilio', 'SMlate', 'received')")
	}()
	missing, err = verifyStored(ctx, url, []string{"SMstored", "SMlate"}, 20*time.Second)
	if err != nil || missing != 0 {
		t.Fatalf("verifyStored = %d, %v; want the late reply found", missing, err)
	}
}

// Bad flags name the problem and change nothing.
func TestParseFlagsRejects(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
	ok := []string{"-admin-token", "a", "-caseworker-id", "c", "-database", "postgres://x/y"}
	if _, err := parseFlags(ok); err != nil {
		t.Fatalf("good flags: %v", err)
	}
	tests := map[string][]string{
		"-database":          {"-admin-token", "a", "-caseworker-id", "c"},
		"-admin-token":       {"-caseworker-id", "c", "-database", "postgres://x/y"},
		"-twilio-latency":    append(ok[:len(ok):len(ok)], "-twilio-latency", "fast"),
		"-open-loop":         append(ok[:len(ok):len(ok)], "-open-loop", "50,x"),
		"-alert-concurrency": append(ok[:len(ok):len(ok)], "-alert-concurrency", "0"),
	}
	for name, args := range tests {
		if _, err := parseFlags(args); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%v: err = %v, want one naming %s", args, err, name)
		}
	}
}
