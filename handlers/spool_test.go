package handlers_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"saathi/db/crypt"
	"saathi/handlers"
	"saathi/jobs/telephony/twiliofake"
)

// useSpool gives the fixture's server a spool in a fresh directory.
func (f *fixture) useSpool() (*handlers.Spool, string) {
	f.t.Helper()
	dir := filepath.Join(f.t.TempDir(), "spool")
	sp, err := handlers.NewSpool(dir, f.keyring)
	if err != nil {
		f.t.Fatal(err)
	}
	f.server.Spool = sp
	return sp, dir
}

// databaseDown points the server at a database that refuses connections;
// the returned func brings the real one back.
func (f *fixture) databaseDown() (restore func()) {
	f.t.Helper()
	dead, err := pgxpool.New(context.Background(), "postgres://nobody@127.0.0.1:1/none?connect_timeout=1")
	if err != nil {
		f.t.Fatal(err)
	}
	live := f.server.Pool
	f.server.Pool = dead
	return func() {
		f.server.Pool = live
		dead.Close()
	}
}

// otherProcess is a second web process configured as the fixture's
// server is now (its database included), whose spool is sp.
func (f *fixture) otherProcess(sp *handlers.Spool) *handlers.Server {
	s := *f.server
	s.Spool = sp
	return &s
}

// signedRequest is what the webhook spools for a text: Twilio's
// parameters and its signature over them (made with token).
func signedRequest(token, sid, from, body string, at time.Time) handlers.SpooledRequest {
	form := url.Values{"MessageSid": {sid}, "AccountSid": {twiliofake.AccountSID}, "From": {from}, "To": {"+15005550006"}, "Body": {body}, "NumSegments": {"1"}}
	params := make(map[string]string, len(form))
	for k, v := range form {
		params[k] = v[0]
	}
	u := testPublicURL + "/twilio/sms"
	return handlers.SpooledRequest{URL: u, Params: params, Signature: twiliofake.Signature(token, u, form), ReceivedAt: at}
}

// sealedLine is a spool line as Saathi writes it: base64 of the request
// sealed with kr.
func sealedLine(t testing.TB, kr *crypt.Keyring, r handlers.SpooledRequest) []byte {
	t.Helper()
	plain, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.AppendEncode(nil, kr.Seal(crypt.SpoolLine, plain))
}

// spoolLines returns the non-empty lines of the files matching pattern in
// dir.
func spoolLines(t testing.TB, dir, pattern string) [][]byte {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil {
		t.Fatal(err)
	}
	var lines [][]byte
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for l := range bytes.SplitSeq(data, []byte("\n")) {
			if len(l) > 0 {
				lines = append(lines, l)
			}
		}
	}
	return lines
}

// storedOnce fails the test unless every SID is stored exactly once, with
// exactly one assessment job.
func (f *fixture) storedOnce(sids ...string) {
	f.t.Helper()
	for _, sid := range sids {
		if n := f.count("SELECT count(*) FROM messages WHERE direction = 'in' AND provider_sid = $1", sid); n != 1 {
			f.t.Errorf("message %s stored %d times, want 1", sid, n)
		}
		if n := f.count("SELECT count(*) FROM river_job j JOIN messages m ON m.id = (j.args->>'message_id')::bigint WHERE j.kind = 'reply_assess' AND m.provider_sid = $1", sid); n != 1 {
			f.t.Errorf("message %s has %d assessment jobs, want 1", sid, n)
		}
	}
}

// TestDatabaseDownSpools: with the database unreachable the webhook still
// answers 200, the signed request is spooled (fsynced, 0600), and the
// replay stores it exactly once.
func TestDatabaseDownSpools(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.enrol("+919876543210")
	_, dir := f.useSpool()
	restore := f.databaseDown()

	sid := newSID()
	code, reply := f.inbound(sid, "+919876543210", "3 help")
	if code != http.StatusOK || reply != "" {
		t.Fatalf("webhook with the database down: %d %q, want 200", code, reply)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "inbound-*.spool"))
	if len(files) != 1 {
		t.Fatalf("spool files: %v", files)
	}
	if fi, err := os.Stat(files[0]); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("spool file mode %v, want 0600", fi.Mode().Perm())
	}
	if st, _ := os.Stat(dir); st.Mode().Perm() != fs.FileMode(0o700) {
		t.Errorf("spool dir mode %v, want 0700", st.Mode().Perm())
	}
	// Still down: the replay keeps it.
	if n, _ := f.server.ReplaySpool(context.Background()); n != 0 {
		t.Fatalf("replayed %d into a dead database", n)
	}
	if lines := spoolLines(t, dir, "inbound-*"); len(lines) != 1 {
		t.Fatalf("after a replay into a dead database the spool holds %d lines, want 1", len(lines))
	}

	restore()
	n, err := f.server.ReplaySpool(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("replay: %d, %v", n, err)
	}
	// Twilio's own retry of the same message arrives after all: deduplicated.
	f.inbound(sid, "+919876543210", "3 help")
	if n, _ := f.server.ReplaySpool(context.Background()); n != 0 {
		t.Errorf("second replay stored %d", n)
	}
	f.storedOnce(sid)
	f.workJobs()
	for table, want := range map[string]int{"messages WHERE direction = 'in'": 1, "responses": 1, "alerts WHERE severity = 'urgent'": 1} {
		if n := f.count("SELECT count(*) FROM " + table); n != want {
			t.Errorf("%s: %d, want %d", table, n, want)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) != 0 {
		t.Errorf("spool not emptied: %v", left)
	}
}

// TestSpoolHoldsNoPlaintext: a reply spooled during an outage is on disk
// only sealed: neither the number nor the text can be found in any file
// of the spool directory, raw or base64-decoded.
func TestSpoolHoldsNoPlaintext(t *testing.T) {
	t.Parallel()
	f := setup(t)
	const from = "+919876543210"
	const text = "3 मुझे अभी मदद चाहिए, वह यहाँ है"
	f.enrol(from)
	_, dir := f.useSpool()
	restore := f.databaseDown()
	sid := newSID()
	if code, _ := f.inbound(sid, from, text); code != http.StatusOK {
		t.Fatalf("webhook: %d", code)
	}

	banned := []string{from, strings.TrimPrefix(from, "+"), from[len(from)-8:], url.QueryEscape(from), text, url.QueryEscape(text),
		strings.Trim(strconv.QuoteToASCII(text), `"`), "मदद", "चाहिए"}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) == 0 {
		t.Fatalf("spool directory: %v %v", entries, err)
	}
	for _, e := range entries {
		raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		// Base64 alone would hide nothing: look inside every line too.
		contents := [][]byte{raw}
		for line := range bytes.SplitSeq(raw, []byte("\n")) {
			for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
				if dec, err := enc.DecodeString(string(line)); err == nil {
					contents = append(contents, dec)
				}
			}
		}
		for _, c := range contents {
			for _, b := range banned {
				if bytes.Contains(c, []byte(b)) {
					t.Errorf("%s contains %q in the clear", e.Name(), b)
				}
			}
		}
	}

	restore()
	if n, err := f.server.ReplaySpool(context.Background()); n != 1 || err != nil {
		t.Fatalf("replay: %d %v", n, err)
	}
	f.storedOnce(sid)
	var bodyEnc []byte
	if err := f.pool.QueryRow(context.Background(), "SELECT body_enc FROM messages WHERE provider_sid = $1", sid).Scan(&bodyEnc); err != nil {
		t.Fatal(err)
	}
	if body, err := f.keyring.OpenString(crypt.MessageBody, bodyEnc); err != nil || body != text {
		t.Errorf("stored body %q (%v), want the spooled text", body, err)
	}
}

// TestSpoolReplaysEveryLine: five survivors write during an outage, to two
// web processes sharing a spool directory (so two files); one replay
// stores every reply once, not only the first.
func TestSpoolReplaysEveryLine(t *testing.T) {
	t.Parallel()
	f := setup(t)
	_, dir := f.useSpool()
	spB, err := handlers.NewSpool(dir, f.keyring)
	if err != nil {
		t.Fatal(err)
	}
	var phones, sids []string
	for i := range 5 {
		phones = append(phones, fmt.Sprintf("+91987654321%d", i))
		sids = append(sids, newSID())
		f.enrol(phones[i])
	}
	restore := f.databaseDown()
	b := f.otherProcess(spB).Handler()
	for i := range 5 {
		h := http.Handler(f.echo)
		if i >= 3 {
			h = b
		}
		if code := postSigned(h, sids[i], phones[i], "1"); code != http.StatusOK {
			t.Fatalf("reply %d: %d", i, code)
		}
	}
	restore()
	if files, _ := filepath.Glob(filepath.Join(dir, "inbound-*.spool")); len(files) != 2 {
		t.Fatalf("spool files %v, want one per process", files)
	}
	if lines := spoolLines(t, dir, "inbound-*.spool"); len(lines) != 5 {
		t.Fatalf("%d spooled lines, want 5", len(lines))
	}
	if n, err := f.server.ReplaySpool(context.Background()); n != 5 || err != nil {
		t.Fatalf("replay: %d %v, want 5", n, err)
	}
	f.storedOnce(sids...)
	if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) != 0 {
		t.Errorf("spool not emptied: %v", left)
	}
}

// signedWebhook is Twilio's request for a text, signed as Twilio signs.
func signedWebhook(sid, from, body string) *http.Request {
	form := url.Values{"MessageSid": {sid}, "AccountSid": {twiliofake.AccountSID}, "From": {from}, "To": {"+15005550006"}, "Body": {body}, "NumSegments": {"1"}}
	req := httptest.NewRequest(http.MethodPost, "/twilio/sms", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", twiliofake.Signature(testAuthToken, testPublicURL+"/twilio/sms", form))
	return req
}

// postSigned posts a text to h's webhook and returns the status.
func postSigned(h http.Handler, sid, from, body string) int {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, signedWebhook(sid, from, body))
	return rec.Code
}

// TestSpoolReplaysInOrderReceived: a STOP and then a START sent during
// one outage, spooled by two processes whose files sort the other way
// round, end with the survivor consenting, as they asked last.
func TestSpoolReplaysInOrderReceived(t *testing.T) {
	t.Parallel()
	f := setup(t)
	const phone = "+919876543210"
	id := f.enrol(phone)
	spA, dir := f.useSpool()
	spB, err := handlers.NewSpool(dir, f.keyring)
	if err != nil {
		t.Fatal(err)
	}
	restore := f.databaseDown()
	first, last := f.server, f.otherProcess(spB)
	if handlers.SpoolFile(spB) < handlers.SpoolFile(spA) {
		first, last = last, first
	}
	if code := postSigned(last.Handler(), newSID(), phone, "STOP"); code != http.StatusOK {
		t.Fatalf("STOP: %d", code)
	}
	f.now = f.now.Add(time.Minute)
	if code := postSigned(first.Handler(), newSID(), phone, "START"); code != http.StatusOK {
		t.Fatalf("START: %d", code)
	}
	restore()
	if n, err := f.server.ReplaySpool(context.Background()); n != 2 || err != nil {
		t.Fatalf("replay: %d %v", n, err)
	}
	rows, err := f.pool.Query(context.Background(), "SELECT action FROM consent_records WHERE survivor_id = $1 AND source = 'survivor' ORDER BY recorded_at, id", id)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"withdraw", "give"}, got); diff != "" {
		t.Errorf("consent from the survivor's texts (-want +got):\n%s", diff)
	}
}

// TestSpoolHungDatabase: with the messages table locked (a hung database,
// not a refused connection), the webhook gives up after ReceiveTimeout,
// spools and answers 200 well within Twilio's 15 s; a replay while it is
// still hung gives up at the first timeout and keeps every line; once the
// lock is gone a replay stores them all.
func TestSpoolHungDatabase(t *testing.T) {
	t.Parallel()
	f := setup(t)
	const phone = "+919876543210"
	f.enrol(phone)
	sp, dir := f.useSpool()
	f.server.ReceiveTimeout = 500 * time.Millisecond
	ctx := context.Background()
	lock := f.lockMessages("ACCESS EXCLUSIVE")

	sid := newSID()
	start := time.Now()
	code, reply := f.inbound(sid, phone, "3 help")
	took := time.Since(start)
	if code != http.StatusOK || reply != "" {
		t.Fatalf("webhook with the database hung: %d %q, want 200", code, reply)
	}
	if took < f.server.ReceiveTimeout || took > 3*time.Second {
		t.Errorf("webhook answered after %v: want it to wait the ReceiveTimeout (%v) for the lock, and no more than 3 s", took, f.server.ReceiveTimeout)
	}
	if lines := spoolLines(t, dir, "inbound-*"); len(lines) != 1 {
		t.Fatalf("spooled lines: %d, want 1", len(lines))
	}

	// Five more replies spooled meanwhile by other requests.
	sids := []string{sid}
	for range 5 {
		sids = append(sids, newSID())
		if err := sp.Append(signedRequest(testAuthToken, sids[len(sids)-1], phone, "1", f.now)); err != nil {
			t.Fatal(err)
		}
	}
	start = time.Now()
	n, err := f.server.ReplaySpool(ctx)
	took = time.Since(start)
	if n != 0 || err == nil {
		t.Errorf("replay into a hung database: %d, %v; want 0 and an error", n, err)
	}
	// Six replies at 500 ms each would be 3 s.
	if took > 2500*time.Millisecond {
		t.Errorf("replay into a hung database took %v: it waited for each reply in turn", took)
	}
	if lines := spoolLines(t, dir, "inbound-*"); len(lines) != 6 {
		t.Fatalf("after a replay into a hung database the spool holds %d lines, want 6", len(lines))
	}

	if err := lock.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := f.server.ReplaySpool(ctx); n != 6 || err != nil {
		t.Fatalf("replay after the lock: %d %v, want 6", n, err)
	}
	f.storedOnce(sids...)
}

// statusRecorder calls onStatus when the answer's status is written.
type statusRecorder struct {
	*httptest.ResponseRecorder
	onStatus func(code int)
	written  bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.written {
		r.written = true
		r.onStatus(code)
	}
	r.ResponseRecorder.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.ResponseRecorder.Write(b)
}

// TestSpoolFsyncBeforeAnswer: the line is written and fsynced before
// Twilio's 200 is.
func TestSpoolFsyncBeforeAnswer(t *testing.T) {
	t.Parallel()
	f := setup(t)
	const phone = "+919876543210"
	f.enrol(phone)
	sp, dir := f.useSpool()
	defer f.databaseDown()()
	file := filepath.Base(handlers.SpoolFile(sp))

	var events []string
	handlers.SetSpoolSync(sp, func(fh *os.File) error {
		if len(spoolLines(t, dir, file)) == 1 {
			events = append(events, "line written")
		}
		err := fh.Sync()
		events = append(events, "fsync")
		return err
	})
	rec := &statusRecorder{ResponseRecorder: httptest.NewRecorder(), onStatus: func(code int) {
		events = append(events, fmt.Sprintf("answer %d", code))
	}}
	f.echo.ServeHTTP(rec, signedWebhook(newSID(), phone, "3"))
	if diff := cmp.Diff([]string{"line written", "fsync", "answer 200"}, events); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

// TestSpoolFailureIsNotOK: when the line cannot be written or fsynced,
// the webhook does not answer 200 as if the reply were safe.
func TestSpoolFailureIsNotOK(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		breakSpool func(t *testing.T, sp *handlers.Spool)
	}{
		{"fsync fails", func(t *testing.T, sp *handlers.Spool) {
			handlers.SetSpoolSync(sp, func(*os.File) error { return errors.New("injected: input/output error") })
		}},
		{"write fails: disk full", func(t *testing.T, sp *handlers.Spool) {
			if _, err := os.Stat("/dev/full"); err != nil {
				t.Skip("no /dev/full here")
			}
			if err := os.Symlink("/dev/full", handlers.SpoolFile(sp)); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			const phone = "+919876543210"
			f.enrol(phone)
			sp, _ := f.useSpool()
			tt.breakSpool(t, sp)
			defer f.databaseDown()()
			if code := postSigned(f.echo, newSID(), phone, "3"); code < 500 {
				t.Errorf("answered %d with the reply neither stored nor spooled: want a 5xx", code)
			}
		})
	}
}

// TestSpoolRejectsTamperedLines: a line that does not open or whose
// signature fails is never stored, never blocks the lines around it, and
// is not dropped either: it is moved, verbatim, to the quarantine file,
// with an error log that names nothing personal.
func TestSpoolRejectsTamperedLines(t *testing.T) {
	t.Parallel()
	f := setup(t)
	const phone = "+919876543210"
	f.enrol(phone)
	_, dir := f.useSpool()
	var logs bytes.Buffer
	f.server.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	unknownKey, err := crypt.NewKeyring(9, map[uint32][]byte{9: bytes.Repeat([]byte{9}, crypt.KeySize)}, bytes.Repeat([]byte{9}, crypt.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	req := func(token, body string) handlers.SpooledRequest {
		return signedRequest(token, newSID(), phone, body, f.now)
	}
	forged := req(testAuthToken, "3 जाली")
	forged.Signature = "forged"
	plainForDamage, _ := json.Marshal(req(testAuthToken, "3 खराब"))
	sealed := f.keyring.Seal(crypt.SpoolLine, plainForDamage)
	sealed[len(sealed)/2] ^= 1 // one bit flipped on disk
	damaged := base64.StdEncoding.AppendEncode(nil, sealed)
	whole := sealedLine(t, f.keyring, req(testAuthToken, "3 आधा"))
	plain, _ := json.Marshal(req(testAuthToken, "3 सादा"))
	otherPurpose, _ := json.Marshal(req(testAuthToken, "3 दूसरा"))
	bad := map[string][]byte{
		"forged signature":               sealedLine(t, f.keyring, forged),
		"signed with another auth token": sealedLine(t, f.keyring, req("another0token", "3 दूसरा टोकन")),
		"sealed with a key not held":     sealedLine(t, unknownKey, req(testAuthToken, "3 दूसरी चाबी")),
		"sealed for another purpose":     base64.StdEncoding.AppendEncode(nil, f.keyring.Seal(crypt.MessageBody, otherPurpose)),
		"damaged":                        damaged,
		"torn":                           whole[:len(whole)/2],
		"not sealed":                     plain,
	}
	good := req(testAuthToken, "1 सब ठीक है")
	var file [][]byte
	for _, name := range slices.Sorted(maps.Keys(bad)) {
		file = append(file, bad[name])
		if len(file) == 3 {
			file = append(file, sealedLine(t, f.keyring, good))
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "inbound-elsewhere-1-0badc0de.spool"), append(bytes.Join(file, []byte("\n")), '\n'), 0o600); err != nil {
		t.Fatal(err)
	}

	if n, err := f.server.ReplaySpool(context.Background()); n != 1 || err != nil {
		t.Fatalf("replay: %d %v, want only the good line", n, err)
	}
	f.storedOnce(good.Params["MessageSid"])
	if n := f.count("SELECT count(*) FROM messages"); n != 1 {
		t.Errorf("%d messages stored, want only the good one", n)
	}
	var wantQuarantined [][]byte
	for _, l := range file {
		if !bytes.Equal(l, file[3]) {
			wantQuarantined = append(wantQuarantined, l)
		}
	}
	if got := spoolLines(t, dir, "quarantine-*.spool"); !slices.EqualFunc(wantQuarantined, got, bytes.Equal) {
		t.Errorf("quarantine holds %d lines, want the %d bad ones verbatim, in order", len(got), len(wantQuarantined))
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "inbound-*")); len(left) != 0 {
		t.Errorf("spool not emptied: %v", left)
	}
	out := logs.String()
	if n := strings.Count(out, "quarantined"); n != len(bad) {
		t.Errorf("%d quarantine errors logged, want %d:\n%s", n, len(bad), out)
	}
	if !strings.Contains(out, "message_sid="+forged.Params["MessageSid"]) {
		t.Errorf("the forged line's log does not name its MessageSid:\n%s", out)
	}
	for _, banned := range []string{phone, phone[len(phone)-8:], "जाली", "दूसरा", "सब ठीक"} {
		if strings.Contains(out, banned) {
			t.Errorf("log contains %q:\n%s", banned, out)
		}
	}
	// Quarantined lines are an operator's, not the replayer's.
	if n, err := f.server.ReplaySpool(context.Background()); n != 0 || err != nil {
		t.Errorf("second replay: %d %v", n, err)
	}
	if got := spoolLines(t, dir, "quarantine-*.spool"); len(got) != len(wantQuarantined) {
		t.Errorf("quarantine changed to %d lines on a second replay", len(got))
	}
}

// TestSpoolRetiredKey: lines sealed before a key rotation still open with
// the retired key, and lines sealed after with the new one.
func TestSpoolRetiredKey(t *testing.T) {
	t.Parallel()
	f := setup(t)
	const phone = "+919876543210"
	f.enrol(phone)
	dir := t.TempDir()
	k1, k2, index := bytes.Repeat([]byte{1}, crypt.KeySize), bytes.Repeat([]byte{2}, crypt.KeySize), bytes.Repeat([]byte{3}, crypt.KeySize)
	before, err := crypt.NewKeyring(1, map[uint32][]byte{1: k1}, index)
	if err != nil {
		t.Fatal(err)
	}
	after, err := crypt.NewKeyring(2, map[uint32][]byte{1: k1, 2: k2}, index)
	if err != nil {
		t.Fatal(err)
	}
	var sids []string
	for _, kr := range []*crypt.Keyring{before, after} {
		sp, err := handlers.NewSpool(dir, kr)
		if err != nil {
			t.Fatal(err)
		}
		sids = append(sids, newSID())
		if err := sp.Append(signedRequest(testAuthToken, sids[len(sids)-1], phone, "1", f.now)); err != nil {
			t.Fatal(err)
		}
		f.server.Spool = sp
	}
	if n, err := f.server.ReplaySpool(context.Background()); n != 2 || err != nil {
		t.Fatalf("replay after rotation: %d %v, want 2", n, err)
	}
	f.storedOnce(sids...)
}

// TestSpoolCrashMidReplay: a replay that claimed the spool and died (twice
// over), and one that died after storing a reply but before removing its
// line, lose nothing: the restarted process stores every reply once, and
// leaves no file behind (not even an empty one).
func TestSpoolCrashMidReplay(t *testing.T) {
	t.Parallel()
	f := setup(t)
	const phone = "+919876543210"
	f.enrol(phone)
	sp, dir := f.useSpool()
	restore := f.databaseDown()
	claimedA, claimedB, stored := newSID(), newSID(), newSID()
	for _, sid := range []string{claimedA, claimedB} {
		if code, _ := f.inbound(sid, phone, "1"); code != http.StatusOK {
			t.Fatalf("webhook: %d", code)
		}
		// A replay claims the file, then the process dies.
		if _, err := handlers.ClaimSpool(sp); err != nil {
			t.Fatal(err)
		}
	}
	restore()
	// Stored, but the process died before its line was removed.
	if code, _ := f.inbound(stored, phone, "1"); code != http.StatusOK {
		t.Fatalf("webhook: %d", code)
	}
	if err := sp.Append(signedRequest(testAuthToken, stored, phone, "1", f.now)); err != nil {
		t.Fatal(err)
	}

	restarted, err := handlers.NewSpool(dir, f.keyring)
	if err != nil {
		t.Fatal(err)
	}
	f.server.Spool = restarted
	if n, err := f.server.ReplaySpool(context.Background()); n != 3 || err != nil {
		t.Fatalf("replay after the crashes: %d %v, want 3", n, err)
	}
	f.storedOnce(claimedA, claimedB, stored)
	if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) != 0 {
		t.Errorf("spool not emptied: %v", left)
	}

	// A write that failed (and was taken back) leaves an empty file.
	if err := os.WriteFile(filepath.Join(dir, "inbound-elsewhere-1-0badc0de.spool"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if n, err := f.server.ReplaySpool(context.Background()); n != 0 || err != nil {
		t.Fatalf("replay of an empty file: %d %v", n, err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) != 0 {
		t.Errorf("empty spool file left behind: %v", left)
	}
}

// TestSpoolConcurrentReplayers: two processes share a spool directory and
// both write and replay at once; every reply is stored once, with one
// assessment, and nothing is left or quarantined.
func TestSpoolConcurrentReplayers(t *testing.T) {
	t.Parallel()
	f := setup(t)
	const phone = "+919876543210"
	f.enrol(phone)
	dir := t.TempDir()
	var procs []*handlers.Server
	for range 2 {
		sp, err := handlers.NewSpool(dir, f.keyring)
		if err != nil {
			t.Fatal(err)
		}
		procs = append(procs, f.otherProcess(sp))
	}
	const perWriter = 20
	sids := make([][]string, len(procs))
	for i := range procs {
		for range perWriter {
			sids[i] = append(sids[i], newSID())
		}
	}
	ctx := context.Background()
	var writers, replayers sync.WaitGroup
	writing := make(chan struct{})
	for i, p := range procs {
		writers.Go(func() {
			for _, sid := range sids[i] {
				if err := p.Spool.Append(signedRequest(testAuthToken, sid, phone, "1", f.now)); err != nil {
					t.Errorf("append: %v", err)
				}
			}
		})
		replayers.Go(func() {
			for {
				if _, err := p.ReplaySpool(ctx); err != nil {
					t.Errorf("replay: %v", err)
				}
				select {
				case <-writing:
					return
				default:
				}
			}
		})
	}
	writers.Wait()
	close(writing)
	replayers.Wait()
	for _, p := range procs {
		if _, err := p.ReplaySpool(ctx); err != nil {
			t.Errorf("final replay: %v", err)
		}
	}
	f.storedOnce(slices.Concat(sids...)...)
	if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) != 0 {
		t.Errorf("spool not emptied, or lines quarantined: %v", left)
	}
}
