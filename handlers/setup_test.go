package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"saathi/db/crypt"
	"saathi/db/dbtest"
	"saathi/handlers"
	"saathi/jobs"
	"saathi/jobs/callflow"
	"saathi/jobs/reply"
	"saathi/jobs/telephony/twiliofake"
	"saathi/locales"
	"saathi/locales/lexicon"
)

// testAuthToken signs fake Twilio webhooks.
const testAuthToken = "12345678901234567890123456789012"

const testPublicURL = "https://saathi.example.org"

// Staff phones, for alert texts and ACK replies.
const (
	caseworkerPhone      = "+919000000001"
	supervisorPhone      = "+919000000002"
	adminPhone           = "+919000000003"
	otherCaseworkerPhone = "+919000000004"
)

// fixture is what an API test needs: the real router over a fresh database.
type fixture struct {
	t       testing.TB
	pool    *pgxpool.Pool
	keyring *crypt.Keyring
	server  *handlers.Server
	echo    *echo.Echo
	now     time.Time
	fake    *twiliofake.Server
	deps    *jobs.Deps

	admin, supervisor, caseworker, otherCaseworker staffMember
}

type staffMember struct {
	ID    string
	Token string
}

func setup(t testing.TB) *fixture {
	t.Helper()
	pool := dbtest.NewPool(t)
	kr := dbtest.Keyring(t)
	catalog, err := locales.NewCatalog()
	if err != nil {
		t.Fatal(err)
	}
	parser, err := reply.NewParser(lexicon.FS)
	if err != nil {
		t.Fatal(err)
	}
	workers := river.NewWorkers()
	jobs.Register(workers, &jobs.Deps{})
	rc, err := river.NewClient(riverpgxv5.New(pool), &river.Config{Workers: workers, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, pool: pool, keyring: kr,
		// A Wednesday, 11:00 in India: inside the usual weekday windows.
		now: time.Date(2026, 11, 25, 11, 0, 0, 0, mustLoc(t, "Asia/Kolkata")),
	}
	voice, err := locales.NewVoice(catalog, "")
	if err != nil {
		t.Fatal(err)
	}
	flow, err := callflow.New(voice, testPublicURL+"/twilio/voice/audio")
	if err != nil {
		t.Fatal(err)
	}
	ui, err := locales.NewUI()
	if err != nil {
		t.Fatal(err)
	}
	f.server = &handlers.Server{
		Pool: pool, River: rc, Keyring: kr, Catalog: catalog, Replies: parser, Logger: quietLogger(),
		PublicURL: testPublicURL, DevProvider: true, TwilioAuthToken: testAuthToken,
		Voice: voice, Flow: flow, UI: ui,
		NowFunc: func() time.Time { return f.now },
	}
	f.echo = f.server.Handler()

	ctx := context.Background()
	mk := func(name, role, supervisor, phone string) staffMember {
		st, err := handlers.CreateStaff(ctx, pool, kr, handlers.StaffInput{Name: name, Role: role, SupervisorID: supervisor, Phone: phone})
		if err != nil {
			t.Fatalf("create %s: %v", role, err)
		}
		return staffMember{ID: st.ID.String(), Token: st.Token}
	}
	f.admin = mk("Asha Admin", "admin", "", adminPhone)
	f.supervisor = mk("Sunita Supervisor", "supervisor", "", supervisorPhone)
	f.caseworker = mk("Kiran Caseworker", "caseworker", f.supervisor.ID, caseworkerPhone)
	f.otherCaseworker = mk("Other Caseworker", "caseworker", "", otherCaseworkerPhone)
	return f
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func mustLoc(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// response is a recorded answer.
type response struct {
	Code int
	Body []byte
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response is not JSON (%d): %s", r.Code, r.Body)
	}
	return m
}

// do sends a request through the real router. body may be a string (sent
// as is) or any value (JSON-encoded).
func (f *fixture) do(method, path, token string, body any) response {
	f.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			f.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	var raw []byte
	if rd != nil {
		raw, _ = io.ReadAll(rd)
	}
	req := httptest.NewRequest(method, path, bytes.NewReader(raw))
	req.Header.Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
	if token != "" {
		req.Header.Set(echo.HeaderAuthorization, "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	f.echo.ServeHTTP(rec, req)
	// Every API exchange of every test is held to openapi.yaml.
	if strings.HasPrefix(req.URL.Path, "/api/v1/") {
		if err := checkOpenAPI(req, raw, rec.Code, rec.Header(), rec.Body.Bytes()); err != nil {
			f.t.Errorf("openapi: %v", err)
		}
	}
	return response{Code: rec.Code, Body: rec.Body.Bytes()}
}

// enrolBody is a valid enrolment for the fixture's caseworker.
func (f *fixture) enrolBody(phone string) map[string]any {
	return map[string]any{
		"reference": "CHD-0042",
		"phone":     phone,
		"language":  "hi",
		"channels":  []string{"sms", "voice"},
		"timezone":  "Asia/Kolkata",
		"contact_windows": []map[string]any{
			{"days": []string{"mon", "tue", "wed", "thu", "fri"}, "start": "10:00", "end": "17:00"},
		},
		"caseworker_id": f.caseworker.ID,
		"duress_word":   "mango",
		"consent":       map[string]any{"channels": []string{"sms", "voice"}, "method": "verbal", "recorded_at": "2026-11-20T10:00:00+05:30"},
		"cadence":       map[string]any{"phases": []map[string]any{{"every_days": 7, "times": 12}, {"every_days": 30, "times": 12}}},
	}
}

// enrol creates a survivor and returns its ID.
func (f *fixture) enrol(phone string) string {
	f.t.Helper()
	r := f.do(http.MethodPost, "/api/v1/survivors", f.admin.Token, f.enrolBody(phone))
	if r.Code != http.StatusCreated {
		f.t.Fatalf("enrol: %d %s", r.Code, r.Body)
	}
	return r.json(f.t)["id"].(string)
}

// count returns a row count.
func (f *fixture) count(sql string, args ...any) int {
	f.t.Helper()
	var n int
	if err := f.pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		f.t.Fatalf("%s: %v", sql, err)
	}
	return n
}
