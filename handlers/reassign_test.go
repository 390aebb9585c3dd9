package handlers_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"saathi/handlers"
	"saathi/jobs/telephony/twiliofake"
	"saathi/locales"
)

// addStaff creates a staff member with a phone for alert texts.
func (f *fixture) addStaff(name, role, supervisor, phone string) staffMember {
	f.t.Helper()
	st, err := handlers.CreateStaff(context.Background(), f.pool, f.keyring, handlers.StaffInput{Name: name, Role: role, SupervisorID: supervisor, Phone: phone})
	if err != nil {
		f.t.Fatalf("create %s: %v", name, err)
	}
	return staffMember{ID: st.ID.String(), Token: st.Token}
}

// textsTo lists the bodies the fake Twilio accepted for a number.
func textsTo(fake *twiliofake.Server, phone string) []string {
	var out []string
	for _, m := range fake.Messages() {
		if m.To == phone {
			out = append(out, m.Body)
		}
	}
	return out
}

// ackCode reads an alert's acknowledgement code.
func (f *fixture) ackCode(alertID string) string {
	f.t.Helper()
	var code string
	if err := f.pool.QueryRow(context.Background(), "SELECT ack_code FROM alerts WHERE id = $1", alertID).Scan(&code); err != nil {
		f.t.Fatal(err)
	}
	return code
}

// escalateNow makes the alert's pending escalation due: the test clock
// passes the SLA, and River's own schedule is pulled to now.
func (f *fixture) escalateNow(after time.Duration) {
	f.t.Helper()
	f.now = f.now.Add(after)
	if _, err := f.pool.Exec(context.Background(), "UPDATE river_job SET scheduled_at = now() WHERE kind = 'alert_escalate' AND state IN ('scheduled', 'available')"); err != nil {
		f.t.Fatal(err)
	}
	f.workJobs()
}

// TestAlertsFollowReassignment: after a survivor moves from caseworker A
// (supervisor SA) to caseworker B (supervisor SB), everything about their
// alerts follows the survivor's current assignment: B and SB can read and
// act on it, A and SA can neither read the survivor's words nor silence
// the alert (by API or by SMS with its code), B is texted the alert, the
// move is in its history, and the escalation goes to SB.
func TestAlertsFollowReassignment(t *testing.T) {
	t.Parallel()
	f := setup(t)
	const (
		supervisorBPhone = "+919000000012"
		caseworkerBPhone = "+919000000011"
	)
	a, sa := f.caseworker, f.supervisor
	sb := f.addStaff("Second Supervisor", "supervisor", "", supervisorBPhone)
	b := f.addStaff("Second Caseworker", "caseworker", sb.ID, caseworkerBPhone)
	fake := f.twilio()

	sv := f.enrol("+919876543210") // assigned to A
	id := f.alertFor("+919876543210", "3 mango, they took my phone")
	code := f.ackCode(id)
	if n := len(textsTo(fake, caseworkerPhone)); n != 1 {
		t.Fatalf("A got %d alert texts before the move, want 1", n)
	}

	if r := f.do(http.MethodPatch, "/api/v1/survivors/"+sv, f.admin.Token, map[string]any{"caseworker_id": b.ID}); r.Code != http.StatusOK {
		t.Fatalf("reassign: %d %s", r.Code, r.Body)
	}
	f.workJobs()

	// B is told, once, with the case code; A is not told again.
	bTexts := textsTo(fake, caseworkerBPhone)
	if len(bTexts) != 1 || !strings.Contains(bTexts[0], "ACK "+code) || !strings.Contains(bTexts[0], "/dashboard/alerts/"+id) {
		t.Errorf("new caseworker's texts %q, want the alert once", bTexts)
	}
	if n := len(textsTo(fake, caseworkerPhone)); n != 1 {
		t.Errorf("old caseworker got %d texts, want only the first", n)
	}
	if n := f.count(`SELECT count(*) FROM alert_events WHERE alert_id = $1 AND kind = 'reassigned'
		AND detail->>'from' = $2 AND detail->>'to' = $3 AND staff_id = $4`, id, a.ID, b.ID, f.admin.ID); n != 1 {
		t.Error("the move is not in the alert's history")
	}
	if n := f.count("SELECT count(*) FROM alerts WHERE id = $1 AND caseworker_id = $2", id, b.ID); n != 1 {
		t.Error("the alert still names the old caseworker")
	}

	type route struct{ method, path string }
	reads := []route{{http.MethodGet, "/api/v1/alerts/" + id}}
	writes := []route{{http.MethodPost, "/api/v1/alerts/" + id + "/acknowledge"}, {http.MethodPost, "/api/v1/alerts/" + id + "/resolve"}}
	listed := func(token string) bool {
		r := f.do(http.MethodGet, "/api/v1/alerts", token, nil)
		return r.Code == http.StatusOK && strings.Contains(string(r.Body), id)
	}
	for name, st := range map[string]staffMember{"old caseworker": a, "old supervisor": sa} {
		for _, rt := range append(reads, writes...) {
			if r := f.do(rt.method, rt.path, st.Token, map[string]any{"note": "done"}); r.Code != http.StatusNotFound {
				t.Errorf("%s: %s %s = %d, want 404", name, rt.method, rt.path, r.Code)
			}
		}
		if listed(st.Token) {
			t.Errorf("%s still lists the alert", name)
		}
	}
	// The old caseworker's and old supervisor's SMS ACK match nothing.
	for phone, lang := range map[string]string{caseworkerPhone: "en", supervisorPhone: "en"} {
		if _, reply := f.inbound(newSID(), phone, "ACK "+code); reply != f.text(lang, locales.AlertAckUnknown) {
			t.Errorf("ACK from %s answered %q", phone, reply)
		}
	}
	if n := f.count("SELECT count(*) FROM alerts WHERE id = $1 AND status = 'open'", id); n != 1 {
		t.Fatal("the old caseworker or supervisor silenced the alert")
	}
	for name, st := range map[string]staffMember{"new caseworker": b, "new supervisor": sb, "admin": f.admin} {
		r := f.do(http.MethodGet, "/api/v1/alerts/"+id, st.Token, nil)
		if r.Code != http.StatusOK || r.json(t)["evidence"].(map[string]any)["reply"] == nil {
			t.Errorf("%s: GET = %d %s", name, r.Code, r.Body)
		}
		if !listed(st.Token) {
			t.Errorf("%s does not list the alert", name)
		}
	}

	// Nobody acknowledges: the escalation goes to the new supervisor only.
	f.escalateNow(16 * time.Minute)
	if n := len(textsTo(fake, supervisorBPhone)); n != 1 {
		t.Errorf("new supervisor got %d escalation texts, want 1", n)
	}
	if n := len(textsTo(fake, supervisorPhone)); n != 0 {
		t.Errorf("old supervisor got %d escalation texts, want 0", n)
	}
	// The new supervisor acknowledges by SMS.
	if _, reply := f.inbound(newSID(), supervisorBPhone, "ACK "+code); !strings.HasPrefix(reply, "Acknowledged: case SA-") {
		t.Errorf("new supervisor's ACK answered %q", reply)
	}
	if n := f.count("SELECT count(*) FROM alerts WHERE id = $1 AND status = 'acknowledged' AND acknowledged_by = $2", id, sb.ID); n != 1 {
		t.Error("the new supervisor's ACK was not taken")
	}
}

// TestReassignedAlertAcknowledgedByAPI: the new caseworker acts on the
// alert through the API, and moving the survivor back texts the first
// caseworker again (each move is its own notification).
func TestReassignedAlertAcknowledgedByAPI(t *testing.T) {
	t.Parallel()
	f := setup(t)
	b := f.addStaff("Second Caseworker", "caseworker", f.supervisor.ID, "+919000000011")
	fake := f.twilio()
	sv := f.enrol("+919876543210")
	id := f.alertFor("+919876543210", "3")
	for _, to := range []string{b.ID, f.caseworker.ID} {
		if r := f.do(http.MethodPatch, "/api/v1/survivors/"+sv, f.supervisor.Token, map[string]any{"caseworker_id": to}); r.Code != http.StatusOK {
			t.Fatalf("reassign: %d %s", r.Code, r.Body)
		}
		f.workJobs()
	}
	if n := len(textsTo(fake, caseworkerPhone)); n != 2 {
		t.Errorf("first caseworker got %d texts, want 2 (raised, moved back)", n)
	}
	if n := len(textsTo(fake, "+919000000011")); n != 1 {
		t.Errorf("second caseworker got %d texts, want 1", n)
	}
	if r := f.do(http.MethodPost, "/api/v1/alerts/"+id+"/acknowledge", b.Token, nil); r.Code != http.StatusNotFound {
		t.Errorf("second caseworker, no longer assigned, acknowledges: %d", r.Code)
	}
	if r := f.do(http.MethodPost, "/api/v1/alerts/"+id+"/acknowledge", f.caseworker.Token, nil); r.Code != http.StatusOK {
		t.Errorf("caseworker acknowledges: %d %s", r.Code, r.Body)
	}
	if n := f.count("SELECT count(*) FROM alert_events WHERE alert_id = $1 AND kind = 'reassigned'", id); n != 2 {
		t.Errorf("history has %d moves, want 2", n)
	}
}

// TestSupervisorAssignsOnlyOwnTeam: a supervisor may give survivors to
// themselves or their own caseworkers, never to another team; an admin
// may give them to anyone.
func TestSupervisorAssignsOnlyOwnTeam(t *testing.T) {
	t.Parallel()
	f := setup(t)
	other := f.addStaff("Other Supervisor", "supervisor", "", "")
	body := f.enrolBody("+919876543210")
	body["caseworker_id"] = f.otherCaseworker.ID // not in the supervisor's team
	r := f.do(http.MethodPost, "/api/v1/survivors", f.supervisor.Token, body)
	if r.Code != http.StatusUnprocessableEntity || r.json(t)["field"] != "caseworker_id" {
		t.Errorf("enrol into another team: %d %s", r.Code, r.Body)
	}
	if n := f.count("SELECT count(*) FROM survivors"); n != 0 {
		t.Fatal("the refused enrolment stored a survivor")
	}
	for i, own := range []string{f.caseworker.ID, f.supervisor.ID} {
		body := f.enrolBody("+91987654320" + string(rune('1'+i)))
		body["caseworker_id"] = own
		if r := f.do(http.MethodPost, "/api/v1/survivors", f.supervisor.Token, body); r.Code != http.StatusCreated {
			t.Errorf("enrol into own team: %d %s", r.Code, r.Body)
		}
	}
	id := f.enrol("+919811111111")
	for _, to := range []string{f.otherCaseworker.ID, other.ID} {
		if r := f.do(http.MethodPatch, "/api/v1/survivors/"+id, f.supervisor.Token, map[string]any{"caseworker_id": to}); r.Code != http.StatusUnprocessableEntity || r.json(t)["field"] != "caseworker_id" {
			t.Errorf("supervisor moves a survivor to another team: %d %s", r.Code, r.Body)
		}
	}
	if n := f.count("SELECT count(*) FROM survivors WHERE id = $1 AND caseworker_id = $2", id, f.caseworker.ID); n != 1 {
		t.Error("the refused move changed the assignment")
	}
	if r := f.do(http.MethodPatch, "/api/v1/survivors/"+id, f.admin.Token, map[string]any{"caseworker_id": f.otherCaseworker.ID}); r.Code != http.StatusOK {
		t.Errorf("admin moves a survivor anywhere: %d %s", r.Code, r.Body)
	}
}

// TestEscalatedAlertFollowsToNewTeam: an alert that already escalated to
// the old supervisor reaches both the new caseworker and the new
// supervisor when the survivor moves.
func TestEscalatedAlertFollowsToNewTeam(t *testing.T) {
	t.Parallel()
	f := setup(t)
	sb := f.addStaff("Second Supervisor", "supervisor", "", "+919000000012")
	b := f.addStaff("Second Caseworker", "caseworker", sb.ID, "+919000000011")
	fake := f.twilio()
	sv := f.enrol("+919876543210")
	id := f.alertFor("+919876543210", "3")
	f.escalateNow(16 * time.Minute) // to the first supervisor
	if n := len(textsTo(fake, supervisorPhone)); n != 1 {
		t.Fatalf("first supervisor got %d texts, want the escalation", n)
	}
	if r := f.do(http.MethodPatch, "/api/v1/survivors/"+sv, f.admin.Token, map[string]any{"caseworker_id": b.ID}); r.Code != http.StatusOK {
		t.Fatalf("reassign: %d %s", r.Code, r.Body)
	}
	f.workJobs()
	code := f.ackCode(id)
	for name, phone := range map[string]string{"new caseworker": "+919000000011", "new supervisor": "+919000000012"} {
		if got := textsTo(fake, phone); len(got) != 1 || !strings.Contains(got[0], "ACK "+code) {
			t.Errorf("%s's texts %q, want the alert once", name, got)
		}
	}
	if n := len(textsTo(fake, supervisorPhone)); n != 1 {
		t.Errorf("first supervisor got %d texts, want no more after the move", n)
	}
}
