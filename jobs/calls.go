package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"saathi/db"
	"saathi/jobs/risk"
	"saathi/jobs/schedule"
)

// Calls of one voice check-in: the first, and at most two more when nobody
// answered (busy, no answer, a machine, no key pressed), at least
// recallAfter apart and inside the survivor's contact windows. After the
// last, the check-in is missed and the missed-check-in rules apply.
const (
	maxCalls    = 3
	recallAfter = 30 * time.Minute
)

// callbackDedupe is how long after a callback was placed another missed
// call from the survivor does not ask for a new one.
const callbackDedupe = 10 * time.Minute

// Call statuses Twilio reports, in the order a call moves through them;
// the last five are final.
var callStatusRank = map[string]int{
	StatusAttempting: 0, "queued": 1, "initiated": 2, "ringing": 3, "in-progress": 4, "answered": 4,
	"completed": 5, "busy": 5, "no-answer": 5, "failed": 5, "canceled": 5,
}

// KnownCallStatus reports whether status is one Saathi tracks.
func KnownCallStatus(status string) bool {
	_, ok := callStatusRank[status]
	return ok && status != StatusAttempting
}

// CallStatusFinal reports whether a call status ends the call.
func CallStatusFinal(status string) bool { return callStatusRank[status] == 5 }

// CallStatusesBefore lists the statuses a call may move from to reach
// status: statuses only move forward, so a late "ringing" never
// overwrites "completed", and a replay changes nothing.
func CallStatusesBefore(status string) []string {
	var out []string
	for st, r := range callStatusRank {
		if r < callStatusRank[status] {
			out = append(out, st)
		}
	}
	return out
}

// CallEnded settles a check-in call that has ended. A key was pressed:
// the assessment of the key press marks the check-in answered. Nobody
// pressed a key (busy, no answer, failed, a machine, silence): the
// check-in is called again after recallAfter (at the next safe moment
// from then, in a send slot when calls are paced: callRate, 0 for none),
// or, after its last call, counts as missed at once.
func CallEnded(ctx context.Context, ins Inserter, tx pgx.Tx, call db.Message, callRate Pace, now time.Time) error {
	if call.CheckinID == nil {
		return nil // a call the survivor made
	}
	q := db.New(tx)
	keys, err := q.MessageCallKeys(ctx, call.ID)
	if err != nil || keys > 0 {
		return err
	}
	ci, err := q.CheckinGet(ctx, *call.CheckinID)
	if err != nil {
		return fmt.Errorf("check-in of call %d: %w", call.ID, err)
	}
	if ci.State != "sent" {
		return nil // answered by text meanwhile, or settled already
	}
	if ci.Calls >= maxCalls {
		return q.CheckinDeliveryFailed(ctx, db.CheckinDeliveryFailedParams{ID: ci.ID, Now: now})
	}
	n, err := q.CheckinCallAgain(ctx, db.CheckinCallAgainParams{ID: ci.ID, Now: now})
	if err != nil || n == 0 {
		return err
	}
	opts, err := recallOpts(ctx, q, ci.SurvivorID, callRate, now)
	if err != nil {
		return err
	}
	_, err = ins.InsertTx(ctx, tx, CheckinSendArgs{CheckinID: ci.ID, Call: int(ci.Calls)}, opts)
	return err
}

// recallOpts schedules the next call of a check-in recallAfter from now.
// Paced (callRate > 0), it takes a slot on the voice channel like the
// planner's calls, at the first safe moment in the survivor's windows: a
// wave of unanswered calls must not come back as one burst beyond the
// account's calls per second. Without a slot within pacing's horizon, or
// without usable windows, it goes at recallAfter and the sender checks the
// windows as it does for every call.
func recallOpts(ctx context.Context, q *db.Queries, survivorID uuid.UUID, callRate Pace, now time.Time) (*river.InsertOpts, error) {
	at := now.Add(recallAfter)
	unpaced := &river.InsertOpts{ScheduledAt: at}
	if callRate <= 0 {
		return unpaced, nil
	}
	scheds, err := loadSchedules(ctx, q, []uuid.UUID{survivorID})
	if err != nil {
		return nil, err
	}
	sc, ok := scheds[survivorID]
	if !ok || len(sc.windows) == 0 {
		return unpaced, nil
	}
	safe, ok := schedule.NextSafe(sc.windows, sc.loc, at)
	if !ok {
		return unpaced, nil
	}
	s, err := newSlotter(ctx, q, "voice", callRate)
	if err != nil {
		return nil, err
	}
	slot, ok, err := s.take(ctx, safe, sc)
	if err != nil || !ok {
		return unpaced, err
	}
	if err := s.save(ctx); err != nil {
		return nil, err
	}
	return pacedOpts(slot, now), nil
}

// RequestCallback answers a survivor's missed call: one callback call,
// placed at once, and a flag that they asked for contact. A callback still
// to be placed, or placed in the last callbackDedupe, is not asked for
// again: three rings in a minute make one call. It reports whether a
// callback was scheduled. Run it in a transaction; the survivor's row is
// locked so concurrent rings see each other.
func RequestCallback(ctx context.Context, d *Deps, ins Inserter, tx pgx.Tx, survivorID uuid.UUID, now time.Time) (bool, error) {
	q := db.New(tx)
	if _, err := q.SurvivorGetForUpdate(ctx, survivorID); err != nil {
		return false, err
	}
	_, err := q.CheckinRecentCallback(ctx, db.CheckinRecentCallbackParams{SurvivorID: survivorID, Since: now.Add(-callbackDedupe)})
	if err == nil {
		return false, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return false, err
	}
	voice := "voice"
	ci, err := q.CheckinCreate(ctx, db.CheckinCreateParams{
		SurvivorID: survivorID, Kind: "callback", Channel: &voice, DueAt: now, State: "queued",
	})
	if err != nil {
		return false, fmt.Errorf("create callback: %w", err)
	}
	if _, err := ins.InsertTx(ctx, tx, CheckinSendArgs{CheckinID: ci.ID}, &river.InsertOpts{Priority: 1}); err != nil {
		return false, fmt.Errorf("enqueue callback: %w", err)
	}
	_, err = RaiseFlag(ctx, d, ins, tx, db.RiskFlagCreateParams{
		SurvivorID: survivorID, Kind: risk.KindContactRequested, Severity: string(d.rules().Signals.ContactRequested), CheckinID: &ci.ID, Now: now,
	})
	return true, err
}
