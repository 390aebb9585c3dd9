package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

// target is whose case a cell of the authorisation matrix acts on, seen
// from the matrix's caseworker: their own, a colleague's in the same team
// (same supervisor), or a case of another team.
type target int

const (
	own target = iota
	team
	other
)

func (t target) String() string {
	return [...]string{"own case", "team's case", "other team's case"}[t]
}

// want is what one cell must answer.
type want struct {
	status int
	to     string // a redirect's Location must contain this
	listed int    // a list: +1 the case is in it, -1 it is not
}

var (
	s200   = want{status: http.StatusOK}
	s201   = want{status: http.StatusCreated}
	s202   = want{status: http.StatusAccepted}
	s204   = want{status: http.StatusNoContent}
	s401   = want{status: http.StatusUnauthorized}
	s403   = want{status: http.StatusForbidden}
	s404   = want{status: http.StatusNotFound}
	listed = want{status: http.StatusOK, listed: 1}
	absent = want{status: http.StatusOK, listed: -1}
	signin = want{status: http.StatusSeeOther, to: "/signin?next="}
)

// done is a dashboard form's success: back to the page, saying what was
// done.
func done(what string) want { return want{status: http.StatusSeeOther, to: "?done=" + what} }

// refused reports whether the cell refuses: then nothing may change.
func (w want) refused() bool { return w.status >= 400 || w == signin }

// matrixCase is a survivor (and, for alert routes, their open alert).
type matrixCase struct {
	survivor, alert, caseCode string
}

// matrixRow is one route of the matrix, with the expected answer for each
// role on [own, team, other].
type matrixRow struct {
	name   string
	method string
	path   string // {survivor}, {alert} and {template} are filled in
	// body is the JSON (API) or the form (dashboard) sent for a case.
	body  func(m *matrix, tg target, c matrixCase) any
	alert bool // the case needs an open alert
	trace bool // an allowed call changes the case or its audit trail
	list  bool // the answer is a list: is the case in it?

	admin, supervisor, caseworker, deactivated [3]want
}

func (r matrixRow) page() bool { return !strings.HasPrefix(r.path, "/api/") }

// matrix is the fixture of TestAuthz: a team (supervisor, caseworker,
// colleague), another team, an admin, and a deactivated admin, each with
// a token and a dashboard session.
type matrix struct {
	f                     *fixture
	admin, supervisor, cw staffMember
	colleague, otherCW    staffMember
	gone                  staffMember
	browsers              map[string]*browser
	template              string
	shared                [3]matrixCase // for cells that must change nothing
	phones                int
}

func newMatrix(t *testing.T) *matrix {
	f := setup(t)
	m := &matrix{f: f, browsers: map[string]*browser{}}
	m.admin = f.withLogin("Matrix Admin", "admin", "", "m.admin")
	m.supervisor = f.withLogin("Matrix Supervisor", "supervisor", "", "m.supervisor")
	m.cw = f.withLogin("Matrix Caseworker", "caseworker", m.supervisor.ID, "m.caseworker")
	m.colleague = f.withLogin("Matrix Colleague", "caseworker", m.supervisor.ID, "m.colleague")
	otherSupervisor := f.withLogin("Other Supervisor", "supervisor", "", "m.other.supervisor")
	m.otherCW = f.withLogin("Other Caseworker", "caseworker", otherSupervisor.ID, "m.other")
	m.gone = f.withLogin("Gone Admin", "admin", "", "m.gone")
	for role, user := range map[string]string{"admin": "m.admin", "supervisor": "m.supervisor", "caseworker": "m.caseworker", "deactivated": "m.gone"} {
		b := f.browser()
		if rec := b.signIn(user, "correct horse battery", "/dashboard"); rec.Code != http.StatusSeeOther {
			t.Fatalf("sign in %s: %d", user, rec.Code)
		}
		b.do(http.MethodGet, "/dashboard", nil) // a page's CSRF token
		m.browsers[role] = b
	}
	if r := f.do(http.MethodPost, "/api/v1/staff/"+m.gone.ID+"/deactivate", f.admin.Token, nil); r.Code != http.StatusNoContent {
		t.Fatalf("deactivate: %d %s", r.Code, r.Body)
	}
	admin := m.browsers["admin"]
	admin.do(http.MethodGet, "/dashboard/cadences", nil)
	if rec := admin.post("/dashboard/cadences", url.Values{"name": {"Fortnightly"}, "every_0": {"14"}, "times_0": {"6"}}); !strings.Contains(rec.Header().Get("Location"), "done=created") {
		t.Fatalf("cadence template: %d %s", rec.Code, rec.Header().Get("Location"))
	}
	if err := f.pool.QueryRow(context.Background(), "SELECT id::text FROM cadence_templates").Scan(&m.template); err != nil {
		t.Fatal(err)
	}
	for _, tg := range []target{own, team, other} {
		m.shared[tg] = m.newCase(tg, true)
	}
	return m
}

// caseworkerOf is who a target's case is assigned to.
func (m *matrix) caseworkerOf(tg target) staffMember {
	return [...]staffMember{m.cw, m.colleague, m.otherCW}[tg]
}

// newCase enrols a survivor for tg's caseworker, with an open alert (they
// texted "3") if asked.
func (m *matrix) newCase(tg target, alert bool) matrixCase {
	f := m.f
	f.t.Helper()
	m.phones++
	phone := fmt.Sprintf("+9198765%05d", m.phones)
	body := f.enrolBody(phone)
	body["caseworker_id"] = m.caseworkerOf(tg).ID
	r := f.do(http.MethodPost, "/api/v1/survivors", f.admin.Token, body)
	if r.Code != http.StatusCreated {
		f.t.Fatalf("enrol: %d %s", r.Code, r.Body)
	}
	got := r.json(f.t)
	c := matrixCase{survivor: got["id"].(string), caseCode: got["case_code"].(string)}
	if alert {
		f.inbound(newSID(), phone, "3")
		f.workJobs()
		if err := f.pool.QueryRow(context.Background(), "SELECT id::text FROM alerts WHERE survivor_id = $1 AND status = 'open'", c.survivor).Scan(&c.alert); err != nil {
			f.t.Fatalf("no open alert for the case: %v", err)
		}
	}
	return c
}

// fingerprint is everything stored about a case, its audit trail and the
// number of jobs queued: a refused call must leave it as it was.
func (m *matrix) fingerprint(c matrixCase) string {
	m.f.t.Helper()
	var out string
	err := m.f.pool.QueryRow(context.Background(), `
		SELECT concat_ws(E'\n',
			(SELECT s::text FROM survivors s WHERE id = $1),
			(SELECT string_agg(x::text, ',' ORDER BY x::text) FROM contact_windows x WHERE survivor_id = $1),
			(SELECT string_agg(x::text, ',' ORDER BY x::text) FROM consent_records x WHERE survivor_id = $1),
			(SELECT string_agg(x::text, ',' ORDER BY x::text) FROM cadences x WHERE survivor_id = $1),
			(SELECT string_agg(x::text, ',' ORDER BY x::text) FROM checkins x WHERE survivor_id = $1),
			(SELECT string_agg(x::text, ',' ORDER BY x::text) FROM messages x WHERE survivor_id = $1),
			(SELECT string_agg(x::text, ',' ORDER BY x::text) FROM risk_flags x WHERE survivor_id = $1),
			(SELECT string_agg(x::text, ',' ORDER BY x::text) FROM alerts x WHERE survivor_id = $1),
			(SELECT string_agg(x::text, ',' ORDER BY x::text) FROM alert_events x JOIN alerts a ON a.id = x.alert_id WHERE a.survivor_id = $1),
			(SELECT string_agg(x::text, ',' ORDER BY x::text) FROM audit_log x WHERE survivor_id = $1),
			(SELECT count(*)::text FROM river_job))`, c.survivor).Scan(&out)
	if err != nil {
		m.f.t.Fatal(err)
	}
	return out
}

// answer is a cell's response, with the list it holds (if any) as text.
type answer struct {
	code     int
	location string
	body     string
}

// call makes the row's request for a case as role.
func (m *matrix) call(row matrixRow, role string, tg target, c matrixCase) answer {
	f := m.f
	f.t.Helper()
	path := strings.NewReplacer("{survivor}", c.survivor, "{alert}", c.alert, "{template}", m.template).Replace(row.path)
	var body any
	if row.body != nil {
		body = row.body(m, tg, c)
	}
	if !row.page() {
		token := map[string]string{"admin": m.admin.Token, "supervisor": m.supervisor.Token, "caseworker": m.cw.Token, "deactivated": m.gone.Token}[role]
		var raw []byte
		if body != nil {
			var err error
			if raw, err = json.Marshal(body); err != nil {
				f.t.Fatal(err)
			}
		}
		req := httptest.NewRequest(row.method, path, strings.NewReader(string(raw)))
		req.Header.Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
		req.Header.Set(echo.HeaderAuthorization, "Bearer "+token)
		rec := f.serveFrom(nextAddress(), req) // a 401 each: kept under the per-address limit
		if row.list {
			return answer{code: rec.Code, body: m.apiList(rec, path, token)}
		}
		return answer{code: rec.Code, location: rec.Header().Get("Location"), body: rec.Body.String()}
	}
	b := m.browsers[role]
	if role == "deactivated" {
		b = b.cloneSession() // refused sessions are ended: a live one for each call
	}
	form, _ := body.(url.Values)
	var rec *httptest.ResponseRecorder
	if row.method == http.MethodGet {
		rec = b.do(http.MethodGet, path, nil)
	} else {
		rec = b.post(path, form)
	}
	return answer{code: rec.Code, location: rec.Header().Get("Location"), body: csrfField.ReplaceAllString(rec.Body.String(), "")}
}

// apiList follows an API list's pages (?after=) to its end.
func (m *matrix) apiList(first *httptest.ResponseRecorder, path, token string) string {
	all := first.Body.String()
	var page struct {
		NextAfter string `json:"next_after"`
	}
	for rec := first; rec.Code == http.StatusOK; {
		if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil || page.NextAfter == "" {
			break
		}
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		req := httptest.NewRequest(http.MethodGet, path+sep+"after="+page.NextAfter, nil)
		req.Header.Set(echo.HeaderAuthorization, "Bearer "+token)
		rec = m.f.serveFrom(nextAddress(), req)
		all += rec.Body.String()
		page.NextAfter = ""
	}
	return all
}

func sameRole(w want) [3]want { return [3]want{w, w, w} }

// authzMatrix is every API route that takes a survivor or an alert and
// every dashboard page and form about one, with the answer each role
// must get for its own case, a colleague's and another team's. 404 is
// "not yours" (the same answer as for no such case), 403 "not your role",
// and a deactivated member's token or session gets nothing. The lists
// come first, while few cases exist.
var authzMatrix = []matrixRow{
	{name: "API list survivors", method: "GET", path: "/api/v1/survivors?limit=100", list: true,
		admin: sameRole(listed), supervisor: [3]want{listed, listed, absent}, caseworker: [3]want{listed, absent, absent}, deactivated: sameRole(s401)},
	{name: "API list alerts", method: "GET", path: "/api/v1/alerts?status=open&limit=200", list: true, alert: true,
		admin: sameRole(listed), supervisor: [3]want{listed, listed, absent}, caseworker: [3]want{listed, absent, absent}, deactivated: sameRole(s401)},
	{name: "page survivors", method: "GET", path: "/dashboard/survivors", list: true,
		admin: sameRole(listed), supervisor: [3]want{listed, listed, absent}, caseworker: [3]want{listed, absent, absent}, deactivated: sameRole(signin)},
	{name: "page alerts", method: "GET", path: "/dashboard", list: true, alert: true,
		admin: sameRole(listed), supervisor: [3]want{listed, listed, absent}, caseworker: [3]want{listed, absent, absent}, deactivated: sameRole(signin)},
	{name: "page live alerts", method: "GET", path: "/dashboard/live/alerts", list: true, alert: true,
		admin: sameRole(listed), supervisor: [3]want{listed, listed, absent}, caseworker: [3]want{listed, absent, absent}, deactivated: sameRole(signin)},

	{name: "API read survivor", method: "GET", path: "/api/v1/survivors/{survivor}", trace: true,
		admin: sameRole(s200), supervisor: [3]want{s200, s200, s404}, caseworker: [3]want{s200, s404, s404}, deactivated: sameRole(s401)},
	{name: "API change language", method: "PATCH", path: "/api/v1/survivors/{survivor}", trace: true,
		body:  func(*matrix, target, matrixCase) any { return map[string]any{"language": "en"} },
		admin: sameRole(s200), supervisor: [3]want{s200, s200, s404}, caseworker: [3]want{s200, s404, s404}, deactivated: sameRole(s401)},
	{name: "API reassign", method: "PATCH", path: "/api/v1/survivors/{survivor}", trace: true,
		body: func(m *matrix, tg target, _ matrixCase) any {
			to := m.colleague.ID // to a member of the supervisor's team it is not with
			if tg == team {
				to = m.cw.ID
			}
			return map[string]any{"caseworker_id": to}
		},
		admin: sameRole(s200), supervisor: [3]want{s200, s200, s404}, caseworker: [3]want{s403, s404, s404}, deactivated: sameRole(s401)},
	{name: "API erase", method: "DELETE", path: "/api/v1/survivors/{survivor}", trace: true,
		admin: sameRole(s204), supervisor: sameRole(s403), caseworker: sameRole(s403), deactivated: sameRole(s401)},
	{name: "API record consent", method: "POST", path: "/api/v1/survivors/{survivor}/consent", trace: true,
		body: func(*matrix, target, matrixCase) any {
			return map[string]any{"action": "withdraw", "channels": []string{"voice"}, "method": "verbal"}
		},
		admin: sameRole(s201), supervisor: [3]want{s201, s201, s404}, caseworker: [3]want{s201, s404, s404}, deactivated: sameRole(s401)},
	{name: "API set cadence", method: "PUT", path: "/api/v1/survivors/{survivor}/cadence", trace: true,
		body: func(*matrix, target, matrixCase) any {
			return map[string]any{"phases": []map[string]int{{"every_days": 14, "times": 6}}}
		},
		admin: sameRole(s200), supervisor: [3]want{s200, s200, s404}, caseworker: sameRole(s403), deactivated: sameRole(s401)},
	{name: "API ask a check-in", method: "POST", path: "/api/v1/survivors/{survivor}/checkins", trace: true,
		body:  func(*matrix, target, matrixCase) any { return map[string]any{"channel": "sms"} },
		admin: sameRole(s202), supervisor: [3]want{s202, s202, s404}, caseworker: [3]want{s202, s404, s404}, deactivated: sameRole(s401)},
	{name: "API timeline", method: "GET", path: "/api/v1/survivors/{survivor}/timeline", trace: true,
		admin: sameRole(s200), supervisor: [3]want{s200, s200, s404}, caseworker: [3]want{s200, s404, s404}, deactivated: sameRole(s401)},
	{name: "API read alert", method: "GET", path: "/api/v1/alerts/{alert}", alert: true, trace: true,
		admin: sameRole(s200), supervisor: [3]want{s200, s200, s404}, caseworker: [3]want{s200, s404, s404}, deactivated: sameRole(s401)},
	{name: "API acknowledge", method: "POST", path: "/api/v1/alerts/{alert}/acknowledge", alert: true, trace: true,
		admin: sameRole(s200), supervisor: [3]want{s200, s200, s404}, caseworker: [3]want{s200, s404, s404}, deactivated: sameRole(s401)},
	{name: "API resolve", method: "POST", path: "/api/v1/alerts/{alert}/resolve", alert: true, trace: true,
		body:  func(*matrix, target, matrixCase) any { return map[string]any{"note": "Called; safe at home."} },
		admin: sameRole(s200), supervisor: [3]want{s200, s200, s404}, caseworker: [3]want{s200, s404, s404}, deactivated: sameRole(s401)},

	{name: "page survivor", method: "GET", path: "/dashboard/survivors/{survivor}", trace: true,
		admin: sameRole(s200), supervisor: [3]want{s200, s200, s404}, caseworker: [3]want{s200, s404, s404}, deactivated: sameRole(signin)},
	{name: "page ask a check-in", method: "POST", path: "/dashboard/survivors/{survivor}/checkins", trace: true,
		body:  func(*matrix, target, matrixCase) any { return url.Values{"channel": {"sms"}} },
		admin: sameRole(done("checkin")), supervisor: [3]want{done("checkin"), done("checkin"), s404}, caseworker: [3]want{done("checkin"), s404, s404}, deactivated: sameRole(signin)},
	{name: "page reveal phone", method: "POST", path: "/dashboard/survivors/{survivor}/reveal", trace: true,
		body: func(_ *matrix, _ target, c matrixCase) any {
			return url.Values{"back": {"/dashboard/survivors/" + c.survivor + "?done=revealed"}}
		},
		admin: sameRole(done("revealed")), supervisor: [3]want{done("revealed"), done("revealed"), s404}, caseworker: [3]want{done("revealed"), s404, s404}, deactivated: sameRole(signin)},
	{name: "page edit", method: "POST", path: "/dashboard/survivors/{survivor}/change/edit", trace: true,
		body: func(*matrix, target, matrixCase) any {
			return url.Values{"language": {"en"}, "ch_sms": {"on"}, "ch_voice": {"on"}, "day_0_mon": {"on"}, "day_0_wed": {"on"}, "start_0": {"09:00"}, "end_0": {"18:00"}}
		},
		admin: sameRole(done("edit")), supervisor: [3]want{done("edit"), done("edit"), s404}, caseworker: [3]want{done("edit"), s404, s404}, deactivated: sameRole(signin)},
	{name: "page record consent", method: "POST", path: "/dashboard/survivors/{survivor}/change/consent", trace: true,
		body: func(*matrix, target, matrixCase) any {
			return url.Values{"action": {"withdraw"}, "consent_voice": {"on"}, "method": {"verbal"}}
		},
		admin: sameRole(done("consent")), supervisor: [3]want{done("consent"), done("consent"), s404}, caseworker: [3]want{done("consent"), s404, s404}, deactivated: sameRole(signin)},
	{name: "page set cadence", method: "POST", path: "/dashboard/survivors/{survivor}/change/cadence", trace: true,
		body:  func(*matrix, target, matrixCase) any { return url.Values{"cadence": {"weekly"}} },
		admin: sameRole(done("cadence")), supervisor: [3]want{done("cadence"), done("cadence"), s404}, caseworker: [3]want{s403, s404, s404}, deactivated: sameRole(signin)},
	{name: "page erase form", method: "GET", path: "/dashboard/survivors/{survivor}/erase",
		admin: sameRole(s200), supervisor: sameRole(s403), caseworker: sameRole(s403), deactivated: sameRole(signin)},
	{name: "page erase", method: "POST", path: "/dashboard/survivors/{survivor}/erase", trace: true,
		body:  func(_ *matrix, _ target, c matrixCase) any { return url.Values{"confirm": {c.caseCode}} },
		admin: sameRole(done("erased")), supervisor: sameRole(s403), caseworker: sameRole(s403), deactivated: sameRole(signin)},
	{name: "page apply cadence template", method: "POST", path: "/dashboard/cadences/{template}/apply", trace: true,
		body:  func(_ *matrix, _ target, c matrixCase) any { return url.Values{"survivor": {c.survivor}} },
		admin: sameRole(done("1")), supervisor: sameRole(s403), caseworker: sameRole(s403), deactivated: sameRole(signin)},
	{name: "page alert", method: "GET", path: "/dashboard/alerts/{alert}", alert: true, trace: true,
		admin: sameRole(s200), supervisor: [3]want{s200, s200, s404}, caseworker: [3]want{s200, s404, s404}, deactivated: sameRole(signin)},
	{name: "page acknowledge", method: "POST", path: "/dashboard/alerts/{alert}/acknowledge", alert: true, trace: true,
		admin: sameRole(done("acknowledge")), supervisor: [3]want{done("acknowledge"), done("acknowledge"), s404}, caseworker: [3]want{done("acknowledge"), s404, s404}, deactivated: sameRole(signin)},
	{name: "page resolve", method: "POST", path: "/dashboard/alerts/{alert}/resolve", alert: true, trace: true,
		body:  func(*matrix, target, matrixCase) any { return url.Values{"note": {"Called; safe at home."}} },
		admin: sameRole(done("resolve")), supervisor: [3]want{done("resolve"), done("resolve"), s404}, caseworker: [3]want{done("resolve"), s404, s404}, deactivated: sameRole(signin)},
}

// TestAuthz runs the authorisation matrix: each route of authzMatrix as
// an admin, the team's supervisor, its caseworker and a deactivated admin,
// on the caseworker's own case, a colleague's and another team's. Each
// cell's status (and a form's redirect) is asserted; a list shows the case
// exactly when the role may see it; a refusal changes nothing at all (the
// case, its consent, windows, cadence, check-ins, messages, flags, alerts
// and their history, its audit trail, the job queue); an allowed call
// leaves its trace; and "not yours" is the very answer "no such case"
// gets. Allowed cells act on a fresh case each, refused ones on shared
// cases that must stay as they are.
func TestAuthz(t *testing.T) {
	t.Parallel()
	m := newMatrix(t)
	cells := 0
	for _, row := range authzMatrix {
		for _, role := range []string{"admin", "supervisor", "caseworker", "deactivated"} {
			wants := map[string][3]want{"admin": row.admin, "supervisor": row.supervisor, "caseworker": row.caseworker, "deactivated": row.deactivated}[role]
			for _, tg := range []target{own, team, other} {
				m.check(t, row, role, tg, wants[tg])
				cells++
			}
		}
	}
	t.Logf("%d cells", cells)
}

// check runs one cell.
func (m *matrix) check(t *testing.T, row matrixRow, role string, tg target, w want) {
	t.Helper()
	cell := fmt.Sprintf("%s (%s %s) as %s on the %s", row.name, row.method, row.path, role, tg)
	c := m.shared[tg]
	if !w.refused() && !row.list {
		c = m.newCase(tg, row.alert)
	}
	before := m.fingerprint(c)
	got := m.call(row, role, tg, c)
	after := m.fingerprint(c)

	if got.code != w.status || (w.to != "" && !strings.Contains(got.location, w.to)) {
		t.Errorf("%s: %d %s, want %d %s\n%.300s", cell, got.code, got.location, w.status, w.to, got.body)
		return
	}
	if w.listed != 0 {
		id := c.survivor
		if row.alert {
			id = c.alert
		}
		if shown := strings.Contains(got.body, id); shown != (w.listed > 0) {
			t.Errorf("%s: the case is listed: %v, want %v", cell, shown, w.listed > 0)
		}
	}
	switch {
	case (w.refused() || w.listed < 0) && before != after:
		t.Errorf("%s: refused, yet something changed:\nbefore: %s\nafter:  %s", cell, before, after)
	case !w.refused() && w.listed == 0 && row.trace && before == after:
		t.Errorf("%s: allowed, yet it left no trace", cell)
	}
	if w == s404 {
		// Not yours looks exactly like not there.
		missing := m.call(row, role, tg, matrixCase{survivor: anyUUID, alert: anyUUID, caseCode: "SA-0000"})
		pairs := []string{c.survivor, "{id}", anyUUID, "{id}"}
		if c.alert != "" {
			pairs = append(pairs, c.alert, "{id}")
		}
		ids := strings.NewReplacer(pairs...)
		if missing.code != got.code || ids.Replace(missing.body) != ids.Replace(got.body) {
			t.Errorf("%s: answers %d %q, but no such case answers %d %q", cell, got.code, got.body, missing.code, missing.body)
		}
	}
}
