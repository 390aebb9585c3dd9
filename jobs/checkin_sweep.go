package jobs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"saathi/db"
	"saathi/jobs/risk"
)

// SweepInterval is how often the leader looks for missed check-ins.
const SweepInterval = time.Minute

const sweepBatch = 500

// CheckinSweepArgs is the periodic missed-check-in sweeper.
type CheckinSweepArgs struct{}

// Kind names the job.
func (CheckinSweepArgs) Kind() string { return "checkin_sweep" }

// InsertOpts keeps at most one sweeper queued.
func (CheckinSweepArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 3, UniqueOpts: river.UniqueOpts{ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
		rivertype.JobStateRetryable, rivertype.JobStateScheduled,
	}}}
}

// CheckinSweepWorker acts on silence. A check-in with no reply within the
// survivor's response window (default 24 h), or whose delivery failed, is
// missed: it gets one follow-up, on the other consented channel if there is
// one, sent at the next safe moment. When the follow-up is missed too (or
// cannot be sent), and the check-in before was missed as well, the
// survivor is flagged unreachable.
type CheckinSweepWorker struct {
	river.WorkerDefaults[CheckinSweepArgs]
	Deps *Deps
}

// Work sweeps at the current time.
func (w *CheckinSweepWorker) Work(ctx context.Context, job *river.Job[CheckinSweepArgs]) error {
	_, err := w.Sweep(ctx, w.Deps.now())
	return err
}

// Sweep assesses every check-in missed by now and returns how many.
func (w *CheckinSweepWorker) Sweep(ctx context.Context, now time.Time) (int, error) {
	total := 0
	for {
		n := 0
		err := pgx.BeginFunc(ctx, w.Deps.Pool, func(tx pgx.Tx) error {
			q := db.New(tx)
			missed, err := q.CheckinClaimMissed(ctx, db.CheckinClaimMissedParams{Now: now, Lim: sweepBatch})
			if err != nil {
				return fmt.Errorf("claim missed check-ins: %w", err)
			}
			n = len(missed)
			for _, c := range missed {
				if err := w.assess(ctx, tx, q, c, now); err != nil {
					return fmt.Errorf("check-in %s: %w", c.ID, err)
				}
			}
			return nil
		})
		total += n
		if err != nil || n < sweepBatch {
			return total, err
		}
	}
}

func (w *CheckinSweepWorker) assess(ctx context.Context, tx pgx.Tx, q *db.Queries, c db.Checkin, now time.Time) error {
	if c.Kind == "followup" {
		if c.ParentID == nil {
			return nil
		}
		parent, err := q.CheckinGet(ctx, *c.ParentID)
		if err != nil {
			return err
		}
		return w.checkUnreachable(ctx, tx, q, parent, now)
	}
	sv, err := q.SurvivorGet(ctx, c.SurvivorID)
	if err != nil {
		return err
	}
	if sv.Status != "active" {
		return nil
	}
	consent, err := CurrentConsent(ctx, q, sv.ID)
	if err != nil {
		return err
	}
	// The other consented channel first: an SMS nobody answered may be
	// better followed by a call, and the other way round.
	var channel string
	for _, ch := range []string{"sms", "voice"} {
		if ch != deref(c.Channel) && slices.Contains(sv.Channels, ch) && consent[ch] {
			channel = ch
		}
	}
	if channel == "" && c.Channel != nil && consent[*c.Channel] {
		channel = *c.Channel
	}
	if channel == "" {
		// No way to follow up: the miss is final now.
		return w.checkUnreachable(ctx, tx, q, c, now)
	}
	f, err := q.CheckinCreate(ctx, db.CheckinCreateParams{
		SurvivorID: sv.ID, Kind: "followup", Channel: &channel, DueAt: now, State: "queued", ParentID: &c.ID,
	})
	if err != nil {
		return fmt.Errorf("create follow-up: %w", err)
	}
	_, err = river.ClientFromContext[pgx.Tx](ctx).InsertTx(ctx, tx, CheckinSendArgs{CheckinID: f.ID}, nil)
	return err
}

// checkUnreachable flags the survivor when check-in p was missed for good
// and so was the primary check-in before it.
func (w *CheckinSweepWorker) checkUnreachable(ctx context.Context, tx pgx.Tx, q *db.Queries, p db.Checkin, now time.Time) error {
	if p.State != "missed" {
		return nil // answered after all
	}
	prev, err := q.CheckinPreviousPrimary(ctx, db.CheckinPreviousPrimaryParams{SurvivorID: p.SurvivorID, ID: p.ID, DueAt: p.DueAt})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	if prev.State != "missed" {
		return nil
	}
	// The earlier one counts only once its own follow-up is over.
	if fu, err := q.CheckinFollowupOf(ctx, &prev.ID); err == nil {
		if !slices.Contains([]string{"missed", "skipped", "failed", "cancelled"}, fu.State) {
			return nil
		}
	} else if !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	_, err = RaiseFlag(ctx, w.Deps, river.ClientFromContext[pgx.Tx](ctx), tx, db.RiskFlagCreateParams{
		SurvivorID: p.SurvivorID, Kind: risk.KindUnreachable, Severity: string(w.Deps.rules().Signals.Unreachable), CheckinID: &p.ID, Now: now,
	})
	return err
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
