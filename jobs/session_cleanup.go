package jobs

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"saathi/db"
)

// SessionCleanupArgs deletes expired dashboard sessions.
type SessionCleanupArgs struct{}

// Kind names the job.
func (SessionCleanupArgs) Kind() string { return "session_cleanup" }

// SessionCleanupWorker deletes the sessions past their expiry: the River
// leader runs it for every web process.
type SessionCleanupWorker struct {
	river.WorkerDefaults[SessionCleanupArgs]
	Deps *Deps
}

// Work deletes expired sessions.
func (w *SessionCleanupWorker) Work(ctx context.Context, _ *river.Job[SessionCleanupArgs]) error {
	_, err := db.New(w.Deps.Pool).SessionDeleteExpired(ctx, w.Deps.now())
	return err
}

// sessionCleanupInterval is how often expired sessions are deleted.
const sessionCleanupInterval = 10 * time.Minute
