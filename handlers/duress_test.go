package handlers_test

import (
	"bytes"
	"net/http"
	"net/url"
	"testing"

	"saathi/jobs/reply"
	"saathi/jobs/telephony/twiliofake"
)

// inboundRaw posts a signed text and returns the webhook's answer as sent,
// byte for byte.
func (f *fixture) inboundRaw(from, body string) []byte {
	f.t.Helper()
	form := url.Values{"MessageSid": {newSID()}, "AccountSid": {twiliofake.AccountSID}, "From": {from}, "To": {"+15005550006"}, "Body": {body}}
	rec := f.signedPost("/twilio/sms", form, testAuthToken)
	if rec.Code != http.StatusOK {
		f.t.Fatalf("webhook: %d %s", rec.Code, rec.Body)
	}
	return rec.Body.Bytes()
}

// TestDuressLooksLikeAllWell: whoever holds the phone sees exactly the
// same answer to the duress word as to "1", the TwiML byte for byte,
// while the caseworker gets one urgent alert.
func TestDuressLooksLikeAllWell(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.enrol("+919876543210") // duress word "mango", Hindi
	allWell := f.inboundRaw("+919876543210", "1")
	duress := f.inboundRaw("+919876543210", "Mango!")
	if !bytes.Contains(allWell, []byte("<Message>")) {
		t.Fatalf("the all-well answer has no text: %s", allWell)
	}
	if !bytes.Equal(duress, allWell) {
		t.Fatalf("duress answer differs from the all-well answer:\n%s\n%s", duress, allWell)
	}
	f.workJobs()
	if n := f.count("SELECT count(*) FROM alerts WHERE severity = 'urgent' AND kind = 'duress'"); n != 1 {
		t.Errorf("duress alerts = %d, want 1 urgent", n)
	}
	if n := f.count("SELECT count(*) FROM alerts"); n != 1 {
		t.Errorf("alerts = %d: the '1' must not raise one", n)
	}
}

// TestStaffSeeDuressMarker: staff reading the alert's evidence or the
// timeline see "[duress word]" where the survivor wrote it, the rest of
// the message as written.
func TestStaffSeeDuressMarker(t *testing.T) {
	t.Parallel()
	f := setup(t)
	sv := f.enrol("+919876543210") // duress word "mango"
	id := f.alertFor("+919876543210", "all fine here, MANGO. see you")

	r := f.do(http.MethodGet, "/api/v1/alerts/"+id, f.caseworker.Token, nil)
	ev := r.json(t)["evidence"].(map[string]any)
	if want := "all fine here, " + reply.DuressMarker + ". see you"; ev["reply"] != want || ev["intent"] != "duress" {
		t.Errorf("evidence %v, want reply %q", ev, want)
	}
	body := f.do(http.MethodGet, "/api/v1/survivors/"+sv+"/timeline", f.caseworker.Token, nil).Body
	if bytes.Contains(bytes.ToLower(body), []byte("mango")) {
		t.Errorf("timeline shows the duress word: %s", body)
	}
	if !bytes.Contains(body, []byte(reply.DuressMarker)) {
		t.Errorf("timeline lacks the marker: %s", body)
	}
}
