package handlers

// Fuzz tests of what Saathi decodes from outside before any database work:
// Twilio's webhook forms and their signatures, the keys pressed on a call,
// enrolment and cadence JSON, and spool lines. They sit inside the package
// to reach the functions the handlers decode with, and need no database.
//
// Each states properties, not only "no panic". Run one for a while with
// e.g. go test ./handlers -run '^$' -fuzz FuzzWebhookForm -fuzztime 200000x

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
	"github.com/twilio/twilio-go/client"

	"saathi/db/crypt"
	"saathi/db/dbtest"
	"saathi/db/phone"
	"saathi/jobs/callflow"
	"saathi/jobs/reply"
	"saathi/jobs/schedule"
	"saathi/jobs/telephony/twiliofake"
	"saathi/locales"
	"saathi/locales/lexicon"
)

const (
	fuzzAuthToken = "12345678901234567890123456789012"
	fuzzPublicURL = "https://saathi.example.org"
)

// fuzzE164 is the shape of every number Saathi matches survivors by.
var fuzzE164 = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)

// webhookPaths are the routes Twilio posts to; every one decodes its form
// through verifyTwilio.
var webhookPaths = []string{
	"/twilio/sms", "/twilio/status", "/twilio/voice/answer", "/twilio/voice/gate",
	"/twilio/voice/gather", "/twilio/voice/noinput", "/twilio/voice/status", "/twilio/voice/incoming",
}

// webhookContext is a POST of body to path?query as Twilio would send it,
// signed with token over url ("" for no signature), in an echo context.
func webhookContext(e *echo.Echo, u *url.URL, body, signature string) echo.Context {
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	req.URL, req.RequestURI = u, u.RequestURI()
	req.Header.Set(echo.HeaderContentType, echo.MIMEApplicationForm)
	if signature != "" {
		req.Header.Set("X-Twilio-Signature", signature)
	}
	return e.NewContext(req, httptest.NewRecorder())
}

// firstValues is a form as verifyTwilio reads it (and as Twilio's
// validator signs it): the first value of each key.
func firstValues(form url.Values) url.Values {
	out := url.Values{}
	for k, v := range form {
		out[k] = v[:1]
	}
	return out
}

// problemStatus is the status a handler's error answers with (0 if it is
// not a *Problem).
func problemStatus(err error) int {
	var p *Problem
	if errors.As(err, &p) {
		return p.Status
	}
	return 0
}

// FuzzWebhookForm decodes a webhook to every Twilio route from any body
// and query. Properties: a form that does not parse is a 400; a form that
// does is taken only with the signature Twilio makes over this very URL
// and these parameters (not unsigned, not with another auth token, not
// signed for another route, not with one more parameter) and then yields
// exactly its parameters; the call ID and menu step read from the URL are
// what it says or nothing; and a sender that normalises is in E.164, the
// only form a survivor can be matched by.
func FuzzWebhookForm(f *testing.F) {
	f.Add(uint8(0), "", "MessageSid=SM0123456789abcdef0123456789abcdef&AccountSid=AC123&From=%2B919876543210&To=%2B15005550006&Body=3&NumSegments=1")
	f.Add(uint8(1), "m=42", "MessageSid=SM0123456789abcdef0123456789abcdef&MessageStatus=undelivered&ErrorCode=30003")
	f.Add(uint8(1), "", "SmsSid=SM0123456789abcdef0123456789abcdef&SmsStatus=delivered")
	f.Add(uint8(2), "m=7", "CallSid=CA0123456789abcdef0123456789abcdef&AnsweredBy=machine_end_beep")
	f.Add(uint8(4), "m=7&step=2&l=hi", "CallSid=CA0123456789abcdef0123456789abcdef&Digits=3%23")
	f.Add(uint8(4), "m=-1&step=99&l=xx", "CallSid=CA0123456789abcdef0123456789abcdef&Digits=%2A%2A9")
	f.Add(uint8(5), "m=7&step=4&again=1", "CallSid=CA0123456789abcdef0123456789abcdef")
	f.Add(uint8(6), "m=9223372036854775808", "CallSid=CA0123456789abcdef0123456789abcdef&CallStatus=no-answer&AnsweredBy=human")
	f.Add(uint8(7), "", "CallSid=CA0123456789abcdef0123456789abcdef&From=anonymous&To=%2B18005550100")
	f.Add(uint8(0), "", "Body=a&Body=b&From=%2B91%2098765%2043210")
	f.Add(uint8(0), "x=%zz", "Body=1")
	f.Add(uint8(0), "", "Body=%zz&From=1")
	f.Add(uint8(0), "", "a;b=c")
	f.Add(uint8(3), "m=1", "=&&==")
	f.Add(uint8(4), "m=%2B7&step=%2B2", "Tampered=1&Digits=1")

	e := echo.New()
	s := &Server{TwilioAuthToken: fuzzAuthToken, PublicURL: fuzzPublicURL}
	f.Fuzz(func(t *testing.T, route uint8, query, body string) {
		path := webhookPaths[int(route)%len(webhookPaths)]
		u := &url.URL{Path: path, RawQuery: query}
		full := fuzzPublicURL + u.RequestURI()
		form, formErr := url.ParseQuery(body)
		_, queryErr := url.ParseQuery(query)
		signed := firstValues(form)
		good := twiliofake.Signature(fuzzAuthToken, full, signed)

		params, err := s.verifyTwilio(webhookContext(e, u, body, good))
		if formErr != nil || queryErr != nil {
			if problemStatus(err) != http.StatusBadRequest || params != nil {
				t.Fatalf("malformed form (%v, %v): %v, %v; want a 400", formErr, queryErr, params, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("signed as Twilio signs, refused: %v", err)
		}
		want := map[string]string{}
		for k, v := range signed {
			want[k] = v[0]
		}
		if !maps.Equal(params, want) {
			t.Fatalf("params %q, want %q", params, want)
		}

		other := webhookPaths[(int(route)+1)%len(webhookPaths)]
		tries := map[string]struct{ body, sig string }{
			"unsigned":           {body, ""},
			"another auth token": {body, twiliofake.Signature("00000000000000000000000000000000", full, signed)},
			"another route":      {body, twiliofake.Signature(fuzzAuthToken, fuzzPublicURL+other+"?"+query, signed)},
		}
		if !form.Has("Tampered") {
			tries["a parameter added"] = struct{ body, sig string }{body + "&Tampered=1", good}
		}
		for name, try := range tries {
			if p, err := s.verifyTwilio(webhookContext(e, u, try.body, try.sig)); problemStatus(err) != http.StatusForbidden || p != nil {
				t.Fatalf("%s: %v, %v; want a 403", name, p, err)
			}
		}

		c := webhookContext(e, u, body, good)
		q := u.Query()
		if m, err := strconv.ParseInt(q.Get("m"), 10, 64); (err == nil && callParam(c) != m) || (err != nil && callParam(c) != 0) {
			t.Fatalf("call ID %d from m=%q", callParam(c), q.Get("m"))
		}
		if step := stepParam(c); step < 0 || step > maxMenuSteps {
			t.Fatalf("step %d from step=%q", step, q.Get("step"))
		} else if n, err := strconv.Atoi(q.Get("step")); step != 0 && (err != nil || n != step) {
			t.Fatalf("step %d from step=%q", step, q.Get("step"))
		}
		if messageSIDPattern.MatchString(params["MessageSid"]) && len(params["MessageSid"]) != 34 {
			t.Fatalf("message SID %q", params["MessageSid"])
		}
		if from, err := phone.Normalize(params["From"]); err == nil && !fuzzE164.MatchString(from) {
			t.Fatalf("sender %q normalised to %q", params["From"], from)
		}
		// A status callback moves a message forward only: no status is
		// "lower" than itself or than one it outranks.
		if st := cmpOr(params["MessageStatus"], params["SmsStatus"]); st != "" {
			for _, low := range lowerStatuses(st) {
				if statusRank[low] >= statusRank[st] {
					t.Fatalf("status %q may replace %q", st, low)
				}
			}
		}
	})
}

// FuzzVoiceKeys: the keys pressed on a call get the same spoken answer
// whether the database is up (stored, understood, answered) or down
// (spooled, answered from the keys alone): nothing a listener hears may
// differ, and the survivor's duress code sounds exactly like "1".
func FuzzVoiceKeys(f *testing.F) {
	for _, s := range [][2]string{
		{"1", ""}, {"2", ""}, {"3", ""}, {"3#", ""}, {"*3", ""}, {" 2 ", ""}, {"9", ""}, {"", ""}, {"7", ""},
		{"4826#", "4826"}, {"4826", "4826"}, {"48261#", "4826"}, {"33", ""}, {"#", ""}, {"*#3#*", ""}, {"##", "4826"}, {"758294#", "758294"},
	} {
		f.Add(s[0], s[1])
	}
	answers := callflow.Answers()
	f.Fuzz(func(t *testing.T, digits, code string) {
		if code != "" && reply.ValidateDuressCode(code) != nil {
			return // never stored as anyone's code
		}
		if strings.Trim(digits, "0123456789*#") != "" {
			// Twilio's Digits are keypad keys. (Spaces inside would be
			// trimmed differently: ParseKeys trims again, "# 2" means 2
			// to it and nothing to answerToKeys; no keypad sends them.)
			return
		}
		keys := strings.Trim(strings.TrimSpace(digits), "#*")
		spooled := answerToKeys(digits)
		if !slices.Contains([]string{locales.VoiceThanks, locales.VoiceCallMe, locales.VoiceHelpNow}, spooled) {
			t.Fatalf("keys %q answered with %q while the database is down", digits, spooled)
		}
		if asksAgain(keys) {
			return // with the database up the question is asked again; nothing is stored
		}
		res := reply.ParseKeys(keys, code)
		stored := answers[res.Intent]
		if stored == "" {
			stored = locales.VoiceThanks // storeKeys: a key that means nothing sounds like "1"
		}
		if stored != spooled {
			t.Fatalf("keys %q (code %q): %q with the database, %q without", digits, code, stored, spooled)
		}
		if keys == code && (res.Intent != reply.Duress || stored != answers[reply.OK]) {
			t.Fatalf("the duress code %q is %s, answered %q", code, res.Intent, stored)
		}
		if slices.ContainsFunc(res.Evidence, func(e string) bool { return code != "" && strings.Contains(e, code) }) {
			t.Fatalf("evidence %q quotes the duress code", res.Evidence)
		}
	})
}

// jsonContext is a POST of body with a JSON content type.
func jsonContext(e *echo.Echo, body []byte) echo.Context {
	req := httptest.NewRequest(http.MethodPost, "/api/v1/survivors", bytes.NewReader(body))
	req.Header.Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
	return e.NewContext(req, httptest.NewRecorder())
}

// clientError fails unless err is an answer a client can act on: 400 for
// JSON that does not parse, 422 naming the field otherwise (a body that
// is not an object, or a member named "", has no field to name).
func clientError(t *testing.T, what string, body []byte, err error) {
	t.Helper()
	var p *Problem
	switch {
	case !errors.As(err, &p):
		t.Fatalf("%s: %T %v, want a *Problem", what, err, err)
	case p.Status == http.StatusUnprocessableEntity && p.Field == "" && !noFieldToName(body):
		t.Fatalf("%s: 422 naming no field: %v", what, p)
	case p.Status != http.StatusBadRequest && p.Status != http.StatusUnprocessableEntity:
		t.Fatalf("%s: %d %v, want 400 or 422", what, p.Status, p)
	}
}

// emptyName is a JSON member named "" (encoding/json reports it, at any
// depth, as an unknown field with no name).
var emptyName = regexp.MustCompile(`""\s*:`)

// noFieldToName reports whether body's first JSON value (what bindJSON
// decodes before it looks further) is not an object, or has a member
// named "" somewhere: a 422 then has no field to name.
func noFieldToName(body []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // 1e700 is JSON, if no float64
	var v any
	if dec.Decode(&v) != nil {
		return false
	}
	_, object := v.(map[string]any)
	return !object || emptyName.Match(body)
}

// fuzzNow is when the fuzzed enrolments happen: a Wednesday in India.
var fuzzNow = time.Date(2026, 11, 25, 11, 0, 0, 0, time.FixedZone("IST", 19800))

// enrolSeed is a valid enrolment, as the API documents it.
const enrolSeed = `{"reference":"CHD-0042","phone":"+919876543210","language":"hi","channels":["sms","voice"],` +
	`"timezone":"Asia/Kolkata","contact_windows":[{"days":["mon","tue","wed","thu","fri"],"start":"10:00","end":"17:00"}],` +
	`"caseworker_id":"00000000-0000-4000-8000-00000000000c","duress_word":"mango","duress_code":"4826",` +
	`"consent":{"channels":["sms","voice"],"method":"verbal","recorded_at":"2026-11-20T10:00:00+05:30"},` +
	`"cadence":{"phases":[{"every_days":7,"times":12},{"every_days":30,"times":12}]}}`

// FuzzEnrolJSON decodes and validates an enrolment body as POST
// /api/v1/survivors does before touching the database. Properties: every
// refusal is a 400 or a 422 naming its field; an accepted enrolment has an
// E.164 phone, a supported language, sorted distinct known channels, a
// real time zone, consent on its own channels recorded no later than now,
// a duress word and code the parser accepts, contact windows in which the
// sender can find a safe moment (and the moment it finds is safe), and a
// cadence of a bounded number of check-ins, all in the future, in order.
func FuzzEnrolJSON(f *testing.F) {
	f.Add([]byte(enrolSeed))
	for _, change := range [][2]string{
		{`"+919876543210"`, `"98765 43210"`}, {`"+919876543210"`, `"9876 5OOOOO"`}, {`"hi"`, `"mr"`},
		{`"Asia/Kolkata"`, `"Local"`}, {`"Asia/Kolkata"`, `"America/New_York"`}, {`"Asia/Kolkata"`, `"../../etc/passwd"`},
		{`"10:00"`, `"24:00"`}, {`"17:00"`, `"10:20"`}, {`"17:00"`, `"7:5"`}, {`"mon","tue"`, `"mon","mon"`},
		{`"mango"`, `"3"`}, {`"mango"`, `"help"`}, {`"mango"`, `"   "`}, {`"4826"`, `"1234"`}, {`"4826"`, `"48265x"`},
		{`"2026-11-20T10:00:00+05:30"`, `"2026-11-25T05:31:00Z"`}, {`"2026-11-20T10:00:00+05:30"`, `"2099-01-01T00:00:00Z"`},
		{`"every_days":7`, `"every_days":0`}, {`"times":12}]`, `"times":1000}]`}, {`"times":12`, `"times":1e400`},
		{`"channels":["sms","voice"],"method"`, `"channels":["voice"],"action":"withdraw","method"`},
		{`"sms","voice"],"timezone"`, `"sms","fax"],"timezone"`}, {`"verbal"`, `"telepathy"`},
		{`"reference":"CHD-0042"`, `"reference":"CHD-0042","case_code":"SA-1234"`},
	} {
		f.Add([]byte(strings.Replace(enrolSeed, change[0], change[1], 1)))
	}
	for _, s := range []string{``, `{}`, `null`, `[]`, `{"phone":1}`, `{"reference":"a"}{}`, `{"reference":"a"} x`, `{"cadence":{"phases":null}}`} {
		f.Add([]byte(s))
	}

	parser, err := reply.NewParser(lexicon.FS)
	if err != nil {
		f.Fatal(err)
	}
	e := echo.New()
	f.Fuzz(func(t *testing.T, body []byte) {
		var in SurvivorInput
		if err := bindJSON(jsonContext(e, body), &in); err != nil {
			clientError(t, "decoding", body, err)
			return
		}
		sp, err := parseSurvivorCreate(parser, in, fuzzNow)
		if err != nil {
			clientError(t, "validating", body, err)
			return
		}
		if sp.reference != strings.TrimSpace(*in.Reference) || sp.reference == "" || utf8.RuneCountInString(sp.reference) > 64 {
			t.Fatalf("reference %q from %q", sp.reference, *in.Reference)
		}
		if again, err := phone.Normalize(sp.phone); !fuzzE164.MatchString(sp.phone) || err != nil || again != sp.phone {
			t.Fatalf("phone %q from %q (normalises to %q, %v)", sp.phone, *in.Phone, again, err)
		}
		if !locales.IsSupported(sp.language) {
			t.Fatalf("language %q", sp.language)
		}
		if len(sp.channels) == 0 || !slices.IsSorted(sp.channels) || len(slices.Compact(slices.Clone(sp.channels))) != len(sp.channels) ||
			slices.ContainsFunc(sp.channels, func(ch string) bool { return !slices.Contains(allChannels, ch) }) {
			t.Fatalf("channels %q", sp.channels)
		}
		loc, err := time.LoadLocation(sp.timezone)
		if err != nil || sp.timezone == "Local" {
			t.Fatalf("time zone %q: %v", sp.timezone, err)
		}
		if sp.consent.action != "give" || len(sp.consent.channels) == 0 || sp.consent.recordedAt.After(fuzzNow) ||
			slices.ContainsFunc(sp.consent.channels, func(ch string) bool { return !slices.Contains(sp.channels, ch) }) {
			t.Fatalf("consent %+v for channels %q", sp.consent, sp.channels)
		}
		if sp.duress != nil && *sp.duress != "" {
			if parser.ValidateDuressWord(*sp.duress) != nil || utf8.RuneCountInString(*sp.duress) > 40 {
				t.Fatalf("duress word %q accepted", *sp.duress)
			}
		}
		if sp.duressCode != nil && *sp.duressCode != "" && reply.ValidateDuressCode(*sp.duressCode) != nil {
			t.Fatalf("duress code %q accepted", *sp.duressCode)
		}
		next, ok := schedule.NextSafe(sp.windows, loc, fuzzNow)
		if !ok || !schedule.Allowed(sp.windows, loc, next) {
			t.Fatalf("windows %+v in %s: no safe moment found (%v, %v)", sp.windows, sp.timezone, next, ok)
		}
		checkCadence(t, *sp.cadence, loc)
	})
}

// checkCadence: the check-ins a cadence starting now plans are all its
// occurrences, at most MaxOccurrences, each after now and after the last.
func checkCadence(t *testing.T, cad schedule.Cadence, loc *time.Location) {
	t.Helper()
	total := 0
	for _, p := range cad.Phases {
		total += p.Times
	}
	due := cad.OccurrencesAfter(fuzzNow, fuzzNow, loc)
	if len(due) != total || total == 0 || total > schedule.MaxOccurrences {
		t.Fatalf("cadence %+v plans %d check-ins, want %d (1 to %d)", cad, len(due), total, schedule.MaxOccurrences)
	}
	prev := fuzzNow
	for i, d := range due {
		if !d.After(prev) {
			t.Fatalf("cadence %+v: check-in %d at %v, not after %v", cad, i, d, prev)
		}
		prev = d
	}
}

// FuzzCadenceJSON decodes and validates a cadence body as PUT
// /api/v1/survivors/{id}/cadence does. Properties: a refusal is a 400 or a
// 422 naming its field; an accepted cadence plans exactly the check-ins
// its phases say, a bounded number, each later than the one before, in
// any time zone.
func FuzzCadenceJSON(f *testing.F) {
	for _, s := range []string{
		`{"phases":[{"every_days":7,"times":12},{"every_days":30,"times":12}]}`,
		`{"phases":[{"every_days":1,"times":500},{"every_days":1,"times":500}]}`,
		`{"phases":[{"every_days":1,"times":500},{"every_days":1,"times":501}]}`,
		`{"phases":[{"every_days":365,"times":500}]}`, `{"phases":[{"every_days":366,"times":1}]}`,
		`{"phases":[{"every_days":-7,"times":12}]}`, `{"phases":[{"every_days":7.5,"times":12}]}`,
		`{"phases":[{"every_days":9223372036854775807,"times":2}]}`, `{"phases":[]}`, `{"phases":null}`, `{}`,
		`{"phases":[{"every_days":7,"times":12}],"starts_at":"2026-01-01"}`, `{"phases":[{"every_days":"7","times":12}]}`,
	} {
		for _, zone := range []string{"Asia/Kolkata", "America/New_York", "Pacific/Apia", "Australia/Lord_Howe"} {
			f.Add([]byte(s), zone)
		}
	}
	e := echo.New()
	f.Fuzz(func(t *testing.T, body []byte, zone string) {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			return
		}
		var in CadenceJSON
		if err := bindJSON(jsonContext(e, body), &in); err != nil {
			clientError(t, "decoding", body, err)
			return
		}
		cad, err := parseCadence(&in)
		if err != nil {
			clientError(t, "validating", body, err)
			return
		}
		checkCadence(t, cad, loc)
	})
}

// FuzzSpoolLine: a request spooled while the database is down comes back
// from the spool file exactly as it went in, signature included, and the
// file never holds a parameter in the clear. Any other line (damaged,
// forged, or sealed by someone else) is refused with a reason that quotes
// nothing of it; a damaged line never opens as a different request.
func FuzzSpoolLine(f *testing.F) {
	f.Add(fuzzPublicURL+"/twilio/sms", "SM0123456789abcdef0123456789abcdef", "+919876543210", "3 please call", int64(1795670000), []byte(nil), uint16(0))
	f.Add(fuzzPublicURL+"/twilio/voice/gather?m=7&step=1&l=hi", "CA0123456789abcdef0123456789abcdef", "+919876543210", "4826#", int64(0), []byte("garbage"), uint16(3))
	f.Add(fuzzPublicURL+"/twilio/sms", "SM0123456789abcdef0123456789abcdef", "+91 98765 43210", "मदद चाहिए\n", int64(-62135596800), []byte("AQAAAA=="), uint16(40))
	f.Add("", "", "", "", int64(253402300799), []byte{'\n'}, uint16(65535))

	kr := dbtest.Keyring(f)
	dir := f.TempDir()
	sp, err := NewSpool(dir, kr)
	if err != nil {
		f.Fatal(err)
	}
	sp.syncFunc = func(*os.File) error { return nil } // durability is TestSpoolFsyncBeforeAnswer's
	validator := client.NewRequestValidator(fuzzAuthToken)

	f.Fuzz(func(t *testing.T, fullURL, sid, from, body string, unix int64, junk []byte, flip uint16) {
		// Each run starts with an empty spool (a failed run leaves its
		// files, and the fuzzer runs the input again to minimise it).
		if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) > 0 {
			for _, name := range left {
				_ = os.Remove(name)
			}
		}
		params := map[string]string{"MessageSid": sid, "CallSid": sid, "From": from, "Body": body, "Digits": body}
		// Twilio's parameters are UTF-8. JSON keeps no other bytes: such a
		// line fails its signature on replay and is quarantined, never
		// misread (checked below).
		utf8Params := utf8.ValidString(fullURL) && utf8.ValidString(sid) && utf8.ValidString(from) && utf8.ValidString(body)
		form := url.Values{}
		for k, v := range params {
			form.Set(k, v)
		}
		in := SpooledRequest{URL: fullURL, Params: params, Signature: twiliofake.Signature(fuzzAuthToken, fullURL, form),
			ReceivedAt: time.Unix(unix%253402300799, 0).UTC()}
		if err := sp.Append(in); err != nil {
			t.Fatal(err)
		}
		claimed, err := sp.claim()
		if err != nil {
			t.Fatal(err)
		}
		lines, err := sp.readClaimed(claimed)
		if err != nil || len(lines) != 1 {
			t.Fatalf("%d lines (%v), want the one appended", len(lines), err)
		}
		raw, err := os.ReadFile(claimed[0])
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range []string{fullURL, sid, from, body} {
			if len(v) >= 8 && bytes.Contains(raw, []byte(v)) {
				t.Fatalf("the spool file holds %q in the clear", v)
			}
		}
		out, err := sp.open(lines[0].raw, validator)
		switch {
		case err != nil && utf8Params:
			t.Fatalf("the line appended does not open: %v", err)
		case err == nil && (out.URL != in.URL || out.Signature != in.Signature || !maps.Equal(out.Params, in.Params) || !out.ReceivedAt.Equal(in.ReceivedAt)):
			t.Fatalf("spooled %+v, read back %+v", in, out)
		}
		if err := sp.settle(claimed, nil, nil); err != nil {
			t.Fatal(err)
		}
		if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) != 0 {
			t.Fatalf("left in the spool directory: %q", left)
		}

		// One byte of the line changed: it does not open, or opens as the
		// very same request (base64's unused bits).
		damaged := slices.Clone(lines[0].raw)
		damaged[int(flip)%len(damaged)] ^= byte(flip>>8) | 1
		if got, err := sp.open(damaged, validator); err == nil && !(got.URL == in.URL && maps.Equal(got.Params, in.Params)) {
			t.Fatalf("a damaged line opened as %+v", got)
		}
		// Anything else: refused, quoting nothing of it.
		for _, line := range [][]byte{junk, base64.StdEncoding.AppendEncode(nil, junk), sealedJSON(kr, junk), sealedJSON(kr, forged(in))} {
			got, err := sp.open(line, validator)
			if err == nil {
				if !bytes.Equal(line, lines[0].raw) && !(got.URL == in.URL && maps.Equal(got.Params, in.Params)) {
					t.Fatalf("line %q opened as %+v", line, got)
				}
				continue
			}
			if len(junk) >= 4 && strings.Contains(err.Error(), string(junk)) {
				t.Fatalf("the refusal %q quotes the line", err)
			}
		}
	})
}

// sealedJSON seals plain as Saathi seals a spool line.
func sealedJSON(kr *crypt.Keyring, plain []byte) []byte {
	return base64.StdEncoding.AppendEncode(nil, kr.Seal(crypt.SpoolLine, plain))
}

// forged is r with its reply changed after Twilio signed it.
func forged(r SpooledRequest) []byte {
	params := maps.Clone(r.Params)
	params["Body"] += "3"
	r.Params = params
	b, _ := json.Marshal(r)
	return b
}
