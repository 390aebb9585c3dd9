package db

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"
)

// MigrateUpTo applies Saathi's migrations up to version, for testing a
// migration against the data of the one before.
func MigrateUpTo(ctx context.Context, pool *pgxpool.Pool, version int64) error {
	provider, sqlDB, err := newGoose(pool)
	if err != nil {
		return err
	}
	defer sqlDB.Close()
	_, err = provider.UpTo(ctx, version)
	return err
}
