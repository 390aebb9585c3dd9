package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"saathi/db"
	"saathi/jobs/schedule"
)

// PlanInterval is how often the leader looks for due check-ins.
const PlanInterval = time.Minute

// planBatch is how many check-ins one planner transaction claims: large
// enough for a fast tick, small enough to keep memory flat and locks short.
const planBatch = 1000

// planMaxBatches bounds one tick; the next tick carries on.
const planMaxBatches = 200

// CheckinPlanArgs is the periodic planner's job.
type CheckinPlanArgs struct{}

// Kind names the job.
func (CheckinPlanArgs) Kind() string { return "checkin_plan" }

// InsertOpts keeps at most one planner queued.
func (CheckinPlanArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 3, UniqueOpts: river.UniqueOpts{ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
		rivertype.JobStateRetryable, rivertype.JobStateScheduled,
	}}}
}

// CheckinPlanWorker hands due check-ins to the sender. Each batch, in one
// transaction, marks check-ins 'queued' and inserts their send jobs
// (scheduled at the next safe moment in the survivor's contact windows), so
// there is never a queued check-in without its job or a job without its row,
// and River's unique key on the check-in ID refuses a second job even if a
// row were somehow claimed twice.
type CheckinPlanWorker struct {
	river.WorkerDefaults[CheckinPlanArgs]
	Deps *Deps
}

// Work claims due check-ins batch by batch.
func (w *CheckinPlanWorker) Work(ctx context.Context, job *river.Job[CheckinPlanArgs]) error {
	total, err := w.Plan(ctx, w.Deps.now())
	if total > 0 {
		w.Deps.Logger.Info("check-ins planned", "count", total)
	}
	return err
}

// Plan queues every check-in due at or before now and returns how many.
func (w *CheckinPlanWorker) Plan(ctx context.Context, now time.Time) (int, error) {
	client := river.ClientFromContext[pgx.Tx](ctx)
	if _, err := db.New(w.Deps.Pool).PacingForget(ctx, now.Add(-time.Minute)); err != nil {
		return 0, fmt.Errorf("forget past send slots: %w", err)
	}
	total := 0
	for range planMaxBatches {
		n, err := w.planBatch(ctx, client, now)
		total += n
		if err != nil {
			return total, err
		}
		if n < planBatch {
			break
		}
	}
	return total, nil
}

func (w *CheckinPlanWorker) planBatch(ctx context.Context, client *river.Client[pgx.Tx], now time.Time) (int, error) {
	var n int
	err := pgx.BeginFunc(ctx, w.Deps.Pool, func(tx pgx.Tx) error {
		q := db.New(tx)
		due, err := q.CheckinClaimDue(ctx, db.CheckinClaimDueParams{Until: now, Lim: planBatch, Now: now})
		if err != nil {
			return fmt.Errorf("claim due check-ins: %w", err)
		}
		n = len(due)
		if n == 0 {
			return nil
		}
		ids := make([]uuid.UUID, 0, n)
		for _, d := range due {
			ids = append(ids, d.SurvivorID)
		}
		scheds, err := loadSchedules(ctx, q, ids)
		if err != nil {
			return err
		}
		slots, err := w.slots(ctx, q, due, scheds, now)
		if err != nil {
			return err
		}
		params := make([]river.InsertManyParams, 0, n)
		for _, d := range due {
			var opts *river.InsertOpts
			if slot, ok := slots[d.ID]; ok {
				opts = pacedOpts(slot, now)
			} else {
				opts = &river.InsertOpts{}
				if at := safeAt(d, scheds, now); at.After(now) {
					opts.ScheduledAt = at
				}
			}
			params = append(params, river.InsertManyParams{Args: CheckinSendArgs{CheckinID: d.ID}, InsertOpts: opts})
		}
		if _, err := client.InsertManyTx(ctx, tx, params); err != nil {
			return fmt.Errorf("insert send jobs: %w", err)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// safeAt is when a due check-in may first be sent: its due time (now, if
// that has passed), moved to the next safe moment in the survivor's
// contact windows. Without usable windows it is that time all the same:
// the send job runs then and records why nothing was sent.
func safeAt(d db.CheckinClaimDueRow, scheds map[uuid.UUID]survivorSchedule, now time.Time) time.Time {
	at := d.DueAt
	if now.After(at) {
		at = now
	}
	if sc, ok := scheds[d.SurvivorID]; ok {
		if next, ok := schedule.NextSafe(sc.windows, sc.loc, at); ok {
			at = next
		}
	}
	return at
}

// slots gives each claimed check-in on a paced channel its send slot (see
// pacing.go): the first free one at or after its safe time, inside its
// survivor's windows. Check-ins on an unpaced channel, without a channel
// they may be sent on, or without usable windows get none: the sender
// sends, or skips, them at their safe time.
func (w *CheckinPlanWorker) slots(ctx context.Context, q *db.Queries, due []db.CheckinClaimDueRow, scheds map[uuid.UUID]survivorSchedule, now time.Time) (map[uuid.UUID]time.Time, error) {
	if w.Deps.SMSRate <= 0 && w.Deps.CallRate <= 0 {
		return nil, nil
	}
	ids := make([]uuid.UUID, len(due))
	for i, d := range due {
		ids[i] = d.ID
	}
	rows, err := q.PacingChannels(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("predict channels: %w", err)
	}
	channel := make(map[uuid.UUID]string, len(rows))
	for _, r := range rows {
		channel[r.ID] = sendChannel(r.Channel, r.Channels, r.Consented)
	}
	// One slotter per channel, taken in a fixed order (sms, voice) so two
	// transactions never wait for each other's locks the other way round.
	slotters := map[string]*slotter{}
	for _, ch := range []string{"sms", "voice"} {
		if w.Deps.rate(ch) <= 0 {
			continue
		}
		if slotters[ch], err = newSlotter(ctx, q, ch, w.Deps.rate(ch)); err != nil {
			return nil, err
		}
	}
	out := make(map[uuid.UUID]time.Time, len(due))
	unpaced := 0
	for _, d := range due {
		s, ok := slotters[channel[d.ID]]
		sc, usable := scheds[d.SurvivorID]
		if !ok || !usable || len(sc.windows) == 0 {
			continue
		}
		at := safeAt(d, scheds, now)
		if !schedule.Allowed(sc.windows, sc.loc, at) {
			continue // no usable window: the sender skips it
		}
		slot, ok, err := s.take(ctx, at, sc)
		if err != nil {
			return nil, fmt.Errorf("check-in %s: %w", d.ID, err)
		}
		if !ok {
			unpaced++
			continue
		}
		out[d.ID] = slot
	}
	if unpaced > 0 {
		// The backlog is longer than pacing looks ahead: these go at their
		// safe time and wait in the provider's queue, where the validity
		// period drops what cannot reach the phone in its window.
		w.Deps.Logger.Warn("check-ins sent unpaced: no free send slot ahead; is SAATHI_SMS_RATE or SAATHI_CALL_RATE far too low?", "count", unpaced, "horizon", paceHorizon)
	}
	for _, s := range slotters {
		if err := s.save(ctx); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// survivorSchedule is what decides when a survivor may be contacted.
type survivorSchedule struct {
	loc     *time.Location
	windows []schedule.ContactWindow
}

// loadSchedules reads time zones and contact windows for many survivors in
// one query.
func loadSchedules(ctx context.Context, q *db.Queries, ids []uuid.UUID) (map[uuid.UUID]survivorSchedule, error) {
	rows, err := q.ScheduleInfoForSurvivors(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("load contact windows: %w", err)
	}
	out := make(map[uuid.UUID]survivorSchedule, len(ids))
	for _, r := range rows {
		sc, ok := out[r.ID]
		if !ok {
			loc, err := time.LoadLocation(r.Timezone)
			if err != nil {
				return nil, fmt.Errorf("survivor %s: time zone: %w", r.ID, err)
			}
			sc = survivorSchedule{loc: loc}
		}
		if r.StartMinute != nil && r.EndMinute != nil {
			w, err := StoredWindow(r.Days, int(*r.StartMinute), int(*r.EndMinute))
			if err != nil {
				return nil, fmt.Errorf("survivor %s: %w", r.ID, err)
			}
			sc.windows = append(sc.windows, w)
		}
		out[r.ID] = sc
	}
	return out, nil
}

// StoredWindow rebuilds a contact window from its database columns.
func StoredWindow(days []string, start, end int) (schedule.ContactWindow, error) {
	w := schedule.ContactWindow{Start: schedule.Clock(start), End: schedule.Clock(end)}
	for _, d := range days {
		day, err := schedule.ParseDay(d)
		if err != nil {
			return w, fmt.Errorf("contact window: %w", err)
		}
		w.Days = append(w.Days, day)
	}
	return w, nil
}
