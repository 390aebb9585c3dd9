package jobs

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"saathi/db"
)

// RetentionPeriod is how long the contents of what survivors and Saathi
// said (message bodies, reply evidence, alert notes) are kept: a number of
// calendar months or of days (SAATHI_RETENTION, "18mo" or "540d").
type RetentionPeriod struct {
	Months, Days int
}

// DefaultRetention is 18 months.
var DefaultRetention = RetentionPeriod{Months: 18}

// Bounds of a retention period. Below 90 days (3 months) an open case
// could lose the words its alert was raised on while a caseworker still
// works on it; above 10 years is a typo.
const (
	minRetentionDays, maxRetentionDays     = 90, 3660
	minRetentionMonths, maxRetentionMonths = 3, 120
)

// ParseRetention reads "18mo" (calendar months, 3 to 120) or "540d"
// (days, 90 to 3660).
func ParseRetention(s string) (RetentionPeriod, error) {
	bad := fmt.Errorf("must be a number of months or days such as 18mo or 540d (3mo to 120mo, or 90d to 3660d), not %q", s)
	unit := ""
	num := strings.TrimSpace(s)
	switch {
	case strings.HasSuffix(num, "mo"):
		num, unit = strings.TrimSuffix(num, "mo"), "mo"
	case strings.HasSuffix(num, "d"):
		num, unit = strings.TrimSuffix(num, "d"), "d"
	default:
		return RetentionPeriod{}, bad
	}
	n, err := strconv.Atoi(num)
	if err != nil || strings.HasPrefix(num, "+") {
		return RetentionPeriod{}, bad
	}
	if unit == "mo" {
		if n < minRetentionMonths || n > maxRetentionMonths {
			return RetentionPeriod{}, bad
		}
		return RetentionPeriod{Months: n}, nil
	}
	if n < minRetentionDays || n > maxRetentionDays {
		return RetentionPeriod{}, bad
	}
	return RetentionPeriod{Days: n}, nil
}

// String gives the period as SAATHI_RETENTION takes it.
func (p RetentionPeriod) String() string {
	if p.Months > 0 {
		return strconv.Itoa(p.Months) + "mo"
	}
	return strconv.Itoa(p.Days) + "d"
}

// Cutoff is the moment before which contents are blanked, seen at now.
func (p RetentionPeriod) Cutoff(now time.Time) time.Time {
	return now.AddDate(0, -p.Months, -p.Days)
}

// RetentionArgs runs one retention sweep.
type RetentionArgs struct{}

// Kind names the job.
func (RetentionArgs) Kind() string { return "retention" }

// InsertOpts keeps at most one sweep queued or running.
func (RetentionArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 5, UniqueOpts: river.UniqueOpts{ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
		rivertype.JobStateRetryable, rivertype.JobStateScheduled,
	}}}
}

// RetentionInterval is how often the sweep runs.
const RetentionInterval = 24 * time.Hour

// RetentionPeriodicJob runs the sweep daily, and at every start of a
// leader, so a deployment restarted more often than daily still sweeps.
func RetentionPeriodicJob() *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(RetentionInterval), func() (river.JobArgs, *river.InsertOpts) {
		return RetentionArgs{}, nil
	}, &river.PeriodicJobOpts{ID: "retention", RunOnStart: true})
}

// RetentionWorker blanks what must not be kept: the bodies and numbers of
// messages, the evidence of replies, alert resolution notes and dev outbox
// entries older than Period, and anything an erased survivor left behind
// (written by a job in flight during the erasure). Rows stay, blank, so the
// programme report still counts them. It works in batches, each committed
// on its own: a sweep stopped half-way keeps what it did, and the next goes
// on from there. What it did is logged and audited as counts only.
type RetentionWorker struct {
	river.WorkerDefaults[RetentionArgs]
	Deps *Deps
	// Period is SAATHI_RETENTION; zero means DefaultRetention.
	Period RetentionPeriod
	// BatchSize is the rows blanked per statement; zero means 1,000.
	BatchSize int
	// Budget is how long one run works before it snoozes and lets the
	// next go on where it stopped; zero means retentionBudget.
	Budget time.Duration
}

// retentionBudget keeps a run well inside RescueAfter: River's rescuer
// would take a job running longer for a dead worker's and start it again
// beside itself. A large first sweep is done in several runs, each
// committing its batches.
const retentionBudget = time.Minute

// Timeout leaves a statement in flight when the budget ends time to finish.
func (w *RetentionWorker) Timeout(*river.Job[RetentionArgs]) time.Duration {
	return cmp.Or(w.Budget, retentionBudget) + 15*time.Second
}

// RetentionCounts is how many rows a sweep blanked (or, for the dev
// outbox, deleted), by kind.
type RetentionCounts struct {
	Messages        int64 `json:"messages"`
	Evidence        int64 `json:"evidence"`
	ResolutionNotes int64 `json:"resolution_notes"`
	OutboxEntries   int64 `json:"dev_outbox"`
	// Erased survivors' residue.
	ErasedSurvivors   int64 `json:"erased_survivors"`
	ErasedMessages    int64 `json:"erased_messages"`
	ErasedAlertTexts  int64 `json:"erased_alert_texts"`
	ErasedEvidence    int64 `json:"erased_evidence"`
	ErasedResolutions int64 `json:"erased_resolution_notes"`
	ErasedConsent     int64 `json:"erased_consent_notes"`
}

// LogValue logs the counts under the same snake_case names as the audit
// row.
func (c RetentionCounts) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Int64("messages", c.Messages), slog.Int64("evidence", c.Evidence),
		slog.Int64("resolution_notes", c.ResolutionNotes), slog.Int64("dev_outbox", c.OutboxEntries),
		slog.Int64("erased_survivors", c.ErasedSurvivors), slog.Int64("erased_messages", c.ErasedMessages),
		slog.Int64("erased_alert_texts", c.ErasedAlertTexts), slog.Int64("erased_evidence", c.ErasedEvidence),
		slog.Int64("erased_resolution_notes", c.ErasedResolutions), slog.Int64("erased_consent_notes", c.ErasedConsent),
	)
}

// Total is the number of rows changed.
func (c RetentionCounts) Total() int64 {
	return c.Messages + c.Evidence + c.ResolutionNotes + c.OutboxEntries + c.ErasedSurvivors + c.ErasedMessages +
		c.ErasedAlertTexts + c.ErasedEvidence + c.ErasedResolutions + c.ErasedConsent
}

// Work sweeps once, then records what it did.
func (w *RetentionWorker) Work(ctx context.Context, _ *river.Job[RetentionArgs]) error {
	period := w.Period
	if period == (RetentionPeriod{}) {
		period = DefaultRetention
	}
	batch := w.BatchSize
	if batch <= 0 {
		batch = 1000
	}
	now := w.Deps.now()
	cutoff := period.Cutoff(now)
	deadline := time.Now().Add(cmp.Or(w.Budget, retentionBudget))
	counts, more, err := sweepUntil(ctx, w.Deps.Pool, cutoff, now, int32(batch), deadline)
	log := w.Deps.Logger.With("older_than", period.String(), "cutoff", cutoff.UTC().Format(time.RFC3339), "counts", counts)
	if err != nil {
		// Every finished batch is committed: the counts are real.
		log.Warn("retention sweep stopped; the next run goes on", "err", err)
		return err
	}
	if more {
		log.Info("retention sweep paused at its time budget; it goes on in a moment", "total", counts.Total())
	} else {
		log.Info("retention sweep done", "total", counts.Total())
	}
	if counts.Total() > 0 { // the audit log stays about changes
		detail, err := json.Marshal(map[string]any{"older_than": period.String(), "cutoff": cutoff.UTC(), "counts": counts})
		if err != nil {
			return err
		}
		if err := db.New(w.Deps.Pool).AuditLogCreate(ctx, db.AuditLogCreateParams{Action: "retention.run", Detail: detail}); err != nil {
			return fmt.Errorf("retention: audit: %w", err)
		}
	}
	if more {
		return river.JobSnooze(time.Second)
	}
	return nil
}

// sweepUntil blanks what is older than cutoff and erased survivors'
// residue, in statements of at most batch rows, until nothing is left or
// deadline has passed (checked between batches); more says whether work
// may be left. On error it returns what it did so far.
func sweepUntil(ctx context.Context, pool *pgxpool.Pool, cutoff, now time.Time, batch int32, deadline time.Time) (RetentionCounts, bool, error) {
	var c RetentionCounts
	q := db.New(pool)
	steps := []struct {
		name  string
		count *int64
		run   func() (int64, error)
	}{
		{"messages", &c.Messages, func() (int64, error) {
			return q.RetentionBlankMessages(ctx, db.RetentionBlankMessagesParams{Cutoff: cutoff, Now: now, Lim: batch})
		}},
		{"evidence", &c.Evidence, func() (int64, error) {
			return q.RetentionBlankEvidence(ctx, db.RetentionBlankEvidenceParams{Cutoff: cutoff, Lim: batch})
		}},
		{"resolution notes", &c.ResolutionNotes, func() (int64, error) {
			return q.RetentionBlankResolutions(ctx, db.RetentionBlankResolutionsParams{Cutoff: &cutoff, Lim: batch})
		}},
		{"dev outbox", &c.OutboxEntries, func() (int64, error) {
			return q.RetentionDeleteOutbox(ctx, db.RetentionDeleteOutboxParams{Cutoff: cutoff, Lim: batch})
		}},
		{"erased survivors", &c.ErasedSurvivors, func() (int64, error) { return q.RetentionErasedSurvivors(ctx, batch) }},
		{"erased survivors' messages", &c.ErasedMessages, func() (int64, error) {
			return q.RetentionErasedMessages(ctx, db.RetentionErasedMessagesParams{Now: now, Lim: batch})
		}},
		{"erased survivors' alert texts", &c.ErasedAlertTexts, func() (int64, error) {
			return q.RetentionErasedAlertTexts(ctx, db.RetentionErasedAlertTextsParams{Now: now, Lim: batch})
		}},
		{"erased survivors' evidence", &c.ErasedEvidence, func() (int64, error) { return q.RetentionErasedEvidence(ctx, batch) }},
		{"erased survivors' resolution notes", &c.ErasedResolutions, func() (int64, error) { return q.RetentionErasedResolutions(ctx, batch) }},
		{"erased survivors' consent notes", &c.ErasedConsent, func() (int64, error) { return q.RetentionErasedConsentNotes(ctx, batch) }},
	}
	for _, s := range steps {
		for {
			if time.Now().After(deadline) {
				return c, true, nil
			}
			n, err := s.run()
			if err != nil {
				return c, false, fmt.Errorf("retention: %s: %w", s.name, err)
			}
			*s.count += n
			// Fewer than a batch: none left, but for rows another
			// transaction held, which the next sweep finds.
			if n < int64(batch) {
				break
			}
		}
	}
	return c, false, nil
}
