package dbtest_test

import (
	"context"
	"testing"

	"saathi/db/dbtest"
)

func showSynchronousCommit(t testing.TB) string {
	t.Helper()
	pool := dbtest.NewPool(t)
	var got string
	if err := pool.QueryRow(context.Background(), "SHOW synchronous_commit").Scan(&got); err != nil {
		t.Fatal(err)
	}
	return got
}

// Tests get databases that skip the WAL flush at commit; benchmarks get
// databases that commit durably, as production does, so that no benchmark
// figure is measured with it off.
func TestSynchronousCommitOnlyForBenchmarks(t *testing.T) {
	t.Parallel()
	if got := showSynchronousCommit(t); got != "off" {
		t.Errorf("test database: synchronous_commit = %q, want off", got)
	}

	var inBench string
	var failed bool
	testing.Benchmark(func(b *testing.B) {
		pool := dbtest.NewPool(b)
		dbtest.RequireSynchronousCommit(b, pool) // fails the benchmark unless on
		if err := pool.QueryRow(context.Background(), "SHOW synchronous_commit").Scan(&inBench); err != nil {
			failed = true
		}
		for b.Loop() {
		}
	})
	if failed || inBench != "on" {
		t.Errorf("benchmark database: synchronous_commit = %q, want on", inBench)
	}
}
