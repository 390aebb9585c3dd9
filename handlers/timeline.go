package handlers

import (
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"time"

	"github.com/labstack/echo/v4"

	"saathi/db"
	"saathi/db/crypt"
	"saathi/jobs"
	"saathi/jobs/reply"
)

// duressRedactor opens a survivor's duress word and code, so message
// bodies shown to staff carry reply.DuressMarker (or "[duress code]") in
// their place: staff see that it was used, not what it is (a screen can be
// overlooked, and a caseworker who knows it could give it away).
func (s *Server) duressRedactor(sv db.Survivor) (func(string) string, error) {
	var word, code string
	var err error
	if sv.DuressEnc != nil {
		if word, err = s.Keyring.OpenString(crypt.SurvivorDuress, sv.DuressEnc); err != nil {
			return nil, err
		}
	}
	if sv.DuressCodeEnc != nil {
		if code, err = s.Keyring.OpenString(crypt.SurvivorDuressCode, sv.DuressCodeEnc); err != nil {
			return nil, err
		}
	}
	return func(body string) string {
		if reply.IsDuressCode(body, code) {
			return duressCodeMarker
		}
		return reply.RedactDuress(body, word)
	}, nil
}

// duressCodeMarker is what staff see in place of a duress code.
const duressCodeMarker = "[duress code]"

// TimelineEntry is one event in a survivor's history.
type TimelineEntry struct {
	At   time.Time      `json:"at"`
	Type string         `json:"type"` // checkin, message, response, flag, alert, consent
	Data map[string]any `json:"data"`
}

// timeline is everything that happened with a survivor, in order: check-ins,
// messages with their statuses, replies (decrypted) and what they meant,
// flags, alerts and consent changes. Reading it is audited.
func (s *Server) timeline(c echo.Context) error {
	ctx := c.Request().Context()
	q := s.queries()
	sv, err := s.scopedSurvivor(c, q)
	if err != nil {
		return err
	}
	out, err := s.survivorTimeline(ctx, q, sv)
	if err != nil {
		return err
	}
	if err := audit(ctx, q, viewerOf(c).ID, "survivor.timeline", &sv.ID, nil); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"survivor_id": sv.ID, "timeline": out})
}

// survivorTimeline is everything that happened with a survivor, in order
// (not audited: the caller is).
func (s *Server) survivorTimeline(ctx context.Context, q *db.Queries, sv db.Survivor) ([]TimelineEntry, error) {
	var out []TimelineEntry
	add := func(at time.Time, typ string, data map[string]any) {
		out = append(out, TimelineEntry{At: at.UTC(), Type: typ, Data: data})
	}

	checkins, err := q.CheckinListBySurvivor(ctx, sv.ID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	for _, ci := range checkins {
		// Future check-ins are the plan, not the history.
		if ci.State == "scheduled" && ci.DueAt.After(now) || ci.State == "cancelled" {
			continue
		}
		add(ci.DueAt, "checkin", map[string]any{"id": ci.ID, "kind": ci.Kind, "channel": ci.Channel, "state": ci.State, "reason": ci.Reason, "sent_at": ci.SentAt, "answered_at": ci.AnsweredAt})
	}
	msgs, err := q.MessageListBySurvivor(ctx, sv.ID)
	if err != nil {
		return nil, err
	}
	redact, err := s.duressRedactor(sv)
	if err != nil {
		return nil, err
	}
	for _, m := range msgs {
		d := map[string]any{"id": m.ID, "direction": m.Direction, "channel": m.Channel, "purpose": m.Purpose, "status": m.Status, "checkin_id": m.CheckinID, "segments": m.Segments}
		if m.ErrorCode != nil {
			d["error_code"] = *m.ErrorCode
		}
		if m.BodyEnc != nil {
			body, err := s.Keyring.OpenString(crypt.MessageBody, m.BodyEnc)
			if err != nil {
				return nil, err
			}
			d["body"] = redact(body)
		}
		add(m.CreatedAt, "message", d)
	}
	responses, err := q.ResponseListBySurvivor(ctx, sv.ID)
	if err != nil {
		return nil, err
	}
	for _, r := range responses {
		d := map[string]any{"message_id": r.MessageID, "checkin_id": r.CheckinID, "intent": r.Intent}
		if r.EvidenceEnc != nil {
			raw, err := s.Keyring.Open(crypt.ResponseEvidence, r.EvidenceEnc)
			if err != nil {
				return nil, err
			}
			var ev jobs.Evidence
			if err := json.Unmarshal(raw, &ev); err != nil {
				return nil, err
			}
			d["danger"], d["evidence"] = ev.Danger, ev.Evidence
		}
		add(r.CreatedAt, "response", d)
	}
	flags, err := q.RiskFlagListBySurvivor(ctx, sv.ID)
	if err != nil {
		return nil, err
	}
	for _, f := range flags {
		add(f.CreatedAt, "flag", map[string]any{"id": f.ID, "kind": f.Kind, "severity": f.Severity, "checkin_id": f.CheckinID})
	}
	alerts, err := q.AlertListBySurvivor(ctx, sv.ID)
	if err != nil {
		return nil, err
	}
	for _, a := range alerts {
		add(a.CreatedAt, "alert", map[string]any{"id": a.ID, "kind": a.Kind, "severity": a.Severity, "status": a.Status, "escalation_level": a.EscalationLevel, "acknowledged_at": a.AcknowledgedAt, "resolved_at": a.ResolvedAt})
	}
	consent, err := q.ConsentRecordList(ctx, sv.ID)
	if err != nil {
		return nil, err
	}
	for _, r := range consent {
		add(r.RecordedAt, "consent", map[string]any{"action": r.Action, "channels": r.Channels, "method": r.Method, "source": r.Source, "recorded_by": r.RecordedBy, "has_note": r.NoteEnc != nil})
	}
	slices.SortStableFunc(out, func(a, b TimelineEntry) int { return cmp.Compare(a.At.UnixNano(), b.At.UnixNano()) })
	return out, nil
}
