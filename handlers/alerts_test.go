package handlers_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"saathi/locales"
)

// enrolWithCheckinSent enrols a survivor and sends them an SMS check-in
// their reply will answer; it returns their ID.
func (f *fixture) enrolWithCheckinSent(phone string) string {
	f.t.Helper()
	id := f.enrol(phone)
	f.twilio()
	if r := f.do(http.MethodPost, "/api/v1/survivors/"+id+"/checkins", f.caseworker.Token, map[string]any{"channel": "sms"}); r.Code != http.StatusAccepted {
		f.t.Fatalf("ask for a check-in: %d %s", r.Code, r.Body)
	}
	f.workJobs()
	return id
}

// alertFor makes the survivor text "3 ..." and returns the alert's ID.
func (f *fixture) alertFor(phone, body string) string {
	f.t.Helper()
	f.inbound(newSID(), phone, body)
	f.workJobs()
	r := f.do(http.MethodGet, "/api/v1/alerts?status=open", f.admin.Token, nil)
	alerts := r.json(f.t)["alerts"].([]any)
	if len(alerts) == 0 {
		f.t.Fatalf("no alert: %s", r.Body)
	}
	return alerts[0].(map[string]any)["id"].(string)
}

func TestAlertsAPI(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.enrol("+919876543210")
	id := f.alertFor("+919876543210", "3 they took my phone")

	list := func(token, query string) int {
		r := f.do(http.MethodGet, "/api/v1/alerts"+query, token, nil)
		if r.Code != http.StatusOK {
			t.Fatalf("list: %d %s", r.Code, r.Body)
		}
		return len(r.json(t)["alerts"].([]any))
	}
	if list(f.caseworker.Token, "") != 1 || list(f.supervisor.Token, "") != 1 || list(f.otherCaseworker.Token, "") != 0 {
		t.Error("alert list not scoped to the caseworker, their supervisor and admins")
	}
	if r := f.do(http.MethodGet, "/api/v1/alerts?status=lost", f.caseworker.Token, nil); r.Code != http.StatusUnprocessableEntity {
		t.Errorf("bad status filter: %d", r.Code)
	}
	if r := f.do(http.MethodGet, "/api/v1/alerts/"+id, f.otherCaseworker.Token, nil); r.Code != http.StatusNotFound {
		t.Errorf("other caseworker reads the alert: %d", r.Code)
	}
	if r := f.do(http.MethodPost, "/api/v1/alerts/"+id+"/acknowledge", f.otherCaseworker.Token, nil); r.Code != http.StatusNotFound {
		t.Errorf("other caseworker acknowledges: %d", r.Code)
	}
	if r := f.do(http.MethodGet, "/api/v1/alerts", "", nil); r.Code != http.StatusUnauthorized {
		t.Errorf("no token: %d", r.Code)
	}

	r := f.do(http.MethodGet, "/api/v1/alerts/"+id, f.caseworker.Token, nil)
	if r.Code != http.StatusOK {
		t.Fatalf("get: %d %s", r.Code, r.Body)
	}
	got := r.json(t)
	ev := got["evidence"].(map[string]any)
	if ev["reply"] != "3 they took my phone" || ev["intent"] != "help_now" || got["severity"] != "urgent" || got["reference"] != "CHD-0042" {
		t.Errorf("alert detail: %s", r.Body)
	}
	if tl := got["timeline"].([]any); len(tl) < 2 {
		t.Errorf("timeline %v: want created and notified", tl)
	}
	if n := f.count("SELECT count(*) FROM audit_log WHERE action = 'alert.read' AND staff_id = $1", f.caseworker.ID); n != 1 {
		t.Error("reading an alert's evidence is not audited")
	}

	if r := f.do(http.MethodPost, "/api/v1/alerts/"+id+"/acknowledge", f.caseworker.Token, nil); r.Code != http.StatusOK || r.json(t)["status"] != "acknowledged" {
		t.Fatalf("acknowledge: %d %s", r.Code, r.Body)
	}
	if r := f.do(http.MethodPost, "/api/v1/alerts/"+id+"/acknowledge", f.caseworker.Token, nil); r.Code != http.StatusConflict {
		t.Errorf("second acknowledge: %d, want 409", r.Code)
	}
	if list(f.caseworker.Token, "?status=open") != 0 || list(f.caseworker.Token, "?status=acknowledged") != 1 {
		t.Error("status filter")
	}
	for _, bad := range []string{`{}`, `{"note": "   "}`, `{"note": "` + strings.Repeat("x", 4001) + `"}`} {
		if r := f.do(http.MethodPost, "/api/v1/alerts/"+id+"/resolve", f.caseworker.Token, bad); r.Code != http.StatusUnprocessableEntity {
			t.Errorf("resolve %s: %d, want 422", bad[:min(len(bad), 20)], r.Code)
		}
	}
	r = f.do(http.MethodPost, "/api/v1/alerts/"+id+"/resolve", f.caseworker.Token, map[string]any{"note": "Called her; she is safe at her aunt's."})
	if r.Code != http.StatusOK || r.json(t)["status"] != "resolved" || r.json(t)["resolution"] != "Called her; she is safe at her aunt's." {
		t.Fatalf("resolve: %d %s", r.Code, r.Body)
	}
	if n := f.count("SELECT count(*) FROM alerts WHERE resolution_enc::text LIKE '%aunt%'"); n != 0 {
		t.Error("resolution note stored in plain text")
	}
	if r := f.do(http.MethodPost, "/api/v1/alerts/"+id+"/resolve", f.caseworker.Token, map[string]any{"note": "again"}); r.Code != http.StatusConflict {
		t.Errorf("second resolve: %d", r.Code)
	}
	var kinds []string
	for _, e := range f.do(http.MethodGet, "/api/v1/alerts/"+id, f.caseworker.Token, nil).json(t)["timeline"].([]any) {
		kinds = append(kinds, e.(map[string]any)["kind"].(string))
	}
	if strings.Join(kinds, ",") != "created,notified,acknowledged,resolved" {
		t.Errorf("alert history %v", kinds)
	}
}

func TestSurvivorTimeline(t *testing.T) {
	t.Parallel()
	f := setup(t)
	id := f.enrolWithCheckinSent("+919876543210")
	f.inbound(newSID(), "+919876543210", "2 मुझे कॉल करो")
	f.workJobs()

	r := f.do(http.MethodGet, "/api/v1/survivors/"+id+"/timeline", f.caseworker.Token, nil)
	if r.Code != http.StatusOK {
		t.Fatalf("%d %s", r.Code, r.Body)
	}
	types := map[string]int{}
	var sawReply bool
	for _, e := range r.json(t)["timeline"].([]any) {
		m := e.(map[string]any)
		types[m["type"].(string)]++
		d := m["data"].(map[string]any)
		if m["type"] == "message" && d["direction"] == "in" && d["body"] == "2 मुझे कॉल करो" {
			sawReply = true
		}
	}
	for _, want := range []string{"checkin", "message", "response", "flag", "alert", "consent"} {
		if types[want] == 0 {
			t.Errorf("timeline has no %s: %v", want, types)
		}
	}
	if !sawReply {
		t.Error("the reply is not in the timeline, decrypted")
	}
	if n := f.count("SELECT count(*) FROM messages WHERE survivor_id = $1 AND direction = 'out' AND purpose = 'reply' AND template = 'ReplyCallMe'", id); n != 1 {
		t.Error("the answer the survivor got is not on record")
	}
	if n := f.count("SELECT count(*) FROM audit_log WHERE action = 'survivor.timeline' AND survivor_id = $1", id); n != 1 {
		t.Error("timeline read not audited")
	}
	if r := f.do(http.MethodGet, "/api/v1/survivors/"+id+"/timeline", f.otherCaseworker.Token, nil); r.Code != http.StatusNotFound {
		t.Errorf("other caseworker reads the timeline: %d", r.Code)
	}
	if n := f.count("SELECT count(*) FROM checkins WHERE survivor_id = $1 AND kind = 'adhoc' AND state = 'answered'", id); n != 1 {
		t.Error("the reply did not answer the check-in")
	}
}

// An assessment that runs again (its work committed, but the worker died
// before River recorded the job done) records nothing twice: one response,
// one answer on the timeline, one flag, one alert, and the check-in stays
// answered.
func TestAssessmentRunAgainRecordsNothingTwice(t *testing.T) {
	t.Parallel()
	f := setup(t)
	id := f.enrolWithCheckinSent("+919876543210")
	if _, answer := f.inbound(newSID(), "+919876543210", "3"); answer != f.text("hi", locales.ReplyHelpNow) {
		t.Fatalf("answer %q", answer)
	}
	f.workJobs()
	counts := func() [5]int {
		return [5]int{
			f.count("SELECT count(*) FROM responses WHERE survivor_id = $1", id),
			f.count("SELECT count(*) FROM messages WHERE survivor_id = $1 AND direction = 'out' AND purpose = 'reply' AND template = 'ReplyHelpNow'", id),
			f.count("SELECT count(*) FROM risk_flags WHERE survivor_id = $1", id),
			f.count("SELECT count(*) FROM alerts WHERE survivor_id = $1", id),
			f.count("SELECT count(*) FROM checkins WHERE survivor_id = $1 AND kind = 'adhoc' AND state = 'answered'", id),
		}
	}
	if got := counts(); got != [5]int{1, 1, 1, 1, 1} {
		t.Fatalf("after the assessment: responses, answers, flags, alerts, answered check-ins = %v, want one each", got)
	}
	if _, err := f.pool.Exec(context.Background(),
		"UPDATE river_job SET state = 'available', finalized_at = NULL, attempted_at = NULL WHERE kind = 'reply_assess'"); err != nil {
		t.Fatal(err)
	}
	if n := f.workJobs(); n == 0 {
		t.Fatal("the assessment did not run again")
	}
	if got := counts(); got != [5]int{1, 1, 1, 1, 1} {
		t.Errorf("after it ran again: responses, answers, flags, alerts, answered check-ins = %v, want one each", got)
	}
}
