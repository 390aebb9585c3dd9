package db_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"golang.org/x/sync/errgroup"

	"saathi/db"
	"saathi/db/dbtest"
)

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestMigrateTwice(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := db.Connect(ctx, dbtest.NewEmptyURL(t), 8)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()

	if err := db.CheckMigrations(ctx, pool); err == nil {
		t.Fatal("CheckMigrations passed on an empty database")
	}
	for i := range 2 {
		if err := db.Migrate(ctx, pool, discard()); err != nil {
			t.Fatalf("migrate run %d: %v", i+1, err)
		}
	}
	if err := db.CheckMigrations(ctx, pool); err != nil {
		t.Fatalf("CheckMigrations after migrate: %v", err)
	}
}

func TestMigrateConcurrently(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := dbtest.NewEmptyURL(t)

	// Two processes' worth: separate pools, started together.
	var g errgroup.Group
	for range 2 {
		g.Go(func() error {
			pool, err := db.Connect(ctx, url, 4)
			if err != nil {
				return err
			}
			defer pool.Close()
			return db.Migrate(ctx, pool, discard())
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatalf("concurrent migrate: %v", err)
	}
	pool, err := db.Connect(ctx, url, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := db.CheckMigrations(ctx, pool); err != nil {
		t.Fatal(err)
	}
	var dup int
	if err := pool.QueryRow(ctx, "SELECT count(*) - count(DISTINCT version_id) FROM goose_db_version").Scan(&dup); err != nil {
		t.Fatal(err)
	}
	if dup != 0 {
		t.Errorf("goose_db_version has %d duplicate rows: a migration ran twice", dup)
	}
}

// TestCaseCodeBackfill: survivors enrolled before case codes existed each
// get a distinct one when the database is migrated, however many there
// are (more than the four-digit codes can hold).
func TestCaseCodeBackfill(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := db.Connect(ctx, dbtest.NewEmptyURL(t), 4)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := db.MigrateUpTo(ctx, pool, 3); err != nil {
		t.Fatal(err)
	}
	const n = 9500 // over the 9,000 four-digit codes
	if _, err := pool.Exec(ctx, `INSERT INTO survivors (reference_enc, phone_enc, phone_hash, language, channels, timezone)
		SELECT '\x01', '\x02', decode(md5(g::text), 'hex'), 'hi', '{sms}', 'Asia/Kolkata' FROM generate_series(1, $1::int) g`, n); err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx, pool, discard()); err != nil {
		t.Fatal(err)
	}
	var distinct, wellFormed int
	if err := pool.QueryRow(ctx, `SELECT count(DISTINCT case_code), count(*) FILTER (WHERE case_code ~ '^SA-[1-9][0-9]{3,}$') FROM survivors`).Scan(&distinct, &wellFormed); err != nil {
		t.Fatal(err)
	}
	if distinct != n || wellFormed != n {
		t.Errorf("%d distinct and %d well-formed case codes for %d survivors", distinct, wellFormed, n)
	}
}
