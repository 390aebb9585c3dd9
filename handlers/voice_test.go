package handlers_test

import (
	"context"
	"encoding/xml"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"saathi/handlers"
	"saathi/jobs/telephony/twiliofake"
	"saathi/locales"
)

// twimlDoc is a TwiML answer, parsed enough to walk a call.
type twimlDoc struct {
	Hangup *struct{} `xml:"Hangup"`
	Reject *struct {
		Reason string `xml:"reason,attr"`
	} `xml:"Reject"`
	Says   []twimlSay `xml:"Say"`
	Plays  []string   `xml:"Play"`
	Gather *struct {
		Action      string     `xml:"action,attr"`
		FinishOnKey string     `xml:"finishOnKey,attr"`
		NumDigits   string     `xml:"numDigits,attr"`
		Says        []twimlSay `xml:"Say"`
		Plays       []string   `xml:"Play"`
	} `xml:"Gather"`
	Redirect string `xml:"Redirect"`
}

type twimlSay struct {
	Language string `xml:"language,attr"`
	Voice    string `xml:"voice,attr"`
	Text     string `xml:",chardata"`
}

// voiceCall is a check-in call placed through the fake Twilio.
type voiceCall struct {
	f    *fixture
	fake *twiliofake.Server
	sid  string
	url  string // the call's TwiML URL, as Saathi gave it
	raw  []byte // the last answer, as sent
}

// placeCall enrols a Hindi survivor reachable by voice and asks for a
// voice check-in; the send job places the call.
func (f *fixture) placeCall(phone string, extra map[string]any) (*voiceCall, string) {
	f.t.Helper()
	fake := f.twilio()
	body := f.enrolBody(phone)
	for k, v := range extra {
		body[k] = v
	}
	r := f.do(http.MethodPost, "/api/v1/survivors", f.admin.Token, body)
	if r.Code != http.StatusCreated {
		f.t.Fatalf("enrol: %d %s", r.Code, r.Body)
	}
	sv := r.json(f.t)["id"].(string)
	if r := f.do(http.MethodPost, "/api/v1/survivors/"+sv+"/checkins", f.caseworker.Token, map[string]any{"channel": "voice"}); r.Code != http.StatusAccepted {
		f.t.Fatalf("voice check-in: %d %s", r.Code, r.Body)
	}
	f.workJobs()
	calls := fake.Calls()
	if len(calls) == 0 {
		f.t.Fatal("no call placed")
	}
	c := calls[len(calls)-1]
	return &voiceCall{f: f, fake: fake, sid: c.SID, url: c.URL}, sv
}

// post sends a signed voice webhook for this call to path (with its
// query) and parses the TwiML.
func (c *voiceCall) post(path string, form url.Values) twimlDoc {
	c.f.t.Helper()
	form.Set("CallSid", c.sid)
	form.Set("AccountSid", twiliofake.AccountSID)
	rec := c.f.signedPost(path, form, testAuthToken)
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/xml") {
		c.f.t.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
	}
	c.raw = rec.Body.Bytes()
	var doc twimlDoc
	if err := xml.Unmarshal(c.raw, &doc); err != nil {
		c.f.t.Fatalf("%s: bad TwiML %s: %v", path, c.raw, err)
	}
	return doc
}

func pathOf(t testing.TB, full string) string {
	t.Helper()
	u, err := url.Parse(full)
	if err != nil || !strings.HasPrefix(full, testPublicURL) {
		t.Fatalf("URL %q is not under the public URL", full)
	}
	return u.RequestURI()
}

func (c *voiceCall) answer(by string) twimlDoc {
	return c.post(pathOf(c.f.t, c.url), url.Values{"AnsweredBy": {by}, "CallStatus": {"in-progress"}})
}

func (c *voiceCall) press(doc twimlDoc, digits string) twimlDoc {
	c.f.t.Helper()
	if doc.Gather == nil {
		c.f.t.Fatalf("no Gather to press keys in: %s", c.raw)
	}
	return c.post(pathOf(c.f.t, doc.Gather.Action), url.Values{"Digits": {digits}})
}

func (c *voiceCall) status(status string) {
	c.f.t.Helper()
	form := url.Values{"CallSid": {c.sid}, "CallStatus": {status}, "AccountSid": {twiliofake.AccountSID}}
	u := strings.Replace(c.url, "/answer?", "/status?", 1)
	if rec := c.f.signedPost(pathOf(c.f.t, u), form, testAuthToken); rec.Code != http.StatusNoContent {
		c.f.t.Fatalf("status %s: %d %s", status, rec.Code, rec.Body)
	}
}

// TestVoiceCallWalk walks whole check-in calls through the real router,
// signed as Twilio signs: the call Saathi places, a person answering in
// Hindi, and each key.
func TestVoiceCallWalk(t *testing.T) {
	t.Parallel()
	f := setup(t)
	call, sv := f.placeCall("+919876543210", map[string]any{"duress_code": "4821"})

	// The call as placed: machine detection, callbacks, a short ring.
	placed := call.fake.Calls()[0]
	if placed.To != "+919876543210" || placed.MachineDetection != "Enable" || placed.AsyncAmd != "" ||
		placed.Timeout != "20" || !strings.HasPrefix(placed.StatusCallback, testPublicURL+"/twilio/voice/status?m=") ||
		strings.Join(placed.StatusCallbackEvent, ",") != "initiated,ringing,answered,completed" {
		t.Errorf("call placed as %+v", placed)
	}
	if n := f.count("SELECT count(*) FROM checkins WHERE survivor_id = $1 AND state = 'sent' AND channel = 'voice' AND calls = 1", sv); n != 1 {
		t.Error("the check-in is not sent by voice")
	}

	menu := call.answer("human")
	if menu.Gather == nil || menu.Gather.FinishOnKey != "#" || menu.Gather.NumDigits != "" || len(menu.Gather.Says) == 0 ||
		menu.Gather.Says[0].Language != "hi-IN" || menu.Redirect == "" {
		t.Fatalf("menu %s", call.raw)
	}
	answer := call.press(menu, "3")
	if answer.Hangup == nil || len(answer.Says) != 1 || answer.Says[0].Text != f.text("hi", locales.VoiceHelpNow) {
		t.Errorf("answer to 3: %s", call.raw)
	}
	// Twilio posts the same Gather again: same answer, nothing stored twice.
	again := call.press(menu, "3")
	if again.Says[0].Text != answer.Says[0].Text {
		t.Errorf("replayed Gather answered %s", call.raw)
	}
	call.status("completed")
	f.workJobs()
	if n := f.count("SELECT count(*) FROM messages WHERE survivor_id = $1 AND direction = 'in' AND channel = 'voice'", sv); n != 1 {
		t.Errorf("key presses stored: %d, want 1", n)
	}
	if n := f.count("SELECT count(*) FROM alerts WHERE survivor_id = $1 AND severity = 'urgent' AND kind = 'help_now'", sv); n != 1 {
		t.Errorf("urgent alerts for 3 pressed: %d", n)
	}
	if n := f.count("SELECT count(*) FROM checkins WHERE survivor_id = $1 AND state = 'answered'", sv); n != 1 {
		t.Error("the check-in is not answered")
	}
	if got := textsTo(call.fake, caseworkerPhone); len(got) != 1 || !strings.Contains(got[0], "urgent") {
		t.Errorf("caseworker's texts %q", got)
	}
	if n := f.count("SELECT count(*) FROM river_job WHERE kind = 'checkin_send'"); n != 1 {
		t.Errorf("an answered call was called again (%d send jobs)", n)
	}
}

// TestVoiceDuressCodeSoundsLikeOne: the duress code ended with # gets the
// very bytes "1" gets, and one urgent duress alert; "1" raises none.
func TestVoiceDuressCodeSoundsLikeOne(t *testing.T) {
	t.Parallel()
	f := setup(t)
	one, sv := f.placeCall("+919876543210", map[string]any{"duress_code": "4821"})
	one.press(one.answer("human"), "1")
	allWell := one.raw
	f.workJobs()
	if n := f.count("SELECT count(*) FROM alerts"); n != 0 {
		t.Fatalf("1 raised %d alerts", n)
	}
	// A second check-in call to the same survivor.
	if r := f.do(http.MethodPost, "/api/v1/survivors/"+sv+"/checkins", f.caseworker.Token, map[string]any{"channel": "voice"}); r.Code != http.StatusAccepted {
		t.Fatalf("second call: %d %s", r.Code, r.Body)
	}
	f.workJobs()
	calls := one.fake.Calls()
	code := &voiceCall{f: f, fake: one.fake, sid: calls[len(calls)-1].SID, url: calls[len(calls)-1].URL}
	code.press(code.answer("human"), "4821#")
	if string(code.raw) != string(allWell) {
		t.Errorf("duress code answered\n%s\nwant the answer to 1\n%s", code.raw, allWell)
	}
	f.workJobs()
	if n := f.count("SELECT count(*) FROM alerts WHERE severity = 'urgent' AND kind = 'duress'"); n != 1 {
		t.Errorf("duress alerts = %d, want 1", n)
	}
	if n := f.count("SELECT count(*) FROM alerts"); n != 1 {
		t.Errorf("alerts = %d, want only the duress one", n)
	}
}

// TestVoiceMachineHearsNothing: a machine (or fax) gets a hang-up and no
// word; an unknown answerer must press a key first.
func TestVoiceMachineHearsNothing(t *testing.T) {
	t.Parallel()
	f := setup(t)
	call, _ := f.placeCall("+919876543210", nil)
	for _, by := range []string{"machine_start", "machine_end_beep", "machine_end_silence", "machine_end_other", "fax"} {
		doc := call.answer(by)
		if doc.Hangup == nil || len(doc.Says) > 0 || len(doc.Plays) > 0 || doc.Gather != nil || strings.Contains(string(call.raw), "Say") {
			t.Errorf("answered by %s: %s", by, call.raw)
		}
	}
	gate := call.answer("unknown")
	if gate.Gather == nil || gate.Gather.NumDigits != "1" || gate.Hangup == nil {
		t.Fatalf("unknown answerer: %s", call.raw)
	}
	menu := call.press(gate, "5")
	if menu.Gather == nil || menu.Gather.FinishOnKey != "#" {
		t.Errorf("after the gate: %s", call.raw)
	}
}

// TestVoiceNoInputCallsAgain: no key twice ends the call politely; the
// check-in is called again 30 minutes later, at most twice, and after the
// third unanswered call it is missed and followed up by text.
func TestVoiceNoInputCallsAgain(t *testing.T) {
	t.Parallel()
	f := setup(t)
	call, sv := f.placeCall("+919876543210", nil)
	menu := call.answer("human")
	noInput := call.post(pathOf(t, menu.Redirect), url.Values{})
	if noInput.Gather == nil || len(noInput.Gather.Says) == 0 || noInput.Gather.Says[0].Text != f.text("hi", locales.VoiceNoInput) {
		t.Fatalf("first silence: %s", call.raw)
	}
	bye := call.post(pathOf(t, noInput.Redirect), url.Values{})
	if bye.Hangup == nil || len(bye.Says) != 1 || bye.Says[0].Text != f.text("hi", locales.VoiceGoodbye) {
		t.Fatalf("second silence: %s", call.raw)
	}
	ring := func(status string) {
		t.Helper()
		call.status(status)
		call.status(status) // a replayed callback changes nothing
	}
	ring("completed")
	var due time.Time
	if err := f.pool.QueryRow(context.Background(), "SELECT scheduled_at FROM river_job WHERE kind = 'checkin_send' AND (args->>'call')::int = 1").Scan(&due); err != nil {
		t.Fatalf("no second call scheduled: %v", err)
	}
	if d := due.Sub(f.now); d != 30*time.Minute {
		t.Errorf("second call %v after the first, want 30m", d)
	}
	// The second and third calls: busy, then no answer.
	for i, status := range []string{"busy", "no-answer"} {
		f.now = f.now.Add(31 * time.Minute)
		f.workJobs()
		calls := call.fake.Calls()
		if len(calls) != i+2 {
			t.Fatalf("calls placed: %d, want %d", len(calls), i+2)
		}
		call = &voiceCall{f: f, fake: call.fake, sid: calls[i+1].SID, url: calls[i+1].URL}
		ring(status)
	}
	if n := f.count("SELECT count(*) FROM checkins WHERE survivor_id = $1 AND kind = 'adhoc' AND calls = 3 AND delivery_failed_at IS NOT NULL", sv); n != 1 {
		t.Fatal("after three unanswered calls the check-in is not missed")
	}
	if n := f.count("SELECT count(*) FROM river_job WHERE kind = 'checkin_send' AND (args->>'call')::int = 3"); n != 0 {
		t.Error("a fourth call was scheduled")
	}
}

// TestVoiceForgedRequests: an unsigned or wrongly signed voice webhook is
// refused and changes nothing.
func TestVoiceForgedRequests(t *testing.T) {
	t.Parallel()
	f := setup(t)
	call, sv := f.placeCall("+919876543210", nil)
	path := pathOf(t, call.url)
	gather := strings.Replace(path, "/answer?", "/gather?", 1) + "&step=1"
	for _, p := range []string{path, gather, "/twilio/voice/status?m=1", "/twilio/voice/incoming"} {
		form := url.Values{"CallSid": {call.sid}, "Digits": {"3"}, "From": {"+919876543210"}, "CallStatus": {"busy"}}
		for _, key := range []string{"", "wrong-token"} {
			if rec := f.signedPost(p, form, key); rec.Code != http.StatusForbidden {
				t.Errorf("%s signed with %q: %d, want 403", p, key, rec.Code)
			}
		}
	}
	if n := f.count("SELECT count(*) FROM messages WHERE survivor_id = $1 AND direction = 'in'", sv); n != 0 {
		t.Errorf("forged requests stored %d messages", n)
	}
	if n := f.count("SELECT count(*) FROM checkins WHERE kind = 'callback'"); n != 0 {
		t.Error("a forged missed call scheduled a callback")
	}
}

// TestMissedCallCallsBack: a known survivor's missed call is rejected as
// busy and called back once, however often they ring in a minute;
// strangers and hidden numbers are rejected and nothing is scheduled.
func TestMissedCallCallsBack(t *testing.T) {
	t.Parallel()
	f := setup(t)
	fake := f.twilio()
	sv := f.enrol("+919876543210")
	ring := func(from string) twimlDoc {
		t.Helper()
		form := url.Values{"CallSid": {"CA" + newSID()[2:]}, "From": {from}, "To": {"+18005550100"}, "CallStatus": {"ringing"}, "AccountSid": {twiliofake.AccountSID}}
		rec := f.signedPost("/twilio/voice/incoming", form, testAuthToken)
		var doc twimlDoc
		if rec.Code != http.StatusOK || xml.Unmarshal(rec.Body.Bytes(), &doc) != nil || doc.Reject == nil || doc.Reject.Reason != "busy" || len(doc.Says) > 0 {
			t.Fatalf("ring from %q: %d %s", from, rec.Code, rec.Body)
		}
		return doc
	}
	for range 3 {
		ring("+919876543210")
		f.now = f.now.Add(20 * time.Second)
	}
	if n := f.count("SELECT count(*) FROM checkins WHERE survivor_id = $1 AND kind = 'callback'", sv); n != 1 {
		t.Errorf("callbacks for three rings = %d, want 1", n)
	}
	if n := f.count("SELECT count(*) FROM alerts WHERE survivor_id = $1 AND kind = 'contact_requested' AND severity = 'high'", sv); n != 1 {
		t.Errorf("contact_requested alerts = %d, want 1", n)
	}
	// The callback goes at once, even outside the contact window.
	f.now = time.Date(2026, 11, 25, 21, 0, 0, 0, mustLoc(t, "Asia/Kolkata"))
	f.workJobs()
	if calls := fake.Calls(); len(calls) != 1 || calls[0].To != "+919876543210" {
		t.Errorf("callback calls: %+v", calls)
	}
	for _, from := range []string{"+919811111111", "", "anonymous", "+266696687"} {
		ring(from)
	}
	if n := f.count("SELECT count(*) FROM checkins WHERE kind = 'callback'"); n != 1 {
		t.Errorf("strangers scheduled callbacks: %d", n)
	}
	if n := f.count("SELECT count(*) FROM messages WHERE channel = 'voice' AND direction = 'in' AND purpose = 'unmatched'"); n != 4 {
		t.Errorf("unmatched calls kept: %d, want 4", n)
	}
}

// TestVoiceKeysSpooledWhenDatabaseDown: a "3" pressed while the database
// is down is answered in the call's language from the keys alone, kept in
// the spool, and raises its urgent alert once the database is back.
func TestVoiceKeysSpooledWhenDatabaseDown(t *testing.T) {
	t.Parallel()
	f := setup(t)
	call, sv := f.placeCall("+919876543210", nil)
	menu := call.answer("human")
	f.useSpool()
	restore := f.databaseDown()
	answer := call.press(menu, "3")
	if answer.Hangup == nil || len(answer.Says) != 1 || answer.Says[0].Text != f.text("hi", locales.VoiceHelpNow) || answer.Says[0].Language != "hi-IN" {
		t.Fatalf("keys pressed with the database down: %s", call.raw)
	}
	restore()
	if n, err := f.server.ReplaySpool(context.Background()); n != 1 || err != nil {
		t.Fatalf("replay: %d %v", n, err)
	}
	// Twilio's retry of the same Gather after all: deduplicated.
	call.press(menu, "3")
	f.workJobs()
	if n := f.count("SELECT count(*) FROM messages WHERE survivor_id = $1 AND direction = 'in' AND channel = 'voice'", sv); n != 1 {
		t.Errorf("key presses stored: %d, want 1", n)
	}
	if n := f.count("SELECT count(*) FROM alerts WHERE survivor_id = $1 AND severity = 'urgent' AND kind = 'help_now'", sv); n != 1 {
		t.Errorf("urgent alerts: %d, want 1", n)
	}
}

// TestInboundCallAnswered: with SAATHI_VOICE_INBOUND=answer (a toll-free
// number), a known survivor's call is answered with the menu at once, and
// their key press raises the alert like any other; strangers are still
// rejected.
func TestInboundCallAnswered(t *testing.T) {
	t.Parallel()
	f := setup(t)
	fake := f.twilio()
	f.server.VoiceInbound = handlers.VoiceInboundAnswer
	f.echo = f.server.Handler()
	sv := f.enrol("+919876543210")
	call := &voiceCall{f: f, fake: fake, sid: "CA" + newSID()[2:]}
	menu := call.post("/twilio/voice/incoming", url.Values{"From": {"+919876543210"}, "To": {"+18005550100"}, "CallStatus": {"ringing"}})
	if menu.Reject != nil || menu.Gather == nil || menu.Gather.Says[0].Language != "hi-IN" {
		t.Fatalf("a survivor's call to a toll-free number: %s", call.raw)
	}
	call.press(menu, "3")
	f.workJobs()
	if n := f.count("SELECT count(*) FROM alerts WHERE survivor_id = $1 AND kind = 'help_now'", sv); n != 1 {
		t.Errorf("help_now alerts: %d, want 1", n)
	}
	if n := f.count("SELECT count(*) FROM checkins WHERE kind = 'callback'"); n != 0 {
		t.Error("an answered call scheduled a callback")
	}
	stranger := &voiceCall{f: f, fake: fake, sid: "CA" + newSID()[2:]}
	if doc := stranger.post("/twilio/voice/incoming", url.Values{"From": {"+919811111111"}}); doc.Reject == nil || doc.Gather != nil {
		t.Errorf("a stranger's call: %s", stranger.raw)
	}
}

// TestStaffSeeDuressCodeMarker: staff reading the alert or the timeline
// see "[duress code]" where the survivor typed their code, never the code.
func TestStaffSeeDuressCodeMarker(t *testing.T) {
	t.Parallel()
	f := setup(t)
	call, sv := f.placeCall("+919876543210", map[string]any{"duress_code": "4821"})
	call.press(call.answer("human"), "4821#")
	f.workJobs()
	var id string
	if err := f.pool.QueryRow(context.Background(), "SELECT id FROM alerts WHERE kind = 'duress'").Scan(&id); err != nil {
		t.Fatal(err)
	}
	r := f.do(http.MethodGet, "/api/v1/alerts/"+id, f.caseworker.Token, nil)
	if ev := r.json(t)["evidence"].(map[string]any); ev["reply"] != "[duress code]" || answerHolds(t, r.Body, "4821") {
		t.Errorf("alert shows %s", r.Body)
	}
	body := f.do(http.MethodGet, "/api/v1/survivors/"+sv+"/timeline", f.caseworker.Token, nil).Body
	if answerHolds(t, body, "4821") || !strings.Contains(string(body), "[duress code]") {
		t.Errorf("timeline shows %s", body)
	}
}
