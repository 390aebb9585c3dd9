package handlers_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"saathi/db/crypt"
	"saathi/handlers"
	"saathi/jobs"
	"saathi/jobs/telephony"
	"saathi/jobs/telephony/twiliofake"
	"saathi/locales"
)

// devPhones makes the fixture's jobs send through the dev provider, as
// `make run` does: texts and calls land in the dev outbox, where the
// simulator finds them. Nothing goes to the fake Twilio.
func (f *fixture) devPhones() {
	f.t.Helper()
	f.fake = twiliofake.New(f.t)
	f.fake.AllowUnused()
	dev := telephony.NewDev(f.pool, f.keyring)
	f.deps = &jobs.Deps{
		Pool: f.pool, Keyring: f.keyring, Catalog: f.server.Catalog, Replies: f.server.Replies, Sender: dev, Caller: dev,
		Logger: quietLogger(), PublicURL: testPublicURL, NowFunc: func() time.Time { return f.now },
	}
}

// outboxTo lists what the dev provider sent to number, oldest first:
// channel and body (a call's body is its TwiML URL).
func (f *fixture) outboxTo(number string) [][2]string {
	f.t.Helper()
	rows, err := f.pool.Query(context.Background(), "SELECT channel, to_enc, body_enc FROM dev_outbox ORDER BY id")
	if err != nil {
		f.t.Fatal(err)
	}
	defer rows.Close()
	var out [][2]string
	for rows.Next() {
		var channel string
		var to, body []byte
		if err := rows.Scan(&channel, &to, &body); err != nil {
			f.t.Fatal(err)
		}
		if t, err := f.keyring.OpenString(crypt.OutboxTo, to); err != nil || t != number {
			continue
		}
		b, err := f.keyring.OpenString(crypt.OutboxBody, body)
		if err != nil {
			f.t.Fatal(err)
		}
		out = append(out, [2]string{channel, b})
	}
	if err := rows.Err(); err != nil {
		f.t.Fatal(err)
	}
	return out
}

// phone opens a survivor's phone in the simulator and returns the page.
func (b *browser) phone(survivor string) string {
	b.f.t.Helper()
	rec := b.do(http.MethodGet, "/dev/simulator/"+survivor, nil)
	if rec.Code != http.StatusOK {
		b.f.t.Fatalf("phone %s: %d %s", survivor, rec.Code, rec.Body)
	}
	return rec.Body.String()
}

// act posts one of the phone's forms (from the last page, with its CSRF
// token) and expects to be sent back to the phone.
func (b *browser) act(survivor, action string, form url.Values) string {
	b.f.t.Helper()
	rec := b.post("/dev/simulator/"+survivor+"/"+action, form)
	loc := rec.Header().Get("Location")
	if rec.Code != http.StatusSeeOther || !strings.HasPrefix(loc, "/dev/simulator/"+survivor) || !strings.HasSuffix(loc, "#now") {
		b.f.t.Fatalf("%s: %d %q %s", action, rec.Code, loc, rec.Body)
	}
	return loc
}

// enrolSurvivor enrols a Hindi survivor reachable by text and voice and
// returns their ID and case code.
func (f *fixture) enrolSurvivor(phone, lang string) (string, string) {
	f.t.Helper()
	body := f.enrolBody(phone)
	body["language"] = lang
	r := f.do(http.MethodPost, "/api/v1/survivors", f.admin.Token, body)
	if r.Code != http.StatusCreated {
		f.t.Fatalf("enrol: %d %s", r.Code, r.Body)
	}
	j := r.json(f.t)
	return j["id"].(string), j["case_code"].(string)
}

func (f *fixture) askCheckin(survivor, channel string) {
	f.t.Helper()
	if r := f.do(http.MethodPost, "/api/v1/survivors/"+survivor+"/checkins", f.caseworker.Token, map[string]any{"channel": channel}); r.Code != http.StatusAccepted {
		f.t.Fatalf("%s check-in: %d %s", channel, r.Code, r.Body)
	}
	f.workJobs()
}

// inOrder reports whether each of parts appears in page after the one
// before it.
func inOrder(page string, parts ...string) bool {
	at := 0
	for _, p := range parts {
		i := strings.Index(page[at:], p)
		if i < 0 {
			return false
		}
		at += i + len(p)
	}
	return true
}

// TestSimulatorList: the list shows each enrolled survivor's case code and
// language, links to their phone, and never shows the number.
func TestSimulatorList(t *testing.T) {
	t.Parallel()
	f := setup(t)
	b := f.browser()
	if page := b.do(http.MethodGet, "/dev/simulator", nil).Body.String(); !strings.Contains(page, "No one is enrolled yet") {
		t.Errorf("the list before anyone is enrolled:\n%s", page)
	}
	sv, code := f.enrolSurvivor("+919876543210", "hi")
	rec := b.do(http.MethodGet, "/dev/simulator", nil)
	page := html.UnescapeString(rec.Body.String())
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("list: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	for _, want := range []string{code, `href="/dev/simulator/` + sv + `"`, "हिन्दी", "+91******3210"} {
		if !strings.Contains(page, want) {
			t.Errorf("the list lacks %q:\n%s", want, page)
		}
	}
	if strings.Contains(page, "98765") {
		t.Errorf("the list shows the number:\n%s", page)
	}
	if rec := b.do(http.MethodGet, "/dev/simulator/"+uuid.NewString(), nil); rec.Code != http.StatusNotFound || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
		t.Errorf("an unknown survivor's phone: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
}

// TestSimulatorTextReply: a check-in text sent through the dev provider
// appears on the survivor's phone (and in the part the page refreshes by
// itself); "3" replied on the phone goes through the inbound path, raises
// the urgent alert, the caseworker's text goes out, and the phone shows
// the answer, newest last.
func TestSimulatorTextReply(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.devPhones()
	sv, _ := f.enrolSurvivor("+919876543210", "hi")
	f.askCheckin(sv, "sms")
	checkin := html.EscapeString(f.text("hi", locales.CheckinSMS))

	b := f.browser()
	if page := b.phone(sv); !strings.Contains(page, checkin) || !strings.Contains(page, `data-live="/dev/simulator/`+sv+`/live"`) {
		t.Fatalf("the check-in text is not on the phone:\n%s", page)
	}
	live := b.do(http.MethodGet, "/dev/simulator/"+sv+"/live", nil)
	if live.Code != http.StatusOK || strings.Contains(live.Body.String(), "<html") || !strings.Contains(live.Body.String(), checkin) {
		t.Errorf("the live part: %d %s", live.Code, live.Body)
	}

	b.act(sv, "text", url.Values{"body": {" 3 "}})
	f.workJobs()
	if n := f.count("SELECT count(*) FROM alerts WHERE survivor_id = $1 AND severity = 'urgent' AND kind = 'help_now'", sv); n != 1 {
		t.Errorf("urgent alerts after a 3 on the phone: %d, want 1", n)
	}
	sent := f.outboxTo(caseworkerPhone)
	if len(sent) != 1 || sent[0][0] != "sms" {
		t.Fatalf("the caseworker's texts: %v", sent)
	}
	answer := html.EscapeString(f.text("hi", locales.ReplyHelpNow))
	page := b.phone(sv)
	if !inOrder(page, checkin, `<p class="sim-bubble" lang="hi" dir="auto">3</p>`, answer) {
		t.Errorf("the phone does not show the check-in, the 3 and the answer, in order:\n%s", page)
	}
	// The caseworker's text went to the caseworker's phone, not this one.
	if strings.Contains(html.UnescapeString(page), sent[0][1]) {
		t.Errorf("the survivor's phone shows the caseworker's text:\n%s", page)
	}

	b.act(sv, "text", url.Values{"body": {"  "}})
	if n := f.count("SELECT count(*) FROM messages WHERE survivor_id = $1 AND direction = 'in'", sv); n != 1 {
		t.Errorf("replies stored after an empty one: %d, want 1", n)
	}
}

// TestSimulatorCall walks a voice check-in on the phone: the call rings,
// is answered as a person, the question is shown in the survivor's
// language (said, or played from a recording in Urdu), 3 is pressed, the
// answer is heard and the urgent alert raised.
func TestSimulatorCall(t *testing.T) {
	t.Parallel()
	for _, lang := range []string{"hi", "ur"} {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			f.devPhones()
			sv, _ := f.enrolSurvivor("+919876543210", lang)
			f.askCheckin(sv, "voice")
			calls := f.outboxTo("+919876543210")
			if len(calls) != 1 || calls[0][0] != "call" {
				t.Fatalf("outbox: %v", calls)
			}

			b := f.browser()
			page := b.phone(sv)
			m := regexp.MustCompile(`name="call" value="(CA[0-9a-f]{32})"`).FindStringSubmatch(page)
			if m == nil || !strings.Contains(page, "Ringing") {
				t.Fatalf("the call does not ring on the phone:\n%s", page)
			}
			b.act(sv, "answer", url.Values{"call": {m[1]}, "as": {"person"}})
			page = b.phone(sv)
			question := html.EscapeString(f.text(lang, locales.VoiceCheckin))
			if !inOrder(page, "On a call with Saathi", html.EscapeString(f.text(lang, locales.VoiceGreeting)), question, `action="/dev/simulator/`+sv+`/keys"`) {
				t.Fatalf("the answered call does not show the question and the keypad:\n%s", page)
			}
			if strings.Contains(page, `name="as" value="person"`) {
				t.Error("the answered call still rings")
			}

			b.act(sv, "keys", url.Values{"digits": {"9"}})
			if page := b.phone(sv); !strings.Contains(page, question) || !strings.Contains(page, `/keys"`) {
				t.Fatalf("9 does not ask again:\n%s", page)
			}
			b.act(sv, "keys", url.Values{"digits": {"3"}})
			page = b.phone(sv)
			if !inOrder(page, "The call has ended", html.EscapeString(f.text(lang, locales.VoiceHelpNow))) || strings.Contains(page, `/keys"`) {
				t.Fatalf("3 is not answered, or the call goes on:\n%s", page)
			}
			f.workJobs()
			if n := f.count("SELECT count(*) FROM alerts WHERE survivor_id = $1 AND severity = 'urgent' AND kind = 'help_now'", sv); n != 1 {
				t.Errorf("urgent alerts after 3 on the call: %d, want 1", n)
			}
			// The call is over: the phone keeps it in the conversation.
			page = b.phone(sv)
			if strings.Contains(page, "The call has ended") || !inOrder(page, "Call from Saathi", "Answered", "You pressed 3", html.EscapeString(f.text(lang, locales.VoiceHelpNow))) {
				t.Errorf("the call in the conversation:\n%s", page)
			}
			if rec := b.post("/dev/simulator/"+sv+"/keys", url.Values{"digits": {"1"}}); rec.Header().Get("Location") != "/dev/simulator/"+sv+"?done=nocall#now" {
				t.Errorf("keys after the call ended: %d %q", rec.Code, rec.Header().Get("Location"))
			}
			if n := f.count("SELECT count(*) FROM messages WHERE survivor_id = $1 AND direction = 'in'", sv); n != 1 {
				t.Errorf("key presses stored: %d, want 1", n)
			}
		})
	}
}

// TestSimulatorVoicemail: a call answered by a voicemail hears nothing,
// and the phone says so.
func TestSimulatorVoicemail(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.devPhones()
	sv, _ := f.enrolSurvivor("+919876543210", "hi")
	f.askCheckin(sv, "voice")
	b := f.browser()
	m := regexp.MustCompile(`name="call" value="(CA[0-9a-f]{32})"`).FindStringSubmatch(b.phone(sv))
	if m == nil {
		t.Fatal("no call rings")
	}
	b.act(sv, "answer", url.Values{"call": {m[1]}, "as": {"machine"}})
	page := b.phone(sv)
	if !strings.Contains(page, "Saathi hung up at once and said nothing") || strings.Contains(page, html.EscapeString(f.text("hi", locales.VoiceGreeting))) || strings.Contains(page, `/keys"`) {
		t.Errorf("a voicemail's call:\n%s", page)
	}
	if n := f.count("SELECT count(*) FROM messages WHERE provider_sid = $1 AND answered_by = 'machine_start'", m[1]); n != 1 {
		t.Error("the call is not on record as answered by a machine")
	}
	// Answering it again changes nothing.
	if loc := b.act(sv, "answer", url.Values{"call": {m[1]}, "as": {"person"}}); !strings.Contains(loc, "done=answered") {
		t.Errorf("a second answer: %q", loc)
	}
	if page := b.phone(sv); !strings.Contains(page, "Voicemail answered: nothing was said.") || strings.Contains(page, "On a call with Saathi") {
		t.Errorf("after a second answer:\n%s", page)
	}
}

// TestSimulatorMissedCall: missed calls from the phone go through the
// incoming-call path: rejected as busy, and one callback however often the
// survivor rings, which then rings on the phone.
func TestSimulatorMissedCall(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.devPhones()
	sv, _ := f.enrolSurvivor("+919876543210", "hi")
	b := f.browser()
	b.phone(sv)
	for range 2 {
		if loc := b.act(sv, "missed", nil); !strings.Contains(loc, "done=missed") {
			t.Errorf("missed call: %q", loc)
		}
		f.now = f.now.Add(20 * time.Second)
	}
	if n := f.count("SELECT count(*) FROM checkins WHERE survivor_id = $1 AND kind = 'callback'", sv); n != 1 {
		t.Errorf("callbacks for two missed calls: %d, want 1", n)
	}
	f.workJobs()
	if calls := f.outboxTo("+919876543210"); len(calls) != 1 || calls[0][0] != "call" {
		t.Errorf("callback calls: %v", calls)
	}
	page := b.phone(sv)
	if !inOrder(page, "You rang Saathi", "Missed call: rejected as busy", "You rang Saathi", "Call from Saathi", "Ringing", `name="as" value="person"`) {
		t.Errorf("the phone after two missed calls and the callback:\n%s", page)
	}
}

// TestSimulatorTollFreeCall: with SAATHI_VOICE_INBOUND=answer (a
// toll-free number) the survivor's call is answered with the menu, and
// the keys pressed on it go through the same path.
func TestSimulatorTollFreeCall(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.devPhones()
	f.server.VoiceInbound = handlers.VoiceInboundAnswer
	f.echo = f.server.Handler()
	sv, _ := f.enrolSurvivor("+919876543210", "hi")
	b := f.browser()
	b.phone(sv)
	if loc := b.act(sv, "missed", nil); strings.Contains(loc, "done=") {
		t.Errorf("a call to a toll-free number: %q", loc)
	}
	page := b.phone(sv)
	if !inOrder(page, "You rang Saathi", "On a call with Saathi", html.EscapeString(f.text("hi", locales.VoiceCheckin)), `/keys"`) {
		t.Fatalf("the answered call:\n%s", page)
	}
	b.act(sv, "keys", url.Values{"digits": {"3"}})
	f.workJobs()
	if n := f.count("SELECT count(*) FROM alerts WHERE survivor_id = $1 AND kind = 'help_now'", sv); n != 1 {
		t.Errorf("help_now alerts: %d, want 1", n)
	}
	if n := f.count("SELECT count(*) FROM checkins WHERE kind = 'callback'"); n != 0 {
		t.Error("an answered call scheduled a callback")
	}
	if page := b.phone(sv); !inOrder(page, "You rang Saathi", "Answered", "You pressed 3") {
		t.Errorf("the call in the conversation:\n%s", page)
	}
}

// TestSimulatorCSRF: the phone's forms are refused without their CSRF
// token (a page on another site must not text "3" or answer a call in a
// survivor's name through a newcomer's browser), with a page, and nothing
// is received.
func TestSimulatorCSRF(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.devPhones()
	sv, _ := f.enrolSurvivor("+919876543210", "hi")
	b := f.browser()
	b.phone(sv)
	for _, action := range []string{"text", "missed", "answer", "keys"} {
		rec := b.do(http.MethodPost, "/dev/simulator/"+sv+"/"+action, url.Values{"body": {"3"}, "digits": {"3"}})
		if rec.Code != http.StatusForbidden || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
			t.Errorf("%s without a CSRF token: %d %s", action, rec.Code, rec.Header().Get("Content-Type"))
		}
	}
	rec := b.do(http.MethodPost, "/dev/simulator/"+sv+"/text", url.Values{"body": {"3"}, "csrf": {"forged"}})
	if rec.Code != http.StatusForbidden {
		t.Errorf("text with a forged CSRF token: %d", rec.Code)
	}
	if n := f.count("SELECT count(*) FROM messages WHERE direction = 'in'"); n != 0 {
		t.Errorf("%d messages received from refused forms", n)
	}
}

// TestSimulatorNeedsDevProvider: without the dev provider (or without the
// dashboard's templates) the simulator does not exist, even for someone
// signed in.
func TestSimulatorNeedsDevProvider(t *testing.T) {
	t.Parallel()
	f := setup(t)
	sv, _ := f.enrolSurvivor("+919876543210", "hi")
	f.withLogin("Kiran", "caseworker", "", "kiran")
	for _, tc := range []struct {
		name   string
		change func(*handlers.Server)
	}{
		{"no dev provider", func(s *handlers.Server) { s.DevProvider = false }},
		{"no dashboard", func(s *handlers.Server) { s.UI = nil }},
	} {
		srv := *f.server
		tc.change(&srv)
		f.echo = srv.Handler()
		b := f.browser()
		if srv.UI != nil {
			// Signed out, every unknown page sends to the sign-in page.
			b.signIn("kiran", "correct horse battery", "/dashboard")
		}
		for _, path := range []string{"/dev/simulator", "/dev/simulator/" + sv, "/dev/simulator/" + sv + "/live"} {
			if rec := b.do(http.MethodGet, path, nil); rec.Code != http.StatusNotFound {
				t.Errorf("%s: GET %s = %d, want 404", tc.name, path, rec.Code)
			}
		}
		if rec := b.post("/dev/simulator/"+sv+"/text", url.Values{"body": {"3"}}); rec.Code != http.StatusNotFound {
			t.Errorf("%s: a text = %d, want 404", tc.name, rec.Code)
		}
	}
	if n := f.count("SELECT count(*) FROM messages WHERE direction = 'in'"); n != 0 {
		t.Errorf("%d messages received without the simulator", n)
	}
}
