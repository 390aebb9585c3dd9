package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"riverqueue.com/riverui"

	"saathi/handlers"
)

// browser is a client of the dashboard through the real router: it keeps
// cookies and the CSRF token of the last page, like a browser.
type browser struct {
	f       *fixture
	cookies map[string]string
	csrf    string
	addr    string
}

func (f *fixture) browser() *browser {
	return &browser{f: f, cookies: map[string]string{}, addr: "192.0.2.10:4000"}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *browser) do(method, path string, form url.Values) *httptest.ResponseRecorder {
	b.f.t.Helper()
	var req *http.Request
	if form != nil {
		req = httptest.NewRequest(method, path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req = httptest.NewRequest(method, path, nil)
	}
	req.RemoteAddr = b.addr
	req.Header.Set("Accept", "text/html")
	for k, v := range b.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	rec := httptest.NewRecorder()
	b.f.echo.ServeHTTP(rec, req)
	for _, c := range rec.Result().Cookies() {
		if c.MaxAge < 0 || c.Value == "" {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c.Value
		}
	}
	if m := csrfField.FindStringSubmatch(rec.Body.String()); m != nil {
		b.csrf = m[1]
	}
	return rec
}

// post sends a form from the last page, with its CSRF token.
func (b *browser) post(path string, form url.Values) *httptest.ResponseRecorder {
	b.f.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf", b.csrf)
	return b.do(http.MethodPost, path, form)
}

func (b *browser) signIn(user, password, next string) *httptest.ResponseRecorder {
	b.f.t.Helper()
	b.do(http.MethodGet, "/signin?next="+url.QueryEscape(next), nil)
	return b.post("/signin", url.Values{"username": {user}, "password": {password}, "next": {next}})
}

// withLogin gives a fixture's staff member a username and password.
func (f *fixture) withLogin(name, role, supervisor, user string) staffMember {
	f.t.Helper()
	st, err := handlers.CreateStaff(context.Background(), f.pool, f.keyring, handlers.StaffInput{
		Name: name, Role: role, SupervisorID: supervisor, Username: user, Password: "correct horse battery",
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return staffMember{ID: st.ID.String(), Token: st.Token}
}

// TestSignIn: pages need a session; signing in renews the session ID and
// returns to the page asked for, on this site only; signing out, and out
// everywhere, ends it.
func TestSignIn(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.withLogin("Meena", "caseworker", "", "Meena.K")
	b := f.browser()

	rec := b.do(http.MethodGet, "/dashboard", nil)
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/signin?next=%2Fdashboard" {
		t.Fatalf("dashboard without a session: %d %s", rec.Code, rec.Header().Get("Location"))
	}
	rec = b.signIn("meena.k", "correct horse battery", "/dashboard")
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/dashboard" {
		t.Fatalf("sign in: %d %s %s", rec.Code, rec.Header().Get("Location"), rec.Body)
	}
	first := b.cookies["saathi_session"]
	if first == "" {
		t.Fatal("no session cookie after signing in")
	}
	rec = b.do(http.MethodGet, "/dashboard", nil)
	if rec.Code != http.StatusOK || rec.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("dashboard: %d, Cache-Control %q", rec.Code, rec.Header().Get("Cache-Control"))
	}
	// Signing in again (over a session that exists) gives a new ID.
	b.signIn("meena.k", "correct horse battery", "/dashboard")
	if second := b.cookies["saathi_session"]; second == "" || second == first {
		t.Errorf("session ID not renewed at sign-in: %q then %q", first, second)
	}
	for _, next := range []string{"https://elsewhere.example/x", "//elsewhere.example", "/\\elsewhere.example", "javascript:alert(1)"} {
		if rec := f.browser().signIn("meena.k", "correct horse battery", next); rec.Header().Get("Location") != "/dashboard" {
			t.Errorf("next=%q went to %q", next, rec.Header().Get("Location"))
		}
	}
	if rec := b.post("/signout", nil); rec.Code != http.StatusSeeOther {
		t.Fatalf("sign out: %d", rec.Code)
	}
	if rec := b.do(http.MethodGet, "/dashboard", nil); rec.Code != http.StatusSeeOther {
		t.Errorf("dashboard after signing out: %d", rec.Code)
	}

	// Sign out everywhere ends the other device's session too.
	phone, laptop := f.browser(), f.browser()
	phone.signIn("meena.k", "correct horse battery", "/dashboard")
	laptop.signIn("meena.k", "correct horse battery", "/dashboard")
	laptop.do(http.MethodGet, "/dashboard", nil)
	if rec := laptop.post("/signout/everywhere", nil); rec.Code != http.StatusSeeOther {
		t.Fatalf("sign out everywhere: %d %s", rec.Code, rec.Body)
	}
	if rec := phone.do(http.MethodGet, "/dashboard", nil); rec.Code != http.StatusSeeOther {
		t.Errorf("the phone's session survived signing out everywhere: %d", rec.Code)
	}
}

// TestSignInFailures: a wrong password, an unknown name and a member
// without a password all get the same answer; five failures lock the
// name (existing or not) with the same words, even for the right
// password; a form without its CSRF token is refused.
func TestSignInFailures(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.withLogin("Meena", "caseworker", "", "meena")
	b := f.browser()
	b.do(http.MethodGet, "/signin", nil)
	if rec := b.do(http.MethodPost, "/signin", url.Values{"username": {"meena"}, "password": {"correct horse battery"}}); rec.Code != http.StatusForbidden {
		t.Errorf("sign-in form without a CSRF token: %d, want 403", rec.Code)
	}
	failed := func(user string) string {
		t.Helper()
		rec := f.browser().signIn(user, "wrong password!!", "/dashboard")
		if rec.Code != http.StatusUnauthorized {
			t.Fatalf("%s with a wrong password: %d", user, rec.Code)
		}
		return rec.Body.String()
	}
	same := func(page, user string) string {
		return csrfField.ReplaceAllString(strings.ReplaceAll(page, user, "NAME"), "")
	}
	wrong, unknown := failed("meena"), failed("nobody")
	if !strings.Contains(wrong, "do not match") || same(wrong, "meena") != same(unknown, "nobody") {
		t.Errorf("a wrong password and an unknown name answer differently:\n%s\n%s", wrong, unknown)
	}
	for range 3 {
		failed("meena")
		failed("nobody")
	}
	lockedReal, lockedFake := failed("meena"), failed("nobody")
	if !strings.Contains(lockedReal, "Too many failed attempts") || !strings.Contains(lockedFake, "Too many failed attempts") {
		t.Errorf("after five failures: %q / %q", lockedReal, lockedFake)
	}
	if rec := f.browser().signIn("meena", "correct horse battery", "/dashboard"); rec.Code != http.StatusUnauthorized {
		t.Errorf("a locked name signed in: %d", rec.Code)
	}
	if n := f.count("SELECT count(*) FROM audit_log WHERE action = 'staff.signin'"); n != 0 {
		t.Errorf("%d sign-ins recorded", n)
	}
}

// TestDashboardAlerts: a caseworker sees their own alerts, urgent first,
// acknowledges and resolves from the page (each form with its CSRF token),
// and another caseworker's alert page is a 404.
func TestDashboardAlerts(t *testing.T) {
	t.Parallel()
	f := setup(t)
	cw := f.withLogin("Kiran", "caseworker", f.supervisor.ID, "kiran")
	f.withLogin("Other", "caseworker", "", "other")
	body := f.enrolBody("+919876543210")
	body["caseworker_id"] = cw.ID
	if r := f.do(http.MethodPost, "/api/v1/survivors", f.admin.Token, body); r.Code != http.StatusCreated {
		t.Fatal(r.Code, string(r.Body))
	}
	f.twilio().AllowUnused() // Kiran has no phone: no alert texts
	f.inbound(newSID(), "+919876543210", "2")
	f.inbound(newSID(), "+919876543210", "3")
	f.workJobs()
	var urgent string
	if err := f.pool.QueryRow(context.Background(), "SELECT id FROM alerts WHERE severity = 'urgent'").Scan(&urgent); err != nil {
		t.Fatal(err)
	}

	b := f.browser()
	b.signIn("kiran", "correct horse battery", "/dashboard/alerts/"+urgent)
	page := b.do(http.MethodGet, "/dashboard", nil).Body.String()
	if i, j := strings.Index(page, "Urgent"), strings.Index(page, "High"); i < 0 || j < 0 || i > j {
		t.Errorf("alerts not urgent first:\n%s", page)
	}
	rec := b.do(http.MethodGet, "/dashboard/alerts/"+urgent, nil)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "CHD-0042") {
		t.Fatalf("alert page: %d", rec.Code)
	}
	if body := rec.Body.String(); !strings.Contains(body, "Understood as: Asked for help now (3)") || strings.Contains(body, "help_now") {
		t.Errorf("the alert page does not say what the reply meant in words:\n%s", body)
	}
	if rec := b.do(http.MethodPost, "/dashboard/alerts/"+urgent+"/acknowledge", url.Values{}); rec.Code != http.StatusForbidden {
		t.Errorf("acknowledge without a CSRF token: %d, want 403", rec.Code)
	}
	if rec := b.post("/dashboard/alerts/"+urgent+"/acknowledge", nil); rec.Code != http.StatusSeeOther {
		t.Fatalf("acknowledge: %d %s", rec.Code, rec.Body)
	}
	b.do(http.MethodGet, "/dashboard/alerts/"+urgent, nil)
	if rec := b.post("/dashboard/alerts/"+urgent+"/resolve", url.Values{"note": {"Called her; she is safe."}}); rec.Code != http.StatusSeeOther {
		t.Fatalf("resolve: %d", rec.Code)
	}
	if n := f.count("SELECT count(*) FROM alerts WHERE id = $1 AND status = 'resolved' AND acknowledged_by = $2", urgent, cw.ID); n != 1 {
		t.Error("the alert was not acknowledged and resolved")
	}
	if n := f.count("SELECT count(*) FROM alert_events WHERE alert_id = $1 AND detail->>'via' = 'dashboard'", urgent); n != 2 {
		t.Errorf("dashboard actions in the history: %d, want 2", n)
	}

	other := f.browser()
	other.signIn("other", "correct horse battery", "/dashboard")
	rec = other.do(http.MethodGet, "/dashboard/alerts/"+urgent, nil)
	if rec.Code != http.StatusNotFound || strings.Contains(rec.Body.String(), "CHD-0042") || !strings.Contains(rec.Header().Get("Content-Type"), "text/html") {
		t.Errorf("another caseworker's alert page: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	if page := other.do(http.MethodGet, "/dashboard", nil).Body.String(); strings.Contains(page, urgent) {
		t.Error("another caseworker lists the alert")
	}
}

// TestDashboardLiveList: the dashboard's list is served alone for the page
// to refresh itself, so an alert raised while the page is open appears
// without a reload; it needs a session like the page.
func TestDashboardLiveList(t *testing.T) {
	t.Parallel()
	f := setup(t)
	cw := f.withLogin("Kiran", "caseworker", f.supervisor.ID, "kiran")
	body := f.enrolBody("+919876543210")
	body["caseworker_id"] = cw.ID
	if r := f.do(http.MethodPost, "/api/v1/survivors", f.admin.Token, body); r.Code != http.StatusCreated {
		t.Fatal(r.Code, string(r.Body))
	}
	if rec := f.browser().do(http.MethodGet, "/dashboard/live/alerts", nil); rec.Code != http.StatusSeeOther {
		t.Errorf("live list without a session: %d", rec.Code)
	}
	b := f.browser()
	b.signIn("kiran", "correct horse battery", "/dashboard")
	page := b.do(http.MethodGet, "/dashboard", nil).Body.String()
	if !strings.Contains(page, `data-live="/dashboard/live/alerts"`) || !strings.Contains(page, "/static/live.js") {
		t.Fatal("the dashboard does not refresh its list")
	}
	before := b.do(http.MethodGet, "/dashboard/live/alerts", nil).Body.String()
	if strings.Contains(before, "<html") || !strings.Contains(before, "No open alerts") {
		t.Fatalf("live list before: %s", before)
	}
	f.twilio().AllowUnused()
	f.inbound(newSID(), "+919876543210", "3")
	f.workJobs()
	after := b.do(http.MethodGet, "/dashboard/live/alerts", nil).Body.String()
	if !strings.Contains(after, "Urgent") || !strings.Contains(after, "/dashboard/alerts/") {
		t.Errorf("live list after a 3: %s", after)
	}
}

// TestRiverUIAdminsOnly: River's queue UI is behind the dashboard's
// sign-in, for admins only: a caseworker gets 403, nobody signed in goes
// to the sign-in page, never the UI.
func TestRiverUIAdminsOnly(t *testing.T) {
	t.Parallel()
	f := setup(t)
	queues, err := riverui.NewHandler(&riverui.HandlerOpts{
		Endpoints: riverui.NewEndpoints(f.server.River, nil), Logger: quietLogger(), Prefix: "/admin/river", JobListHideArgsByDefault: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := queues.Start(ctx); err != nil {
		t.Fatal(err)
	}
	f.server.RiverUI = queues
	f.echo = f.server.Handler()
	f.withLogin("Asha", "admin", "", "asha")
	f.withLogin("Kiran", "caseworker", "", "kiran")

	for _, p := range []string{"/admin/river", "/admin/river/", "/admin/river/api/jobs?state=running"} {
		rec := f.browser().do(http.MethodGet, p, nil)
		if rec.Code != http.StatusSeeOther || !strings.HasPrefix(rec.Header().Get("Location"), "/signin?next=") {
			t.Errorf("%s without a session: %d %s", p, rec.Code, rec.Header().Get("Location"))
		}
	}
	cw := f.browser()
	cw.signIn("kiran", "correct horse battery", "/dashboard")
	for _, p := range []string{"/admin/river/", "/admin/river/api/jobs?state=running"} {
		if rec := cw.do(http.MethodGet, p, nil); rec.Code != http.StatusForbidden || strings.Contains(rec.Body.String(), "River") {
			t.Errorf("%s for a caseworker: %d", p, rec.Code)
		}
	}
	admin := f.browser()
	admin.signIn("asha", "correct horse battery", "/admin/river/")
	if rec := admin.do(http.MethodGet, "/admin/river/", nil); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "<html") {
		t.Errorf("the UI for an admin: %d", rec.Code)
	}
	if rec := admin.do(http.MethodGet, "/admin/river/api/jobs?state=available", nil); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"data"`) {
		t.Errorf("the UI's API for an admin: %d %s", rec.Code, rec.Body)
	}
}

// TestStaffPage: an admin adds a staff member (their API token shown
// once), resets a password (ending that member's sessions) and
// deactivates them (their session stops at once); a supervisor sees the
// list without the actions; every action is audited and the audit log is
// an admin's to read.
func TestStaffPage(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.withLogin("Asha", "admin", "", "asha")
	f.withLogin("Sunita", "supervisor", "", "sunita")
	admin := f.browser()
	admin.signIn("asha", "correct horse battery", "/dashboard/staff")
	admin.do(http.MethodGet, "/dashboard/staff", nil)
	rec := admin.post("/dashboard/staff", url.Values{"name": {"Ravi"}, "role": {"caseworker"}, "username": {"ravi"}, "password": {"ravi's long password"}, "language": {"hi"}})
	if rec.Code != http.StatusOK || !regexp.MustCompile(`<code>sth_[A-Za-z0-9_-]+</code>`).MatchString(rec.Body.String()) {
		t.Fatalf("add staff: %d", rec.Code)
	}
	if rec := admin.post("/dashboard/staff", url.Values{"name": {"Short"}, "role": {"caseworker"}, "username": {"short"}, "password": {"too short"}}); rec.Header().Get("Location") != "/dashboard/staff?error=password" {
		t.Errorf("a short password: %d %s", rec.Code, rec.Header().Get("Location"))
	}
	var ravi string
	if err := f.pool.QueryRow(context.Background(), "SELECT id FROM staff WHERE username_hash IS NOT NULL AND role = 'caseworker'").Scan(&ravi); err != nil {
		t.Fatal(err)
	}
	phone := f.browser()
	phone.signIn("ravi", "ravi's long password", "/dashboard")
	if rec := phone.do(http.MethodGet, "/dashboard", nil); rec.Code != http.StatusOK {
		t.Fatalf("ravi signs in: %d", rec.Code)
	}
	admin.do(http.MethodGet, "/dashboard/staff", nil)
	if rec := admin.post("/dashboard/staff/"+ravi+"/password", url.Values{"password": {"a brand new passphrase"}}); rec.Header().Get("Location") != "/dashboard/staff?done=password" {
		t.Fatalf("reset password: %s", rec.Header().Get("Location"))
	}
	if rec := phone.do(http.MethodGet, "/dashboard", nil); rec.Code != http.StatusSeeOther {
		t.Errorf("ravi's session survived the password reset: %d", rec.Code)
	}
	if rec := f.browser().signIn("ravi", "a brand new passphrase", "/dashboard"); rec.Header().Get("Location") != "/dashboard" {
		t.Errorf("the new password does not sign in: %d", rec.Code)
	}
	phone.signIn("ravi", "a brand new passphrase", "/dashboard")
	admin.do(http.MethodGet, "/dashboard/staff", nil)
	if rec := admin.post("/dashboard/staff/"+ravi+"/deactivate", nil); rec.Header().Get("Location") != "/dashboard/staff?done=deactivate" {
		t.Fatalf("deactivate: %s", rec.Header().Get("Location"))
	}
	if rec := phone.do(http.MethodGet, "/dashboard", nil); rec.Code != http.StatusSeeOther {
		t.Errorf("a deactivated member's session still works: %d", rec.Code)
	}
	for _, action := range []string{"staff.create", "staff.password.reset", "staff.deactivate"} {
		if n := f.count("SELECT count(*) FROM audit_log WHERE action = $1 AND detail->>'staff_id' = $2", action, ravi); n != 1 {
			t.Errorf("%s audited %d times", action, n)
		}
	}
	logPage := admin.do(http.MethodGet, "/dashboard/audit", nil)
	if logPage.Code != http.StatusOK || !strings.Contains(logPage.Body.String(), "staff.deactivate") {
		t.Errorf("audit log for an admin: %d", logPage.Code)
	}

	sup := f.browser()
	sup.signIn("sunita", "correct horse battery", "/dashboard/staff")
	list := sup.do(http.MethodGet, "/dashboard/staff", nil)
	if list.Code != http.StatusOK || strings.Contains(list.Body.String(), "/deactivate") || !strings.Contains(list.Body.String(), "Ravi") {
		t.Errorf("staff list for a supervisor: %d", list.Code)
	}
	if rec := sup.post("/dashboard/staff/"+ravi+"/password", url.Values{"password": {"supervisor tries this"}}); rec.Code != http.StatusForbidden {
		t.Errorf("a supervisor resets a password: %d", rec.Code)
	}
	if rec := sup.do(http.MethodGet, "/dashboard/audit", nil); rec.Code != http.StatusForbidden {
		t.Errorf("a supervisor reads the audit log: %d", rec.Code)
	}
}

// TestReportSuppression: the programme report counts check-ins per week
// and team; a cell built from fewer than 5 people shows "<5", on the page
// and in the CSV alike, and nothing personal appears.
func TestReportSuppression(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.withLogin("Asha", "admin", "", "asha")
	for i := range 6 { // the supervisor's team: 6 people
		f.enrol(fmt.Sprintf("+91987654320%d", i))
	}
	for i := range 2 { // another caseworker, no team: 2 people
		body := f.enrolBody(fmt.Sprintf("+91987654330%d", i))
		body["caseworker_id"] = f.otherCaseworker.ID
		if r := f.do(http.MethodPost, "/api/v1/survivors", f.admin.Token, body); r.Code != http.StatusCreated {
			t.Fatal(r.Code, string(r.Body))
		}
	}
	// Each person's first check-in went out yesterday and was answered.
	if _, err := f.pool.Exec(context.Background(), `
		UPDATE checkins SET channel = 'sms', sent_at = $1, state = 'answered' WHERE seq = 1`, f.now.Add(-24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	b := f.browser()
	b.signIn("asha", "correct horse battery", "/dashboard/reports")
	page := b.do(http.MethodGet, "/dashboard/reports", nil).Body.String()
	team := regexp.MustCompile(`<td>Sunita Supervisor</td><td>sms</td><td>(\d+)</td><td>(\d+)</td><td>(\d+)%</td>`).FindStringSubmatch(page)
	if team == nil || team[1] != "6" || team[2] != "6" {
		t.Errorf("the team's row (6 people) is not shown in full: %v", team)
	}
	if !strings.Contains(page, "<td>—</td><td>sms</td><td>&lt;5</td><td>&lt;5</td><td>&lt;5</td>") {
		t.Errorf("the row of 2 people is not suppressed:\n%s", page)
	}
	if !strings.Contains(page, "<svg") {
		t.Error("no chart")
	}
	rec := b.do(http.MethodGet, "/dashboard/reports.csv", nil)
	csvText := rec.Body.String()
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/csv") ||
		!strings.Contains(csvText, "checkins,") || !strings.Contains(csvText, ",—,sms,<5,<5,<5") || !strings.Contains(csvText, "Sunita Supervisor,sms,6,6,") {
		t.Errorf("CSV: %d\n%s", rec.Code, csvText)
	}
	for _, personal := range []string{"CHD-0042", "9876543", "mango"} {
		if strings.Contains(page, personal) || strings.Contains(csvText, personal) {
			t.Errorf("the report shows %q", personal)
		}
	}
	f.withLogin("Kiran", "caseworker", "", "kiran")
	k := f.browser()
	k.signIn("kiran", "correct horse battery", "/dashboard")
	if rec := k.do(http.MethodGet, "/dashboard/reports", nil); rec.Code != http.StatusForbidden {
		t.Errorf("a caseworker reads the report: %d", rec.Code)
	}
}

// TestCadenceTemplates: an admin saves a named cadence and applies it to
// several survivors at once: each one's future check-ins are replaced,
// none duplicated, each change audited; a bad cadence is refused.
func TestCadenceTemplates(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.withLogin("Asha", "admin", "", "asha")
	a, b := f.enrol("+919876543210"), f.enrol("+919876543211")
	admin := f.browser()
	admin.signIn("asha", "correct horse battery", "/dashboard/cadences")
	admin.do(http.MethodGet, "/dashboard/cadences", nil)
	if rec := admin.post("/dashboard/cadences", url.Values{"name": {"Bad"}, "every_0": {"0"}, "times_0": {"3"}}); rec.Header().Get("Location") != "/dashboard/cadences?error=phases" {
		t.Errorf("a bad cadence: %s", rec.Header().Get("Location"))
	}
	if rec := admin.post("/dashboard/cadences", url.Values{"name": {"Fortnightly"}, "every_0": {"14"}, "times_0": {"6"}}); rec.Header().Get("Location") != "/dashboard/cadences?done=created" {
		t.Fatalf("save: %s", rec.Header().Get("Location"))
	}
	var id string
	if err := f.pool.QueryRow(context.Background(), "SELECT id FROM cadence_templates WHERE name = 'Fortnightly'").Scan(&id); err != nil {
		t.Fatal(err)
	}
	if page := admin.do(http.MethodGet, "/dashboard/cadences", nil).Body.String(); !strings.Contains(page, "every 14 days, 6 times") {
		t.Errorf("the template is not described:\n%s", page)
	}
	rec := admin.post("/dashboard/cadences/"+id+"/apply", url.Values{"survivor": {a, b}})
	if rec.Header().Get("Location") != "/dashboard/cadences?done=2" {
		t.Fatalf("apply: %d %s", rec.Code, rec.Header().Get("Location"))
	}
	for _, sv := range []string{a, b} {
		if n := f.count("SELECT count(*) FROM checkins WHERE survivor_id = $1 AND state = 'scheduled'", sv); n != 6 {
			t.Errorf("scheduled check-ins after applying: %d, want the template's 6", n)
		}
		if n := f.count("SELECT count(*) FROM audit_log WHERE action = 'cadence.update' AND survivor_id = $1 AND detail->>'template' = $2", sv, id); n != 1 {
			t.Error("applying the template is not audited")
		}
	}
}
