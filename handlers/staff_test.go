package handlers_test

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestStaffTokenRotation: an admin gives a staff member a new token; the
// old one stops at once. Nobody else may, and it is audited.
func TestStaffTokenRotation(t *testing.T) {
	t.Parallel()
	f := setup(t)
	path := "/api/v1/staff/" + f.caseworker.ID + "/token"
	for name, tok := range map[string]string{"supervisor": f.supervisor.Token, "caseworker": f.caseworker.Token} {
		if r := f.do(http.MethodPost, path, tok, nil); r.Code != http.StatusForbidden {
			t.Errorf("%s rotates a token: %d, want 403", name, r.Code)
		}
	}
	r := f.do(http.MethodPost, path, f.admin.Token, nil)
	if r.Code != http.StatusOK {
		t.Fatalf("rotate: %d %s", r.Code, r.Body)
	}
	fresh, _ := r.json(t)["token"].(string)
	if !strings.HasPrefix(fresh, "sth_") || fresh == f.caseworker.Token {
		t.Fatalf("new token %q", fresh)
	}
	if r := f.do(http.MethodGet, "/api/v1/me", f.caseworker.Token, nil); r.Code != http.StatusUnauthorized {
		t.Errorf("old token after rotation: %d, want 401", r.Code)
	}
	if r := f.do(http.MethodGet, "/api/v1/me", fresh, nil); r.Code != http.StatusOK || r.json(t)["id"] != f.caseworker.ID {
		t.Errorf("new token: %d %s", r.Code, r.Body)
	}
	if n := f.count("SELECT count(*) FROM audit_log WHERE action = 'staff.token.rotate' AND staff_id = $1 AND detail->>'staff_id' = $2", f.admin.ID, f.caseworker.ID); n != 1 {
		t.Error("rotation not audited")
	}
	if n := f.count("SELECT count(*) FROM audit_log WHERE detail::text LIKE '%sth_%'"); n != 0 {
		t.Error("a token is in the audit log")
	}
	for _, bad := range []string{"/api/v1/staff/00000000-0000-4000-8000-000000000099/token", "/api/v1/staff/nope/token"} {
		if r := f.do(http.MethodPost, bad, f.admin.Token, nil); r.Code != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", bad, r.Code)
		}
	}
}

// TestStaffDeactivation: a deactivated caseworker's token gets 401 at
// once, their ACK by SMS is refused, they are texted nothing, and their
// survivors' open alerts (and new ones) go to their supervisor until the
// survivors are reassigned. Admins only; audited.
func TestStaffDeactivation(t *testing.T) {
	t.Parallel()
	f := setup(t)
	fake := f.twilio()
	sv := f.enrol("+919876543210") // the caseworker's, supervised by f.supervisor
	id := f.alertFor("+919876543210", "3")
	code := f.ackCode(id)
	path := "/api/v1/staff/" + f.caseworker.ID + "/deactivate"

	if r := f.do(http.MethodPost, path, f.supervisor.Token, nil); r.Code != http.StatusForbidden {
		t.Errorf("supervisor deactivates: %d, want 403", r.Code)
	}
	if r := f.do(http.MethodPost, "/api/v1/staff/"+f.admin.ID+"/deactivate", f.admin.Token, nil); r.Code != http.StatusConflict {
		t.Errorf("admin deactivates themselves: %d, want 409", r.Code)
	}
	if r := f.do(http.MethodPost, path, f.admin.Token, nil); r.Code != http.StatusNoContent {
		t.Fatalf("deactivate: %d %s", r.Code, r.Body)
	}
	if r := f.do(http.MethodPost, path, f.admin.Token, nil); r.Code != http.StatusConflict {
		t.Errorf("deactivate twice: %d, want 409", r.Code)
	}
	if r := f.do(http.MethodPost, "/api/v1/staff/"+f.caseworker.ID+"/token", f.admin.Token, nil); r.Code != http.StatusConflict {
		t.Errorf("new token for a deactivated member: %d, want 409", r.Code)
	}
	if n := f.count("SELECT count(*) FROM audit_log WHERE action = 'staff.deactivate' AND staff_id = $1 AND detail->>'staff_id' = $2", f.admin.ID, f.caseworker.ID); n != 1 {
		t.Error("deactivation not audited")
	}
	for _, p := range []string{"/api/v1/me", "/api/v1/alerts", "/api/v1/survivors/" + sv} {
		if r := f.do(http.MethodGet, p, f.caseworker.Token, nil); r.Code != http.StatusUnauthorized {
			t.Errorf("deactivated token on %s: %d, want 401", p, r.Code)
		}
	}

	// The open alert goes to the supervisor now.
	f.workJobs()
	if got := textsTo(fake, supervisorPhone); len(got) != 1 || !strings.Contains(got[0], "ACK "+code) {
		t.Errorf("supervisor's texts after the deactivation: %q, want the open alert", got)
	}
	if n := f.count("SELECT count(*) FROM alert_events WHERE alert_id = $1 AND kind = 'caseworker_deactivated'", id); n != 1 {
		t.Error("the deactivation is not in the alert's history")
	}
	// Their ACK matches nothing: the alert stays open.
	if _, reply := f.inbound(newSID(), caseworkerPhone, "ACK "+code); reply != "" {
		t.Errorf("deactivated member's ACK answered %q", reply)
	}
	if n := f.count("SELECT count(*) FROM alerts WHERE id = $1 AND status = 'open'", id); n != 1 {
		t.Fatal("a deactivated member acknowledged an alert")
	}

	// A new alert on their survivor goes to the supervisor, not to them.
	before := len(textsTo(fake, caseworkerPhone))
	f.inbound(newSID(), "+919876543210", "2")
	f.workJobs()
	if n := len(textsTo(fake, caseworkerPhone)); n != before {
		t.Errorf("deactivated caseworker was texted %d more", n-before)
	}
	if n := len(textsTo(fake, supervisorPhone)); n != 2 {
		t.Errorf("supervisor got %d texts, want 2 (the moved alert and the new one)", n)
	}
	// Escalation skips the deactivated caseworker too: to the admins.
	f.escalateNow(16 * time.Minute)
	if n := len(textsTo(fake, adminPhone)); n == 0 {
		t.Error("the urgent alert did not escalate to the admins")
	}
	if r := f.do(http.MethodGet, "/api/v1/alerts/"+id, f.supervisor.Token, nil); r.Code != http.StatusOK {
		t.Errorf("supervisor reads the alert: %d", r.Code)
	}
}

// TestDeactivatedSupervisorsEscalationsGoToAdmins: alerts that had
// escalated to a supervisor who is then deactivated are sent to the
// admins at once, and later escalations skip the supervisor.
func TestDeactivatedSupervisorsEscalationsGoToAdmins(t *testing.T) {
	t.Parallel()
	f := setup(t)
	fake := f.twilio()
	f.enrol("+919876543210")
	id := f.alertFor("+919876543210", "3")
	f.escalateNow(16 * time.Minute) // to the supervisor
	if n := len(textsTo(fake, supervisorPhone)); n != 1 {
		t.Fatalf("supervisor got %d texts, want the escalation", n)
	}
	if n := len(textsTo(fake, adminPhone)); n != 0 {
		t.Fatalf("admin texted %d times before the deactivation", n)
	}
	if r := f.do(http.MethodPost, "/api/v1/staff/"+f.supervisor.ID+"/deactivate", f.admin.Token, nil); r.Code != http.StatusNoContent {
		t.Fatalf("deactivate: %d %s", r.Code, r.Body)
	}
	f.workJobs()
	if got := textsTo(fake, adminPhone); len(got) != 1 || !strings.Contains(got[0], "ACK "+f.ackCode(id)) {
		t.Errorf("admin's texts %q, want the escalated alert once", got)
	}
	if n := len(textsTo(fake, caseworkerPhone)); n != 1 {
		t.Errorf("caseworker got %d texts, want only the first (still assigned and active)", n)
	}
	if n := f.count("SELECT count(*) FROM alert_events WHERE alert_id = $1 AND kind = 'supervisor_deactivated'", id); n != 1 {
		t.Error("the deactivation is not in the alert's history")
	}
}
