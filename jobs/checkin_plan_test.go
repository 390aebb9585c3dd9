package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertest"

	"saathi/jobs"
)

// plan runs one planner tick at the fixture's clock with a real client
// (rivertest's worker turns River's unique constraints off, and they are
// part of what is tested here).
func (f *fixture) plan() int {
	f.t.Helper()
	client, err := river.NewClient(f.driver, f.riverConfig())
	if err != nil {
		f.t.Fatal(err)
	}
	ctx := rivertest.WorkContext(context.Background(), client)
	n, err := (&jobs.CheckinPlanWorker{Deps: f.deps}).Plan(ctx, f.clock.Now())
	if err != nil {
		f.t.Fatalf("plan: %v", err)
	}
	return n
}

// sendJobs returns the scheduled time of every send job, by check-in.
func (f *fixture) sendJobs() map[uuid.UUID][]time.Time {
	f.t.Helper()
	rows, err := f.pool.Query(context.Background(), "SELECT (args->>'checkin_id')::uuid, scheduled_at FROM river_job WHERE kind = 'checkin_send'")
	if err != nil {
		f.t.Fatal(err)
	}
	defer rows.Close()
	out := map[uuid.UUID][]time.Time{}
	for rows.Next() {
		var id uuid.UUID
		var at time.Time
		if err := rows.Scan(&id, &at); err != nil {
			f.t.Fatal(err)
		}
		out[id] = append(out[id], at)
	}
	return out
}

func TestPlanQueuesDueCheckinsOnce(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.fake.AllowUnused()
	sv := f.addSurvivor(f.defaultSpec("+919876543210"))
	now := f.clock.Now() // Wednesday 11:00 IST, window open
	due := f.addCheckin(sv, now.Add(-time.Hour), "scheduled", nil)
	future := f.addCheckin(sv, now.Add(time.Hour), "scheduled", nil)

	// Late evening, the same day's check-in waits for tomorrow's window.
	sv2 := f.addSurvivor(f.defaultSpec("+919876543211"))
	evening := f.addCheckin(sv2, now.Add(-2*time.Hour), "scheduled", nil)
	if _, err := f.pool.Exec(context.Background(), "UPDATE contact_windows SET start_minute = 600, end_minute = 630, days = '{thu}' WHERE survivor_id = $1", sv2); err != nil {
		t.Fatal(err)
	}

	f.plan()
	f.plan() // a second tick, a restarted leader: nothing new
	jobsBy := f.sendJobs()
	if len(jobsBy[due]) != 1 || len(jobsBy[evening]) != 1 || len(jobsBy[future]) != 0 {
		t.Fatalf("send jobs: %v", jobsBy)
	}
	if f.checkin(due).State != "queued" || f.checkin(future).State != "scheduled" {
		t.Error("states not updated as expected")
	}
	if want := time.Date(2026, 11, 26, 10, 0, 0, 0, kolkata); !jobsBy[evening][0].Equal(want) {
		t.Errorf("evening check-in scheduled at %v, want next window %v", jobsBy[evening][0], want)
	}
}

func TestPlanUniqueEvenIfClaimedTwice(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.fake.AllowUnused()
	sv := f.addSurvivor(f.defaultSpec("+919876543210"))
	ci := f.addCheckin(sv, f.clock.Now().Add(-time.Minute), "scheduled", nil)
	f.plan()
	// Force the row back to 'scheduled', as a buggy edit might: River's
	// unique key on the check-in still refuses a second job.
	if _, err := f.pool.Exec(context.Background(), "UPDATE checkins SET state = 'scheduled' WHERE id = $1", ci); err != nil {
		t.Fatal(err)
	}
	f.plan()
	if n := len(f.sendJobs()[ci]); n != 1 {
		t.Fatalf("send jobs for one check-in = %d, want 1", n)
	}
}
