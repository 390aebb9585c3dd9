package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

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

// TestDuressCodeAPI: a duress code is 4 to 6 digits, refused with a 422
// naming the field when it could be pressed by chance, stored encrypted,
// never shown back; a text of just the code counts as duress and gets
// exactly the answer "1" gets.
func TestDuressCodeAPI(t *testing.T) {
	t.Parallel()
	f := setup(t)
	for _, bad := range []string{"123", "1234567", "48a1", "1111", "1234", "9876", "४८२१"} {
		body := f.enrolBody("+919876543210")
		body["duress_code"] = bad
		r := f.do(http.MethodPost, "/api/v1/survivors", f.admin.Token, body)
		if r.Code != http.StatusUnprocessableEntity || r.json(t)["field"] != "duress_code" || bytes.Contains(r.Body, []byte(bad)) {
			t.Errorf("duress code %q: %d %s", bad, r.Code, r.Body)
		}
	}
	if n := f.count("SELECT count(*) FROM survivors"); n != 0 {
		t.Fatal("a refused enrolment stored a survivor")
	}
	body := f.enrolBody("+919876543210")
	body["duress_code"] = "4821"
	r := f.do(http.MethodPost, "/api/v1/survivors", f.admin.Token, body)
	if r.Code != http.StatusCreated || r.json(t)["has_duress_code"] != true || answerHolds(t, r.Body, "4821") {
		t.Fatalf("enrol with a duress code: %d %s", r.Code, r.Body)
	}
	id := r.json(t)["id"].(string)
	var sealed []byte
	if err := f.pool.QueryRow(context.Background(), "SELECT duress_code_enc FROM survivors WHERE id = $1", id).Scan(&sealed); err != nil || len(sealed) < 20 || bytes.Contains(sealed, []byte("4821")) {
		t.Errorf("duress code not sealed: %d bytes, %v", len(sealed), err)
	}

	allWell := f.inboundRaw("+919876543210", "1")
	if code := f.inboundRaw("+919876543210", " 4821 "); !bytes.Equal(code, allWell) {
		t.Errorf("answer to the duress code %s differs from the answer to 1 %s", code, allWell)
	}
	f.workJobs()
	if n := f.count("SELECT count(*) FROM alerts WHERE severity = 'urgent' AND kind = 'duress'"); n != 1 {
		t.Errorf("duress alerts = %d, want 1", n)
	}

	if r := f.do(http.MethodPatch, "/api/v1/survivors/"+id, f.caseworker.Token, map[string]any{"duress_code": "12a"}); r.Code != http.StatusUnprocessableEntity || r.json(t)["field"] != "duress_code" {
		t.Errorf("PATCH a bad code: %d %s", r.Code, r.Body)
	}
	if r := f.do(http.MethodPatch, "/api/v1/survivors/"+id, f.caseworker.Token, map[string]any{"reference": "CHD-0043"}); r.Code != http.StatusOK || r.json(t)["has_duress_code"] != true {
		t.Errorf("PATCH of another field lost the code: %d %s", r.Code, r.Body)
	}
	if r := f.do(http.MethodPatch, "/api/v1/survivors/"+id, f.caseworker.Token, map[string]any{"duress_code": ""}); r.Code != http.StatusOK || r.json(t)["has_duress_code"] != false {
		t.Errorf("PATCH removing the code: %d %s", r.Code, r.Body)
	}
}

// answerHolds reports whether secret appears in any key or value of a JSON
// answer, other than inside the IDs and times it carries: a random UUID
// or a timestamp's fraction may hold any four digits by chance.
func answerHolds(t *testing.T, body []byte, secret string) bool {
	t.Helper()
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("answer is not JSON: %v: %s", err, body)
	}
	var walk func(any) bool
	walk = func(v any) bool {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if strings.Contains(k, secret) || walk(x) {
					return true
				}
			}
		case []any:
			return slices.ContainsFunc(v, walk)
		case string:
			if _, err := uuid.Parse(v); err == nil {
				return false
			}
			if _, err := time.Parse(time.RFC3339Nano, v); err == nil {
				return false
			}
			return strings.Contains(v, secret)
		case float64:
			return strings.Contains(strconv.FormatFloat(v, 'f', -1, 64), secret)
		}
		return false
	}
	return walk(v)
}
