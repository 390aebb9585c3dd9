package handlers_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
	"github.com/riverqueue/river/rivertype"

	"saathi/handlers"
	"saathi/jobs"
	"saathi/jobs/telephony/twiliofake"
)

// logLines keeps every log line written to it (from the web handlers,
// the jobs and River, which write from several goroutines).
type logLines struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// capturingLogger logs everything, at debug level, as production does
// (JSON), into lines. Times are left out: a timestamp's digits must not
// be mistaken for a code.
func capturingLogger(lines *logLines) *slog.Logger {
	return slog.New(slog.NewJSONHandler(lines, &slog.HandlerOptions{Level: slog.LevelDebug,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
}

// loggedJobs works every job due now, as a worker process would, with
// River's executor and Saathi's error handler logging to logger: the
// fixture's workJobs keeps River quiet.
type loggedJobs struct {
	f      *fixture
	cfg    *river.Config
	client *river.Client[pgx.Tx]
	errs   jobs.ErrorHandler
}

func newLoggedJobs(f *fixture, logger *slog.Logger) *loggedJobs {
	f.t.Helper()
	f.twilio()
	f.deps.Logger = logger
	cfg := &river.Config{Logger: logger}
	client, err := river.NewClient(riverpgxv5.New(f.pool), cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	return &loggedJobs{f: f, cfg: cfg, client: client, errs: jobs.ErrorHandler{Logger: logger}}
}

// retryNow makes the jobs waiting to retry due (rivertest leaves a failed
// job available at its retry time), and works them.
func (j *loggedJobs) retryNow() {
	j.f.t.Helper()
	if _, err := j.f.pool.Exec(context.Background(), "UPDATE river_job SET scheduled_at = now() WHERE state IN ('retryable', 'available')"); err != nil {
		j.f.t.Fatal(err)
	}
	j.work()
}

// work runs the due jobs until none is left and returns how many ran.
func (j *loggedJobs) work() int {
	f := j.f
	f.t.Helper()
	ctx := context.Background()
	worked := 0
	for range 20 {
		ids := f.dueJobs()
		if len(ids) == 0 {
			return worked
		}
		for _, id := range ids {
			j.one(ctx, id)
			worked++
		}
	}
	f.t.Fatal("jobs keep coming after 20 rounds")
	return worked
}

func (j *loggedJobs) one(ctx context.Context, id int64) {
	f := j.f
	f.t.Helper()
	row, err := j.client.JobGet(ctx, id)
	if err != nil {
		f.t.Fatal(err)
	}
	tx, err := f.pool.Begin(ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // committed below
	driver := riverpgxv5.New(f.pool)
	var res *rivertest.WorkResult
	var workErr error
	work := func(w interface {
		WorkJob(context.Context, testing.TB, pgx.Tx, *rivertype.JobRow) (*rivertest.WorkResult, error)
	}) {
		res, workErr = w.WorkJob(ctx, f.t, tx, row)
	}
	switch row.Kind {
	case jobs.CheckinSendArgs{}.Kind():
		work(rivertest.NewWorker(f.t, driver, j.cfg, &jobs.CheckinSendWorker{Deps: f.deps}))
	case jobs.ReplyAssessArgs{}.Kind():
		work(rivertest.NewWorker(f.t, driver, j.cfg, &jobs.ReplyAssessWorker{Deps: f.deps}))
	case jobs.ReplyAnswerArgs{}.Kind():
		work(rivertest.NewWorker(f.t, driver, j.cfg, &jobs.ReplyAnswerWorker{Deps: f.deps}))
	case jobs.AlertNotifyArgs{}.Kind():
		work(rivertest.NewWorker(f.t, driver, j.cfg, &jobs.AlertNotifyWorker{Deps: f.deps}))
	case jobs.AlertEscalateArgs{}.Kind():
		work(rivertest.NewWorker(f.t, driver, j.cfg, &jobs.AlertEscalateWorker{Deps: f.deps}))
	default:
		f.t.Fatalf("no worker for %s", row.Kind)
	}
	if res == nil {
		f.t.Fatalf("job %s %d: %v", row.Kind, id, workErr)
	}
	if err := tx.Commit(ctx); err != nil {
		f.t.Fatal(err)
	}
	if workErr != nil {
		j.errs.HandleError(ctx, res.Job, workErr)
	}
}

// The personal data of the flow in TestLogsHoldNoPersonalData: numbers
// whose last eight digits no ID or count contains by chance.
const (
	logSurvivorPhone   = "+919583716402"
	logCaseworkerPhone = "+917359246180"
	logSupervisorPhone = "+918264759301"
	logAdminPhone      = "+916395842071"
	logStrangerPhone   = "+919871234560"
	logReference       = "NGO-REF-5531-LAKSHMI"
	logDuressWord      = "tamarind"
	logDuressCode      = "758294"
	logHelpReply       = "3 please come quickly, Rekha is here"
	logDownReply       = "2 call me after six, Rekha knows"
	logHindiReply      = "राधा के घर पर हूँ"
	logStrangerText    = "who is this number please"
	logResolution      = "Spoke with her at the bus stand"
)

// TestLogsHoldNoPersonalData runs the whole loop with every log line of
// the web handlers, the jobs and River captured at debug level, as JSON:
// enrolment (with a duress word and code), an SMS check-in and its status
// callback, a reply of "3" with words, the alert text and an ACK by SMS,
// the duress word, a reply in Hindi, a text from a stranger, a reply
// while the database is down (spooled, then replayed), a voice check-in
// answered with the duress code, a missed call and its callback, reads
// and a resolution by API and by the dashboard, escalation to the
// supervisor and then to the admins, and erasure. No line may hold a
// phone number (E.164, national, with spaces, or its last eight digits),
// the reference, a reply's words, the duress word or code, the
// resolution note, or a staff member's name; nor may River's job rows.
func TestLogsHoldNoPersonalData(t *testing.T) {
	t.Parallel()
	f := setup(t)
	var lines logLines
	logger := capturingLogger(&lines)
	j := newLoggedJobs(f, logger)
	fake := f.fake
	// The web process: its handlers and its (insert-only) River client
	// log to the same place.
	rc, err := river.NewClient(riverpgxv5.New(f.pool), &river.Config{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	f.server.Logger, f.server.River = logger, rc
	f.useSpool()
	f.echo = f.server.Handler()
	ctx := context.Background()

	staff := func(name, role, supervisor, phone, user string) staffMember {
		st, err := handlers.CreateStaff(ctx, f.pool, f.keyring, handlers.StaffInput{
			Name: name, Role: role, SupervisorID: supervisor, Phone: phone, Username: user, Password: "correct horse battery",
		})
		if err != nil {
			t.Fatal(err)
		}
		return staffMember{ID: st.ID.String(), Token: st.Token}
	}
	admin := staff("Farzana Qureshi", "admin", "", logAdminPhone, "farzana")
	sup := staff("Harpreet Dhillon", "supervisor", "", logSupervisorPhone, "harpreet")
	cw := staff("Meenakshi Raghavan", "caseworker", sup.ID, logCaseworkerPhone, "meenakshi")
	names := []string{"Farzana", "Qureshi", "Harpreet", "Dhillon", "Meenakshi", "Raghavan",
		"Asha Admin", "Sunita Supervisor", "Kiran Caseworker", "Other Caseworker"} // and the fixture's staff

	// Enrol, with a duress word and code.
	body := f.enrolBody(logSurvivorPhone)
	body["reference"], body["duress_word"], body["duress_code"], body["caseworker_id"] = logReference, logDuressWord, logDuressCode, cw.ID
	body["contact_windows"] = []map[string]any{{"days": []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}, "start": "00:00", "end": "24:00"}}
	r := f.do(http.MethodPost, "/api/v1/survivors", admin.Token, body)
	if r.Code != http.StatusCreated {
		t.Fatalf("enrol: %d %s", r.Code, r.Body)
	}
	survivor := r.json(t)["id"].(string)
	// The same number again: refused, on record.
	if r := f.do(http.MethodPost, "/api/v1/survivors", admin.Token, body); r.Code != http.StatusUnprocessableEntity {
		t.Fatalf("second enrolment: %d", r.Code)
	}

	// An SMS check-in, sent, and delivered.
	if r := f.do(http.MethodPost, "/api/v1/survivors/"+survivor+"/checkins", cw.Token, map[string]any{"channel": "sms"}); r.Code != http.StatusAccepted {
		t.Fatalf("check-in: %d %s", r.Code, r.Body)
	}
	j.work()
	if len(textsTo(fake, logSurvivorPhone)) != 1 {
		t.Fatalf("the check-in was not sent: %v", fake.Messages())
	}
	msg := fake.Messages()[len(fake.Messages())-1]
	status := url.Values{"MessageSid": {msg.SID}, "MessageStatus": {"delivered"}, "AccountSid": {twiliofake.AccountSID},
		"To": {logSurvivorPhone}, "From": {"+15005550006"}}
	if rec := f.signedPost("/twilio/status", status, testAuthToken); rec.Code != http.StatusNoContent {
		t.Fatalf("status callback: %d", rec.Code)
	}

	// "3" with words: an urgent alert, texted to the caseworker (Twilio
	// refuses the first try, quoting the number, as Twilio's errors do),
	// who acknowledges it by SMS.
	fake.ScriptTo(logCaseworkerPhone, twiliofake.Fault{Status: 429, Code: 20429})
	if code, _ := f.inbound(newSID(), logSurvivorPhone, logHelpReply); code != http.StatusOK {
		t.Fatalf("reply: %d", code)
	}
	j.work()
	j.retryNow()
	var help string
	if err := f.pool.QueryRow(ctx, "SELECT id::text FROM alerts WHERE survivor_id = $1 AND kind = 'help_now'", survivor).Scan(&help); err != nil {
		t.Fatalf("no alert for the reply: %v", err)
	}
	if len(textsTo(fake, logCaseworkerPhone)) == 0 {
		t.Fatal("the caseworker was not texted")
	}
	if code, _ := f.inbound(newSID(), logCaseworkerPhone, "ACK "+f.ackCode(help)); code != http.StatusOK {
		t.Fatalf("ACK: %d", code)
	}

	// The duress word, a reply in Hindi, a stranger's text.
	for _, in := range [][2]string{{logSurvivorPhone, "  " + strings.ToUpper(logDuressWord) + " "}, {logSurvivorPhone, logHindiReply}, {logStrangerPhone, logStrangerText}} {
		if code, _ := f.inbound(newSID(), in[0], in[1]); code != http.StatusOK {
			t.Fatalf("text from %s: %d", in[0], code)
		}
	}
	j.work()
	var duress string
	if err := f.pool.QueryRow(ctx, "SELECT id::text FROM alerts WHERE survivor_id = $1 AND kind = 'duress'", survivor).Scan(&duress); err != nil {
		t.Fatalf("no alert for the duress word: %v", err)
	}

	// A reply while the database is down: spooled, then replayed; a
	// staff member's read fails meanwhile (a 500, logged).
	restore := f.databaseDown()
	if code, _ := f.inbound(newSID(), logSurvivorPhone, logDownReply); code != http.StatusOK {
		t.Fatalf("reply while the database is down: %d", code)
	}
	if rec := f.call(http.MethodGet, "/api/v1/survivors/"+survivor, "", http.Header{"Authorization": {"Bearer " + cw.Token}}); rec.Code != http.StatusInternalServerError {
		t.Fatalf("read while the database is down: %d", rec.Code)
	}
	restore()
	if n, err := f.server.ReplaySpool(ctx); n != 1 || err != nil {
		t.Fatalf("replay: %d, %v", n, err)
	}
	j.work()

	// A voice check-in answered by a person who presses the duress code,
	// then a missed call that is called back.
	if r := f.do(http.MethodPost, "/api/v1/survivors/"+survivor+"/checkins", sup.Token, map[string]any{"channel": "voice"}); r.Code != http.StatusAccepted {
		t.Fatalf("voice check-in: %d %s", r.Code, r.Body)
	}
	j.work()
	calls := fake.Calls()
	if len(calls) == 0 {
		t.Fatal("no call placed")
	}
	call := &voiceCall{f: f, fake: fake, sid: calls[0].SID, url: calls[0].URL}
	call.press(call.answer("human"), logDuressCode+"#")
	call.status("completed")
	j.work()
	missed := url.Values{"CallSid": {"CA" + strings.Repeat("7", 32)}, "AccountSid": {twiliofake.AccountSID}, "From": {logSurvivorPhone}, "To": {"+15005550006"}}
	if rec := f.signedPost("/twilio/voice/incoming", missed, testAuthToken); rec.Code != http.StatusOK {
		t.Fatalf("missed call: %d", rec.Code)
	}
	j.work()
	// The callback: keys pressed while the database is down are spooled
	// and replayed.
	if calls = fake.Calls(); len(calls) != 2 {
		t.Fatalf("%d calls, want the check-in and the callback", len(calls))
	}
	callback := &voiceCall{f: f, fake: fake, sid: calls[1].SID, url: calls[1].URL}
	menu := callback.answer("human")
	restore = f.databaseDown()
	callback.press(menu, "2")
	restore()
	if n, err := f.server.ReplaySpool(ctx); n != 1 || err != nil {
		t.Fatalf("replay of the keys: %d, %v", n, err)
	}
	callback.status("completed")
	j.work()

	// Staff read and act: by API, and on the dashboard.
	for _, path := range []string{"/api/v1/survivors/" + survivor, "/api/v1/survivors/" + survivor + "/timeline", "/api/v1/alerts", "/api/v1/alerts/" + duress} {
		if r := f.do(http.MethodGet, path, cw.Token, nil); r.Code != http.StatusOK {
			t.Fatalf("GET %s: %d", path, r.Code)
		}
	}
	if r := f.do(http.MethodGet, "/api/v1/messages/unmatched", admin.Token, nil); r.Code != http.StatusOK {
		t.Fatalf("unmatched: %d", r.Code)
	}
	if r := f.do(http.MethodPost, "/api/v1/alerts/"+help+"/resolve", cw.Token, map[string]any{"note": logResolution}); r.Code != http.StatusOK {
		t.Fatalf("resolve: %d %s", r.Code, r.Body)
	}
	b := f.browser()
	b.signIn("meenakshi", "correct horse battery", "/dashboard")
	for _, path := range []string{"/dashboard", "/dashboard/alerts/" + duress, "/dashboard/survivors/" + survivor} {
		if rec := b.do(http.MethodGet, path, nil); rec.Code != http.StatusOK {
			t.Fatalf("GET %s: %d", path, rec.Code)
		}
	}
	if rec := b.post("/dashboard/survivors/"+survivor+"/reveal", url.Values{"back": {"/dashboard/survivors/" + survivor}}); rec.Code != http.StatusSeeOther {
		t.Fatalf("reveal: %d", rec.Code)
	}

	// Nobody acknowledges the duress alert: it escalates to the
	// supervisor, then to the admins.
	for _, after := range []time.Duration{16 * time.Minute, 16 * time.Minute} {
		f.now = f.now.Add(after)
		if _, err := f.pool.Exec(ctx, "UPDATE river_job SET scheduled_at = now() WHERE kind = 'alert_escalate' AND state IN ('scheduled', 'available')"); err != nil {
			t.Fatal(err)
		}
		j.work()
	}
	if len(textsTo(fake, logSupervisorPhone)) == 0 || len(textsTo(fake, logAdminPhone)) == 0 {
		t.Fatalf("escalation texts: supervisor %d, admin %d", len(textsTo(fake, logSupervisorPhone)), len(textsTo(fake, logAdminPhone)))
	}

	// Erasure.
	if r := f.do(http.MethodDelete, "/api/v1/survivors/"+survivor, admin.Token, nil); r.Code != http.StatusNoContent {
		t.Fatalf("erase: %d %s", r.Code, r.Body)
	}
	j.work()

	text := lines.String()
	// The capture saw the flow, or it proves nothing.
	for _, want := range []string{
		`"msg":"request"`, `"route":"/twilio/sms"`, `"route":"/twilio/voice/gather"`, // the access log, at debug
		"inbound SMS spooled", "keys pressed spooled", `"msg":"request failed"`, // warnings and errors with their causes
		"jobexecutor", "code 20429", // River's executor, and a job's error
	} {
		if !strings.Contains(text, want) {
			t.Errorf("no log line holds %s: the test would prove nothing", want)
		}
	}
	t.Logf("%d log lines", strings.Count(text, "\n"))

	var needles []string
	for _, p := range []string{logSurvivorPhone, logCaseworkerPhone, logSupervisorPhone, logAdminPhone, logStrangerPhone} {
		national := p[3:] // +91 and ten digits
		needles = append(needles, p, "0"+national, national, national[:5]+" "+national[5:], p[len(p)-8:])
	}
	needles = append(needles, adminPhone, supervisorPhone, caseworkerPhone, otherCaseworkerPhone,
		logReference, logDuressWord, strings.ToUpper(logDuressWord), logHelpReply, "come quickly", "Rekha", logDownReply,
		logHindiReply, "राधा", logStrangerText, logResolution, "bus stand")
	needles = append(needles, names...)
	// River's job rows (arguments, errors) are kept for days, like logs.
	rows, err := f.pool.Query(ctx, "SELECT j::text FROM river_job j")
	if err != nil {
		t.Fatal(err)
	}
	jobRows, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []struct{ what, text string }{{"log line", text}, {"river_job row", strings.Join(jobRows, "\n")}} {
		for _, needle := range needles {
			if line, ok := lineWith(h.text, needle); ok {
				t.Errorf("a %s holds %q: %s", h.what, needle, line)
			}
		}
	}
	// A code of digits alone: as a number of its own, not inside an ID.
	if line := regexp.MustCompile(`(^|[^0-9A-Za-z])` + logDuressCode + `([^0-9A-Za-z]|$)`).FindString(text); line != "" {
		t.Errorf("a log line holds the duress code: %s", line)
	}
}

// lineWith returns the first line of text holding needle.
func lineWith(text, needle string) (string, bool) {
	for line := range strings.Lines(text) {
		if strings.Contains(line, needle) {
			return strings.TrimSpace(line), true
		}
	}
	return "", false
}
