package handlers_test

import (
	"bytes"
	"encoding/xml"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"saathi/handlers"
	"saathi/jobs/telephony/twiliofake"
	"saathi/locales"
)

// Client addresses, as the connection's peer (RemoteAddr).
const (
	attackerAddr  = "198.51.100.7:40000"
	colleagueAddr = "203.0.113.9:50000"
	twilioAddr    = "54.172.60.1:443"
)

// serveFrom sends req through the real router from the given peer address.
func (f *fixture) serveFrom(remote string, req *http.Request) *httptest.ResponseRecorder {
	f.t.Helper()
	req.RemoteAddr = remote
	rec := httptest.NewRecorder()
	f.echo.ServeHTTP(rec, req)
	return rec
}

// meRequest asks GET /api/v1/me with token ("" for none).
func meRequest(token string) *http.Request {
	req := httptest.NewRequest(http.MethodGet, "/api/v1/me", nil)
	if token != "" {
		req.Header.Set(echo.HeaderAuthorization, "Bearer "+token)
	}
	return req
}

// smsRequest is an inbound SMS webhook signed with signWith over the
// server's public URL ("" for unsigned; anything but testAuthToken is a
// forgery).
func (f *fixture) smsRequest(from, body, signWith string) *http.Request {
	form := url.Values{"MessageSid": {newSID()}, "AccountSid": {twiliofake.AccountSID}, "From": {from}, "To": {"+15005550006"}, "Body": {body}}
	req := httptest.NewRequest(http.MethodPost, "/twilio/sms", strings.NewReader(form.Encode()))
	req.Header.Set(echo.HeaderContentType, "application/x-www-form-urlencoded")
	if signWith != "" {
		req.Header.Set("X-Twilio-Signature", twiliofake.Signature(signWith, f.server.PublicURL+"/twilio/sms", form))
	}
	return req
}

// twimlText is the text of the one <Message> in a TwiML answer.
func twimlText(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var doc struct {
		Messages []string `xml:"Message"`
	}
	if err := xml.Unmarshal(rec.Body.Bytes(), &doc); err != nil || len(doc.Messages) != 1 {
		t.Fatalf("not TwiML with one reply (%v): %s", err, rec.Body)
	}
	return doc.Messages[0]
}

// wantTooMany checks a 429 with the usual JSON problem body and a
// Retry-After of retryAfter seconds.
func wantTooMany(t *testing.T, what string, rec *httptest.ResponseRecorder, retryAfter int) {
	t.Helper()
	if rec.Code != http.StatusTooManyRequests {
		t.Fatalf("%s: %d %s, want 429", what, rec.Code, rec.Body)
	}
	if got := rec.Header().Get("Retry-After"); got != strconv.Itoa(retryAfter) {
		t.Errorf("%s: Retry-After %q, want %d", what, got, retryAfter)
	}
	if got := (response{Code: rec.Code, Body: rec.Body.Bytes()}).json(t)["error"]; got == "" || got == nil {
		t.Errorf("%s: no error message: %s", what, rec.Body)
	}
}

// TestFailedAuthLimitedPerAddress: an address that keeps sending bad
// tokens is refused with 429, even with a good token, while a colleague at
// another address is not affected; good requests cost nothing, and the
// budget comes back with time.
func TestFailedAuthLimitedPerAddress(t *testing.T) {
	t.Parallel()
	f := setup(t)
	budget := handlers.DefaultLimits().FailedAuth.Burst

	for range 2 * budget {
		if rec := f.serveFrom(attackerAddr, meRequest(f.admin.Token)); rec.Code != http.StatusOK {
			t.Fatalf("good token: %d %s", rec.Code, rec.Body)
		}
	}
	for i := range budget {
		token := "sth_not-a-real-token"
		if i%2 == 0 {
			token = ""
		}
		if rec := f.serveFrom(attackerAddr, meRequest(token)); rec.Code != http.StatusUnauthorized {
			t.Fatalf("failure %d of %d: %d, want 401 (successful requests must cost nothing)", i+1, budget, rec.Code)
		}
	}
	wantTooMany(t, "one failure too many", f.serveFrom(attackerAddr, meRequest("sth_not-a-real-token")), 3)
	// Refused before the token is looked at: no more guessing.
	wantTooMany(t, "good token from the refused address", f.serveFrom(attackerAddr, meRequest(f.admin.Token)), 3)
	wantTooMany(t, "unknown API route from the refused address", f.serveFrom(attackerAddr, httptest.NewRequest(http.MethodGet, "/api/v1/nope", nil)), 3)

	if rec := f.serveFrom(colleagueAddr, meRequest(f.caseworker.Token)); rec.Code != http.StatusOK {
		t.Errorf("colleague at another address: %d, want 200", rec.Code)
	}
	if rec := f.serveFrom(colleagueAddr, meRequest("sth_typo")); rec.Code != http.StatusUnauthorized {
		t.Errorf("colleague's bad token: %d, want 401", rec.Code)
	}

	// One failure comes back every 3 s.
	f.now = f.now.Add(3 * time.Second)
	if rec := f.serveFrom(attackerAddr, meRequest(f.admin.Token)); rec.Code != http.StatusOK {
		t.Errorf("good token 3 s later: %d, want 200", rec.Code)
	}
	if rec := f.serveFrom(attackerAddr, meRequest("sth_not-a-real-token")); rec.Code != http.StatusUnauthorized {
		t.Errorf("bad token 3 s later: %d, want 401", rec.Code)
	}
	wantTooMany(t, "the next failure", f.serveFrom(attackerAddr, meRequest("sth_not-a-real-token")), 3)
}

// TestFailedAuthIPv6SharesTheSlash64: one subscriber holds a whole /64 and
// must not get a fresh budget per address in it.
func TestFailedAuthIPv6SharesTheSlash64(t *testing.T) {
	t.Parallel()
	f := setup(t)
	for range handlers.DefaultLimits().FailedAuth.Burst {
		if rec := f.serveFrom("[2001:db8:1:2::1]:40000", meRequest("")); rec.Code != http.StatusUnauthorized {
			t.Fatalf("%d, want 401", rec.Code)
		}
	}
	wantTooMany(t, "same /64", f.serveFrom("[2001:db8:1:2:ffff::9]:40000", meRequest("")), 3)
	if rec := f.serveFrom("[2001:db8:1:3::1]:40000", meRequest("")); rec.Code != http.StatusUnauthorized {
		t.Errorf("another /64: %d, want 401", rec.Code)
	}
}

// TestSignedWebhookOverLimitIsStored: past the /twilio request limit,
// unsigned and forged requests get 429 but a correctly signed one is still
// processed and stored: a survivor's "help" is never dropped.
func TestSignedWebhookOverLimitIsStored(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.server.Limits.Twilio = handlers.Limit{PerSecond: 1, Burst: 3}
	f.echo = f.server.Handler()
	const survivor = "+919876543210"
	f.enrol(survivor)

	for i := range 3 {
		if rec := f.serveFrom(twilioAddr, f.smsRequest(survivor, "1", testAuthToken)); rec.Code != http.StatusOK {
			t.Fatalf("signed %d: %d %s", i+1, rec.Code, rec.Body)
		}
	}
	wantTooMany(t, "unsigned over the limit", f.serveFrom(twilioAddr, f.smsRequest(survivor, "3", "")), 1)
	wantTooMany(t, "forged over the limit", f.serveFrom(twilioAddr, f.smsRequest(survivor, "3", "wrong-token")), 1)

	rec := f.serveFrom(twilioAddr, f.smsRequest(survivor, "3", testAuthToken))
	if rec.Code != http.StatusOK || twimlText(t, rec) != f.text("hi", locales.ReplyHelpNow) {
		t.Fatalf("signed over the limit: %d %s, want 200 and the help-now reply", rec.Code, rec.Body)
	}
	if n := f.count("SELECT count(*) FROM messages WHERE direction = 'in'"); n != 4 {
		t.Errorf("%d inbound messages stored, want the 4 signed ones", n)
	}
	// The limit is per address: elsewhere an unsigned request is a 403.
	if rec := f.serveFrom(attackerAddr, f.smsRequest(survivor, "3", "")); rec.Code != http.StatusForbidden {
		t.Errorf("unsigned from another address: %d, want 403", rec.Code)
	}
}

// TestForgedWebhooksSpendFailureBudget: forgeries are cut off after the
// failure budget, long before the generous request limit, while Twilio's
// signed traffic from the same address goes on.
func TestForgedWebhooksSpendFailureBudget(t *testing.T) {
	t.Parallel()
	f := setup(t)
	const survivor = "+919876543210"
	f.enrol(survivor)
	budget := handlers.DefaultLimits().FailedAuth.Burst

	for i := range budget {
		if rec := f.serveFrom(attackerAddr, f.smsRequest(survivor, "3", "wrong-token")); rec.Code != http.StatusForbidden {
			t.Fatalf("forgery %d: %d, want 403", i+1, rec.Code)
		}
	}
	wantTooMany(t, "one forgery too many", f.serveFrom(attackerAddr, f.smsRequest(survivor, "3", "wrong-token")), 3)
	wantTooMany(t, "unsigned", f.serveFrom(attackerAddr, f.smsRequest(survivor, "3", "")), 3)
	// One budget per address: the forger is refused on the API as well.
	wantTooMany(t, "API from the forger's address", f.serveFrom(attackerAddr, meRequest(f.admin.Token)), 3)

	if rec := f.serveFrom(attackerAddr, f.smsRequest(survivor, "1", testAuthToken)); rec.Code != http.StatusOK {
		t.Fatalf("signed from the same address: %d %s", rec.Code, rec.Body)
	}
	if n := f.count("SELECT count(*) FROM messages WHERE direction = 'in'"); n != 1 {
		t.Errorf("%d inbound messages stored, want only the signed one", n)
	}
}

// TestDevPagesLimited: /dev/* allows 30 at once, then 10/s, per address.
func TestDevPagesLimited(t *testing.T) {
	t.Parallel()
	f := setup(t)
	outbox := func(addr string) *httptest.ResponseRecorder {
		return f.serveFrom(addr, httptest.NewRequest(http.MethodGet, "/dev/outbox", nil))
	}
	for i := range handlers.DefaultLimits().Dev.Burst {
		if rec := outbox(attackerAddr); rec.Code != http.StatusOK {
			t.Fatalf("request %d: %d", i+1, rec.Code)
		}
	}
	wantTooMany(t, "over the burst", outbox(attackerAddr), 1)
	inbound := httptest.NewRequest(http.MethodPost, "/dev/inbound", strings.NewReader(`{"from":"+919876543210","body":"3"}`))
	inbound.Header.Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
	wantTooMany(t, "simulated text over the burst", f.serveFrom(attackerAddr, inbound), 1)
	if n := f.count("SELECT count(*) FROM messages"); n != 0 {
		t.Errorf("a refused simulated text was stored")
	}
	if rec := outbox(colleagueAddr); rec.Code != http.StatusOK {
		t.Errorf("another address: %d, want 200", rec.Code)
	}
	f.now = f.now.Add(100 * time.Millisecond)
	if rec := outbox(attackerAddr); rec.Code != http.StatusOK {
		t.Errorf("100 ms later: %d, want 200", rec.Code)
	}
}

// TestSecurityHeaders: every answer (API, error, webhook, 429, panic)
// carries nosniff, no-referrer and no-store; HSTS only when the public URL
// is https.
func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.enrol("+919876543210")
	f.server.Limits.Dev = handlers.Limit{PerSecond: 1, Burst: 1}

	requests := map[string]func() *http.Request{
		"API answer":       func() *http.Request { return meRequest(f.admin.Token) },
		"API error (401)":  func() *http.Request { return meRequest("") },
		"unknown route":    func() *http.Request { return httptest.NewRequest(http.MethodGet, "/nope", nil) },
		"health check":     func() *http.Request { return httptest.NewRequest(http.MethodGet, "/healthz", nil) },
		"webhook answer":   func() *http.Request { return f.smsRequest("+919876543210", "1", testAuthToken) },
		"forged webhook":   func() *http.Request { return f.smsRequest("+919876543210", "1", "wrong-token") },
		"over a limit":     func() *http.Request { return httptest.NewRequest(http.MethodGet, "/dev/outbox", nil) },
		"panic in handler": func() *http.Request { return httptest.NewRequest(http.MethodGet, "/test/panic", nil) },
	}
	for _, tt := range []struct {
		publicURL string
		hsts      string
	}{
		{testPublicURL, "max-age=63072000; includeSubDomains"},
		{"http://localhost:8080", ""},
	} {
		f.server.PublicURL = tt.publicURL
		f.echo = f.server.Handler()
		f.echo.GET("/test/panic", func(echo.Context) error { panic("boom") })
		outbox := httptest.NewRequest(http.MethodGet, "/dev/outbox", nil)
		if rec := f.serveFrom(colleagueAddr, outbox); rec.Code != http.StatusOK {
			t.Fatalf("first outbox request: %d", rec.Code)
		}
		for name, req := range requests {
			rec := f.serveFrom(colleagueAddr, req())
			wantCode := map[string]int{"webhook answer": http.StatusOK, "over a limit": http.StatusTooManyRequests, "panic in handler": http.StatusInternalServerError}
			if want, ok := wantCode[name]; ok && rec.Code != want {
				t.Errorf("%s with %s: %d, want %d", name, tt.publicURL, rec.Code, want)
			}
			want := map[string]string{
				"X-Content-Type-Options":    "nosniff",
				"Referrer-Policy":           "no-referrer",
				"Cache-Control":             "no-store",
				"Strict-Transport-Security": tt.hsts,
			}
			for h, v := range want {
				if got := rec.Header().Get(h); got != v {
					t.Errorf("%s (%d) with %s: %s = %q, want %q", name, rec.Code, tt.publicURL, h, got, v)
				}
			}
		}
	}
}

// TestRequestIDKeptOnlyWhenSafe: an incoming X-Request-Id is echoed and
// logged only when short and plain; anything that could forge or break a
// log line is replaced by a fresh random one.
func TestRequestIDKeptOnlyWhenSafe(t *testing.T) {
	t.Parallel()
	f := setup(t)
	var logs bytes.Buffer
	f.server.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f.echo = f.server.Handler()
	safe := regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

	tests := []struct {
		name, id string
		keep     bool
	}{
		{"uuid", "3f2b1c9e-8a4d-4e2f-9b1a-0c7d6e5f4a3b", true},
		{"proxy style", "req_01HF.x-2", true},
		{"64 characters", strings.Repeat("a", 64), true},
		{"none", "", false},
		{"newline", "abc\nlevel=ERROR msg=forged", false},
		{"carriage return", "abc\r\nX-Injected: 1", false},
		{"65 characters", strings.Repeat("a", 65), false},
		{"200 characters", strings.Repeat("b", 200), false},
		{"quotes", `"abc"`, false},
		{"space", "abc def", false},
		{"equals", "request_id=forged", false},
		{"unicode", "नमस्ते", false},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		logs.Reset()
		req := meRequest(f.admin.Token)
		if tt.id != "" {
			req.Header.Set(echo.HeaderXRequestID, tt.id)
		}
		rec := f.serveFrom(colleagueAddr, req)
		got := rec.Header().Get(echo.HeaderXRequestID)
		switch {
		case tt.keep && got != tt.id:
			t.Errorf("%s: X-Request-Id %q, want it kept", tt.name, got)
		case !tt.keep && (got == tt.id || !safe.MatchString(got) || seen[got]):
			t.Errorf("%s: X-Request-Id %q, want a fresh safe one", tt.name, got)
		}
		seen[got] = true
		if !strings.Contains(logs.String(), "request_id="+got+"\n") {
			t.Errorf("%s: the access log does not carry the answered request ID %q: %s", tt.name, got, logs.String())
		}
		if !tt.keep && tt.id != "" && strings.Contains(logs.String(), tt.id) {
			t.Errorf("%s: the unsafe request ID reached the log: %s", tt.name, logs.String())
		}
	}
}

// TestTrustedProxies: X-Forwarded-For names the client only when the
// request comes from a configured proxy; from anyone else (even a private
// address echo would trust by default) it is ignored, so no client can
// choose its address to escape a limit or to lock out another.
func TestTrustedProxies(t *testing.T) {
	t.Parallel()
	f := setup(t)
	budget := handlers.DefaultLimits().FailedAuth.Burst
	badFrom := func(peer, xff string) int {
		req := meRequest("sth_not-a-real-token")
		if xff != "" {
			req.Header.Set(echo.HeaderXForwardedFor, xff)
		}
		return f.serveFrom(peer, req).Code
	}
	spend := func(peer, xff string) {
		t.Helper()
		for i := range budget {
			if code := badFrom(peer, xff); code != http.StatusUnauthorized {
				t.Fatalf("failure %d from %s (X-Forwarded-For %q): %d, want 401", i+1, peer, xff, code)
			}
		}
	}

	// Without SAATHI_TRUSTED_PROXIES the peer is the client.
	spend(attackerAddr, "")
	if code := badFrom(attackerAddr, "203.0.113.99"); code != http.StatusTooManyRequests {
		t.Errorf("refused client claiming another address: %d, want 429", code)
	}
	if code := badFrom("10.0.0.5:1234", "198.51.100.7"); code != http.StatusUnauthorized {
		t.Errorf("private peer naming the refused client: %d, want 401 (its own budget)", code)
	}

	_, proxies, err := net.ParseCIDR("10.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	f.server.TrustedProxies = []*net.IPNet{proxies}
	f.echo = f.server.Handler()
	const proxy = "10.1.2.3:5000"
	spend(proxy, "203.0.113.7")
	for _, xff := range []string{"203.0.113.7", "192.0.2.1, 203.0.113.7"} {
		if code := badFrom(proxy, xff); code != http.StatusTooManyRequests {
			t.Errorf("refused client through the proxy (X-Forwarded-For %q): %d, want 429", xff, code)
		}
	}
	if code := badFrom(proxy, "203.0.113.8"); code != http.StatusUnauthorized {
		t.Errorf("another client through the same proxy: %d, want 401", code)
	}
	if rec := f.serveFrom(proxy, meRequest(f.admin.Token)); rec.Code != http.StatusOK {
		t.Errorf("the proxy's own address is not refused: %d", rec.Code)
	}
	for _, peer := range []string{"198.51.100.50:1234", "192.168.1.1:1234", "127.0.0.1:1234"} {
		if code := badFrom(peer, "203.0.113.7"); code != http.StatusUnauthorized {
			t.Errorf("untrusted %s naming the refused client: %d, want 401", peer, code)
		}
	}
}
