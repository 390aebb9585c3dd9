// Package dbtest gives each test its own PostgreSQL database, created from a
// migrated template in tens of milliseconds, and dropped when the test ends.
//
// The server comes from SAATHI_TEST_DATABASE_URL, else DATABASE_URL, else
// postgres://postgres@127.0.0.1:5432/postgres. The role must be allowed to
// create databases. When the server cannot be reached the test is skipped,
// except under CI=true, where it fails: database tests never silently skip
// in CI.
//
// Test databases commit without waiting for the WAL flush
// (synchronous_commit off); benchmark databases commit as production does
// (see SynchronousCommit).
package dbtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"saathi/db"
	"saathi/db/crypt"
)

// DefaultURL is the server tried when no URL is configured.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// ServerURL returns the URL of the test server's maintenance database.
func ServerURL() string {
	for _, name := range []string{"SAATHI_TEST_DATABASE_URL", "DATABASE_URL"} {
		if v := os.Getenv(name); v != "" {
			return v
		}
	}
	return DefaultURL
}

var (
	templateOnce sync.Once
	templateName string
	templateErr  error
)

// templateLockID serialises template creation across test processes (go
// test runs packages in parallel).
const templateLockID = 0x5AA7_7E57

// NewURL creates a fresh, migrated database and returns its URL. The
// database is dropped when the test ends.
func NewURL(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	admin, err := pgx.Connect(ctx, ServerURL())
	if err != nil {
		unavailable(t, err)
	}
	defer admin.Close(ctx)

	templateOnce.Do(func() { templateName, templateErr = ensureTemplate(ctx, admin) })
	if templateErr != nil {
		t.Fatalf("dbtest: template database: %v", templateErr)
	}

	name := "saathi_test_" + randomHex(6)
	if _, err := admin.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", name, templateName)); err != nil {
		t.Fatalf("dbtest: create database: %v", err)
	}
	if _, err := admin.Exec(ctx, fmt.Sprintf("ALTER DATABASE %s SET synchronous_commit = %s", name, SynchronousCommit(t))); err != nil {
		t.Fatalf("dbtest: configure database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, ServerURL())
		if err != nil {
			t.Logf("dbtest: drop %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name)); err != nil {
			t.Logf("dbtest: drop %s: %v", name, err)
		}
	})
	return withDatabase(t, ServerURL(), name)
}

// SynchronousCommit is the synchronous_commit setting NewURL gives the
// database of t. Tests run with it off: their databases are thrown away,
// and not waiting for each commit's WAL flush is what keeps the suite fast
// on a shared machine. Benchmarks (a *testing.B) run with it on, as
// production does: a figure measured without durable commits flatters
// every write path.
func SynchronousCommit(t testing.TB) string {
	if _, bench := t.(*testing.B); bench {
		return "on"
	}
	return "off"
}

// RequireSynchronousCommit fails unless the pool's sessions commit
// durably (synchronous_commit on): a benchmark calls it so that no figure
// is ever measured without it.
func RequireSynchronousCommit(t testing.TB, pool *pgxpool.Pool) {
	t.Helper()
	var got string
	if err := pool.QueryRow(context.Background(), "SHOW synchronous_commit").Scan(&got); err != nil {
		t.Fatalf("dbtest: show synchronous_commit: %v", err)
	}
	if got != "on" {
		t.Fatalf("dbtest: synchronous_commit is %q; benchmarks must run with it on, as production does", got)
	}
}

// NewPool is NewURL with an open pool, closed when the test ends.
func NewPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	url := NewURL(t)
	pool, err := db.Connect(context.Background(), url, 20)
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// NewEmptyURL creates an empty database (no migrations), for testing the
// migrate command itself.
func NewEmptyURL(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, ServerURL())
	if err != nil {
		unavailable(t, err)
	}
	defer admin.Close(ctx)
	name := "saathi_test_" + randomHex(6)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("dbtest: create database: %v", err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), ServerURL())
		if err != nil {
			return
		}
		defer conn.Close(context.Background())
		_, _ = conn.Exec(context.Background(), fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name))
	})
	return withDatabase(t, ServerURL(), name)
}

func unavailable(t testing.TB, err error) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("dbtest: PostgreSQL at %s is required under CI: %v", ServerURL(), err)
	}
	t.Skipf("dbtest: PostgreSQL not reachable (%v); set SAATHI_TEST_DATABASE_URL or run make test", err)
}

func ensureTemplate(ctx context.Context, admin *pgx.Conn) (string, error) {
	name := "saathi_tmpl_" + db.SchemaFingerprint()
	if _, err := admin.Exec(ctx, "SELECT pg_advisory_lock($1)", templateLockID); err != nil {
		return "", err
	}
	defer admin.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", templateLockID) //nolint:errcheck

	var exists bool
	if err := admin.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1 AND datistemplate)", name).Scan(&exists); err != nil {
		return "", err
	}
	if exists {
		return name, nil
	}
	// A half-built template from a crashed run is not marked as template.
	if _, err := admin.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name)); err != nil {
		return "", err
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", err
	}
	url, err := databaseURL(ServerURL(), name)
	if err != nil {
		return "", err
	}
	pool, err := db.Connect(ctx, url, 4)
	if err != nil {
		return "", err
	}
	err = db.Migrate(ctx, pool, slog.New(slog.NewTextHandler(io.Discard, nil)))
	pool.Close()
	if err != nil {
		return "", err
	}
	if _, err := admin.Exec(ctx, fmt.Sprintf("ALTER DATABASE %s IS_TEMPLATE true", name)); err != nil {
		return "", err
	}
	return name, nil
}

func withDatabase(t testing.TB, serverURL, name string) string {
	t.Helper()
	url, err := databaseURL(serverURL, name)
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	return url
}

// databaseURL returns serverURL pointing at another database on the same
// server; it keeps every other setting (user, password, host, TLS).
func databaseURL(serverURL, name string) (string, error) {
	if strings.HasPrefix(serverURL, "postgres://") || strings.HasPrefix(serverURL, "postgresql://") {
		u, err := url.Parse(serverURL)
		if err != nil {
			return "", err
		}
		u.Path = "/" + name
		return u.String(), nil
	}
	// Keyword/value form: a later dbname wins.
	return serverURL + " dbname=" + name, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Keyring returns a keyring with fixed test keys.
func Keyring(t testing.TB) *crypt.Keyring {
	t.Helper()
	kr, err := crypt.NewKeyring(1, map[uint32][]byte{1: bytes.Repeat([]byte{0x42}, crypt.KeySize)}, bytes.Repeat([]byte{0x17}, crypt.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// DumpData returns `pg_dump --data-only` of the pool's database: every
// row of every table as PostgreSQL writes it out, for tests that prove
// something (a phone number, a name) is stored nowhere in plain text.
// Without pg_dump installed it returns "" (use DumpRows too), except under
// CI=true, where it fails.
func DumpData(t testing.TB, pool *pgxpool.Pool) string {
	t.Helper()
	bin, err := exec.LookPath("pg_dump")
	if err != nil {
		matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_dump")
		if len(matches) == 0 {
			if os.Getenv("CI") != "" {
				t.Fatal("dbtest: pg_dump not found under CI")
			}
			t.Log("dbtest: pg_dump not installed; relying on DumpRows")
			return ""
		}
		bin = matches[len(matches)-1]
	}
	out, err := exec.Command(bin, "--data-only", "--dbname", pool.Config().ConnString()).Output()
	if err != nil {
		t.Fatalf("dbtest: pg_dump: %v", err)
	}
	return string(out)
}

// DumpRows renders every row of every table in the pool's database as
// text (`SELECT t::text`), one line per row: the same search as DumpData
// without needing pg_dump.
func DumpRows(t testing.TB, pool *pgxpool.Pool) string {
	t.Helper()
	ctx := context.Background()
	rows, err := pool.Query(ctx, "SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')")
	if err != nil {
		t.Fatalf("dbtest: list tables: %v", err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("dbtest: list tables: %v", err)
	}
	var sb strings.Builder
	for _, table := range tables {
		rows, err := pool.Query(ctx, "SELECT t::text FROM "+table+" t")
		if err != nil {
			t.Fatalf("dbtest: dump %s: %v", table, err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatalf("dbtest: dump %s: %v", table, err)
		}
		for _, line := range lines {
			sb.WriteString(line + "\n")
		}
	}
	return sb.String()
}
