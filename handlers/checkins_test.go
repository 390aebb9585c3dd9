package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"saathi/db"
	"saathi/jobs/telephony/twiliofake"
)

func TestAdhocCheckin(t *testing.T) {
	t.Parallel()
	f := setup(t)
	id := f.enrol("+919876543210")
	path := "/api/v1/survivors/" + id + "/checkins"

	// Wednesday 11:00: the window is open, the check-in goes now.
	r := f.do(http.MethodPost, path, f.caseworker.Token, map[string]any{"channel": "sms"})
	if r.Code != http.StatusAccepted {
		t.Fatalf("%d %s", r.Code, r.Body)
	}
	got := r.json(t)
	if got["state"] != "queued" || got["send_at"] != "2026-11-25T05:30:00Z" {
		t.Errorf("check-in: %s", r.Body)
	}
	// A double click: the first is still on its way.
	if r := f.do(http.MethodPost, path, f.caseworker.Token, map[string]any{"channel": "sms"}); r.Code != http.StatusConflict {
		t.Errorf("second ad-hoc check-in while one is queued: %d, want 409", r.Code)
	}
	if _, err := f.pool.Exec(context.Background(), "UPDATE checkins SET state = 'sent' WHERE kind = 'adhoc'"); err != nil {
		t.Fatal(err)
	}
	// Saturday: the Monday-Friday window is shut until Monday 10:00.
	f.now = time.Date(2026, 11, 28, 11, 0, 0, 0, mustLoc(t, "Asia/Kolkata"))
	r = f.do(http.MethodPost, path, f.caseworker.Token, map[string]any{"channel": "sms"})
	if r.Code != http.StatusAccepted || r.json(t)["send_at"] != "2026-11-30T04:30:00Z" {
		t.Errorf("weekend check-in: %d %s", r.Code, r.Body)
	}
	if n := f.count("SELECT count(*) FROM river_job WHERE kind = 'checkin_send'"); n != 2 {
		t.Errorf("send jobs = %d, want 2", n)
	}
	// The job row and the check-in row exist together.
	if n := f.count("SELECT count(*) FROM checkins c JOIN river_job j ON (j.args->>'checkin_id')::uuid = c.id WHERE c.kind = 'adhoc'"); n != 2 {
		t.Errorf("check-ins with their job = %d, want 2", n)
	}

	bad := []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"channel": "carrier-pigeon"}, "channel"},
		{map[string]any{}, "channel"},
	}
	for _, b := range bad {
		if r := f.do(http.MethodPost, path, f.caseworker.Token, b.body); r.Code != http.StatusUnprocessableEntity || r.json(t)["field"] != b.field {
			t.Errorf("%v: %d %s", b.body, r.Code, r.Body)
		}
	}
	// No consent for voice any more: refused up front.
	f.do(http.MethodPost, "/api/v1/survivors/"+id+"/consent", f.caseworker.Token, map[string]any{"action": "withdraw", "channels": []string{"voice"}, "method": "verbal"})
	if r := f.do(http.MethodPost, path, f.caseworker.Token, map[string]any{"channel": "voice"}); r.Code != http.StatusUnprocessableEntity {
		t.Errorf("voice without consent: %d %s", r.Code, r.Body)
	}
	if n := f.count("SELECT count(*) FROM river_job WHERE kind = 'checkin_send'"); n != 2 {
		t.Errorf("rejected requests enqueued jobs: %d", n)
	}
}

func TestCadenceEditChangesFutureOnly(t *testing.T) {
	t.Parallel()
	f := setup(t)
	id := f.enrol("+919876543210") // weekly x12, monthly x12 from Wed 25 Nov 11:00 IST
	ctx := context.Background()

	// Two weeks on, the first two check-ins have gone to the sender.
	f.now = f.now.Add(15 * 24 * time.Hour)
	if _, err := f.pool.Exec(ctx, "UPDATE checkins SET state = 'sent' WHERE survivor_id = $1 AND due_at < $2", id, f.now); err != nil {
		t.Fatal(err)
	}
	r := f.do(http.MethodPut, "/api/v1/survivors/"+id+"/cadence", f.supervisor.Token, map[string]any{"phases": []map[string]any{{"every_days": 3, "times": 10}}})
	if r.Code != http.StatusOK {
		t.Fatalf("%d %s", r.Code, r.Body)
	}
	if n := f.count("SELECT count(*) FROM checkins WHERE survivor_id = $1 AND state = 'sent'", id); n != 2 {
		t.Errorf("sent check-ins = %d, want the same 2", n)
	}
	// The old cadence's 22 future occurrences are gone, not kept as
	// cancelled rows: what remains is what happened and what will.
	if n := f.count("SELECT count(*) FROM checkins WHERE survivor_id = $1", id); n != 2+5 {
		t.Errorf("check-in rows = %d, want 7: the 2 sent and the 5 of the new cadence", n)
	}
	if n := f.count("SELECT count(*) FROM checkins WHERE survivor_id = $1 AND state = 'cancelled'", id); n != 0 {
		t.Errorf("cancelled = %d, want 0: replaced rows are deleted", n)
	}
	// Every 3 days from enrolment: days 3..30; after day 15 that is 18..30.
	if n := f.count("SELECT count(*) FROM checkins WHERE survivor_id = $1 AND state = 'scheduled'", id); n != 5 {
		t.Errorf("scheduled = %d, want 5 (days 18, 21, 24, 27, 30)", n)
	}
	if n := f.count("SELECT count(*) FROM checkins WHERE survivor_id = $1 AND state = 'scheduled' AND due_at <= $2", id, f.now); n != 0 {
		t.Errorf("%d new check-ins in the past", n)
	}
	if n := f.count(`SELECT count(*) FROM (SELECT due_at FROM checkins WHERE survivor_id = $1 AND state <> 'cancelled' GROUP BY due_at HAVING count(*) > 1) d`, id); n != 0 {
		t.Errorf("%d duplicated occurrences", n)
	}
	if r := f.do(http.MethodPut, "/api/v1/survivors/"+id+"/cadence", f.supervisor.Token, map[string]any{"phases": []map[string]any{{"every_days": 3, "times": 0}}}); r.Code != http.StatusUnprocessableEntity || r.json(t)["field"] != "cadence.phases[0].times" {
		t.Errorf("bad cadence: %d %s", r.Code, r.Body)
	}
}

// statusFixture has one sent message with a known SID.
func statusFixture(t *testing.T) (*fixture, string, int64) {
	f := setup(t)
	id := uuid.MustParse(f.enrol("+919876543210"))
	sid := "SM" + strings.Repeat("ab", 16)
	msg, err := db.New(f.pool).MessageCreate(context.Background(), db.MessageCreateParams{
		Direction: "out", Channel: "sms", SurvivorID: &id, Purpose: "checkin", Provider: "twilio",
		ProviderSid: &sid, Status: "queued", Now: f.now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return f, sid, msg.ID
}

// postStatus sends a status callback signed as Twilio would sign it.
func (f *fixture) postStatus(query string, form url.Values, signWith string) int {
	f.t.Helper()
	path := "/twilio/status" + query
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if signWith != "" {
		req.Header.Set("X-Twilio-Signature", twiliofake.Signature(signWith, testPublicURL+path, form))
	}
	rec := httptest.NewRecorder()
	f.echo.ServeHTTP(rec, req)
	return rec.Code
}

func (f *fixture) messageStatus(id int64) (string, *int32) {
	f.t.Helper()
	m, err := db.New(f.pool).MessageGet(context.Background(), id)
	if err != nil {
		f.t.Fatal(err)
	}
	return m.Status, m.ErrorCode
}

func TestStatusCallback(t *testing.T) {
	t.Parallel()
	f, sid, id := statusFixture(t)
	form := func(status string) url.Values {
		return url.Values{"MessageSid": {sid}, "MessageStatus": {status}, "AccountSid": {twiliofake.AccountSID}}
	}

	if code := f.postStatus("", form("sent"), testAuthToken); code != http.StatusNoContent {
		t.Fatalf("signed: %d", code)
	}
	if st, _ := f.messageStatus(id); st != "sent" {
		t.Fatalf("status %s, want sent", st)
	}
	// Forged: signed with another token, or not at all.
	for _, key := range []string{"not-the-token", ""} {
		if code := f.postStatus("", form("failed"), key); code != http.StatusForbidden {
			t.Errorf("forged (%q): %d, want 403", key, code)
		}
	}
	if st, _ := f.messageStatus(id); st != "sent" {
		t.Errorf("forged callback changed the status to %s", st)
	}
	// A signature for other parameters does not carry over.
	tampered := form("delivered")
	req := httptest.NewRequest(http.MethodPost, "/twilio/status", strings.NewReader(url.Values{"MessageSid": {sid}, "MessageStatus": {"failed"}, "AccountSid": {twiliofake.AccountSID}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", twiliofake.Signature(testAuthToken, testPublicURL+"/twilio/status", tampered))
	rec := httptest.NewRecorder()
	f.echo.ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden {
		t.Errorf("tampered body: %d, want 403", rec.Code)
	}

	if code := f.postStatus("", form("delivered"), testAuthToken); code != http.StatusNoContent {
		t.Fatal(code)
	}
	// Replayed, and out of order: a late "sent" after "delivered".
	for _, st := range []string{"delivered", "sent", "queued"} {
		if code := f.postStatus("", form(st), testAuthToken); code != http.StatusNoContent {
			t.Fatalf("%s: %d", st, code)
		}
	}
	if st, _ := f.messageStatus(id); st != "delivered" {
		t.Errorf("final status %s, want delivered kept", st)
	}
	// A final status never turns into another final status.
	failed := form("undelivered")
	failed.Set("ErrorCode", "30003")
	f.postStatus("", failed, testAuthToken)
	if st, code := f.messageStatus(id); st != "delivered" || code != nil {
		t.Errorf("after a late undelivered: %s %v", st, code)
	}
}

func TestStatusCallbackFailedWithErrorCode(t *testing.T) {
	t.Parallel()
	f, sid, id := statusFixture(t)
	form := url.Values{"MessageSid": {sid}, "MessageStatus": {"undelivered"}, "ErrorCode": {"30005"}}
	if code := f.postStatus("", form, testAuthToken); code != http.StatusNoContent {
		t.Fatal(code)
	}
	if st, code := f.messageStatus(id); st != "undelivered" || code == nil || *code != 30005 {
		t.Errorf("status %s code %v", st, code)
	}
}

// TestStatusCallbackErrorCodeOutOfRange: an error code that does not fit
// the column is not stored as some other code (4294988507 wrapped to
// 21211, "invalid number", would read as a final refusal).
func TestStatusCallbackErrorCodeOutOfRange(t *testing.T) {
	t.Parallel()
	f, sid, id := statusFixture(t)
	form := url.Values{"MessageSid": {sid}, "MessageStatus": {"undelivered"}, "ErrorCode": {"4294988507"}}
	if code := f.postStatus("", form, testAuthToken); code != http.StatusNoContent {
		t.Fatal(code)
	}
	if st, code := f.messageStatus(id); st != "undelivered" || code != nil {
		t.Errorf("status %s code %s, want undelivered with no code", st, fmtCode(code))
	}
}

// TestStatusCallbackAdoptsSID: the callback can arrive before the worker
// recorded the SID (or after it crashed): the message ID in the callback
// URL finds the attempt.
func TestStatusCallbackAdoptsSID(t *testing.T) {
	t.Parallel()
	f := setup(t)
	id := uuid.MustParse(f.enrol("+919876543210"))
	msg, err := db.New(f.pool).MessageCreate(context.Background(), db.MessageCreateParams{
		Direction: "out", Channel: "sms", SurvivorID: &id, Purpose: "checkin", Provider: "twilio", Status: "attempting", Now: f.now,
	})
	if err != nil {
		t.Fatal(err)
	}
	sid := "SM" + strings.Repeat("cd", 16)
	q := "?m=" + strconv.FormatInt(msg.ID, 10)
	if code := f.postStatus(q, url.Values{"MessageSid": {sid}, "MessageStatus": {"sent"}}, testAuthToken); code != http.StatusNoContent {
		t.Fatal(code)
	}
	got, err := db.New(f.pool).MessageGet(context.Background(), msg.ID)
	if err != nil || got.ProviderSid == nil || *got.ProviderSid != sid || got.Status != "sent" {
		t.Fatalf("message after callback: %+v %v", got, err)
	}
	// Another SID for the same message is not adopted.
	other := "SM" + strings.Repeat("ef", 16)
	f.postStatus(q, url.Values{"MessageSid": {other}, "MessageStatus": {"delivered"}}, testAuthToken)
	if got, _ := db.New(f.pool).MessageGet(context.Background(), msg.ID); *got.ProviderSid != sid || got.Status != "sent" {
		t.Errorf("foreign SID changed the message: %+v", got)
	}
}

func fmtCode(code *int32) string {
	if code == nil {
		return "none"
	}
	return fmt.Sprint(*code)
}
