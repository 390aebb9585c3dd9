package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"saathi/db"
	"saathi/db/crypt"
)

// SurvivorExportFormat names the layout of SurvivorExport; a change that
// removes or renames a field gets a new version.
const SurvivorExportFormat = "saathi.survivor-export.v1"

// SurvivorExport is everything Saathi holds about one survivor, decrypted,
// for a data-subject request: built from the same functions as the API's
// survivor, timeline and alert views, so it shows what staff can see.
type SurvivorExport struct {
	Format     string    `json:"format"`
	ExportedAt time.Time `json:"exported_at"`
	// Survivor is the profile with the phone number in full, contact
	// windows, current consent and its history (with notes), cadence.
	Survivor SurvivorJSON `json:"survivor"`
	// Timeline is what happened, in order: check-ins, texts and calls in
	// both directions (with their words and keys pressed), what replies
	// meant, risk flags, alerts and consent changes.
	Timeline []TimelineEntry `json:"timeline"`
	// PlannedCheckins are the check-ins still to come.
	PlannedCheckins []PlannedCheckinJSON `json:"planned_checkins"`
	// Alerts are the alerts raised, with the words that raised them,
	// resolution notes and each step of their history.
	Alerts []AlertJSON `json:"alerts"`
	// Withheld says what is deliberately not in the export, and why.
	Withheld []string `json:"withheld"`
}

// PlannedCheckinJSON is a check-in not yet sent.
type PlannedCheckinJSON struct {
	ID      uuid.UUID `json:"id"`
	Kind    string    `json:"kind"`
	Channel *string   `json:"channel,omitempty"`
	DueAt   time.Time `json:"due_at"`
	State   string    `json:"state"`
}

// exportWithheld is what an export leaves out. The duress word and code
// are a safety secret: a file that can be read by someone else must not
// give them away, so words and keys matching them show as markers, as on
// the staff's screens.
var exportWithheld = []string{
	"the duress word and duress code (shown as [duress word] / [duress code] where they were used): a safety secret",
}

// ErrSurvivorErased is returned for a survivor whose personal data has
// been erased: nothing personal is left to export.
var ErrSurvivorErased = errors.New("survivor erased")

// ExportSurvivor gathers a survivor's data, decrypted, in one consistent
// snapshot, and audits the export (survivor.export; actor nil: the CLI).
// An unknown ID is db.ErrNotFound; an erased survivor, ErrSurvivorErased.
func ExportSurvivor(ctx context.Context, pool *pgxpool.Pool, kr *crypt.Keyring, actor *uuid.UUID, id uuid.UUID, now time.Time) (*SurvivorExport, error) {
	s := &Server{Pool: pool, Keyring: kr, NowFunc: func() time.Time { return now }}
	out := &SurvivorExport{Format: SurvivorExportFormat, ExportedAt: now.UTC(), Withheld: exportWithheld}
	err := pgx.BeginTxFunc(ctx, pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead}, func(tx pgx.Tx) error {
		q := db.New(tx)
		sv, err := q.SurvivorGet(ctx, id)
		if err != nil {
			return db.NotFound(err)
		}
		if sv.Status != "active" {
			return fmt.Errorf("%w on %s", ErrSurvivorErased, sv.ErasedAt.UTC().Format(time.DateOnly))
		}
		if out.Survivor, err = s.loadSurvivorJSON(ctx, q, id, true); err != nil {
			return fmt.Errorf("export survivor %s: profile: %w", id, err)
		}
		// The data subject gets their own number, not the staff's mask.
		if out.Survivor.Phone, err = kr.OpenString(crypt.SurvivorPhone, sv.PhoneEnc); err != nil {
			return fmt.Errorf("export survivor %s: phone: %w", id, err)
		}
		if out.Timeline, err = s.survivorTimeline(ctx, q, sv); err != nil {
			return fmt.Errorf("export survivor %s: timeline: %w", id, err)
		}
		if out.PlannedCheckins, err = plannedCheckins(ctx, q, id, now); err != nil {
			return fmt.Errorf("export survivor %s: planned check-ins: %w", id, err)
		}
		alerts, err := q.AlertListBySurvivor(ctx, id)
		if err != nil {
			return fmt.Errorf("export survivor %s: alerts: %w", id, err)
		}
		out.Alerts = make([]AlertJSON, 0, len(alerts))
		for _, a := range alerts {
			j, err := s.alertDetail(ctx, q, a)
			if err != nil {
				return fmt.Errorf("export survivor %s: alert %s: %w", id, a.ID, err)
			}
			out.Alerts = append(out.Alerts, j)
		}
		return exportAudit(ctx, q, actor, id)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// plannedCheckins are the check-ins the timeline leaves out as the plan.
func plannedCheckins(ctx context.Context, q *db.Queries, id uuid.UUID, now time.Time) ([]PlannedCheckinJSON, error) {
	checkins, err := q.CheckinListBySurvivor(ctx, id)
	if err != nil {
		return nil, err
	}
	out := []PlannedCheckinJSON{}
	for _, ci := range checkins {
		if ci.State == "scheduled" && ci.DueAt.After(now) {
			out = append(out, PlannedCheckinJSON{ID: ci.ID, Kind: ci.Kind, Channel: ci.Channel, DueAt: ci.DueAt.UTC(), State: ci.State})
		}
	}
	return out, nil
}

func exportAudit(ctx context.Context, q *db.Queries, actor *uuid.UUID, id uuid.UUID) error {
	detail := map[string]any{"format": SurvivorExportFormat}
	if actor == nil {
		detail["via"] = "cli"
	}
	raw, err := json.Marshal(detail)
	if err != nil {
		return err
	}
	return q.AuditLogCreate(ctx, db.AuditLogCreateParams{StaffID: actor, Action: "survivor.export", SurvivorID: &id, Detail: raw})
}
