package handlers_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"riverqueue.com/riverui"

	"saathi/handlers"
)

// The dashboard as a person uses it, in headless Chromium (see
// chromium_test.go): every assertion is on what the page shows (texts,
// addresses, elements, focus). TestBrowserAccessibility visits every main
// page in one tab, so axe-core is loaded into a cold browser once.

// testPassword is withLogin's password.
const testPassword = "correct horse battery"

// enrolFor enrols a survivor for a caseworker through the API (enrolBody
// with the fields in change) and returns their ID and case code.
func (f *fixture) enrolFor(caseworker, phone string, change map[string]any) (string, string) {
	f.t.Helper()
	body := f.enrolBody(phone)
	body["caseworker_id"] = caseworker
	for k, v := range change {
		body[k] = v
	}
	r := f.do(http.MethodPost, "/api/v1/survivors", f.admin.Token, body)
	if r.Code != http.StatusCreated {
		f.t.Fatalf("enrol: %d %s", r.Code, r.Body)
	}
	j := r.json(f.t)
	return j["id"].(string), j["case_code"].(string)
}

// alertOf is the ID of a survivor's alert of a severity.
func (f *fixture) alertOf(survivor, severity string) string {
	f.t.Helper()
	var id string
	if err := f.pool.QueryRow(context.Background(), "SELECT id FROM alerts WHERE survivor_id = $1 AND severity = $2", survivor, severity).Scan(&id); err != nil {
		f.t.Fatalf("the %s alert of %s: %v", severity, survivor, err)
	}
	return id
}

// apiJSON reads an API answer as the admin.
func (f *fixture) apiJSON(path string, v any) {
	f.t.Helper()
	r := f.do(http.MethodGet, path, f.admin.Token, nil)
	if r.Code != http.StatusOK {
		f.t.Fatalf("GET %s: %d %s", path, r.Code, r.Body)
	}
	if err := json.Unmarshal(r.Body, v); err != nil {
		f.t.Fatalf("GET %s: %v", path, err)
	}
}

// TestBrowserSignIn: a page asked for without a session shows the sign-in
// form; the first Tab shows the skip link; a wrong password shows the
// error and keeps the username; the right one lands on the page asked
// for, with the session cookie out of the page's scripts' reach.
func TestBrowserSignIn(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.withLogin("Meena", "caseworker", "", "meena")
	tb := f.serve(t).tab()

	tb.open("/dashboard/survivors")
	if loc, h1 := tb.location(), tb.text("h1"); loc != "/signin?next=%2Fdashboard%2Fsurvivors" || h1 != "Sign in" {
		t.Fatalf("without a session: %s, %q", loc, h1)
	}
	tb.do("press Tab", chromedp.KeyEvent(kb.Tab))
	if focused := evaluate[string](tb, `document.activeElement.getAttribute("href") + " at x=" + Math.round(document.activeElement.getBoundingClientRect().left)`); focused != "#main at x=16" {
		t.Errorf("the first Tab focuses %q, want the skip link to #main, shown 1rem from the left", focused)
	}

	tb.do("type a wrong password",
		chromedp.SendKeys(chromedp.ID("username"), "Meena"),
		chromedp.SendKeys(chromedp.ID("password"), "not the password"),
	)
	if status := tb.submit(`form[action="/signin"] button[type=submit]`); status != http.StatusUnauthorized {
		t.Errorf("a wrong password: HTTP %d", status)
	}
	if msg := tb.text(`main [role=alert]`); msg != "That username and password do not match." {
		t.Errorf("after a wrong password the page says %q", msg)
	}
	if user := evaluate[string](tb, `document.getElementById("username").value`); user != "meena" {
		t.Errorf("the username field holds %q after a failure", user)
	}

	tb.do("type the password", chromedp.SendKeys(chromedp.ID("password"), testPassword))
	if status := tb.submit(`form[action="/signin"] button[type=submit]`); status != http.StatusOK {
		t.Fatalf("sign in: HTTP %d", status)
	}
	if loc, h1 := tb.location(), tb.text("h1"); loc != "/dashboard/survivors" || h1 != "Survivors" {
		t.Errorf("after signing in: %s, %q; want the page asked for", loc, h1)
	}
	if tb.count(`form[action="/signout"] button`) != 1 {
		t.Error("no sign-out button once signed in")
	}
	if cookies := evaluate[string](tb, `document.cookie`); strings.Contains(cookies, "saathi_session") || strings.Contains(cookies, "saathi_csrf") {
		t.Errorf("scripts can read the session or CSRF cookie: %q", cookies)
	}
}

// TestBrowserAlertsScoped: a caseworker's dashboard lists their own
// alerts, urgent first, and not another caseworker's; the other's alert
// address shows the "not found" page, without the case.
func TestBrowserAlertsScoped(t *testing.T) {
	t.Parallel()
	f := setup(t)
	cw := f.withLogin("Kiran", "caseworker", f.supervisor.ID, "kiran")
	other := f.withLogin("Other", "caseworker", "", "other")
	_, mine := f.enrolFor(cw.ID, "+919876543210", nil)
	theirs, theirCode := f.enrolFor(other.ID, "+919876543211", nil)
	f.twilio().AllowUnused() // staff with logins have no phones: no alert texts
	f.inbound(newSID(), "+919876543210", "2")
	f.inbound(newSID(), "+919876543210", "3")
	f.inbound(newSID(), "+919876543211", "3")
	f.workJobs()
	theirAlert := f.alertOf(theirs, "urgent")

	tb := f.serve(t).tab()
	tb.signIn("/dashboard", "kiran", testPassword)
	items := evaluate[[]string](tb, `[...document.querySelectorAll("#alerts li.alert")].map(li => li.innerText)`)
	if len(items) != 2 || !strings.HasPrefix(items[0], "Urgent") || !strings.HasPrefix(items[1], "High") {
		t.Fatalf("Kiran's alerts, want urgent then high:\n%s", strings.Join(items, "\n"))
	}
	for _, item := range items {
		if !strings.Contains(item, "Case "+mine) || strings.Contains(item, theirCode) {
			t.Errorf("an alert that is not Kiran's case %s: %q", mine, item)
		}
	}
	if status := tb.open("/dashboard/alerts/" + theirAlert); status != http.StatusNotFound {
		t.Errorf("another caseworker's alert: HTTP %d", status)
	}
	if h1, main := tb.text("h1"), tb.text("main"); h1 != "404" || !strings.Contains(main, "Not found.") || strings.Contains(main, theirCode) {
		t.Errorf("another caseworker's alert shows %q:\n%s", h1, main)
	}
}

// TestBrowserAcknowledgeResolve: from the dashboard, the alert's page
// shows what the survivor said; Acknowledge marks it; Resolve with no
// note is stopped by the browser, which puts the focus on the note;
// with a note it resolves, the note is shown and no action is left.
func TestBrowserAcknowledgeResolve(t *testing.T) {
	t.Parallel()
	f := setup(t)
	cw := f.withLogin("Kiran", "caseworker", f.supervisor.ID, "kiran")
	sv, code := f.enrolFor(cw.ID, "+919876543210", nil)
	f.twilio().AllowUnused()
	f.inbound(newSID(), "+919876543210", "3")
	f.workJobs()
	alert := f.alertOf(sv, "urgent")
	page := "/dashboard/alerts/" + alert

	tb := f.serve(t).tab()
	tb.signIn("/dashboard", "kiran", testPassword)
	tb.submit(`#alerts a[href="` + page + `"]`)
	if loc, h1 := tb.location(), tb.text("h1"); loc != page || h1 != "Urgent: Asked for help now (3)" {
		t.Fatalf("the alert's page: %s, %q", loc, h1)
	}
	if said, dl := tb.text("blockquote"), tb.text("dl"); said != "3" || !strings.Contains(dl, code) || !strings.Contains(dl, "CHD-0042") {
		t.Errorf("the alert's page shows %q and\n%s", said, dl)
	}
	tb.submit(`form[action$="/acknowledge"] button`)
	if loc, dl := tb.location(), tb.text("dl"); loc != page+"?done=acknowledge" || !strings.Contains(dl, "Acknowledged") {
		t.Errorf("after Acknowledge: %s\n%s", loc, dl)
	}
	if tb.count(`form[action$="/acknowledge"]`) != 0 {
		t.Error("Acknowledge is still offered")
	}

	tb.do("press Resolve with no note", chromedp.Click(chromedp.CSS(`form[action$="/resolve"] button`)))
	if focus := evaluate[string](tb, `document.activeElement.id + " " + document.getElementById("note").validity.valueMissing`); focus != "note true" {
		t.Errorf("Resolve with no note: focus and missing value %q, want the note field", focus)
	}

	tb.do("write the note", chromedp.SendKeys(chromedp.ID("note"), "Called her; she is safe."))
	tb.submit(`form[action$="/resolve"] button`)
	if loc, main := tb.location(), tb.text("main"); loc != page+"?done=resolve" || !strings.Contains(main, "Resolved: Called her; she is safe.") {
		t.Errorf("after Resolve: %s\n%s", loc, main)
	}
	if n := tb.count(`form[action$="/acknowledge"], form[action$="/resolve"]`); n != 0 {
		t.Errorf("%d actions left on a resolved alert", n)
	}
	if n := f.count("SELECT count(*) FROM alert_events WHERE alert_id = $1 AND detail->>'via' = 'dashboard'", alert); n != 2 {
		t.Errorf("dashboard actions in the alert's history: %d, want 2", n)
	}
}

// TestBrowserEnrol: a supervisor opens the enrol form from the survivors
// list, fills it in (fields, boxes, selects), gets a bad phone number
// named with the rest kept, fixes it, and lands on the survivor's page
// with the case code; the survivor is stored as filled in.
func TestBrowserEnrol(t *testing.T) {
	t.Parallel()
	f := setup(t)
	sup := f.withLogin("Sunita", "supervisor", "", "sunita")
	cw := f.withLogin("Kiran", "caseworker", sup.ID, "kiran")
	f.enrolFor(cw.ID, "+919876543299", nil) // someone on the list already

	tb := f.serve(t).tab()
	tb.signIn("/dashboard/survivors", "sunita", testPassword)
	if list := tb.text("ul.survivors"); !strings.Contains(list, "CHD-0042") {
		t.Errorf("the survivors list:\n%s", list)
	}
	tb.submit(`main a[href="/dashboard/survivors/new"]`)
	if loc, h1 := tb.location(), tb.text("h1"); loc != "/dashboard/survivors/new" || h1 != "Enrol" {
		t.Fatalf("the enrol link: %s, %q", loc, h1)
	}
	tb.do("fill in the form",
		chromedp.SendKeys(chromedp.ID("reference"), "CHD-0100"),
		chromedp.SendKeys(chromedp.ID("phone"), "12345"),
		chromedp.SetValue(chromedp.ID("language"), "pa"),
		chromedp.Click(chromedp.CSS(`input[name=ch_voice]`)),
		chromedp.Click(chromedp.CSS(`input[name=day_fri]`)), // off
		chromedp.Click(chromedp.CSS(`input[name=day_sat]`)), // on
		chromedp.SetValue(chromedp.ID("caseworker_id"), cw.ID),
		chromedp.SendKeys(chromedp.ID("duress_word"), "mango"),
		chromedp.SendKeys(chromedp.ID("duress_code"), "4821"),
		chromedp.Click(chromedp.CSS(`input[name=consent_voice]`)),
		chromedp.SetValue(chromedp.ID("method"), "in_person"),
		chromedp.SetValue(chromedp.ID("cadence"), "weekly"),
	)
	if status := tb.submit(`form[action="/dashboard/survivors"] button[type=submit]`); status != http.StatusUnprocessableEntity {
		t.Errorf("a bad phone number: HTTP %d", status)
	}
	if msg, ref := tb.text(`main [role=alert]`), evaluate[string](tb, `document.getElementById("reference").value`); !strings.Contains(msg, "phone") || ref != "CHD-0100" {
		t.Errorf("after a bad phone number the page says %q, reference %q", msg, ref)
	}
	tb.do("fix the phone number",
		chromedp.Clear(chromedp.ID("phone")),
		chromedp.SendKeys(chromedp.ID("phone"), "+91 98765 43210"),
	)
	tb.submit(`form[action="/dashboard/survivors"] button[type=submit]`)
	loc := tb.location()
	id, ok := strings.CutPrefix(loc, "/dashboard/survivors/")
	id, ok2 := strings.CutSuffix(id, "?done=enrolled")
	if !ok || !ok2 {
		t.Fatalf("after enrolling: %s: %s", loc, tb.text("main"))
	}
	var stored handlers.SurvivorJSON
	f.apiJSON("/api/v1/survivors/"+id, &stored)
	if h1, status := tb.text("h1"), tb.text(`main [role=status]`); h1 != "Case "+stored.CaseCode || status != "Enrolled. Their check-ins are planned." {
		t.Errorf("the survivor's page: %q, %q", h1, status)
	}
	if dl := tb.text("dl"); !strings.Contains(dl, "CHD-0100") || strings.Contains(dl, "98765") {
		t.Errorf("the survivor's details (the number must be masked):\n%s", dl)
	}
	var days []string
	if len(stored.ContactWindows) == 1 {
		days = stored.ContactWindows[0].Days
	}
	var phases []handlers.PhaseJSON
	if stored.Cadence != nil {
		_ = json.Unmarshal(stored.Cadence.Phases, &phases)
	}
	if stored.Language != "pa" || !slices.Equal(stored.Channels, []string{"sms", "voice"}) || stored.CaseworkerID == nil || stored.CaseworkerID.String() != cw.ID ||
		!stored.HasDuressWord || !stored.HasDuressCode || !slices.Equal(days, []string{"mon", "tue", "wed", "thu", "sat"}) ||
		!stored.Consent["sms"] || !stored.Consent["voice"] || len(stored.ConsentHistory) != 1 || stored.ConsentHistory[0].Method != "in_person" ||
		!slices.Equal(phases, []handlers.PhaseJSON{{EveryDays: 7, Times: 12}}) {
		t.Errorf("stored not as filled in: %+v", stored)
	}
}

// TestBrowserLiveAlert: the caseworker's dashboard is open; in the
// simulator the survivor replies "3"; once the worker has assessed it, the
// urgent alert appears in the open list within a few seconds, in the same
// document (no reload, no navigation).
func TestBrowserLiveAlert(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.devPhones()
	cw := f.withLogin("Kiran", "caseworker", f.supervisor.ID, "kiran")
	sv, code := f.enrolFor(cw.ID, "+919876543210", nil)
	s := f.serve(t)

	dashboard := s.tab()
	dashboard.signIn("/dashboard", "kiran", testPassword)
	if n := dashboard.count("#alerts li.alert"); n != 0 {
		t.Fatalf("the dashboard lists %d alerts before the reply:\n%s", n, dashboard.text("#alerts"))
	}
	// A page that reloads or navigates loses this.
	evaluate[bool](dashboard, `window.sameDocument = true`)

	phone := s.tab()
	phone.open("/dev/simulator/" + sv)
	phone.do("type 3", chromedp.SendKeys(chromedp.ID("sim-body"), "3"))
	phone.submit(`form.sim-reply button[type=submit]`)
	if mine := evaluate[[]string](phone, `[...document.querySelectorAll(".sim-own-text .sim-bubble")].map(p => p.innerText)`); !slices.Equal(mine, []string{"3"}) {
		t.Fatalf("the survivor's texts on the phone: %q", mine)
	}

	f.workJobs() // the worker: assess the reply, raise the alert
	link := `#alerts a[href="/dashboard/alerts/` + f.alertOf(sv, "urgent") + `"]`
	start := time.Now()
	wait, cancel := context.WithTimeout(dashboard.ctx, 10*time.Second)
	defer cancel()
	if err := chromedp.Do(wait, chromedp.WaitVisible(chromedp.CSS(link))); err != nil {
		t.Fatalf("the urgent alert did not appear on the open dashboard within 10 s: %v\n%s", err, dashboard.text("#alerts"))
	}
	t.Logf("the alert appeared %v after it was raised", time.Since(start).Round(100*time.Millisecond))
	if item := dashboard.text(link); !strings.HasPrefix(item, "Urgent") || !strings.Contains(item, "Case "+code) {
		t.Errorf("the new alert reads %q", item)
	}
	if same, loc := evaluate[bool](dashboard, `window.sameDocument === true`), dashboard.location(); !same || loc != "/dashboard" {
		t.Errorf("the dashboard was reloaded or left (same document %v, at %s)", same, loc)
	}
}

// TestBrowserRiverUIRefused: a caseworker asking for River's queue UI
// gets the 403 page and nothing of the UI; an admin gets the UI.
func TestBrowserRiverUIRefused(t *testing.T) {
	t.Parallel()
	f := setup(t)
	queues, err := riverui.NewHandler(&riverui.HandlerOpts{
		Endpoints: riverui.NewEndpoints(f.server.River, nil), Logger: quietLogger(), Prefix: "/admin/river", JobListHideArgsByDefault: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := queues.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	f.server.RiverUI = queues
	f.echo = f.server.Handler()
	f.withLogin("Asha", "admin", "", "asha")
	f.withLogin("Kiran", "caseworker", "", "kiran")
	s := f.serve(t)

	cw := s.tab()
	cw.signIn("/dashboard", "kiran", testPassword)
	if status := cw.open("/admin/river/"); status != http.StatusForbidden {
		t.Errorf("River UI for a caseworker: HTTP %d", status)
	}
	if h1, title, main := cw.text("h1"), evaluate[string](cw, "document.title"), cw.text("main"); h1 != "403" || title != "Saathi" || strings.Contains(main, "River") {
		t.Errorf("River UI for a caseworker shows %q, title %q:\n%s", h1, title, main)
	}
	if n := cw.count("script:not([src='/static/live.js'])"); n != 0 {
		t.Errorf("the refusal page carries %d scripts", n)
	}
	admin := s.tab()
	admin.signIn("/admin/river/", "asha", testPassword)
	if title := evaluate[string](admin, "document.title"); title != "River" {
		t.Errorf("River UI for an admin: title %q", title)
	}
}

// TestBrowserAccessibility visits every main page as a supervisor sees
// it, with alerts and survivors on it, and runs axe-core in each: no
// critical or serious violation on the sign-in page, the dashboard, an
// alert, the "not found" page, the survivors list, a survivor, the enrol
// form (blank and refused) and the simulator's phone. With
// SAATHI_SCREENSHOTS set, it saves each main page at a phone's and a
// laptop's width.
func TestBrowserAccessibility(t *testing.T) {
	t.Parallel()
	f := setup(t)
	sup := f.withLogin("Sunita", "supervisor", "", "sunita")
	cw := f.withLogin("Kiran", "caseworker", sup.ID, "kiran")
	sv, _ := f.enrolFor(cw.ID, "+919876543210", nil)
	f.enrolFor(cw.ID, "+919876543211", map[string]any{"reference": "CHD-0057", "language": "pa"})
	f.twilio().AllowUnused()
	f.inbound(newSID(), "+919876543210", "3")
	f.inbound(newSID(), "+919876543211", "2")
	f.workJobs()
	alert := f.alertOf(sv, "urgent")

	tb := f.serve(t).tab()
	tb.open("/dashboard")
	tb.review("signin")
	tb.signIn("/dashboard", "sunita", testPassword)
	if n := tb.count("#alerts li.alert"); n != 2 {
		t.Errorf("the dashboard lists %d alerts, want 2", n)
	}
	tb.review("dashboard")

	tb.submit(`#alerts a[href="/dashboard/alerts/` + alert + `"]`)
	tb.review("alert")
	if status := tb.open("/dashboard/alerts/00000000-0000-4000-8000-000000000000"); status != http.StatusNotFound {
		t.Errorf("an unknown alert: HTTP %d", status)
	}
	tb.accessible("not found")

	tb.open("/dashboard/survivors")
	tb.review("survivors")
	tb.submit(`ul.survivors a[href="/dashboard/survivors/` + sv + `"]`)
	tb.review("survivor")

	tb.open("/dashboard/survivors/new")
	tb.review("enrol")
	tb.do("fill in a bad phone number",
		chromedp.SetValue(chromedp.ID("reference"), "CHD-0100"),
		chromedp.SetValue(chromedp.ID("phone"), "12345"),
	)
	if status := tb.submit(`form[action="/dashboard/survivors"] button[type=submit]`); status != http.StatusUnprocessableEntity {
		t.Errorf("a bad phone number: HTTP %d", status)
	}
	tb.accessible("enrol, refused")

	tb.open("/dev/simulator/" + sv)
	tb.review("simulator")
}
