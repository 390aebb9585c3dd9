package jobs_test

import (
	"context"
	"math/rand/v2"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertest"

	"saathi/db"
	"saathi/jobs"
	"saathi/jobs/schedule"
)

// TestSimulatedMonth enrols 1,000 survivors with random contact windows,
// zones (two with DST changes during the month) and cadences, then
// fast-forwards through March 2027 with an injected clock with an injected
// clock, running the planner and working every send job that is due, the
// way River would. At the end: every due check-in was sent exactly once,
// none outside its survivor's window, none without consent.
func TestSimulatedMonth(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation skipped in -short mode")
	}
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(2026, 11))
	zones := []*time.Location{kolkata, mustLoad(t, "America/New_York"), mustLoad(t, "Europe/London"), mustLoad(t, "Asia/Karachi")}

	start := time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)
	end := start.AddDate(0, 1, 0)
	f.clock.Set(start)

	const n = 1000
	type sim struct {
		id        uuid.UUID
		phone     string
		loc       *time.Location
		windows   []schedule.ContactWindow
		withdrawn *time.Time // consent for sms withdrawn at this moment
	}
	sims := make(map[uuid.UUID]*sim, n)
	byPhone := make(map[string]*sim, n)
	var withdrawals []struct {
		at time.Time
		s  *sim
	}
	var checkins []db.CheckinCopyParams
	for i := range n {
		s := &sim{phone: "+9198" + strconv.Itoa(10000000+i), loc: zones[rng.IntN(len(zones))]}
		for range 1 + rng.IntN(2) {
			var days []time.Weekday
			for d := range 7 {
				if rng.IntN(2) == 0 {
					days = append(days, time.Weekday(d))
				}
			}
			if len(days) == 0 {
				days = []time.Weekday{time.Weekday(rng.IntN(7))}
			}
			startMin := rng.IntN(22 * 60)
			length := 30 + rng.IntN(6*60)
			endMin := min(startMin+length, 24*60)
			if endMin-startMin < 30 {
				startMin = endMin - 30
			}
			s.windows = append(s.windows, schedule.ContactWindow{Days: days, Start: schedule.Clock(startMin), End: schedule.Clock(endMin)})
		}
		consent := []string{"sms"}
		if i%20 == 0 {
			consent = nil // never consented: nothing may be sent
		}
		s.id = f.addSurvivor(survivorSpec{phone: s.phone, language: []string{"en", "hi", "pa", "gu", "ur"}[i%5], channels: []string{"sms"}, consent: consent, tz: s.loc, windows: s.windows})
		sims[s.id], byPhone[s.phone] = s, s
		if i%10 == 5 {
			at := start.Add(time.Duration(rng.Int64N(int64(25 * 24 * time.Hour))))
			s.withdrawn = &at
			withdrawals = append(withdrawals, struct {
				at time.Time
				s  *sim
			}{at, s})
		}
		cad := schedule.Cadence{Phases: []schedule.Phase{{EveryDays: 2 + rng.IntN(6), Times: 20}}}
		anchor := start.Add(-time.Duration(rng.Int64N(int64(48 * time.Hour))))
		for seq, due := range cad.OccurrencesAfter(anchor, start, s.loc) {
			if due.Before(end) {
				v := int32(1)
				checkins = append(checkins, db.CheckinCopyParams{SurvivorID: s.id, Kind: "cadence", CadenceVersion: &v, Seq: ptr(int32(seq + 1)), DueAt: due})
			}
		}
	}
	if _, err := db.New(f.pool).CheckinCopy(ctx, checkins); err != nil {
		t.Fatal(err)
	}

	slices.SortFunc(withdrawals, func(a, b struct {
		at time.Time
		s  *sim
	}) int {
		return a.at.Compare(b.at)
	})

	cfg := f.riverConfig()
	cfg.Test.Time = f.clock
	client, err := river.NewClient(f.driver, cfg)
	if err != nil {
		t.Fatal(err)
	}
	planner := &jobs.CheckinPlanWorker{Deps: f.deps}
	sender := rivertest.NewWorker(t, f.driver, cfg, &jobs.CheckinSendWorker{Deps: f.deps})

	// Time moves in 30-minute planner ticks, and also straight to each
	// job's scheduled time, as River runs a job when it comes due.
	for now := start; now.Before(end); now = nextEvent(t, f, now, 30*time.Minute) {
		f.clock.Set(now)
		for len(withdrawals) > 0 && !withdrawals[0].at.After(now) {
			w := withdrawals[0]
			withdrawals = withdrawals[1:]
			if _, err := db.New(f.pool).ConsentRecordCreate(ctx, db.ConsentRecordCreateParams{
				SurvivorID: w.s.id, Action: "withdraw", Channels: []string{"sms"}, Method: "verbal", Source: "staff", RecordedAt: w.at,
			}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := planner.Plan(rivertest.WorkContext(ctx, client), now); err != nil {
			t.Fatal(err)
		}
		ids := dueJobIDs(t, f, now)
		for _, id := range ids {
			row, err := client.JobGet(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			err = pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
				_, err := sender.WorkJob(ctx, t, tx, row)
				return err
			})
			if err != nil {
				t.Fatalf("send job %d at %v: %v", id, now, err)
			}
		}
	}

	// Exactly once: one message at Twilio per sent check-in, and the
	// message rows point at distinct check-ins.
	msgs := f.fake.Messages()
	sent := f.count("SELECT count(*) FROM checkins WHERE state = 'sent'")
	if len(msgs) != sent || sent == 0 {
		t.Fatalf("Twilio received %d messages for %d sent check-ins", len(msgs), sent)
	}
	seen := map[string]bool{}
	for _, m := range msgs {
		u, _ := url.Parse(m.StatusCallback)
		key := u.Query().Get("m")
		if seen[key] {
			t.Errorf("message row %s sent twice", key)
		}
		seen[key] = true
	}
	if n := f.count("SELECT count(*) FROM (SELECT checkin_id FROM messages WHERE provider_sid IS NOT NULL GROUP BY checkin_id HAVING count(*) > 1) d"); n != 0 {
		t.Errorf("%d check-ins have more than one accepted message", n)
	}

	// Never outside a window, never without consent, judged on the
	// survivor's own wall clock, independently of the schedule package.
	rows, err := f.pool.Query(ctx, "SELECT survivor_id, created_at FROM messages WHERE provider_sid IS NOT NULL")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for rows.Next() {
		var id uuid.UUID
		var at time.Time
		if err := rows.Scan(&id, &at); err != nil {
			t.Fatal(err)
		}
		s := sims[id]
		if !insideWindowWallClock(s.windows, at.In(s.loc)) {
			t.Errorf("sent at %v local (%s), outside the windows %+v", at.In(s.loc), s.loc, s.windows)
		}
		if s.withdrawn != nil && !at.Before(*s.withdrawn) {
			t.Errorf("sent at %v after consent was withdrawn at %v", at, *s.withdrawn)
		}
		checked++
	}
	rows.Close()
	if n := f.count("SELECT count(*) FROM messages m JOIN survivors s ON s.id = m.survivor_id WHERE NOT EXISTS (SELECT 1 FROM consent_records c WHERE c.survivor_id = s.id)"); n != 0 {
		t.Errorf("%d messages to survivors who never consented", n)
	}
	// Every check-in due more than 8 days before the end has been dealt
	// with (windows are weekly, so nothing waits longer than that).
	if n := f.count("SELECT count(*) FROM checkins WHERE due_at < $1 AND state NOT IN ('sent', 'skipped')", end.Add(-8*24*time.Hour)); n != 0 {
		t.Errorf("%d due check-ins were never sent or skipped", n)
		rows, _ := f.pool.Query(ctx, `SELECT c.state, c.due_at, s.timezone, j.state, j.scheduled_at, j.attempt, coalesce(j.errors::text, '') FROM checkins c JOIN survivors s ON s.id = c.survivor_id LEFT JOIN river_job j ON (j.args->>'checkin_id')::uuid = c.id WHERE c.due_at < $1 AND c.state NOT IN ('sent', 'skipped') LIMIT 5`, end.Add(-8*24*time.Hour))
		for rows.Next() {
			var st, tz string
			var due time.Time
			var jst, jerr *string
			var jat *time.Time
			var att *int
			_ = rows.Scan(&st, &due, &tz, &jst, &jat, &att, &jerr)
			t.Logf("stuck: %s due %v (%s) job %v %v attempt %v %v", st, due, tz, deref(jst), jat, att, deref(jerr))
		}
		rows.Close()
	}
	if n := f.count("SELECT count(*) FROM checkins WHERE state = 'skipped' AND reason = 'no consent'"); n == 0 {
		t.Error("no check-in was skipped for lack of consent: the simulation does not test consent")
	}
	t.Logf("%d check-ins, %d sent, %d messages checked against windows", len(checkins), sent, checked)
}

// nextEvent is the next planner tick or the next scheduled send job,
// whichever comes first.
func nextEvent(t *testing.T, f *fixture, now time.Time, tick time.Duration) time.Time {
	t.Helper()
	next := now.Add(tick)
	var at *time.Time
	if err := f.pool.QueryRow(context.Background(),
		"SELECT min(scheduled_at) FROM river_job WHERE kind = 'checkin_send' AND state IN ('available', 'scheduled', 'retryable') AND scheduled_at > $1", now).Scan(&at); err != nil {
		t.Fatal(err)
	}
	if at != nil && at.Before(next) {
		return *at
	}
	return next
}

// dueJobIDs lists send jobs River would run at now.
func dueJobIDs(t *testing.T, f *fixture, now time.Time) []int64 {
	t.Helper()
	rows, err := f.pool.Query(context.Background(),
		"SELECT id FROM river_job WHERE kind = 'checkin_send' AND state IN ('available', 'scheduled', 'retryable') AND scheduled_at <= $1 ORDER BY scheduled_at, id", now)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// insideWindowWallClock reads the local clock face: the weekday is one of
// the window's and the time is at least Start and at most End - Guard.
func insideWindowWallClock(ws []schedule.ContactWindow, local time.Time) bool {
	minute := local.Hour()*60 + local.Minute()
	for _, w := range ws {
		for _, d := range w.Days {
			if d == local.Weekday() && minute >= int(w.Start) && local.Sub(time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, local.Location())) >= 0 &&
				minute*60+local.Second() <= int(w.End)*60-int(schedule.Guard.Seconds()) {
				return true
			}
		}
	}
	return false
}

func mustLoad(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func ptr[T any](v T) *T { return &v }

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}
