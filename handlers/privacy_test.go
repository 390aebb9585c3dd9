package handlers_test

import (
	"bytes"
	"context"
	"net/http"
	"regexp"
	"testing"
	"time"

	"saathi/handlers"
	"saathi/locales"
)

// TestCaseCodes: every survivor gets a distinct server-assigned code that
// staff see next to the NGO's own reference; the reference is stored
// encrypted and never leaves in a text.
func TestCaseCodes(t *testing.T) {
	t.Parallel()
	f := setup(t)
	pattern := regexp.MustCompile(`^SA-[1-9][0-9]{3,}$`)
	seen := map[string]bool{}
	for _, ph := range []string{"+919876543210", "+919876543211", "+919876543212"} {
		r := f.do(http.MethodPost, "/api/v1/survivors", f.admin.Token, f.enrolBody(ph))
		if r.Code != http.StatusCreated {
			t.Fatalf("enrol: %d %s", r.Code, r.Body)
		}
		got := r.json(t)
		code, _ := got["case_code"].(string)
		if !pattern.MatchString(code) || seen[code] || got["reference"] != "CHD-0042" {
			t.Errorf("case code %q, reference %v (seen: %v)", code, got["reference"], seen)
		}
		seen[code] = true
	}
	if n := f.count("SELECT count(DISTINCT case_code) FROM survivors"); n != 3 {
		t.Errorf("distinct case codes = %d", n)
	}
	// Staff creating the code cannot choose it.
	body := f.enrolBody("+919876543219")
	body["case_code"] = "SA-1234"
	if r := f.do(http.MethodPost, "/api/v1/survivors", f.admin.Token, body); r.Code != http.StatusUnprocessableEntity || r.json(t)["field"] != "case_code" {
		t.Errorf("a chosen case code: %d %s", r.Code, r.Body)
	}
	id := f.alertFor("+919876543210", "3")
	a := f.do(http.MethodGet, "/api/v1/alerts/"+id, f.caseworker.Token, nil).json(t)
	if !seen[a["case_code"].(string)] || a["reference"] != "CHD-0042" {
		t.Errorf("alert shows case %v, reference %v", a["case_code"], a["reference"])
	}
}

// TestPhoneConflictLooksLikeBadNumber: giving a survivor a number another
// enrolled survivor has gets the very answer a malformed number gets, so
// trying numbers tells nobody who is enrolled; the attempt is on record.
func TestPhoneConflictLooksLikeBadNumber(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.enrol("+919876543210")
	mine := f.enrol("+919811111111")
	path := "/api/v1/survivors/" + mine

	bad := f.do(http.MethodPatch, path, f.caseworker.Token, map[string]any{"phone": "12345"})
	taken := f.do(http.MethodPatch, path, f.caseworker.Token, map[string]any{"phone": "+919876543210"})
	if bad.Code != http.StatusUnprocessableEntity || taken.Code != bad.Code || !bytes.Equal(taken.Body, bad.Body) {
		t.Errorf("taken number answered %d %s; malformed %d %s: want the same", taken.Code, taken.Body, bad.Code, bad.Body)
	}
	if n := f.count("SELECT count(*) FROM audit_log WHERE action = 'survivor.phone_conflict' AND staff_id = $1 AND survivor_id = $2", f.caseworker.ID, mine); n != 1 {
		t.Error("the conflicting PATCH is not audited")
	}
	if got := f.do(http.MethodGet, path, f.caseworker.Token, nil).json(t)["phone"]; got != "+91******1111" {
		t.Errorf("phone after the refused change: %v", got)
	}

	badEnrol := f.do(http.MethodPost, "/api/v1/survivors", f.supervisor.Token, f.enrolBody("12345"))
	takenEnrol := f.do(http.MethodPost, "/api/v1/survivors", f.supervisor.Token, f.enrolBody("+919876543210"))
	if takenEnrol.Code != http.StatusUnprocessableEntity || !bytes.Equal(takenEnrol.Body, badEnrol.Body) {
		t.Errorf("enrolment with a taken number %d %s; malformed %s: want the same", takenEnrol.Code, takenEnrol.Body, badEnrol.Body)
	}
	if n := f.count("SELECT count(*) FROM audit_log WHERE action = 'survivor.phone_conflict' AND staff_id = $1 AND survivor_id IS NULL", f.supervisor.ID); n != 1 {
		t.Error("the conflicting enrolment is not audited")
	}
	if n := f.count("SELECT count(*) FROM survivors"); n != 2 {
		t.Errorf("survivors = %d, want 2", n)
	}
}

// TestAlertActionsAudited: listing alerts (which shows each case),
// acknowledging and resolving are in the audit log, by API and by SMS.
func TestAlertActionsAudited(t *testing.T) {
	t.Parallel()
	f := setup(t)
	sv := f.enrol("+919876543210")
	id := f.alertFor("+919876543210", "3") // lists as admin once
	audited := func(action, staff string) int {
		return f.count("SELECT count(*) FROM audit_log WHERE action = $1 AND staff_id = $2 AND survivor_id = $3", action, staff, sv)
	}
	before := audited("alert.list", f.caseworker.ID)
	f.do(http.MethodGet, "/api/v1/alerts", f.caseworker.Token, nil)
	if audited("alert.list", f.caseworker.ID) != before+1 {
		t.Error("alert list not audited")
	}
	// Another caseworker's empty list names nobody.
	f.do(http.MethodGet, "/api/v1/alerts", f.otherCaseworker.Token, nil)
	if n := f.count("SELECT count(*) FROM audit_log WHERE action = 'alert.list' AND staff_id = $1", f.otherCaseworker.ID); n != 0 {
		t.Errorf("an empty list wrote %d audit rows", n)
	}
	if r := f.do(http.MethodPost, "/api/v1/alerts/"+id+"/acknowledge", f.caseworker.Token, nil); r.Code != http.StatusOK {
		t.Fatal(r.Code)
	}
	if audited("alert.acknowledge", f.caseworker.ID) != 1 {
		t.Error("acknowledgement not audited")
	}
	if r := f.do(http.MethodPost, "/api/v1/alerts/"+id+"/resolve", f.caseworker.Token, map[string]any{"note": "spoke to her"}); r.Code != http.StatusOK {
		t.Fatal(r.Code)
	}
	if audited("alert.resolve", f.caseworker.ID) != 1 {
		t.Error("resolution not audited")
	}
	id2 := f.alertFor("+919876543210", "2")
	if _, reply := f.inbound(newSID(), caseworkerPhone, "ACK "+f.ackCode(id2)); reply == f.text("en", locales.AlertAckUnknown) {
		t.Fatal("ACK refused")
	}
	if audited("alert.acknowledge", f.caseworker.ID) != 2 {
		t.Error("acknowledgement by SMS not audited")
	}
}

// TestSpooledReplyAnswer: a reply that waited in the spool was answered
// with nothing at the time; its answer goes out as a text of its own,
// once, if it is still timely and inside the survivor's window, and
// only what was really sent is on record.
func TestSpooledReplyAnswer(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		body      string
		age       time.Duration // since the text arrived
		at        time.Duration // the replay's time of day (IST), window 10:00–17:00
		wantText  string        // "" for none
		wantAlert bool
	}{
		{"timely, in the window", "3", 5 * time.Minute, 11 * time.Hour, locales.ReplyHelpNow, true},
		{"too late", "3", 20 * time.Minute, 11 * time.Hour, "", true},
		{"outside the window", "3", 5 * time.Minute, 18 * time.Hour, "", true},
		{"window opens before the deadline", "1", 5 * time.Minute, 9*time.Hour + 55*time.Minute, locales.ReplyThanks, false},
		{"STOP is confirmed", "STOP", 2 * time.Minute, 11 * time.Hour, locales.OptOutConfirm, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			fake := f.twilio()
			sv := f.enrol("+919876543210")
			day := time.Date(2026, 11, 25, 0, 0, 0, 0, mustLoc(t, "Asia/Kolkata"))
			f.now = day.Add(c.at)
			text, err := f.server.ReceiveSMS(context.Background(), handlers.InboundSMS{
				SID: newSID(), From: "+919876543210", Body: c.body, ReceivedAt: f.now.Add(-c.age), Spooled: true,
			})
			if err != nil || text != "" {
				t.Fatalf("replay: %q %v, want no TwiML answer", text, err)
			}
			f.workJobs()
			if c.name == "window opens before the deadline" {
				// Snoozed until 10:00: River holds it; let the clock get there.
				f.now = day.Add(10*time.Hour + time.Minute)
				if _, err := f.pool.Exec(context.Background(), "UPDATE river_job SET scheduled_at = now() WHERE kind = 'reply_answer' AND state = 'scheduled'"); err != nil {
					t.Fatal(err)
				}
				f.workJobs()
			}
			got := textsTo(fake, "+919876543210")
			if c.wantText == "" {
				if len(got) != 0 {
					t.Errorf("texts %q, want none", got)
				}
			} else if len(got) != 1 || got[0] != f.text("hi", c.wantText) {
				t.Errorf("texts %q, want the %s answer once", got, c.wantText)
			}
			// On record: the answer only if sent (with the SID), never a TwiML one.
			if n := f.count("SELECT count(*) FROM messages WHERE survivor_id = $1 AND direction = 'out' AND status = 'twiml'", sv); n != 0 {
				t.Errorf("%d answers recorded as sent in TwiML", n)
			}
			wantRows := 0
			if c.wantText != "" {
				wantRows = 1
			}
			if n := f.count("SELECT count(*) FROM messages WHERE survivor_id = $1 AND direction = 'out' AND reply_to IS NOT NULL AND provider_sid IS NOT NULL", sv); n != wantRows {
				t.Errorf("answer rows = %d, want %d", n, wantRows)
			}
			if got := f.count("SELECT count(*) FROM alerts WHERE survivor_id = $1", sv) > 0; got != c.wantAlert {
				t.Errorf("alert raised = %v, want %v", got, c.wantAlert)
			}
			// A second run of the jobs sends nothing more.
			f.workJobs()
			if n := len(textsTo(fake, "+919876543210")); n != len(got) {
				t.Errorf("sent again: %d texts", n)
			}
		})
	}
}
