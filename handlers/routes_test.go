package handlers_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/labstack/echo/v4"
	"riverqueue.com/riverui"

	"saathi/jobs/telephony/twiliofake"
)

// publicRoutes are the routes anyone may call with no token, no Twilio
// signature and no session, each with the reason it is safe. Every other
// route must refuse such a caller: a route added without a guard fails
// TestRouteTable until it is guarded or listed here with its reason. An
// entry whose route does not exist (yet) is fine.
var publicRoutes = map[string]string{
	"GET /healthz":          "liveness: answers that the process runs, nothing else",
	"GET /readyz":           "readiness for a load balancer: database reachable and migrations applied, no data",
	"GET /api/openapi.yaml": "the API's description: routes and shapes, no data",
	"GET /metrics":          "Prometheus metrics, if ever served on the main router: counts without personal labels",
	"GET /":                 "a redirect to /dashboard, which asks for a session",
	"GET /signin":           "the sign-in form",
	"POST /signin":          "signing in: CSRF-checked, failures limited per username and per address",
	"POST /signout":         "ends the caller's own session, if any",
	"POST /language":        "the sign-in page's language choice: a cookie",
	"GET /static/*":         "stylesheets, scripts and icons embedded in the binary",
	"GET /twilio/voice/audio/:lang/:file": "recorded prompts Twilio fetches for <Play> without signing the request: " +
		"the same words for every caller, nothing personal",
}

// devOnly is why /dev/* may be public: those routes exist only with the
// dev provider (which sends nothing anywhere and listens on loopback
// unless SAATHI_DEV_ALLOW_REMOTE=1); TestRouteTable checks that a server
// without it registers none.
const devOnly = "dev provider only: no /dev route exists without it"

// isPublic returns the reason a route may answer anyone, or "".
func isPublic(method, path string) string {
	if reason := publicRoutes[method+" "+path]; reason != "" {
		return reason
	}
	if strings.HasPrefix(path, "/dev/") {
		return devOnly
	}
	return ""
}

// anyUUID fills a route's path parameters: any ID will do, the caller
// must be refused before it is looked up.
const anyUUID = "7f8c2f0e-3b1d-4c55-9a6e-0d1f2e3c4b5a"

// concrete is a request path for a route pattern: every :param an ID, a
// wildcard a name.
func concrete(pattern string) string {
	parts := strings.Split(pattern, "/")
	for i, p := range parts {
		switch {
		case strings.HasPrefix(p, ":"):
			parts[i] = anyUUID
		case p == "*":
			parts[i] = "x"
		}
	}
	return strings.Join(parts, "/")
}

// addresses hands out a client address per request, so that the refusals
// this test provokes by the hundred never reach the per-address failure
// limit (its 429 is TestFailedAuthLimitedPerAddress's to check).
var addresses atomic.Uint32

func nextAddress() string {
	n := addresses.Add(1)
	return fmt.Sprintf("10.%d.%d.%d:40000", byte(n>>16), byte(n>>8), byte(n))
}

// call sends a request from a fresh client address with the given headers.
func (f *fixture) call(method, path, body string, header http.Header) *httptest.ResponseRecorder {
	f.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	for k, v := range header {
		req.Header[k] = v
	}
	return f.serveFrom(nextAddress(), req)
}

// withRiverUI mounts River's queue UI as the composition root does, so its
// routes are in the table too.
func (f *fixture) withRiverUI(t *testing.T) {
	t.Helper()
	queues, err := riverui.NewHandler(&riverui.HandlerOpts{
		Endpoints: riverui.NewEndpoints(f.server.River, nil), Logger: quietLogger(), Prefix: "/admin/river", JobListHideArgsByDefault: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := queues.Start(ctx); err != nil {
		t.Fatal(err)
	}
	f.server.RiverUI = queues
	f.echo = f.server.Handler()
}

// cloneSession is another browser holding a copy of b's session (as if it
// had signed in on a second device), with b's CSRF cookie and token: a
// live session to spend on one request that may end it.
func (b *browser) cloneSession() *browser {
	b.f.t.Helper()
	from := b.cookies["saathi_session"]
	if from == "" {
		b.f.t.Fatal("no session to clone")
	}
	raw := make([]byte, 16)
	_, _ = rand.Read(raw)
	token := hex.EncodeToString(raw)
	if _, err := b.f.pool.Exec(context.Background(),
		"INSERT INTO sessions (token, data, expiry) SELECT $2, data, expiry FROM sessions WHERE token = $1", from, token); err != nil {
		b.f.t.Fatal(err)
	}
	c := &browser{f: b.f, cookies: map[string]string{}, csrf: b.csrf, addr: nextAddress()}
	for k, v := range b.cookies {
		c.cookies[k] = v
	}
	c.cookies["saathi_session"] = token
	return c
}

// refusedPage reports whether a dashboard answer refuses a caller without a
// valid session: sent to sign in, or 401/403.
func refusedPage(rec *httptest.ResponseRecorder) bool {
	switch rec.Code {
	case http.StatusSeeOther, http.StatusFound:
		return strings.HasPrefix(rec.Header().Get("Location"), "/signin")
	case http.StatusUnauthorized, http.StatusForbidden:
		return true
	}
	return false
}

// caller is someone with nothing: no token, no signature, no session, or
// only what a deactivated member kept.
type caller struct {
	f *fixture
	// gone is a deactivated member: their token, and a session they
	// signed in with before.
	gone        staffMember
	goneBrowser *browser
	// anon holds the CSRF cookie and token the sign-in page hands anyone.
	anon *browser
}

// newCaller makes the deactivated member and fetches a CSRF token.
func newCaller(f *fixture) *caller {
	f.t.Helper()
	c := &caller{f: f, gone: f.withLogin("Gone Admin", "admin", "", "gone.admin"), goneBrowser: f.browser(), anon: f.browser()}
	c.goneBrowser.signIn("gone.admin", "correct horse battery", "/dashboard")
	if rec := c.goneBrowser.cloneSession().do(http.MethodGet, "/dashboard", nil); rec.Code != http.StatusOK {
		f.t.Fatalf("a copy of the member's session before deactivation: %d", rec.Code)
	}
	if r := f.do(http.MethodPost, "/api/v1/staff/"+c.gone.ID+"/deactivate", f.admin.Token, nil); r.Code != http.StatusNoContent {
		f.t.Fatalf("deactivate: %d %s", r.Code, r.Body)
	}
	c.anon.do(http.MethodGet, "/signin", nil)
	if c.anon.csrf == "" {
		f.t.Fatal("no CSRF token on the sign-in page")
	}
	return c
}

// refusals calls route (method, pattern) as everyone with nothing and
// returns what was not refused: "" when all were.
func (c *caller) refusals(h http.Handler, method, pattern string) []string {
	f := c.f
	f.t.Helper()
	var got []string
	send := func(what string, req *http.Request, refused func(*httptest.ResponseRecorder) bool) {
		req.RemoteAddr = nextAddress()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if !refused(rec) {
			got = append(got, fmt.Sprintf("%s %s %s: %d %s", method, req.URL.Path, what, rec.Code, rec.Header().Get("Location")))
		}
	}
	if method == echo.RouteNotFound {
		// A group's catch-all, which echo adds for the group's middleware:
		// an unknown path under it answers no 2xx, and under /api/ asks
		// for a token first.
		target := concrete(pattern) + "/no-such-page"
		send("(catch-all)", httptest.NewRequest(http.MethodGet, target, nil), func(rec *httptest.ResponseRecorder) bool {
			return rec.Code >= 300 && (!strings.HasPrefix(target, "/api/") || rec.Code == http.StatusUnauthorized)
		})
		return got
	}
	target := concrete(pattern)
	switch {
	case strings.HasPrefix(pattern, "/api/"):
		for _, try := range [][2]string{
			{"with no token", ""},
			{"with another scheme", "Basic YWRtaW46YWRtaW4="},
			{"with a malformed token", "Bearer " + strings.Repeat("x", 40)},
			{"with an unknown token", "Bearer sth_" + strings.Repeat("A", 43)},
			{"with a deactivated member's token", "Bearer " + c.gone.Token},
		} {
			req := httptest.NewRequest(method, target, strings.NewReader("{}"))
			req.Header.Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
			if try[1] != "" {
				req.Header.Set(echo.HeaderAuthorization, try[1])
			}
			send(try[0], req, func(rec *httptest.ResponseRecorder) bool { return rec.Code == http.StatusUnauthorized })
		}
	case strings.HasPrefix(pattern, "/twilio/"):
		form := url.Values{"MessageSid": {"SM0123456789abcdef0123456789abcdef"}, "CallSid": {"CA0123456789abcdef0123456789abcdef"},
			"AccountSid": {twiliofake.AccountSID}, "From": {"+919876543210"}, "Body": {"3"}, "Digits": {"3"}, "MessageStatus": {"delivered"}}
		for _, try := range [][2]string{
			{"unsigned", ""},
			{"signed with another auth token", twiliofake.Signature("00000000000000000000000000000000", testPublicURL+target, form)},
		} {
			req := httptest.NewRequest(method, target, strings.NewReader(form.Encode()))
			req.Header.Set(echo.HeaderContentType, echo.MIMEApplicationForm)
			if try[1] != "" {
				req.Header.Set("X-Twilio-Signature", try[1])
			}
			send(try[0], req, func(rec *httptest.ResponseRecorder) bool { return rec.Code == http.StatusForbidden })
		}
	default:
		page := func(cookies map[string]string, csrf string) *http.Request {
			req := httptest.NewRequest(method, target, strings.NewReader(url.Values{"csrf": {csrf}}.Encode()))
			req.Header.Set(echo.HeaderContentType, echo.MIMEApplicationForm)
			req.Header.Set("Accept", "text/html")
			for k, v := range cookies {
				req.AddCookie(&http.Cookie{Name: k, Value: v})
			}
			return req
		}
		send("without a session", page(nil, ""), refusedPage)
		// Past the CSRF check, the session check must still hold.
		send("with a CSRF token, without a session", page(map[string]string{"saathi_csrf": c.anon.cookies["saathi_csrf"]}, c.anon.csrf), refusedPage)
		gone := c.goneBrowser.cloneSession()
		send("with a deactivated member's session", page(gone.cookies, gone.csrf), refusedPage)
	}
	return got
}

// TestRouteTable walks every route the real server registers (with River's
// queue UI mounted, as in production) and calls it, path parameters
// filled in, as someone with nothing: every /api/ route answers 401 (no
// token, another scheme, a malformed token, an unknown one, a deactivated
// member's), every /twilio/ route 403 (unsigned, or signed with another
// auth token), and every other route, the dashboard's pages and forms and
// /admin/, sends to the sign-in page or answers 401/403 (no session; a
// form with a valid CSRF token but no session; a deactivated member's
// session). Only publicRoutes, each with its reason, and the dev
// provider's /dev/* may answer. The walk is shown to catch a route added
// without a guard, and no /dev route exists without the dev provider.
func TestRouteTable(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.withRiverUI(t)
	who := newCaller(f)

	seen := map[string]bool{}
	for _, r := range f.echo.Routes() {
		key := r.Method + " " + r.Path
		if seen[key] {
			continue
		}
		seen[key] = true
		if reason := isPublic(r.Method, r.Path); reason != "" {
			t.Logf("public: %s (%s)", key, reason)
			continue
		}
		for _, problem := range who.refusals(f.echo, r.Method, r.Path) {
			t.Errorf("not refused: %s", problem)
		}
	}
	// The walk saw the routes that matter, or it proves nothing.
	for _, must := range []string{
		"GET /api/v1/survivors/:id", "DELETE /api/v1/survivors/:id", "POST /api/v1/alerts/:id/acknowledge",
		"POST /twilio/sms", "POST /twilio/status", "POST /twilio/voice/gather", "POST /twilio/voice/incoming",
		"GET /dashboard", "GET /dashboard/survivors/:id", "POST /dashboard/survivors/:id/erase", "POST /dashboard/alerts/:id/:action",
		"GET /admin/river/*", "POST /admin/river/*", "GET /dev/outbox",
	} {
		if !seen[must] {
			t.Errorf("route %s not registered: the walk missed it", must)
		}
	}

	// A route added without its guard is caught, wherever it is added.
	e := f.server.Handler()
	leak := func(c echo.Context) error { return c.String(http.StatusOK, "personal data") }
	e.GET("/api/v1/survivors/:id/export", leak)
	e.POST("/twilio/voice/recording", leak)
	e.GET("/dashboard/survivors/:id/export", leak)
	e.GET("/admin/keys", leak)
	for _, r := range [][2]string{{"GET", "/api/v1/survivors/:id/export"}, {"POST", "/twilio/voice/recording"}, {"GET", "/dashboard/survivors/:id/export"}, {"GET", "/admin/keys"}} {
		if isPublic(r[0], r[1]) != "" || len(who.refusals(e, r[0], r[1])) == 0 {
			t.Errorf("an unguarded %s %s would pass the walk", r[0], r[1])
		}
	}

	// The /dev allow-list holds only because /dev routes exist only with
	// the dev provider.
	prod := *f.server
	prod.DevProvider = false
	for _, r := range prod.Handler().Routes() {
		if strings.HasPrefix(r.Path, "/dev") {
			t.Errorf("%s %s registered without the dev provider", r.Method, r.Path)
		}
	}
}
