package handlers_test

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"saathi/handlers"
	"saathi/jobs/telephony/twiliofake"
	"saathi/locales"
)

// lockMessages locks the messages table in mode until the returned
// transaction ends (rolled back when the test ends, at the latest).
func (f *fixture) lockMessages(mode string) pgx.Tx {
	f.t.Helper()
	ctx := context.Background()
	tx, err := f.pool.Begin(ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { _ = tx.Rollback(ctx) })
	if _, err := tx.Exec(ctx, "LOCK TABLE messages IN "+mode+" MODE"); err != nil {
		f.t.Fatal(err)
	}
	return tx
}

// holdTexts makes every text the webhook receives wait for the
// transactions storing it: messages is locked until release is called,
// which first waits until n texts are inside the server (so all of them
// queue behind the two transactions in flight).
func (f *fixture) holdTexts(n int) (release func()) {
	f.t.Helper()
	tx := f.lockMessages("EXCLUSIVE")
	return func() {
		f.t.Helper()
		defer tx.Rollback(context.Background()) //nolint:errcheck // releases the lock; nothing was written
		for deadline := time.Now().Add(10 * time.Second); handlers.TextsInside(f.server) < n; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				f.t.Fatalf("%d texts inside the server, want %d", handlers.TextsInside(f.server), n)
			}
		}
	}
}

// postTexts posts the texts at once, each signed, and returns the answers
// as sent, in order.
func (f *fixture) postTexts(forms []url.Values) []*httptest.ResponseRecorder {
	recs := make([]*httptest.ResponseRecorder, len(forms))
	var wg sync.WaitGroup
	for i, form := range forms {
		wg.Go(func() { recs[i] = f.signedPost("/twilio/sms", form, testAuthToken) })
	}
	wg.Wait()
	return recs
}

// enrolTexters enrols n survivors and returns their IDs and, for each, the
// webhook form of a text "1" from their phone with a SID of its own.
func (f *fixture) enrolTexters(n int) (ids []string, forms []url.Values) {
	f.t.Helper()
	for i := range n {
		phone := fmt.Sprintf("+91981000%04d", i)
		ids = append(ids, f.enrol(phone))
		forms = append(forms, textForm(newSID(), phone, "1"))
	}
	return ids, forms
}

func textForm(sid, from, body string) url.Values {
	return url.Values{"MessageSid": {sid}, "AccountSid": {twiliofake.AccountSID}, "From": {from}, "To": {"+15005550006"}, "Body": {body}}
}

// twimlAnswer is the text of the <Message> in a TwiML answer ("" for none).
func twimlAnswer(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var doc struct {
		Messages []string `xml:"Message"`
	}
	if err := xml.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatalf("bad TwiML %q: %v", rec.Body, err)
	}
	if len(doc.Messages) == 0 {
		return ""
	}
	return doc.Messages[0]
}

// Texts arriving together are stored in one transaction (group commit):
// each is stored once, answered after the commit with its own answer, and
// assessed; a second delivery in the same group is stored and answered
// once.
func TestTextsArrivingTogetherShareATransaction(t *testing.T) {
	t.Parallel()
	f := setup(t)
	const n = 24
	_, forms := f.enrolTexters(n)
	forms[5].Set("Body", "3")
	forms = append(forms, forms[0]) // Twilio delivers the first one twice

	release := f.holdTexts(len(forms))
	var recs []*httptest.ResponseRecorder
	done := make(chan struct{})
	go func() { recs = f.postTexts(forms); close(done) }()
	release()
	<-done

	thanks, help := f.text("hi", locales.ReplyThanks), f.text("hi", locales.ReplyHelpNow)
	answered := 0
	for i, rec := range recs {
		if rec.Code != http.StatusOK {
			t.Fatalf("text %d: %d %s", i, rec.Code, rec.Body)
		}
		got, want := twimlAnswer(t, rec), thanks
		if i == 5 {
			want = help
		}
		switch {
		case got == want:
			answered++
		case got == "" && (i == 0 || i == n):
			// the second delivery of the first text: not answered again
		default:
			t.Errorf("text %d (%q) answered %q, want %q", i, forms[i].Get("Body"), got, want)
		}
	}
	if answered != n {
		t.Errorf("%d texts answered, want %d (the repeated one once)", answered, n)
	}
	var stored, txns int
	if err := f.pool.QueryRow(context.Background(),
		"SELECT count(*), count(DISTINCT xmin::text) FROM messages WHERE direction = 'in'").Scan(&stored, &txns); err != nil {
		t.Fatal(err)
	}
	if stored != n {
		t.Errorf("%d texts stored, want %d", stored, n)
	}
	// Two transactions were in flight when the lock was taken; everything
	// else waited, and went in one.
	if txns > 3 {
		t.Errorf("the texts were stored in %d transactions, want at most 3", txns)
	}
	if got := f.count("SELECT count(*) FROM river_job WHERE kind = 'reply_assess'"); got != n {
		t.Errorf("%d assessments queued, want %d", got, n)
	}
	if got := f.count("SELECT count(*) FROM river_job WHERE kind = 'reply_assess' AND priority = 1"); got != 1 {
		t.Errorf("%d urgent assessments, want 1 (the \"3\")", got)
	}
}

// One text that cannot be stored fails alone: the others in its group
// are stored and answered, each once.
func TestTextThatFailsDoesNotFailItsGroup(t *testing.T) {
	t.Parallel()
	f := setup(t)
	const n = 8
	ids, forms := f.enrolTexters(n)
	bad := ids[3]
	// Their duress word can no longer be opened: understanding any of
	// their texts fails.
	if _, err := f.pool.Exec(context.Background(), "UPDATE survivors SET duress_enc = '\\x00ff' WHERE id = $1", bad); err != nil {
		t.Fatal(err)
	}

	release := f.holdTexts(n)
	var recs []*httptest.ResponseRecorder
	done := make(chan struct{})
	go func() { recs = f.postTexts(forms); close(done) }()
	release()
	<-done

	thanks := f.text("hi", locales.ReplyThanks)
	for i, rec := range recs {
		switch {
		case i == 3 && rec.Code != http.StatusInternalServerError:
			// No spool in this fixture: the failure shows (with one, it is spooled).
			t.Errorf("the text that cannot be understood: %d %s, want 500", rec.Code, rec.Body)
		case i != 3 && (rec.Code != http.StatusOK || twimlAnswer(t, rec) != thanks):
			t.Errorf("text %d: %d %s, want the thanks", i, rec.Code, rec.Body)
		}
	}
	if got := f.count("SELECT count(*) FROM messages WHERE direction = 'in'"); got != n-1 {
		t.Errorf("%d texts stored, want %d", got, n-1)
	}
	if got := f.count("SELECT count(*) FROM messages WHERE direction = 'in' AND survivor_id = $1", bad); got != 0 {
		t.Errorf("the failed text was stored")
	}
	if got := f.count("SELECT count(*) FROM river_job WHERE kind = 'reply_assess'"); got != n-1 {
		t.Errorf("%d assessments queued, want %d", got, n-1)
	}
}

// With the database hung, every text of a group is spooled and answered
// 200 within about one ReceiveTimeout, not one for the group and another
// for each text tried alone; once the database is back, the replay stores
// each once.
func TestHungDatabaseSpoolsEveryTextOfAGroup(t *testing.T) {
	t.Parallel()
	f := setup(t)
	const n = 10
	_, forms := f.enrolTexters(n)
	var sids []string
	for _, form := range forms {
		sids = append(sids, form.Get("MessageSid"))
	}
	_, dir := f.useSpool()
	f.server.ReceiveTimeout = 500 * time.Millisecond
	ctx := context.Background()
	lock := f.lockMessages("ACCESS EXCLUSIVE")

	start := time.Now()
	recs := f.postTexts(forms)
	took := time.Since(start)
	for i, rec := range recs {
		if rec.Code != http.StatusOK || twimlAnswer(t, rec) != "" {
			t.Errorf("text %d with the database hung: %d %s, want 200 and no answer", i, rec.Code, rec.Body)
		}
	}
	if took > 3*f.server.ReceiveTimeout {
		t.Errorf("the texts were answered after %v, want about one ReceiveTimeout (%v)", took, f.server.ReceiveTimeout)
	}
	if lines := spoolLines(t, dir, "inbound-*"); len(lines) != n {
		t.Fatalf("spooled lines: %d, want %d", len(lines), n)
	}

	if err := lock.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := f.server.ReplaySpool(ctx); got != n || err != nil {
		t.Fatalf("replay: %d %v, want %d", got, err, n)
	}
	f.storedOnce(sids...)
}
