package handlers_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"saathi/jobs/telephony/twiliofake"
	"saathi/locales"
)

func newSID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "SM" + hex.EncodeToString(b)
}

// inbound posts a text to the webhook, signed as Twilio signs, and returns
// the status and the reply text in the TwiML ("" for none).
func (f *fixture) inbound(sid, from, body string) (int, string) {
	f.t.Helper()
	form := url.Values{"MessageSid": {sid}, "AccountSid": {twiliofake.AccountSID}, "From": {from}, "To": {"+15005550006"}, "Body": {body}, "NumSegments": {"1"}}
	return f.postForm("/twilio/sms", form, testAuthToken)
}

// signedPost posts a form to the router, signed as Twilio signs with
// signWith ("" for no signature), and returns the answer as sent.
func (f *fixture) signedPost(path string, form url.Values, signWith string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if signWith != "" {
		req.Header.Set("X-Twilio-Signature", twiliofake.Signature(signWith, testPublicURL+path, form))
	}
	rec := httptest.NewRecorder()
	f.echo.ServeHTTP(rec, req)
	return rec
}

func (f *fixture) postForm(path string, form url.Values, signWith string) (int, string) {
	f.t.Helper()
	rec := f.signedPost(path, form, signWith)
	if rec.Code != http.StatusOK {
		return rec.Code, ""
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/xml") {
		f.t.Fatalf("answer is %s, not TwiML: %s", ct, rec.Body)
	}
	var doc struct {
		Messages []string `xml:"Message"`
	}
	if err := xml.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		f.t.Fatalf("bad TwiML %q: %v", rec.Body, err)
	}
	if len(doc.Messages) > 1 {
		f.t.Fatalf("more than one reply: %s", rec.Body)
	}
	if len(doc.Messages) == 0 {
		return rec.Code, ""
	}
	return rec.Code, doc.Messages[0]
}

func (f *fixture) text(lang, id string) string {
	f.t.Helper()
	s, err := f.server.Catalog.Text(lang, id, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

func TestInboundWebhookSignedForgedReplayed(t *testing.T) {
	t.Parallel()
	f := setup(t)
	id := f.enrol("+919876543210")
	sid := newSID()

	// Forged: a wrong signature, or none, stores nothing.
	form := url.Values{"MessageSid": {sid}, "From": {"+919876543210"}, "Body": {"3"}}
	for _, key := range []string{"wrong-token", ""} {
		if code, _ := f.postForm("/twilio/sms", form, key); code != http.StatusForbidden {
			t.Errorf("forged (%q): %d, want 403", key, code)
		}
	}
	if n := f.count("SELECT count(*) FROM messages WHERE direction = 'in'"); n != 0 {
		t.Fatalf("forged webhook stored %d messages", n)
	}

	code, reply := f.inbound(sid, "+919876543210", "3, मुझे अभी मदद चाहिए")
	if code != http.StatusOK || reply != f.text("hi", locales.ReplyHelpNow) {
		t.Fatalf("signed: %d %q", code, reply)
	}
	// Twilio delivers it again (a retry, a second replica): answered, not
	// answered twice, stored once.
	for range 2 {
		if code, reply := f.inbound(sid, "+919876543210", "3, मुझे अभी मदद चाहिए"); code != http.StatusOK || reply != "" {
			t.Errorf("replay: %d %q, want 200 and no second reply", code, reply)
		}
	}
	f.workJobs()
	for table, want := range map[string]int{"messages WHERE direction = 'in'": 1, "responses": 1, "risk_flags": 1, "alerts": 1} {
		if n := f.count("SELECT count(*) FROM " + table); n != want {
			t.Errorf("%s: %d rows, want %d", table, n, want)
		}
	}
	if n := f.count("SELECT count(*) FROM alerts WHERE survivor_id = $1 AND severity = 'urgent' AND kind = 'help_now' AND status = 'open'", id); n != 1 {
		t.Error("no urgent help_now alert")
	}
	if n := f.count("SELECT count(*) FROM messages WHERE direction = 'in' AND body_enc::text LIKE '%मदद%'"); n != 0 {
		t.Error("reply stored in plain text")
	}
}

func TestInboundBadRequests(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.enrol("+919876543210")
	for name, form := range map[string]url.Values{
		"no sid":    {"From": {"+919876543210"}, "Body": {"1"}},
		"bad sid":   {"MessageSid": {"SM123"}, "From": {"+919876543210"}, "Body": {"1"}},
		"no sender": {"MessageSid": {newSID()}, "Body": {"1"}},
	} {
		if code, _ := f.postForm("/twilio/sms", form, testAuthToken); code != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", name, code)
		}
	}
	if n := f.count("SELECT count(*) FROM messages"); n != 0 {
		t.Errorf("bad requests stored %d messages", n)
	}
}

func TestUnknownSenderStoredQuietly(t *testing.T) {
	t.Parallel()
	f := setup(t)
	code, reply := f.inbound(newSID(), "+919811111111", "3 help")
	if code != http.StatusOK || reply != "" {
		t.Fatalf("unknown sender: %d %q, want 200 and no reply", code, reply)
	}
	if n := f.count("SELECT count(*) FROM messages WHERE purpose = 'unmatched' AND survivor_id IS NULL AND staff_id IS NULL"); n != 1 {
		t.Error("unmatched message not kept for admins")
	}
	if n := f.count("SELECT count(*) FROM river_job"); n != 0 {
		t.Error("an unmatched message started work")
	}
	// Admins can read it; nobody else.
	r := f.do(http.MethodGet, "/api/v1/messages/unmatched", f.admin.Token, nil)
	msgs := r.json(t)["messages"].([]any)
	if r.Code != http.StatusOK || len(msgs) != 1 || msgs[0].(map[string]any)["body"] != "3 help" || msgs[0].(map[string]any)["from"] != "+91******1111" {
		t.Errorf("unmatched list: %d %s", r.Code, r.Body)
	}
	if r := f.do(http.MethodGet, "/api/v1/messages/unmatched", f.caseworker.Token, nil); r.Code != http.StatusForbidden {
		t.Errorf("caseworker reads unmatched texts: %d", r.Code)
	}
}

// TestOptOutEveryLanguage: STOP in each language and script stops every
// queued and future check-in, is confirmed once, and START restores.
func TestOptOutEveryLanguage(t *testing.T) {
	t.Parallel()
	words := []struct{ lang, stop, start string }{
		{"en", "STOP", "START"},
		{"hi", "बंद करो", "शुरू"},
		{"hi", "band karo", "shuru"},
		{"pa", "ਬੰਦ ਕਰੋ", "ਸ਼ੁਰੂ"},
		{"gu", "બંધ કરો", "શરૂ"},
		{"ur", "بند کرو", "شروع"},
	}
	for i, w := range words {
		t.Run(w.lang+" "+w.stop, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			phone := "+91987654321" + string(rune('0'+i))
			body := f.enrolBody(phone)
			body["language"], body["channels"] = w.lang, []string{"sms"}
			body["consent"] = map[string]any{"channels": []string{"sms"}, "method": "verbal", "recorded_at": "2026-11-20T10:00:00+05:30"}
			r := f.do(http.MethodPost, "/api/v1/survivors", f.admin.Token, body)
			if r.Code != http.StatusCreated {
				t.Fatal(r.Code, string(r.Body))
			}
			id := r.json(t)["id"].(string)
			// A check-in queued before the STOP.
			if r := f.do(http.MethodPost, "/api/v1/survivors/"+id+"/checkins", f.caseworker.Token, map[string]any{"channel": "sms"}); r.Code != http.StatusAccepted {
				t.Fatal(r.Code, string(r.Body))
			}

			_, reply := f.inbound(newSID(), phone, w.stop)
			if reply != f.text(w.lang, locales.OptOutConfirm) {
				t.Fatalf("STOP reply %q, want the confirmation", reply)
			}
			if _, again := f.inbound(newSID(), phone, w.stop); again != "" {
				t.Errorf("second STOP answered %q: confirmed once only", again)
			}
			if _, one := f.inbound(newSID(), phone, "1"); one != "" {
				t.Errorf("opted-out survivor got %q", one)
			}
			// The queued check-in and the future ones are not sent.
			f.workJobs()
			if n := f.count("SELECT count(*) FROM checkins WHERE survivor_id = $1 AND kind = 'adhoc' AND state = 'skipped' AND reason = 'no consent'", id); n != 1 {
				t.Errorf("queued check-in not skipped")
			}
			if n := f.count("SELECT count(*) FROM messages WHERE survivor_id = $1 AND purpose = 'checkin'", id); n != 0 {
				t.Errorf("%d check-ins sent after STOP", n)
			}
			if r := f.do(http.MethodPost, "/api/v1/survivors/"+id+"/checkins", f.caseworker.Token, map[string]any{"channel": "sms"}); r.Code != http.StatusUnprocessableEntity {
				t.Errorf("a new check-in after STOP: %d, want 422", r.Code)
			}

			_, reply = f.inbound(newSID(), phone, w.start)
			if reply != f.text(w.lang, locales.OptInConfirm) {
				t.Fatalf("START reply %q", reply)
			}
			if r := f.do(http.MethodPost, "/api/v1/survivors/"+id+"/checkins", f.caseworker.Token, map[string]any{"channel": "sms"}); r.Code != http.StatusAccepted {
				t.Fatalf("check-in after START: %d %s", r.Code, r.Body)
			}
			f.workJobs()
			if n := f.count("SELECT count(*) FROM messages WHERE survivor_id = $1 AND purpose = 'checkin' AND provider_sid IS NOT NULL", id); n != 1 {
				t.Errorf("check-ins sent after START = %d, want 1", n)
			}
			if n := f.count("SELECT count(*) FROM consent_records WHERE survivor_id = $1 AND source = 'survivor'", id); n != 2 {
				t.Errorf("consent history from the survivor's own texts = %d records, want 2 (withdraw, give)", n)
			}
		})
	}
}

// TestCaseworkerAlertSMS: the alert text carries the case reference, a
// link and the code, and nothing of the survivor's phone or words.
func TestCaseworkerAlertSMS(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.enrol("+919876543210")
	fake := f.twilio()
	f.inbound(newSID(), "+919876543210", "3 they locked me in the room, mango")
	f.workJobs()

	var alertSMS []twiliofake.Message
	for _, m := range fake.Messages() {
		if m.To == caseworkerPhone {
			alertSMS = append(alertSMS, m)
		}
	}
	if len(alertSMS) != 1 {
		t.Fatalf("caseworker got %d texts, want 1 (all: %+v)", len(alertSMS), fake.Messages())
	}
	body := alertSMS[0].Body
	var code, caseCode string
	if err := f.pool.QueryRow(context.Background(), "SELECT a.ack_code, s.case_code FROM alerts a JOIN survivors s ON s.id = a.survivor_id").Scan(&code, &caseCode); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^SA-[1-9][0-9]{3,}$`).MatchString(caseCode) {
		t.Errorf("case code %q, want SA- and digits", caseCode)
	}
	for _, want := range []string{"case " + caseCode + " ", code, testPublicURL + "/dashboard/alerts/"} {
		if !strings.Contains(body, want) {
			t.Errorf("alert text %q lacks %q", body, want)
		}
	}
	// The NGO's own reference may name the person: it never goes out.
	for _, banned := range []string{"CHD-0042", "CHD", "0042", "9876543210", "3210", "locked", "room", "mango", "Kiran", "traffick", "police"} {
		if strings.Contains(strings.ToLower(body), strings.ToLower(banned)) {
			t.Errorf("alert text %q contains %q", body, banned)
		}
	}
}

func TestAckBySMS(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.enrol("+919876543210")
	f.inbound(newSID(), "+919876543210", "2")
	f.workJobs()
	var id, code string
	if err := f.pool.QueryRow(context.Background(), "SELECT id, ack_code FROM alerts").Scan(&id, &code); err != nil {
		t.Fatal(err)
	}
	// Another caseworker cannot acknowledge it, and learns nothing.
	if _, reply := f.inbound(newSID(), otherCaseworkerPhone, "ACK "+code); reply != f.text("en", locales.AlertAckUnknown) {
		t.Errorf("other caseworker's ACK answered %q", reply)
	}
	if _, reply := f.inbound(newSID(), caseworkerPhone, "ACK 000000"); reply != f.text("en", locales.AlertAckUnknown) {
		t.Errorf("wrong code answered %q", reply)
	}
	if n := f.count("SELECT count(*) FROM alerts WHERE status = 'open'"); n != 1 {
		t.Fatal("alert acknowledged by the wrong person or code")
	}
	_, reply := f.inbound(newSID(), caseworkerPhone, " ack "+code)
	var caseCode string
	if err := f.pool.QueryRow(context.Background(), "SELECT case_code FROM survivors").Scan(&caseCode); err != nil {
		t.Fatal(err)
	}
	if reply != "Acknowledged: case "+caseCode+"." {
		t.Errorf("ACK confirmation %q, want the case code and nothing of the reference", reply)
	}
	if n := f.count("SELECT count(*) FROM alerts WHERE status = 'acknowledged' AND acknowledged_by = $1", f.caseworker.ID); n != 1 {
		t.Error("alert not acknowledged")
	}
	if n := f.count("SELECT count(*) FROM alert_events WHERE alert_id = $1 AND kind = 'acknowledged' AND detail->>'via' = 'sms'", id); n != 1 {
		t.Error("acknowledgement not in the alert's history")
	}
}

func TestDevInbound(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.enrol("+919876543210")
	r := f.do(http.MethodPost, "/dev/inbound", "", map[string]any{"from": "+919876543210", "body": "3"})
	if r.Code != http.StatusOK || r.json(t)["reply"] != f.text("hi", locales.ReplyHelpNow) {
		t.Fatalf("dev inbound: %d %s", r.Code, r.Body)
	}
	if r := f.do(http.MethodPost, "/dev/inbound", "", map[string]any{"from": "nope", "body": "3"}); r.Code != http.StatusUnprocessableEntity {
		t.Errorf("bad from: %d", r.Code)
	}
	f.workJobs()
	if n := f.count("SELECT count(*) FROM alerts WHERE severity = 'urgent'"); n != 1 {
		t.Error("dev inbound did not go through the same pipeline")
	}
}

func TestUrgentRepliesJumpTheQueue(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.enrol("+919876543210")
	f.inbound(newSID(), "+919876543210", "1")
	f.inbound(newSID(), "+919876543210", "2")
	f.inbound(newSID(), "+919876543210", "3")
	f.inbound(newSID(), "+919876543210", "mango")
	rows, err := f.pool.Query(context.Background(), "SELECT m.id, j.priority FROM river_job j JOIN messages m ON m.id = (j.args->>'message_id')::bigint WHERE j.kind = 'reply_assess' ORDER BY m.id")
	if err != nil {
		t.Fatal(err)
	}
	var prios []int
	for rows.Next() {
		var id int64
		var p int
		if err := rows.Scan(&id, &p); err != nil {
			t.Fatal(err)
		}
		prios = append(prios, p)
	}
	rows.Close()
	if len(prios) != 4 || prios[0] != 3 || prios[1] != 2 || prios[2] != 1 || prios[3] != 1 {
		t.Errorf("assessment priorities for 1, 2, 3, duress = %v, want [3 2 1 1]", prios)
	}
	if n := f.count("SELECT count(*) FROM river_job WHERE kind = 'reply_assess' AND queue = 'replies'"); n != 4 {
		t.Errorf("assessments outside the replies queue")
	}
}
