package handlers_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// casesFixture is a supervisor and their caseworker, both able to sign in,
// and a survivor enrolled for the caseworker.
func casesFixture(t *testing.T) (f *fixture, sup, cw staffMember, survivor string) {
	t.Helper()
	f = setup(t)
	sup = f.withLogin("Sunita", "supervisor", "", "sunita")
	cw = f.withLogin("Kiran", "caseworker", sup.ID, "kiran")
	f.withLogin("Other", "caseworker", "", "other")
	body := f.enrolBody("+919876543210")
	body["caseworker_id"] = cw.ID
	r := f.do(http.MethodPost, "/api/v1/survivors", f.admin.Token, body)
	if r.Code != http.StatusCreated {
		t.Fatal(r.Code, string(r.Body))
	}
	return f, sup, cw, r.json(t)["id"].(string)
}

// TestPhoneReveal: a survivor's number is masked on their page and on
// their alert's page; "show number to call" puts the reveal on record and
// shows a tel: link to that staff member, for ten minutes only; another
// caseworker cannot reveal it, and the way back stays on this site.
func TestPhoneReveal(t *testing.T) {
	t.Parallel()
	f, _, _, id := casesFixture(t)
	page := "/dashboard/survivors/" + id
	b := f.browser()
	b.signIn("kiran", "correct horse battery", page)

	body := b.do(http.MethodGet, page, nil).Body.String()
	if strings.Contains(body, "9876543210") || strings.Contains(body, "tel:") || !strings.Contains(body, "Show number to call") {
		t.Fatalf("number not masked before reveal:\n%s", body)
	}
	rec := b.post(page+"/reveal", url.Values{"back": {page}})
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != page {
		t.Fatalf("reveal: %d %s %s", rec.Code, rec.Header().Get("Location"), rec.Body)
	}
	if n := f.count("SELECT count(*) FROM audit_log WHERE action = 'survivor.phone_reveal' AND survivor_id = $1", id); n != 1 {
		t.Errorf("reveals on record: %d, want 1", n)
	}
	if body := html.UnescapeString(b.do(http.MethodGet, page, nil).Body.String()); !strings.Contains(body, `href="tel:+919876543210"`) {
		t.Errorf("no tel: link after reveal:\n%s", body)
	}

	// The alert's page shows it too while it is revealed, then masks it.
	f.twilio().AllowUnused()
	f.inbound(newSID(), "+919876543210", "3")
	f.workJobs()
	var alert string
	if err := f.pool.QueryRow(context.Background(), "SELECT id FROM alerts WHERE survivor_id = $1", id).Scan(&alert); err != nil {
		t.Fatal(err)
	}
	if body := html.UnescapeString(b.do(http.MethodGet, "/dashboard/alerts/"+alert, nil).Body.String()); !strings.Contains(body, `href="tel:+919876543210"`) {
		t.Errorf("alert page: no tel: link while revealed")
	}
	f.now = f.now.Add(11 * time.Minute)
	if body := b.do(http.MethodGet, "/dashboard/alerts/"+alert, nil).Body.String(); strings.Contains(body, "9876543210") || !strings.Contains(body, "91******3210") {
		t.Errorf("alert page: number shown after the reveal ran out:\n%s", body)
	}
	if rec := b.post(page+"/reveal", url.Values{"back": {"https://elsewhere.example/"}}); rec.Header().Get("Location") != "/dashboard" {
		t.Errorf("reveal sent back off-site: %s", rec.Header().Get("Location"))
	}

	other := f.browser()
	other.signIn("other", "correct horse battery", "/dashboard")
	other.do(http.MethodGet, "/dashboard", nil)
	if rec := other.post(page+"/reveal", url.Values{"back": {page}}); rec.Code != http.StatusNotFound {
		t.Errorf("another caseworker reveals: %d", rec.Code)
	}
	if n := f.count("SELECT count(*) FROM audit_log WHERE action = 'survivor.phone_reveal'"); n != 2 {
		t.Errorf("reveals on record: %d, want 2 (the refused one is not a reveal)", n)
	}
}

// TestSurvivorPageChanges: staff change language, channels and safe times,
// record consent, and (supervisors) the cadence from the survivor's page,
// through the API's checks: a bad field shows the page again naming it and
// changes nothing; a caseworker cannot change the cadence, and another
// caseworker cannot change anything.
func TestSurvivorPageChanges(t *testing.T) {
	t.Parallel()
	f, _, _, id := casesFixture(t)
	page := "/dashboard/survivors/" + id
	b := f.browser()
	b.signIn("kiran", "correct horse battery", page)
	if body := b.do(http.MethodGet, page, nil).Body.String(); !strings.Contains(body, "/change/edit") || strings.Contains(body, "/change/cadence") {
		t.Fatal("a caseworker's survivor page: wrong forms")
	}

	edit := url.Values{"language": {"pa"}, "ch_sms": {"1"}, "day_0_sat": {"1"}, "day_0_sun": {"1"}, "start_0": {"09:00"}, "end_0": {"12:00"}}
	rec := b.post(page+"/change/edit", edit)
	if rec.Code != http.StatusSeeOther || !strings.HasSuffix(rec.Header().Get("Location"), "?done=edit") {
		t.Fatalf("edit: %d %s", rec.Code, rec.Body)
	}
	if n := f.count("SELECT count(*) FROM survivors WHERE id = $1 AND language = 'pa' AND channels = '{sms}'", id); n != 1 {
		t.Error("language and channels not changed")
	}
	if n := f.count("SELECT count(*) FROM contact_windows WHERE survivor_id = $1 AND start_minute = 540 AND end_minute = 720", id); n != 1 {
		t.Error("safe window not changed")
	}
	if n := f.count("SELECT count(*) FROM audit_log WHERE action = 'survivor.update' AND survivor_id = $1", id); n != 1 {
		t.Errorf("changes on record: %d", n)
	}
	body := b.do(http.MethodGet, rec.Header().Get("Location"), nil).Body.String()
	if !strings.Contains(body, "Saved.") || !strings.Contains(body, "Sat Sun 09:00–12:00") {
		t.Errorf("page after the change:\n%s", body)
	}

	for _, bad := range []struct {
		name, field string
		form        url.Values
	}{
		{"window ends before it starts", "contact_windows[0]", url.Values{"language": {"gu"}, "ch_sms": {"1"}, "day_0_mon": {"1"}, "start_0": {"12:00"}, "end_0": {"09:00"}}},
		{"no channel", "channels", url.Values{"language": {"gu"}, "day_0_mon": {"1"}, "start_0": {"09:00"}, "end_0": {"12:00"}}},
		{"no window", "contact_windows", url.Values{"language": {"gu"}, "ch_sms": {"1"}}},
		{"unknown language", "language", url.Values{"language": {"xx"}, "ch_sms": {"1"}, "day_0_mon": {"1"}, "start_0": {"09:00"}, "end_0": {"12:00"}}},
	} {
		rec := b.post(page+"/change/edit", bad.form)
		if rec.Code != http.StatusUnprocessableEntity || !strings.Contains(rec.Body.String(), "Nothing was changed. "+bad.field) {
			t.Errorf("%s: %d, want 422 naming %s", bad.name, rec.Code, bad.field)
		}
	}
	if n := f.count("SELECT count(*) FROM survivors WHERE id = $1 AND language = 'pa'", id); n != 1 {
		t.Error("a refused change changed the language")
	}

	rec = b.post(page+"/change/consent", url.Values{"action": {"withdraw"}, "consent_voice": {"1"}, "method": {"phone_call"}})
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("consent: %d %s", rec.Code, rec.Body)
	}
	if n := f.count("SELECT count(*) FROM consent_records WHERE survivor_id = $1 AND action = 'withdraw' AND channels = '{voice}' AND source = 'staff' AND method = 'phone_call'", id); n != 1 {
		t.Error("consent withdrawal not recorded")
	}
	body = b.do(http.MethodGet, page, nil).Body.String()
	if !strings.Contains(body, "Voice call: no") || !strings.Contains(body, "Consent withdrawn: Voice call") {
		t.Errorf("consent not shown withdrawn:\n%s", body)
	}
	if rec := b.post(page+"/change/consent", url.Values{"action": {"give"}, "method": {"verbal"}}); rec.Code != http.StatusUnprocessableEntity || !strings.Contains(rec.Body.String(), "channels") {
		t.Errorf("consent without a channel: %d", rec.Code)
	}
	if rec := b.post(page+"/change/cadence", url.Values{"cadence": {"monthly"}}); rec.Code != http.StatusForbidden {
		t.Errorf("a caseworker changes the cadence: %d", rec.Code)
	}

	sup := f.browser()
	sup.signIn("sunita", "correct horse battery", page)
	sup.do(http.MethodGet, page, nil)
	if rec := sup.post(page+"/change/cadence", url.Values{"cadence": {"fortnightly"}}); rec.Code != http.StatusUnprocessableEntity {
		t.Errorf("an unknown cadence: %d", rec.Code)
	}
	if rec := sup.post(page+"/change/cadence", url.Values{"cadence": {"monthly"}}); rec.Code != http.StatusSeeOther {
		t.Fatalf("cadence: %d %s", rec.Code, rec.Body)
	}
	if n := f.count("SELECT count(*) FROM checkins WHERE survivor_id = $1 AND kind = 'cadence' AND state = 'scheduled'", id); n != 12 {
		t.Errorf("monthly check-ins planned: %d, want 12", n)
	}

	other := f.browser()
	other.signIn("other", "correct horse battery", "/dashboard")
	other.do(http.MethodGet, "/dashboard", nil)
	if rec := other.post(page+"/change/edit", edit); rec.Code != http.StatusNotFound {
		t.Errorf("another caseworker changes the survivor: %d", rec.Code)
	}
	if rec := other.post(page+"/change/consent", url.Values{"action": {"give"}, "consent_voice": {"1"}, "method": {"verbal"}}); rec.Code != http.StatusNotFound {
		t.Errorf("another caseworker records consent: %d", rec.Code)
	}
}

// TestEraseNeedsTypedCode: erasure is for admins, and only once the case
// code is typed; a wrong one erases nothing.
func TestEraseNeedsTypedCode(t *testing.T) {
	t.Parallel()
	f, _, _, id := casesFixture(t)
	f.withLogin("Asha", "admin", "", "asha")
	page := "/dashboard/survivors/" + id
	var code string
	if err := f.pool.QueryRow(context.Background(), "SELECT case_code FROM survivors WHERE id = $1", id).Scan(&code); err != nil {
		t.Fatal(err)
	}

	sup := f.browser()
	sup.signIn("sunita", "correct horse battery", page)
	if body := sup.do(http.MethodGet, page, nil).Body.String(); strings.Contains(body, "/erase") {
		t.Error("a supervisor is offered erasure")
	}
	if rec := sup.post(page+"/erase", url.Values{"confirm": {code}}); rec.Code != http.StatusForbidden {
		t.Errorf("a supervisor erases: %d", rec.Code)
	}

	admin := f.browser()
	admin.signIn("asha", "correct horse battery", page)
	if body := admin.do(http.MethodGet, page+"/erase", nil).Body.String(); !strings.Contains(body, "Type the case code "+code) {
		t.Fatalf("erase page:\n%s", body)
	}
	for _, wrong := range []string{"", "SA-0000", "yes"} {
		if rec := admin.post(page+"/erase", url.Values{"confirm": {wrong}}); rec.Code != http.StatusUnprocessableEntity || !strings.Contains(rec.Body.String(), "nothing was erased") {
			t.Errorf("confirm %q: %d", wrong, rec.Code)
		}
	}
	if n := f.count("SELECT count(*) FROM survivors WHERE id = $1 AND status = 'active' AND phone_enc IS NOT NULL", id); n != 1 {
		t.Fatal("a wrong confirmation erased the survivor")
	}
	rec := admin.post(page+"/erase", url.Values{"confirm": {strings.ToLower(code)}})
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/dashboard/survivors?done=erased" {
		t.Fatalf("erase: %d %s", rec.Code, rec.Header().Get("Location"))
	}
	if n := f.count("SELECT count(*) FROM survivors WHERE id = $1 AND status = 'erased' AND phone_enc IS NULL", id); n != 1 {
		t.Error("not erased")
	}
	if n := f.count("SELECT count(*) FROM audit_log WHERE action = 'survivor.erase' AND survivor_id = $1", id); n != 1 {
		t.Error("erasure not on record")
	}
	if body := admin.do(http.MethodGet, "/dashboard/survivors?done=erased", nil).Body.String(); !strings.Contains(body, "Personal data erased") {
		t.Error("no word that it was erased")
	}
	if rec := admin.do(http.MethodGet, page, nil); rec.Code != http.StatusNotFound {
		t.Errorf("an erased survivor's page: %d", rec.Code)
	}
}

// TestTeamAlerts: a supervisor's dashboard lists their team's alerts with
// whose case each is and how far it has escalated; the caseworker's own
// list has neither.
func TestTeamAlerts(t *testing.T) {
	t.Parallel()
	f, _, _, _ := casesFixture(t)
	f.twilio().AllowUnused()
	f.inbound(newSID(), "+919876543210", "3")
	f.workJobs()

	sup := f.browser()
	sup.signIn("sunita", "correct horse battery", "/dashboard")
	page := sup.do(http.MethodGet, "/dashboard", nil).Body.String()
	if !strings.Contains(page, "Team alerts") || !strings.Contains(page, "Caseworker: Kiran") || strings.Contains(page, "Escalated to") {
		t.Fatalf("team alerts before escalation:\n%s", page)
	}
	f.escalateNow(time.Hour)
	live := sup.do(http.MethodGet, "/dashboard/live/alerts", nil).Body.String()
	if !strings.Contains(live, "Escalated to the supervisor") {
		t.Errorf("escalation not shown:\n%s", live)
	}
	cw := f.browser()
	cw.signIn("kiran", "correct horse battery", "/dashboard")
	if page := cw.do(http.MethodGet, "/dashboard", nil).Body.String(); strings.Contains(page, "Team alerts") || strings.Contains(page, "Caseworker: Kiran") || !strings.Contains(page, "Escalated to the supervisor") {
		t.Errorf("caseworker's list:\n%s", page)
	}
}

// TestDashboardKeepsOpenAlerts: an open alert stays on the dashboard
// however many newer alerts were resolved since (the list used to be the
// newest 200 of every status, open ones filtered after).
func TestDashboardKeepsOpenAlerts(t *testing.T) {
	t.Parallel()
	f, _, _, id := casesFixture(t)
	f.twilio().AllowUnused()
	f.inbound(newSID(), "+919876543210", "3")
	f.workJobs()
	// 250 newer alerts, all resolved, from the survivor's other flags.
	if _, err := f.pool.Exec(context.Background(), `
		WITH fl AS (
			INSERT INTO risk_flags (survivor_id, kind, severity, created_at)
			SELECT $1, 'free_text', 'low', now() + g * interval '1 second' FROM generate_series(1, 250) g
			RETURNING id, created_at)
		INSERT INTO alerts (survivor_id, flag_id, caseworker_id, kind, severity, status, ack_code, created_at, resolved_at)
		SELECT $1, fl.id, s.caseworker_id, 'free_text', 'low', 'resolved', 'R' || fl.id, fl.created_at, fl.created_at FROM fl, survivors s WHERE s.id = $1`, id); err != nil {
		t.Fatal(err)
	}
	b := f.browser()
	b.signIn("kiran", "correct horse battery", "/dashboard")
	if page := b.do(http.MethodGet, "/dashboard", nil).Body.String(); !strings.Contains(page, "Asked for help now") {
		t.Errorf("the open urgent alert is off the dashboard:\n%s", page)
	}
}
