package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// enrolForm is the enrolment form as a person fills it in.
func enrolForm(caseworker, phone string) url.Values {
	return url.Values{
		"reference": {"CHD-0100"}, "phone": {phone}, "language": {"hi"}, "ch_sms": {"1"}, "ch_voice": {"1"},
		"timezone": {"Asia/Kolkata"}, "day_mon": {"1"}, "day_wed": {"1"}, "start": {"10:00"}, "end": {"17:00"},
		"caseworker_id": {caseworker}, "duress_word": {"mango"}, "duress_code": {"4821"},
		"consent_sms": {"1"}, "consent_voice": {"1"}, "method": {"verbal"}, "recorded_at": {"2026-11-20T10:00"}, "cadence": {"taper"},
	}
}

// TestDashboardEnrol: a supervisor enrols a survivor through the form (the
// same checks as the API: a bad field shows the form again, filled in,
// naming it, and stores nothing), lands on their page, and asks for a
// check-in; a caseworker cannot enrol and sees only their own survivors.
func TestDashboardEnrol(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.withLogin("Sunita", "supervisor", "", "sunita")
	var supID string
	if err := f.pool.QueryRow(t.Context(), "SELECT id FROM staff WHERE role = 'supervisor' AND username_hash IS NOT NULL").Scan(&supID); err != nil {
		t.Fatal(err)
	}
	cw := f.withLogin("Kiran", "caseworker", supID, "kiran")
	b := f.browser()
	b.signIn("sunita", "correct horse battery", "/dashboard/survivors/new")
	page := b.do(http.MethodGet, "/dashboard/survivors/new", nil)
	if page.Code != http.StatusOK || !strings.Contains(page.Body.String(), `<label for="phone">`) || !strings.Contains(page.Body.String(), cw.ID) {
		t.Fatalf("enrol form: %d", page.Code)
	}

	bad := enrolForm(cw.ID, "12345")
	rec := b.post("/dashboard/survivors", bad)
	if rec.Code != http.StatusUnprocessableEntity || !strings.Contains(rec.Body.String(), "phone: not a usable phone number") || !strings.Contains(rec.Body.String(), `value="CHD-0100"`) {
		t.Errorf("a bad phone: %d %s", rec.Code, rec.Body)
	}
	if n := f.count("SELECT count(*) FROM survivors"); n != 0 {
		t.Fatal("a refused enrolment stored a survivor")
	}
	rec = b.post("/dashboard/survivors", enrolForm(cw.ID, "+919876543210"))
	if rec.Code != http.StatusSeeOther || !strings.HasPrefix(rec.Header().Get("Location"), "/dashboard/survivors/") {
		t.Fatalf("enrol: %d %s", rec.Code, rec.Body)
	}
	where := strings.TrimSuffix(rec.Header().Get("Location"), "?done=enrolled")
	if n := f.count("SELECT count(*) FROM survivors WHERE caseworker_id = $1 AND duress_enc IS NOT NULL AND duress_code_enc IS NOT NULL", cw.ID); n != 1 {
		t.Fatal("the survivor was not enrolled as filled in")
	}
	if n := f.count("SELECT count(*) FROM consent_records WHERE recorded_at = '2026-11-20T10:00:00+05:30' AND channels = '{sms,voice}'"); n != 1 {
		t.Error("consent not recorded at the survivor's local time")
	}
	survivor := b.do(http.MethodGet, where, nil).Body.String()
	if !strings.Contains(survivor, "SA-") || !strings.Contains(survivor, "91******3210") || strings.Contains(survivor, "9876543210") {
		t.Errorf("survivor page:\n%s", survivor)
	}
	rec = b.post(where+"/checkins", url.Values{"channel": {"sms"}})
	if rec.Code != http.StatusSeeOther || !strings.HasSuffix(rec.Header().Get("Location"), "?done=checkin") {
		t.Fatalf("ask a check-in: %d %s", rec.Code, rec.Header().Get("Location"))
	}
	if rec := b.post(where+"/checkins", url.Values{"channel": {"sms"}}); !strings.HasSuffix(rec.Header().Get("Location"), "?error=checkin") {
		t.Errorf("a second check-in on its way: %s", rec.Header().Get("Location"))
	}
	if n := f.count("SELECT count(*) FROM checkins WHERE kind = 'adhoc'"); n != 1 {
		t.Errorf("ad-hoc check-ins: %d", n)
	}

	kiran := f.browser()
	kiran.signIn("kiran", "correct horse battery", "/dashboard")
	if rec := kiran.do(http.MethodGet, "/dashboard/survivors/new", nil); rec.Code != http.StatusForbidden {
		t.Errorf("a caseworker opens the enrol form: %d", rec.Code)
	}
	if list := kiran.do(http.MethodGet, "/dashboard/survivors", nil).Body.String(); !strings.Contains(list, "CHD-0100") {
		t.Error("the caseworker does not see their survivor")
	}
	f.withLogin("Other", "caseworker", "", "other")
	other := f.browser()
	other.signIn("other", "correct horse battery", "/dashboard")
	if list := other.do(http.MethodGet, "/dashboard/survivors", nil).Body.String(); strings.Contains(list, "CHD-0100") {
		t.Error("another caseworker sees the survivor")
	}
	if rec := other.do(http.MethodGet, where, nil); rec.Code != http.StatusNotFound {
		t.Errorf("another caseworker's survivor page: %d", rec.Code)
	}
}
