package handlers_test

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"saathi/db/dbtest"
)

func TestEnrolHappyPath(t *testing.T) {
	t.Parallel()
	f := setup(t)

	r := f.do(http.MethodPost, "/api/v1/survivors", f.admin.Token, f.enrolBody("+91 98765 43210"))
	if r.Code != http.StatusCreated {
		t.Fatalf("status %d: %s", r.Code, r.Body)
	}
	got := r.json(t)
	if got["phone"] != "+91******3210" {
		t.Errorf("phone = %v, want masked +91******3210", got["phone"])
	}
	if bytes.Contains(bytes.ToLower(r.Body), []byte("mango")) {
		t.Errorf("response reveals the duress word: %s", r.Body)
	}
	if got["has_duress_word"] != true || got["reference"] != "CHD-0042" || got["language"] != "hi" {
		t.Errorf("unexpected survivor: %s", r.Body)
	}
	if diff := cmp.Diff(map[string]any{"sms": true, "voice": true}, got["consent"]); diff != "" {
		t.Errorf("consent (-want +got):\n%s", diff)
	}
	wantWindows := []any{map[string]any{"days": []any{"mon", "tue", "wed", "thu", "fri"}, "start": "10:00", "end": "17:00"}}
	if diff := cmp.Diff(wantWindows, got["contact_windows"]); diff != "" {
		t.Errorf("windows (-want +got):\n%s", diff)
	}
	id := got["id"].(string)
	if n := f.count("SELECT count(*) FROM checkins WHERE survivor_id = $1 AND state = 'scheduled'", id); n != 24 {
		t.Errorf("scheduled check-ins = %d, want 24 (weekly x12 + monthly x12)", n)
	}
	if n := f.count("SELECT count(*) FROM audit_log WHERE survivor_id = $1 AND action = 'survivor.create' AND staff_id = $2", id, f.admin.ID); n != 1 {
		t.Errorf("audit rows for create = %d, want 1", n)
	}
	// The first weekly check-in is a week after enrolment.
	if got["next_checkin_due"] != "2026-12-02T05:30:00Z" {
		t.Errorf("next_checkin_due = %v, want 2026-12-02T05:30:00Z (11:00 IST a week later)", got["next_checkin_due"])
	}
}

func TestEnrolInvalidFields(t *testing.T) {
	t.Parallel()
	f := setup(t)

	tests := []struct {
		name   string
		mutate func(b map[string]any)
		field  string
	}{
		{"bad phone", func(b map[string]any) { b["phone"] = "12345" }, "phone"},
		{"missing phone", func(b map[string]any) { delete(b, "phone") }, "phone"},
		{"missing reference", func(b map[string]any) { delete(b, "reference") }, "reference"},
		{"unknown language", func(b map[string]any) { b["language"] = "fr" }, "language"},
		{"unknown time zone", func(b map[string]any) { b["timezone"] = "Asia/Atlantis" }, "timezone"},
		{"window end before start", func(b map[string]any) {
			b["contact_windows"] = []map[string]any{{"days": []string{"mon"}, "start": "17:00", "end": "10:00"}}
		}, "contact_windows[0].end"},
		{"unknown day", func(b map[string]any) {
			b["contact_windows"] = []map[string]any{{"days": []string{"mon", "funday"}, "start": "10:00", "end": "17:00"}}
		}, "contact_windows[0].days[1]"},
		{"bad start time", func(b map[string]any) {
			b["contact_windows"] = []map[string]any{{"days": []string{"mon"}, "start": "25:00", "end": "26:00"}}
		}, "contact_windows[0].start"},
		{"no windows", func(b map[string]any) { b["contact_windows"] = []map[string]any{} }, "contact_windows"},
		{"missing consent", func(b map[string]any) { delete(b, "consent") }, "consent"},
		{"empty consent", func(b map[string]any) { b["consent"] = map[string]any{} }, "consent.channels"},
		{"consent without method", func(b map[string]any) {
			b["consent"] = map[string]any{"channels": []string{"sms"}, "recorded_at": "2026-11-20T10:00:00+05:30"}
		}, "consent.method"},
		{"consent channels outside channels", func(b map[string]any) {
			b["channels"] = []string{"sms"}
			b["consent"] = map[string]any{"channels": []string{"sms", "voice"}, "method": "verbal", "recorded_at": "2026-11-20T10:00:00+05:30"}
		}, "consent.channels[1]"},
		{"consent in the future", func(b map[string]any) {
			b["consent"] = map[string]any{"channels": []string{"sms"}, "method": "verbal", "recorded_at": "2027-01-01T10:00:00+05:30"}
		}, "consent.recorded_at"},
		{"unknown caseworker", func(b map[string]any) { b["caseworker_id"] = "4f1c5b6e-2c1d-4a4e-9a43-6f0d2f9b7a11" }, "caseworker_id"},
		{"caseworker is an admin", func(b map[string]any) { b["caseworker_id"] = f.admin.ID }, "caseworker_id"},
		{"unknown channel", func(b map[string]any) { b["channels"] = []string{"sms", "whatsapp"} }, "channels[1]"},
		{"no channels", func(b map[string]any) { b["channels"] = []string{} }, "channels"},
		{"duress word is a code", func(b map[string]any) { b["duress_word"] = "333" }, "duress_word"},
		{"duress word too short", func(b map[string]any) { b["duress_word"] = "ab" }, "duress_word"},
		{"cadence every 0 days", func(b map[string]any) {
			b["cadence"] = map[string]any{"phases": []map[string]any{{"every_days": 0, "times": 3}}}
		}, "cadence.phases[0].every_days"},
		{"unknown field", func(b map[string]any) { b["duress_wrd"] = "mango" }, "duress_wrd"},
		{"wrong type", func(b map[string]any) { b["channels"] = "sms" }, "channels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := f.enrolBody("+919876543210")
			tt.mutate(body)
			r := f.do(http.MethodPost, "/api/v1/survivors", f.admin.Token, body)
			if r.Code != http.StatusUnprocessableEntity {
				t.Fatalf("status %d, want 422: %s", r.Code, r.Body)
			}
			got := r.json(t)
			if got["field"] != tt.field || got["error"] == "" {
				t.Errorf("got %s, want field %q and an error message", r.Body, tt.field)
			}
		})
	}
	for _, table := range []string{"survivors", "consent_records", "contact_windows", "cadences", "checkins", "audit_log"} {
		if n := f.count("SELECT count(*) FROM " + table); n != 0 {
			t.Errorf("%s has %d rows after rejected enrolments, want 0", table, n)
		}
	}
}

func TestEnrolDuplicatePhone(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.enrol("+919876543210")
	r := f.do(http.MethodPost, "/api/v1/survivors", f.admin.Token, f.enrolBody("09876543210"))
	if r.Code != http.StatusUnprocessableEntity || r.json(t)["field"] != "phone" {
		t.Fatalf("duplicate phone: %d %s", r.Code, r.Body)
	}
	if n := f.count("SELECT count(*) FROM survivors"); n != 1 {
		t.Errorf("survivors = %d, want 1", n)
	}
}

func TestMalformedRequests(t *testing.T) {
	t.Parallel()
	f := setup(t)
	tests := []struct {
		name string
		body string
		want int
	}{
		{"not JSON", "{reference:", http.StatusBadRequest},
		{"empty", "", http.StatusBadRequest},
		{"two values", `{"reference":"a"} {}`, http.StatusBadRequest},
		{"array", `[1,2]`, http.StatusUnprocessableEntity},
		{"too large", `{"reference":"` + strings.Repeat("x", 70<<10) + `"}`, http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.do(http.MethodPost, "/api/v1/survivors", f.admin.Token, tt.body)
			if r.Code != tt.want {
				t.Fatalf("status %d, want %d: %s", r.Code, tt.want, r.Body)
			}
			if r.json(t)["error"] == nil {
				t.Errorf("no error message: %s", r.Body)
			}
		})
	}
	if n := f.count("SELECT count(*) FROM survivors"); n != 0 {
		t.Errorf("survivors = %d after malformed requests", n)
	}
}

func TestAuthorisation(t *testing.T) {
	t.Parallel()
	f := setup(t)
	mine := f.enrol("+919876543210")

	routes := []struct {
		method, path string
		body         any
		roles        []string // roles allowed to use the route on a survivor they may see
	}{
		{http.MethodGet, "/api/v1/survivors/%s", nil, []string{"admin", "supervisor", "caseworker"}},
		{http.MethodPatch, "/api/v1/survivors/%s", map[string]any{"language": "pa"}, []string{"admin", "supervisor", "caseworker"}},
		{http.MethodPost, "/api/v1/survivors/%s/consent", map[string]any{"action": "withdraw", "channels": []string{"voice"}, "method": "verbal"}, []string{"admin", "supervisor", "caseworker"}},
		{http.MethodPut, "/api/v1/survivors/%s/cadence", map[string]any{"phases": []map[string]any{{"every_days": 14, "times": 4}}}, []string{"admin", "supervisor"}},
		{http.MethodPost, "/api/v1/survivors/%s/checkins", map[string]any{"channel": "sms"}, []string{"admin", "supervisor", "caseworker"}},
		{http.MethodGet, "/api/v1/survivors/%s/timeline", nil, []string{"admin", "supervisor", "caseworker"}},
		{http.MethodDelete, "/api/v1/survivors/%s", nil, []string{"admin"}},
	}
	tokens := map[string]string{"admin": f.admin.Token, "supervisor": f.supervisor.Token, "caseworker": f.caseworker.Token}

	for _, rt := range routes {
		path := fmt.Sprintf(rt.path, mine)
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			if r := f.do(rt.method, path, "", rt.body); r.Code != http.StatusUnauthorized {
				t.Errorf("no token: %d, want 401", r.Code)
			}
			if r := f.do(rt.method, path, "sth_not-a-real-token", rt.body); r.Code != http.StatusUnauthorized {
				t.Errorf("bad token: %d, want 401", r.Code)
			}
			// Another caseworker learns nothing, not even that it exists;
			// the answer is the same as for an ID that does not exist.
			other := f.do(rt.method, path, f.otherCaseworker.Token, rt.body)
			missing := f.do(rt.method, fmt.Sprintf(rt.path, "0b5f0d52-8e0a-4c49-a0a7-3d1b33f4b5aa"), f.otherCaseworker.Token, rt.body)
			if slices.Contains(rt.roles, "caseworker") {
				if other.Code != http.StatusNotFound || !bytes.Equal(other.Body, missing.Body) {
					t.Errorf("other caseworker: %d %s; missing: %d %s", other.Code, other.Body, missing.Code, missing.Body)
				}
			} else if other.Code != http.StatusForbidden {
				t.Errorf("other caseworker on a %v route: %d, want 403", rt.roles, other.Code)
			}
			for _, role := range []string{"supervisor", "caseworker"} {
				if slices.Contains(rt.roles, role) {
					continue
				}
				if r := f.do(rt.method, path, tokens[role], rt.body); r.Code != http.StatusForbidden {
					t.Errorf("%s: %d, want 403: %s", role, r.Code, r.Body)
				}
			}
		})
	}
	// Nothing the rejected requests tried happened.
	if n := f.count("SELECT count(*) FROM survivors WHERE status = 'active' AND language = 'hi'"); n != 1 {
		t.Errorf("survivor changed by rejected requests")
	}

	// Enrolment and staff creation are role-gated too.
	if r := f.do(http.MethodPost, "/api/v1/survivors", f.caseworker.Token, f.enrolBody("+919876500000")); r.Code != http.StatusForbidden {
		t.Errorf("caseworker enrols: %d, want 403", r.Code)
	}
	if r := f.do(http.MethodPost, "/api/v1/staff", f.supervisor.Token, map[string]any{"name": "X", "role": "admin"}); r.Code != http.StatusForbidden {
		t.Errorf("supervisor creates staff: %d, want 403", r.Code)
	}
	if r := f.do(http.MethodPatch, "/api/v1/survivors/"+mine, f.caseworker.Token, map[string]any{"caseworker_id": f.otherCaseworker.ID}); r.Code != http.StatusForbidden {
		t.Errorf("caseworker reassigns: %d, want 403", r.Code)
	}
}

func TestListScoping(t *testing.T) {
	t.Parallel()
	f := setup(t)
	mine := f.enrol("+919876543210")
	body := f.enrolBody("+919876543211")
	body["caseworker_id"] = f.otherCaseworker.ID
	r := f.do(http.MethodPost, "/api/v1/survivors", f.admin.Token, body)
	if r.Code != http.StatusCreated {
		t.Fatal(r.Code, string(r.Body))
	}
	theirs := r.json(t)["id"].(string)

	ids := func(token string) []string {
		r := f.do(http.MethodGet, "/api/v1/survivors", token, nil)
		if r.Code != http.StatusOK {
			t.Fatalf("list: %d %s", r.Code, r.Body)
		}
		var out []string
		for _, s := range r.json(t)["survivors"].([]any) {
			out = append(out, s.(map[string]any)["id"].(string))
		}
		slices.Sort(out)
		return out
	}
	both := []string{mine, theirs}
	slices.Sort(both)
	if diff := cmp.Diff([]string{mine}, ids(f.caseworker.Token)); diff != "" {
		t.Errorf("caseworker sees (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{theirs}, ids(f.otherCaseworker.Token)); diff != "" {
		t.Errorf("other caseworker sees (-want +got):\n%s", diff)
	}
	// The supervisor supervises f.caseworker only.
	if diff := cmp.Diff([]string{mine}, ids(f.supervisor.Token)); diff != "" {
		t.Errorf("supervisor sees (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(both, ids(f.admin.Token)); diff != "" {
		t.Errorf("admin sees (-want +got):\n%s", diff)
	}
	if n := f.count("SELECT count(*) FROM audit_log WHERE action = 'survivor.list' AND staff_id = $1 AND survivor_id = $2", f.caseworker.ID, mine); n != 1 {
		t.Errorf("list audit rows = %d, want 1", n)
	}
}

func TestReadIsAudited(t *testing.T) {
	t.Parallel()
	f := setup(t)
	id := f.enrol("+919876543210")
	for range 2 {
		if r := f.do(http.MethodGet, "/api/v1/survivors/"+id, f.caseworker.Token, nil); r.Code != http.StatusOK {
			t.Fatalf("get: %d %s", r.Code, r.Body)
		}
	}
	if n := f.count("SELECT count(*) FROM audit_log WHERE action = 'survivor.read' AND staff_id = $1 AND survivor_id = $2", f.caseworker.ID, id); n != 2 {
		t.Errorf("read audit rows = %d, want 2", n)
	}
	// A 404 for someone else's survivor leaves no trace of the survivor.
	f.do(http.MethodGet, "/api/v1/survivors/"+id, f.otherCaseworker.Token, nil)
	if n := f.count("SELECT count(*) FROM audit_log WHERE staff_id = $1", f.otherCaseworker.ID); n != 0 {
		t.Errorf("other caseworker's failed read audited as a read: %d rows", n)
	}
}

func TestConsentHistory(t *testing.T) {
	t.Parallel()
	f := setup(t)
	id := f.enrol("+919876543210")
	path := "/api/v1/survivors/" + id + "/consent"

	steps := []struct {
		action string
		want   map[string]any
	}{
		{"give", map[string]any{"sms": true, "voice": true}},
		{"withdraw", map[string]any{"sms": false, "voice": true}},
		{"give", map[string]any{"sms": true, "voice": true}},
	}
	for i, st := range steps {
		r := f.do(http.MethodPost, path, f.caseworker.Token, map[string]any{"action": st.action, "channels": []string{"sms"}, "method": "verbal"})
		if r.Code != http.StatusCreated {
			t.Fatalf("step %d: %d %s", i, r.Code, r.Body)
		}
		if diff := cmp.Diff(st.want, r.json(t)["consent"]); diff != "" {
			t.Errorf("step %d consent (-want +got):\n%s", i, diff)
		}
	}
	r := f.do(http.MethodGet, "/api/v1/survivors/"+id, f.caseworker.Token, nil)
	var actions []string
	for _, h := range r.json(t)["consent_history"].([]any) {
		actions = append(actions, h.(map[string]any)["action"].(string))
	}
	// Enrolment's consent, then give, withdraw, give: nothing overwritten.
	if diff := cmp.Diff([]string{"give", "give", "withdraw", "give"}, actions); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}

	bad := []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"action": "maybe", "channels": []string{"sms"}, "method": "verbal"}, "action"},
		{map[string]any{"action": "give", "channels": []string{}, "method": "verbal"}, "channels"},
		{map[string]any{"action": "give", "channels": []string{"fax"}, "method": "verbal"}, "channels[0]"},
		{map[string]any{"action": "give", "channels": []string{"sms"}, "method": "telepathy"}, "method"},
	}
	for _, b := range bad {
		r := f.do(http.MethodPost, path, f.caseworker.Token, b.body)
		if r.Code != http.StatusUnprocessableEntity || r.json(t)["field"] != b.field {
			t.Errorf("%v: %d %s, want 422 on %s", b.body, r.Code, r.Body, b.field)
		}
	}
	if n := f.count("SELECT count(*) FROM consent_records WHERE survivor_id = $1", id); n != 4 {
		t.Errorf("consent records = %d, want 4", n)
	}
}

func TestPatch(t *testing.T) {
	t.Parallel()
	f := setup(t)
	id := f.enrol("+919876543210")
	r := f.do(http.MethodPatch, "/api/v1/survivors/"+id, f.caseworker.Token, map[string]any{
		"phone": "+91 91234 56789", "language": "gu", "duress_word": "",
		"contact_windows": []map[string]any{{"days": []string{"sat", "sun"}, "start": "09:00", "end": "12:00"}},
	})
	if r.Code != http.StatusOK {
		t.Fatalf("patch: %d %s", r.Code, r.Body)
	}
	got := r.json(t)
	if got["phone"] != "+91******6789" || got["language"] != "gu" || got["has_duress_word"] != false {
		t.Errorf("after patch: %s", r.Body)
	}
	if r := f.do(http.MethodPatch, "/api/v1/survivors/"+id, f.caseworker.Token, map[string]any{"timezone": "Mars/Olympus"}); r.Code != http.StatusUnprocessableEntity {
		t.Errorf("bad timezone patch: %d", r.Code)
	}
	if r := f.do(http.MethodPatch, "/api/v1/survivors/"+id, f.caseworker.Token, map[string]any{}); r.Code != http.StatusUnprocessableEntity {
		t.Errorf("empty patch: %d", r.Code)
	}
	if n := f.count("SELECT count(*) FROM audit_log WHERE action = 'survivor.update' AND survivor_id = $1", id); n != 1 {
		t.Errorf("update audit rows = %d, want 1 (rejected patches change nothing)", n)
	}
}

func TestErase(t *testing.T) {
	t.Parallel()
	f := setup(t)
	id := f.enrol("+919876543210")
	f.enrol("+919876543211")
	// A reply, its assessment and an alert: all personal data to erase.
	f.inbound(newSID(), "+919876543210", "3 they locked the door")
	f.workJobs()
	// A consent note (encrypted free text about the person) too.
	if r := f.do(http.MethodPost, "/api/v1/survivors/"+id+"/consent", f.admin.Token, map[string]any{"action": "withdraw", "channels": []string{"voice"}, "method": "verbal", "note": "asked by her sister"}); r.Code != http.StatusCreated {
		t.Fatalf("consent: %d %s", r.Code, r.Body)
	}

	if r := f.do(http.MethodDelete, "/api/v1/survivors/"+id, f.admin.Token, nil); r.Code != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.Code, r.Body)
	}
	if r := f.do(http.MethodGet, "/api/v1/survivors/"+id, f.admin.Token, nil); r.Code != http.StatusNotFound {
		t.Errorf("get after erase: %d, want 404", r.Code)
	}
	if n := f.count(`SELECT count(*) FROM survivors WHERE id = $1 AND status = 'erased'
		AND reference_enc IS NULL AND phone_enc IS NULL AND phone_hash IS NULL AND duress_enc IS NULL`, id); n != 1 {
		t.Error("personal fields not erased")
	}
	if n := f.count("SELECT count(*) FROM checkins WHERE survivor_id = $1 AND state IN ('scheduled', 'queued')", id); n != 0 {
		t.Errorf("%d check-ins still pending after erasure", n)
	}
	if n := f.count("SELECT count(*) FROM messages WHERE survivor_id = $1 AND (body_enc IS NOT NULL OR peer_enc IS NOT NULL OR peer_hash IS NOT NULL)", id); n != 0 {
		t.Errorf("%d messages still hold the survivor's words or number", n)
	}
	if n := f.count("SELECT count(*) FROM messages m JOIN alerts a ON a.id = m.alert_id WHERE a.survivor_id = $1 AND m.body_enc IS NOT NULL", id); n != 0 {
		t.Error("alert texts quoting the case reference not erased")
	}
	if n := f.count("SELECT count(*) FROM messages m JOIN alerts a ON a.id = m.alert_id WHERE a.survivor_id = $1", id); n == 0 {
		t.Error("the test sent no alert text: it proves nothing about them")
	}
	if n := f.count("SELECT count(*) FROM responses WHERE survivor_id = $1 AND evidence_enc IS NOT NULL", id); n != 0 {
		t.Error("reply evidence not erased")
	}
	if n := f.count("SELECT count(*) FROM consent_records WHERE survivor_id = $1 AND note_enc IS NOT NULL", id); n != 0 {
		t.Error("consent notes not erased")
	}
	if n := f.count("SELECT count(*) FROM alerts WHERE survivor_id = $1 AND status <> 'resolved'", id); n != 0 {
		t.Error("alerts left open for an erased survivor")
	}
	if n := f.count("SELECT count(*) FROM messages WHERE survivor_id = $1", id); n == 0 {
		t.Error("message rows removed: anonymous counts lost")
	}
	// Anonymous counts survive.
	if n := f.count("SELECT count(*) FROM survivors"); n != 2 {
		t.Errorf("survivor rows = %d, want 2", n)
	}
	// The number can be enrolled again (e.g. the phone passed to someone else).
	f.enrol("+919876543210")
}

// TestEncryptionAtRest dumps every table as text and looks for the
// personal data that went in, in every form it might take.
func TestEncryptionAtRest(t *testing.T) {
	t.Parallel()
	f := setup(t)
	type person struct{ phone, national, reference, duress string }
	people := []person{
		{"+919876543210", "9876543210", "CHD-0042", "mango"},
		{"+919812345678", "9812345678", "AMR-7781", "jamun"},
		{"+919900112233", "9900112233", "SUR-3141", "कमल"},
	}
	for _, p := range people {
		b := f.enrolBody(p.phone)
		b["reference"], b["duress_word"] = p.reference, p.duress
		if r := f.do(http.MethodPost, "/api/v1/survivors", f.admin.Token, b); r.Code != http.StatusCreated {
			t.Fatalf("enrol: %d %s", r.Code, r.Body)
		}
	}
	// Staff phone numbers are personal data too.
	if r := f.do(http.MethodPost, "/api/v1/staff", f.admin.Token, map[string]any{"name": "Meera Rao", "role": "caseworker", "phone": "+919811122233"}); r.Code != http.StatusCreated {
		t.Fatalf("staff: %d %s", r.Code, r.Body)
	}

	dump := dbtest.DumpRows(t, f.pool)
	if pgDump := dbtest.DumpData(t, f.pool); pgDump != "" {
		dump += pgDump
	}
	forbidden := []string{"9811122233", "Meera Rao"}
	for _, p := range people {
		forbidden = append(forbidden, p.national, p.reference, p.duress)
	}
	for _, s := range forbidden {
		if strings.Contains(dump, s) {
			t.Errorf("database dump contains %q", s)
		}
	}
	if len(dump) < 1000 {
		t.Fatalf("dump suspiciously small (%d bytes): the test would prove nothing", len(dump))
	}
}
