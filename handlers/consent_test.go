package handlers_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"saathi/handlers"
	"saathi/locales"
)

// consentNow reads the survivor's current consent as the API shows it.
func (f *fixture) consentNow(id string) map[string]any {
	f.t.Helper()
	r := f.do(http.MethodGet, "/api/v1/survivors/"+id, f.admin.Token, nil)
	if r.Code != http.StatusOK {
		f.t.Fatalf("get: %d %s", r.Code, r.Body)
	}
	return r.json(f.t)["consent"].(map[string]any)
}

// TestConsentCannotBeBackdated: after the survivor's STOP, a staff
// record dated before it (or in the future) is refused and changes
// nothing; consent is ordered by when it takes effect.
func TestConsentCannotBeBackdated(t *testing.T) {
	t.Parallel()
	f := setup(t)
	id := f.enrol("+919876543210")
	path := "/api/v1/survivors/" + id + "/consent"
	if _, reply := f.inbound(newSID(), "+919876543210", "STOP"); reply != f.text("hi", locales.OptOutConfirm) {
		t.Fatalf("STOP answered %q", reply)
	}
	records := f.count("SELECT count(*) FROM consent_records WHERE survivor_id = $1", id)

	for name, body := range map[string]map[string]any{
		"backdated to 2020": {"action": "give", "channels": []string{"sms"}, "method": "in_person", "note": "met her", "recorded_at": "2020-01-01T10:00:00+05:30"},
		"an hour ago":       {"action": "give", "channels": []string{"sms"}, "method": "in_person", "note": "met her", "recorded_at": f.now.Add(-time.Hour).Format(time.RFC3339)},
		"in the future":     {"action": "give", "channels": []string{"sms"}, "method": "in_person", "note": "met her", "recorded_at": f.now.Add(time.Hour).Format(time.RFC3339)},
		"withdraw, backdated": {"action": "withdraw", "channels": []string{"sms", "voice"}, "method": "verbal",
			"recorded_at": f.now.Add(-time.Hour).Format(time.RFC3339)},
	} {
		r := f.do(http.MethodPost, path, f.caseworker.Token, body)
		if r.Code != http.StatusUnprocessableEntity || r.json(t)["field"] != "recorded_at" {
			t.Errorf("%s: %d %s, want 422 on recorded_at", name, r.Code, r.Body)
		}
	}
	if n := f.count("SELECT count(*) FROM consent_records WHERE survivor_id = $1", id); n != records {
		t.Errorf("refused records stored: %d, want %d", n, records)
	}
	if got := f.consentNow(id); got["sms"] != false {
		t.Errorf("consent after refused backdating: %v, want sms withdrawn", got)
	}
	// Voice was not withdrawn by the STOP: a record for it alone, dated
	// after its own latest record, is fine.
	if r := f.do(http.MethodPost, path, f.caseworker.Token, map[string]any{"action": "withdraw", "channels": []string{"voice"}, "method": "verbal", "recorded_at": f.now.Add(-time.Hour).Format(time.RFC3339)}); r.Code != http.StatusCreated {
		t.Errorf("voice withdrawal after its own latest record: %d %s", r.Code, r.Body)
	}
}

// TestStaffGiveAfterSurvivorStop: consent the survivor withdrew
// themselves comes back only in person or by phone, with a note, and a
// low alert lets the supervisor see it.
func TestStaffGiveAfterSurvivorStop(t *testing.T) {
	t.Parallel()
	f := setup(t)
	fake := f.twilio()
	id := f.enrol("+919876543210")
	path := "/api/v1/survivors/" + id + "/consent"
	f.inbound(newSID(), "+919876543210", "STOP")
	f.workJobs() // the STOP's own (medium) alert is texted
	texted := len(fake.Messages())
	f.now = f.now.Add(48 * time.Hour)

	for _, c := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"action": "give", "channels": []string{"sms"}, "method": "verbal", "note": "she asked"}, "method"},
		{map[string]any{"action": "give", "channels": []string{"sms"}, "method": "written", "note": "she asked"}, "method"},
		{map[string]any{"action": "give", "channels": []string{"sms"}, "method": "in_person"}, "note"},
		{map[string]any{"action": "give", "channels": []string{"sms"}, "method": "phone_call", "note": "   "}, "note"},
	} {
		r := f.do(http.MethodPost, path, f.caseworker.Token, c.body)
		if r.Code != http.StatusUnprocessableEntity || r.json(t)["field"] != c.field {
			t.Errorf("%v: %d %s, want 422 on %s", c.body, r.Code, r.Body, c.field)
		}
	}
	restored := "SELECT count(*) FROM alerts WHERE kind = 'consent_restored'"
	if f.consentNow(id)["sms"] != false || f.count(restored) != 0 {
		t.Fatal("a refused record changed consent or raised an alert")
	}

	r := f.do(http.MethodPost, path, f.caseworker.Token, map[string]any{
		"action": "give", "channels": []string{"sms"}, "method": "in_person", "note": "Met her at the centre; she asked for texts again.",
	})
	if r.Code != http.StatusCreated || r.json(t)["consent"].(map[string]any)["sms"] != true {
		t.Fatalf("give in person with a note: %d %s", r.Code, r.Body)
	}
	if n := f.count("SELECT count(*) FROM consent_records WHERE note_enc::text LIKE '%centre%'"); n != 0 {
		t.Error("the note is stored in plain text")
	}
	hist := f.do(http.MethodGet, "/api/v1/survivors/"+id, f.supervisor.Token, nil).json(t)["consent_history"].([]any)
	if last := hist[len(hist)-1].(map[string]any); last["note"] != "Met her at the centre; she asked for texts again." || last["method"] != "in_person" {
		t.Errorf("history shows %v", last)
	}
	// The supervisor sees it as a low alert; nobody is texted for it.
	alerts := f.do(http.MethodGet, "/api/v1/alerts?status=open", f.supervisor.Token, nil).json(t)["alerts"].([]any)
	if len(alerts) != 2 || alerts[0].(map[string]any)["kind"] != "consent_restored" || alerts[0].(map[string]any)["severity"] != "low" {
		t.Errorf("supervisor's alerts: %v, want the consent_restored one (low) newest, then the STOP's", alerts)
	}
	f.workJobs()
	if n := len(fake.Messages()); n != texted {
		t.Errorf("a low alert was texted (%d texts)", n-texted)
	}
	// An ordinary give (consent not withdrawn by the survivor) raises nothing.
	if r := f.do(http.MethodPost, path, f.caseworker.Token, map[string]any{"action": "give", "channels": []string{"voice"}, "method": "verbal"}); r.Code != http.StatusCreated {
		t.Fatalf("ordinary give: %d %s", r.Code, r.Body)
	}
	if n := f.count(restored); n != 1 {
		t.Errorf("consent_restored alerts = %d, want still 1", n)
	}
}

// TestCarrierBlockLiftedOnlyByStart: after Twilio's 21610 (the carrier
// blocks texts since the survivor's STOP), staff cannot give SMS consent
// back, whatever the method; the survivor's START can.
func TestCarrierBlockLiftedOnlyByStart(t *testing.T) {
	t.Parallel()
	f := setup(t)
	id := f.enrol("+919876543210")
	if _, err := f.pool.Exec(context.Background(), `INSERT INTO consent_records (survivor_id, action, channels, method, source, recorded_at)
		VALUES ($1, 'withdraw', '{sms}', 'carrier_block', 'carrier', $2)`, id, f.now); err != nil {
		t.Fatal(err)
	}
	f.now = f.now.Add(time.Hour)
	for _, method := range []string{"verbal", "in_person", "phone_call"} {
		r := f.do(http.MethodPost, "/api/v1/survivors/"+id+"/consent", f.admin.Token, map[string]any{
			"action": "give", "channels": []string{"sms"}, "method": method, "note": "she asked",
		})
		if r.Code != http.StatusUnprocessableEntity || r.json(t)["field"] != "channels" {
			t.Errorf("staff lift a carrier block (%s): %d %s", method, r.Code, r.Body)
		}
	}
	if f.consentNow(id)["sms"] != false {
		t.Fatal("carrier block lifted by staff")
	}
	if _, reply := f.inbound(newSID(), "+919876543210", "START"); reply != f.text("hi", locales.OptInConfirm) {
		t.Errorf("START answered %q", reply)
	}
	if f.consentNow(id)["sms"] != true {
		t.Error("the survivor's START did not lift the carrier block")
	}
}

// TestLateStopStillWins: a STOP spooled during an outage and replayed
// after a staff member gave consent (unaware of it) still withdraws
// consent: the survivor's own word is never outranked by an earlier
// timestamp.
func TestLateStopStillWins(t *testing.T) {
	t.Parallel()
	f := setup(t)
	id := f.enrol("+919876543210")
	sent := f.now
	f.now = f.now.Add(10 * time.Minute)
	if r := f.do(http.MethodPost, "/api/v1/survivors/"+id+"/consent", f.caseworker.Token, map[string]any{"action": "give", "channels": []string{"sms"}, "method": "verbal"}); r.Code != http.StatusCreated {
		t.Fatalf("give: %d %s", r.Code, r.Body)
	}
	if _, err := f.server.ReceiveSMS(context.Background(), handlers.InboundSMS{SID: newSID(), From: "+919876543210", Body: "STOP", ReceivedAt: sent, Spooled: true}); err != nil {
		t.Fatal(err)
	}
	if got := f.consentNow(id); got["sms"] != false {
		t.Errorf("consent after a late STOP: %v, want sms withdrawn", got)
	}
}
