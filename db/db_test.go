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
