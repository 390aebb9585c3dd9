package handlers_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"saathi/db"
	"saathi/db/dbtest"
	"saathi/handlers"
)

// probe asks path of a server over pool and returns the status and the
// JSON answer.
func probe(t *testing.T, pool *pgxpool.Pool, path string) (int, map[string]string) {
	t.Helper()
	e := (&handlers.Server{Pool: pool, Logger: quietLogger()}).Handler()
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	var body map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("%s: not JSON: %s", path, rec.Body)
	}
	return rec.Code, body
}

// TestReadyzFollowsMigrations: /readyz is 503 with a reason while the
// database is one of Saathi's migrations short, or one of River's, and
// ready again once `saathi migrate` has run; /healthz (liveness) answers
// 200 throughout.
func TestReadyzFollowsMigrations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	ready := func(step string) {
		t.Helper()
		if code, body := probe(t, pool, "/readyz"); code != http.StatusOK || body["status"] != "ready" {
			t.Fatalf("%s: readyz %d %v, want 200 ready", step, code, body)
		}
	}
	notReady := func(step, reason string) {
		t.Helper()
		code, body := probe(t, pool, "/readyz")
		if code != http.StatusServiceUnavailable || body["status"] != "unavailable" || !strings.Contains(body["error"], reason) {
			t.Fatalf("%s: readyz %d %v, want 503 saying %q", step, code, body, reason)
		}
		if code, _ := probe(t, pool, "/healthz"); code != http.StatusOK {
			t.Fatalf("%s: healthz %d, want 200: the process is alive", step, code)
		}
	}
	migrate := func() {
		t.Helper()
		if err := db.Migrate(ctx, pool, quietLogger()); err != nil {
			t.Fatal(err)
		}
	}
	ready("migrated")

	// Saathi's newest migration rolled back: the binary is ahead.
	sqlDB := stdlib.OpenDBFromPool(pool)
	defer sqlDB.Close()
	provider, err := goose.NewProvider(goose.DialectPostgres, sqlDB, os.DirFS("../db/migrations"), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := provider.Down(ctx); err != nil {
		t.Fatal(err)
	}
	notReady("one Saathi migration short", "saathi migrations pending")
	migrate()
	ready("after migrate")

	// River's newest migration rolled back.
	migrator, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionDown, &rivermigrate.MigrateOpts{MaxSteps: 1}); err != nil {
		t.Fatal(err)
	}
	notReady("one River migration short", "river migrations pending")
	migrate()
	ready("after migrate")
}

// TestReadyzDatabaseUnreachable: with nothing listening where the
// database should be, /readyz is 503 naming that, and /healthz is 200.
func TestReadyzDatabaseUnreachable(t *testing.T) {
	t.Parallel()
	pool, err := pgxpool.New(context.Background(), "postgres://saathi@127.0.0.1:1/saathi?connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	code, body := probe(t, pool, "/readyz")
	if code != http.StatusServiceUnavailable || body["error"] != "database unreachable" {
		t.Errorf("readyz %d %v, want 503 database unreachable", code, body)
	}
	if code, _ := probe(t, pool, "/healthz"); code != http.StatusOK {
		t.Errorf("healthz %d, want 200", code)
	}
}
