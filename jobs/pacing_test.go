package jobs_test

import (
	"context"
	"encoding/json"
	"fmt"
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

// middayZone is a fixed-offset zone where it is about noon now, so a
// 10:00–14:00 window is open for the whole of a real-time test, whenever
// it runs.
func middayZone(t *testing.T) *time.Location {
	t.Helper()
	offset := 12 - time.Now().UTC().Hour() // -11 … +12
	name := "Etc/GMT"
	switch {
	case offset > 0:
		name = fmt.Sprintf("Etc/GMT-%d", offset) // POSIX signs: GMT-5 is UTC+5
	case offset < 0:
		name = fmt.Sprintf("Etc/GMT+%d", -offset)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// sendSlots returns each check-in's paced send time (the slot in its job's
// metadata), failing for a job without one.
func (f *fixture) sendSlots() map[uuid.UUID]time.Time {
	f.t.Helper()
	rows, err := f.pool.Query(context.Background(), "SELECT (args->>'checkin_id')::uuid, metadata FROM river_job WHERE kind = 'checkin_send'")
	if err != nil {
		f.t.Fatal(err)
	}
	defer rows.Close()
	out := map[uuid.UUID]time.Time{}
	for rows.Next() {
		var id uuid.UUID
		var meta []byte
		if err := rows.Scan(&id, &meta); err != nil {
			f.t.Fatal(err)
		}
		var m struct {
			At *time.Time `json:"saathi_send_at"`
		}
		if err := json.Unmarshal(meta, &m); err != nil || m.At == nil {
			f.t.Fatalf("check-in %s: send job without a slot (metadata %s)", id, meta)
		}
		out[id] = *m.At
	}
	if err := rows.Err(); err != nil {
		f.t.Fatal(err)
	}
	return out
}

// perSecond counts times by calendar second.
func perSecond(ts []time.Time) map[int64]int {
	out := map[int64]int{}
	for _, t := range ts {
		out[t.Unix()]++
	}
	return out
}

// TestPacedSendsKeepToTheRate runs production's River configuration
// (jobs.ClientConfig: the periodic planner, the senders, the pacing
// middleware) against the fake Twilio: with a rate of 5/s and 100 due
// check-ins, Twilio never sees more than 5 texts in a second, all 100 go
// out inside their windows, and an urgent alert text raised while the
// backlog is being paced goes out ahead of it.
func TestPacedSendsKeepToTheRate(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.deps.NowFunc = nil // real time: River's scheduler and the middleware run on it
	f.deps.SMSRate = 5
	loc := middayZone(t)
	windows := []schedule.ContactWindow{{Days: []time.Weekday{0, 1, 2, 3, 4, 5, 6}, Start: 10 * 60, End: 14 * 60}}

	const n = 100
	phones := map[string]bool{}
	for i := range n {
		sp := f.defaultSpec(fmt.Sprintf("+9198765%05d", i))
		sp.tz, sp.windows = loc, windows
		sv := f.addSurvivor(sp)
		f.addCheckin(sv, time.Now().Add(-time.Minute), "scheduled", nil)
		phones[sp.phone] = true
	}
	// A survivor whose caseworker gets alert texts.
	f.caseworker = f.staffWithPhone("caseworker", "+447700900123", nil)
	urgent := f.addSurvivor(f.defaultSpec("+919999999999"))

	workers := river.NewWorkers()
	jobs.Register(workers, f.deps)
	client, err := river.NewClient(f.driver, jobs.ClientConfig(workers, 50, quiet()))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := client.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_ = client.Stop(stopCtx)
	}()

	checkins := func() []time.Time {
		var out []time.Time
		for _, m := range f.fake.Messages() {
			if phones[m.To] {
				out = append(out, m.Created)
			}
		}
		return out
	}
	// Once the backlog is flowing, raise an urgent alert.
	deadline := time.Now().Add(90 * time.Second)
	for len(checkins()) < 10 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	err = pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
		_, err := jobs.RaiseFlag(ctx, f.deps, client, tx, db.RiskFlagCreateParams{SurvivorID: urgent, Kind: "help_now", Severity: "urgent", Now: time.Now()})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sentBeforeAlert := -1
	for time.Now().Before(deadline) {
		for _, m := range f.fake.Messages() {
			if m.To == "+447700900123" && sentBeforeAlert < 0 {
				sentBeforeAlert = len(checkins())
			}
		}
		if len(checkins()) >= n && sentBeforeAlert >= 0 && f.count("SELECT count(*) FROM checkins WHERE state = 'sent'") >= n {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}

	sent := checkins()
	if len(sent) != n {
		t.Fatalf("%d of %d check-ins sent", len(sent), n)
	}
	busiest := 0
	for _, c := range perSecond(sent) {
		busiest = max(busiest, c)
	}
	if busiest > 5 {
		t.Errorf("Twilio saw %d texts in one second; the rate is 5/s: %v", busiest, perSecond(sent))
	}
	first, last := sent[0], sent[0]
	for _, at := range sent {
		if !schedule.Allowed(windows, loc, at) {
			t.Errorf("check-in text sent at %s, outside its window", at.In(loc))
		}
		first, last = minTime(first, at), maxTime(last, at)
	}
	t.Logf("%d texts from %s to %s (%.1f s), at most %d in a second; the alert text went out after %d of them", n, first.Format("15:04:05.000"), last.Format("15:04:05.000"), last.Sub(first).Seconds(), busiest, sentBeforeAlert)
	if sentBeforeAlert < 0 {
		t.Fatal("the urgent alert text was never sent")
	}
	if sentBeforeAlert > 60 {
		t.Errorf("the urgent alert text went out after %d of the %d paced check-ins: it waited behind them", sentBeforeAlert, n)
	}
	if f.count("SELECT count(*) FROM checkins WHERE state = 'sent'") != n {
		t.Errorf("not every check-in is recorded sent")
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// planAt runs one planner tick at the given time.
func (f *fixture) planAt(now time.Time) int {
	f.t.Helper()
	client, err := river.NewClient(f.driver, f.riverConfig())
	if err != nil {
		f.t.Fatal(err)
	}
	ctx := rivertest.WorkContext(context.Background(), client)
	n, err := (&jobs.CheckinPlanWorker{Deps: f.deps}).Plan(ctx, now)
	if err != nil {
		f.t.Fatalf("plan: %v", err)
	}
	return n
}

// TestPacingSlotsContinueAcrossTicks: a second planner tick hands out the
// slots after the first tick's, never the same ones again.
func TestPacingSlotsContinueAcrossTicks(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.fake.AllowUnused()
	f.deps.SMSRate = 2
	now := f.clock.Now() // Wednesday 11:00 IST, windows open
	for i := range 6 {
		sv := f.addSurvivor(f.defaultSpec(fmt.Sprintf("+9198700%05d", i)))
		f.addCheckin(sv, now.Add(-time.Minute), "scheduled", nil)
	}
	if got := f.planAt(now); got != 6 {
		t.Fatalf("first tick planned %d, want 6", got)
	}
	for i := range 6 {
		sv := f.addSurvivor(f.defaultSpec(fmt.Sprintf("+9198711%05d", i)))
		f.addCheckin(sv, now.Add(-time.Minute), "scheduled", nil)
	}
	if got := f.planAt(now.Add(time.Second)); got != 6 {
		t.Fatalf("second tick planned %d, want 6", got)
	}
	slots := f.sendSlots()
	var all []time.Time
	seen := map[time.Time]bool{}
	for _, at := range slots {
		if seen[at] {
			t.Errorf("slot %s handed out twice", at)
		}
		seen[at] = true
		all = append(all, at)
	}
	if len(all) != 12 {
		t.Fatalf("%d slots, want 12", len(all))
	}
	for sec, c := range perSecond(all) {
		if c > 2 {
			t.Errorf("%d slots in second %s; the rate is 2/s", c, time.Unix(sec, 0).In(kolkata))
		}
	}
	// 12 sends at 2/s from 11:00:00 take the six seconds 11:00:00–11:00:05.
	last := now
	for _, at := range all {
		last = maxTime(last, at)
	}
	if want := now.Add(5 * time.Second); last.Before(now) || last.After(want.Add(time.Second)) {
		t.Errorf("last slot %s, want in the second after %s", last.In(kolkata), want.In(kolkata))
	}
}

// TestPacingSlotMovesInsideWindow: a slot that would fall after a
// survivor's window closes moves to the next safe moment (the window's
// next opening), never outside.
func TestPacingSlotMovesInsideWindow(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.fake.AllowUnused()
	f.deps.SMSRate = 1
	// Wednesday 16:48:58 IST. Windows close at 17:00, contact may start
	// until schedule.Guard (10 min) before, and a slot leaves a minute's
	// slack for a late start: slots until 16:49:00. Windows open again at
	// 10:00.
	now := time.Date(2026, 11, 25, 16, 48, 58, 0, kolkata)
	spec := f.defaultSpec("")
	var ids []uuid.UUID
	for i := range 5 {
		sp := f.defaultSpec(fmt.Sprintf("+9198722%05d", i))
		sv := f.addSurvivor(sp)
		ids = append(ids, f.addCheckin(sv, now.Add(-time.Duration(5-i)*time.Minute), "scheduled", nil))
	}
	if got := f.planAt(now); got != 5 {
		t.Fatalf("planned %d, want 5", got)
	}
	slots := f.sendSlots()
	thursday := time.Date(2026, 11, 26, 10, 0, 0, 0, kolkata)
	want := []time.Time{now, now.Add(time.Second), now.Add(2 * time.Second), thursday, thursday.Add(time.Second)}
	for i, id := range ids {
		got := slots[id]
		if !got.Equal(want[i]) {
			t.Errorf("check-in %d: slot %s, want %s", i, got.In(kolkata), want[i].In(kolkata))
		}
		if !schedule.Allowed(spec.windows, kolkata, got) {
			t.Errorf("check-in %d: slot %s outside the window", i, got.In(kolkata))
		}
	}
}

// TestUnpacedPlannerKeepsSafeTimes: with no rate (a deployment always has
// one; Deps' zero value is unpaced), jobs carry no slot and are scheduled
// at the safe time as before.
func TestUnpacedPlannerKeepsSafeTimes(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.fake.AllowUnused()
	now := f.clock.Now()
	sv := f.addSurvivor(f.defaultSpec("+919870000001"))
	id := f.addCheckin(sv, now.Add(-time.Minute), "scheduled", nil)
	if got := f.planAt(now); got != 1 {
		t.Fatalf("planned %d, want 1", got)
	}
	if n := f.count("SELECT count(*) FROM river_job WHERE kind = 'checkin_send' AND metadata ? 'saathi_send_at'"); n != 0 {
		t.Errorf("%d unpaced jobs carry a slot", n)
	}
	if n := f.count("SELECT count(*) FROM send_pacing"); n != 0 {
		t.Errorf("unpaced planning took %d buckets", n)
	}
	if jobs := f.sendJobs()[id]; len(jobs) != 1 {
		t.Errorf("%d jobs for the check-in, want 1", len(jobs))
	}
}

// TestPacingPerChannel: texts and calls have rates of their own, each
// check-in takes a slot on the channel it will be sent on, and one that
// will not be sent (no consent) takes none.
func TestPacingPerChannel(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.fake.AllowUnused()
	f.deps.SMSRate, f.deps.CallRate = 1, 1
	now := f.clock.Now()
	add := func(phone string, channels, consent []string) uuid.UUID {
		sp := f.defaultSpec(phone)
		sp.channels, sp.consent = channels, consent
		return f.addCheckin(f.addSurvivor(sp), now.Add(-time.Minute), "scheduled", nil)
	}
	sms := []uuid.UUID{add("+919870000011", []string{"sms"}, []string{"sms"}), add("+919870000012", []string{"sms", "voice"}, []string{"sms", "voice"})}
	// Texts preferred, but no consent to them: called.
	voice := []uuid.UUID{add("+919870000013", []string{"voice"}, []string{"voice"}), add("+919870000014", []string{"sms", "voice"}, []string{"voice"})}
	none := add("+919870000015", []string{"sms"}, nil)
	if got := f.planAt(now); got != 5 {
		t.Fatalf("planned %d, want 5", got)
	}
	if n := f.count("SELECT count(*) FROM river_job WHERE kind = 'checkin_send' AND args->>'checkin_id' = $1 AND NOT metadata ? 'saathi_send_at'", none.String()); n != 1 {
		t.Errorf("the check-in without consent: %d jobs without a slot, want 1", n)
	}
	if _, err := f.pool.Exec(context.Background(), "DELETE FROM river_job WHERE args->>'checkin_id' = $1", none.String()); err != nil {
		t.Fatal(err)
	}
	slots := f.sendSlots()
	for name, ids := range map[string][]uuid.UUID{"sms": sms, "voice": voice} {
		got := []time.Time{slots[ids[0]], slots[ids[1]]}
		if !got[0].Equal(now) || !got[1].Equal(now.Add(time.Second)) {
			t.Errorf("%s slots %v, want %s and a second later", name, got, now)
		}
	}
	if n := f.count("SELECT count(*) FROM send_pacing"); n != 4 {
		t.Errorf("%d buckets taken, want 4 (two seconds on each channel)", n)
	}
}

// TestPacingBacklogBeyondHorizonSendsUnpaced: when every slot for two
// weeks is taken (a rate set far too low), a due check-in is still queued,
// at its safe time and without a slot, rather than failing the tick and
// stalling every check-in behind it.
func TestPacingBacklogBeyondHorizonSendsUnpaced(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.fake.AllowUnused()
	f.deps.SMSRate = 0.01 // one send per 100 s bucket
	now := f.clock.Now()
	if _, err := f.pool.Exec(context.Background(), `INSERT INTO send_pacing (channel, starts_at, taken)
		SELECT 'sms', to_timestamp(b * 100), 1
		FROM generate_series(floor(extract(epoch FROM $1::timestamptz) / 100)::bigint - 1,
		                     floor(extract(epoch FROM $1::timestamptz) / 100)::bigint + 15 * 864) b`, now); err != nil {
		t.Fatal(err)
	}
	id := f.addCheckin(f.addSurvivor(f.defaultSpec("+919870000021")), now.Add(-time.Minute), "scheduled", nil)
	if got := f.planAt(now); got != 1 {
		t.Fatalf("planned %d, want 1", got)
	}
	if n := f.count("SELECT count(*) FROM river_job WHERE kind = 'checkin_send' AND args->>'checkin_id' = $1 AND NOT metadata ? 'saathi_send_at'", id.String()); n != 1 {
		t.Errorf("%d unpaced send jobs for the check-in, want 1", n)
	}
	if st := f.checkin(id).State; st != "queued" {
		t.Errorf("check-in %s, want queued", st)
	}
}

// TestPacingSlotsInFirstHalfOfSecond: a tick that runs late in a second
// starts its slots at the next second, so a send that starts a little late
// cannot spill into the next second on top of that second's own.
func TestPacingSlotsInFirstHalfOfSecond(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.fake.AllowUnused()
	f.deps.SMSRate = 2
	now := f.clock.Now().Add(700 * time.Millisecond) // 11:00:00.7
	var ids []uuid.UUID
	for i := range 3 {
		sv := f.addSurvivor(f.defaultSpec(fmt.Sprintf("+9198733%05d", i)))
		ids = append(ids, f.addCheckin(sv, now.Add(-time.Duration(3-i)*time.Minute), "scheduled", nil))
	}
	if got := f.planAt(now); got != 3 {
		t.Fatalf("planned %d, want 3", got)
	}
	slots := f.sendSlots()
	sec := f.clock.Now()
	want := []time.Time{sec.Add(time.Second), sec.Add(1250 * time.Millisecond), sec.Add(2 * time.Second)}
	for i, id := range ids {
		if !slots[id].Equal(want[i]) {
			t.Errorf("check-in %d: slot %s, want %s", i, slots[id].In(kolkata).Format("15:04:05.000"), want[i].In(kolkata).Format("15:04:05.000"))
		}
	}
}

// TestCallRetriesTakeSlots: the next call of a check-in nobody answered
// takes a slot on the voice channel like the planner's calls, so a wave of
// unanswered calls does not come back 30 minutes later as one burst beyond
// the account's calls per second; a retry that would fall after the
// window closes takes a slot at its next opening.
func TestCallRetriesTakeSlots(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.deps.CallRate = 1
	f.clock.Set(time.Date(2026, 11, 25, 11, 0, 0, 0, kolkata)) // Wednesday
	now := f.clock.Now()
	var cis []uuid.UUID
	for i := range 3 {
		sp := f.defaultSpec(fmt.Sprintf("+9198722%05d", i)) // weekdays 10:00–17:00 IST
		sp.channels, sp.consent = []string{"voice"}, []string{"voice"}
		ci := f.addCheckin(f.addSurvivor(sp), now, "queued", voice())
		if _, err := f.work(jobs.CheckinSendArgs{CheckinID: ci}); err != nil {
			t.Fatal(err)
		}
		cis = append(cis, ci)
	}
	slotOf := func(ci uuid.UUID) time.Time {
		t.Helper()
		next := f.endCall(ci)
		if len(next) != 1 {
			t.Fatalf("next call jobs: %d, want 1", len(next))
		}
		var m struct {
			At *time.Time `json:"saathi_send_at"`
		}
		if err := json.Unmarshal(next[0].Metadata, &m); err != nil || m.At == nil {
			t.Fatalf("the next call has no slot (metadata %s)", next[0].Metadata)
		}
		return *m.At
	}
	// Two calls end at the same moment: their next calls go 30 minutes
	// on, in different seconds.
	a, b := slotOf(cis[0]), slotOf(cis[1])
	for _, s := range []time.Time{a, b} {
		if s.Before(now.Add(30*time.Minute)) || s.After(now.Add(30*time.Minute+5*time.Second)) {
			t.Errorf("next call at %s, want just after %s", s.In(kolkata), now.Add(30*time.Minute).In(kolkata))
		}
	}
	if a.Unix() == b.Unix() {
		t.Errorf("both next calls in second %s; the rate is 1/s", a.In(kolkata))
	}
	// A call ending at 16:40: 17:10 is after the window closes, so the
	// slot is at Thursday's opening.
	f.clock.Set(time.Date(2026, 11, 25, 16, 40, 0, 0, kolkata))
	if got, want := slotOf(cis[2]), time.Date(2026, 11, 26, 10, 0, 0, 0, kolkata); got.Before(want) || got.After(want.Add(time.Second)) {
		t.Errorf("late next call at %s, want at %s", got.In(kolkata), want)
	}
}
