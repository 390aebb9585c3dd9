package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/labstack/echo/v4"

	"saathi/db"
	"saathi/db/crypt"
	"saathi/jobs"
)

// AlertJSON is an alert as staff see it.
type AlertJSON struct {
	ID              uuid.UUID       `json:"id"`
	SurvivorID      uuid.UUID       `json:"survivor_id"`
	CaseCode        string          `json:"case_code"`
	Reference       string          `json:"reference"`
	CaseworkerID    *uuid.UUID      `json:"caseworker_id"`
	Kind            string          `json:"kind"`
	Severity        string          `json:"severity"`
	Status          string          `json:"status"`
	EscalationLevel int32           `json:"escalation_level"`
	SLADueAt        *time.Time      `json:"sla_due_at,omitempty"`
	CreatedAt       time.Time       `json:"created_at"`
	AcknowledgedBy  *uuid.UUID      `json:"acknowledged_by,omitempty"`
	AcknowledgedAt  *time.Time      `json:"acknowledged_at,omitempty"`
	ResolvedBy      *uuid.UUID      `json:"resolved_by,omitempty"`
	ResolvedAt      *time.Time      `json:"resolved_at,omitempty"`
	Resolution      string          `json:"resolution,omitempty"`
	Evidence        *EvidenceJSON   `json:"evidence,omitempty"`
	Timeline        []AlertEventOut `json:"timeline,omitempty"`
}

// EvidenceJSON is what raised the alert: the reply (decrypted) and how it
// was understood.
type EvidenceJSON struct {
	Reply      string    `json:"reply,omitempty"`
	ReceivedAt time.Time `json:"received_at,omitempty"`
	jobs.Evidence
}

// AlertEventOut is one step in an alert's history.
type AlertEventOut struct {
	Kind      string          `json:"kind"`
	StaffID   *uuid.UUID      `json:"staff_id,omitempty"`
	Detail    json.RawMessage `json:"detail"`
	CreatedAt time.Time       `json:"created_at"`
}

func (s *Server) alertBase(ctx context.Context, q *db.Queries, a db.Alert) (AlertJSON, error) {
	out := AlertJSON{
		ID: a.ID, SurvivorID: a.SurvivorID, CaseworkerID: a.CaseworkerID, Kind: a.Kind, Severity: a.Severity,
		Status: a.Status, EscalationLevel: a.EscalationLevel, SLADueAt: a.SlaDueAt, CreatedAt: a.CreatedAt,
		AcknowledgedBy: a.AcknowledgedBy, AcknowledgedAt: a.AcknowledgedAt, ResolvedBy: a.ResolvedBy, ResolvedAt: a.ResolvedAt,
	}
	sv, err := q.SurvivorGet(ctx, a.SurvivorID)
	if err != nil {
		return out, err
	}
	out.CaseCode = sv.CaseCode
	if sv.ReferenceEnc != nil {
		if out.Reference, err = s.Keyring.OpenString(crypt.SurvivorReference, sv.ReferenceEnc); err != nil {
			return out, err
		}
	}
	if a.ResolutionEnc != nil {
		if out.Resolution, err = s.Keyring.OpenString(crypt.AlertResolution, a.ResolutionEnc); err != nil {
			return out, err
		}
	}
	return out, nil
}

// alertList lists the alerts the viewer may see, newest first:
// ?status=open|acknowledged|resolved, ?limit=1..200.
func (s *Server) alertList(c echo.Context) error {
	ctx := c.Request().Context()
	v := viewerOf(c)
	p := db.AlertListScopedParams{ViewerRole: v.Role, ViewerID: v.ID, Lim: 100}
	switch st := c.QueryParam("status"); st {
	case "":
	case "open", "acknowledged", "resolved":
		p.Status = &st
	default:
		return invalid("status", "must be open, acknowledged or resolved")
	}
	if l := c.QueryParam("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 200 {
			return invalid("limit", "must be 1 to 200")
		}
		p.Lim = int32(n)
	}
	var out []AlertJSON
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		q := db.New(tx)
		rows, err := q.AlertListScoped(ctx, p)
		if err != nil {
			return err
		}
		out = make([]AlertJSON, 0, len(rows))
		survivors := make([]uuid.UUID, 0, len(rows))
		for _, a := range rows {
			j, err := s.alertBase(ctx, q, a)
			if err != nil {
				return err
			}
			out = append(out, j)
			if !slices.Contains(survivors, a.SurvivorID) {
				survivors = append(survivors, a.SurvivorID)
			}
		}
		if len(survivors) == 0 {
			return nil
		}
		// A list shows each survivor's case and reference: on record.
		return q.AuditLogCreateMany(ctx, db.AuditLogCreateManyParams{StaffID: &v.ID, Action: "alert.list", SurvivorIds: survivors})
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"alerts": out})
}

func (s *Server) scopedAlert(c echo.Context, q *db.Queries) (db.Alert, error) {
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return db.Alert{}, errNotFound
	}
	v := viewerOf(c)
	a, err := q.AlertGetScoped(c.Request().Context(), db.AlertGetScopedParams{ID: id, ViewerRole: v.Role, ViewerID: v.ID})
	if errors.Is(err, pgx.ErrNoRows) {
		return db.Alert{}, errNotFound
	}
	return a, err
}

// alertGet shows one alert with its evidence (decrypted) and its timeline.
// Reading the evidence is reading the survivor's data: audited.
func (s *Server) alertGet(c echo.Context) error {
	ctx := c.Request().Context()
	q := s.queries()
	a, err := s.scopedAlert(c, q)
	if err != nil {
		return err
	}
	out, err := s.alertDetail(ctx, q, a)
	if err != nil {
		return err
	}
	if err := audit(ctx, q, viewerOf(c).ID, "alert.read", &a.SurvivorID, map[string]any{"alert_id": a.ID}); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

// alertDetail is an alert with its evidence (the survivor's words,
// decrypted, the duress word or code masked) and its history.
func (s *Server) alertDetail(ctx context.Context, q *db.Queries, a db.Alert) (AlertJSON, error) {
	out, err := s.alertBase(ctx, q, a)
	if err != nil {
		return out, err
	}
	flag, err := q.RiskFlagGet(ctx, a.FlagID)
	if err != nil {
		return out, err
	}
	if flag.ResponseID != nil {
		resp, err := q.ResponseGet(ctx, *flag.ResponseID)
		if err != nil {
			return out, err
		}
		ev := &EvidenceJSON{ReceivedAt: resp.CreatedAt, Evidence: jobs.Evidence{Intent: resp.Intent}}
		if resp.EvidenceEnc != nil {
			raw, err := s.Keyring.Open(crypt.ResponseEvidence, resp.EvidenceEnc)
			if err != nil {
				return out, err
			}
			if err := json.Unmarshal(raw, &ev.Evidence); err != nil {
				return out, err
			}
		}
		msg, err := q.MessageGet(ctx, resp.MessageID)
		if err != nil {
			return out, err
		}
		if msg.BodyEnc != nil {
			if ev.Reply, err = s.Keyring.OpenString(crypt.MessageBody, msg.BodyEnc); err != nil {
				return out, err
			}
			sv, err := q.SurvivorGet(ctx, a.SurvivorID)
			if err != nil {
				return out, err
			}
			redact, err := s.duressRedactor(sv)
			if err != nil {
				return out, err
			}
			ev.Reply = redact(ev.Reply)
		}
		out.Evidence = ev
	}
	events, err := q.AlertEventList(ctx, a.ID)
	if err != nil {
		return out, err
	}
	for _, e := range events {
		out.Timeline = append(out.Timeline, AlertEventOut{Kind: e.Kind, StaffID: e.StaffID, Detail: e.Detail, CreatedAt: e.CreatedAt})
	}
	return out, nil
}

func (s *Server) alertAcknowledge(c echo.Context) error {
	if err := s.acknowledge(c, "api"); err != nil {
		return err
	}
	return s.respondAlert(c, s.queries(), uuid.MustParse(c.Param("id")))
}

func (s *Server) alertResolve(c echo.Context) error {
	var in struct {
		Note string `json:"note"`
	}
	if _, err := s.scopedAlert(c, s.queries()); err != nil {
		return err // 404 before a body is read: nothing about the alert leaks
	}
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	if err := s.resolve(c, "api", strings.TrimSpace(in.Note)); err != nil {
		return err
	}
	return s.respondAlert(c, s.queries(), uuid.MustParse(c.Param("id")))
}

// acknowledge acknowledges the alert in the route (the viewer's to see),
// on record in its history and the audit log with how it was done: 409
// when it is not open any more.
func (s *Server) acknowledge(c echo.Context, via string) error {
	ctx := c.Request().Context()
	v := viewerOf(c)
	a, err := s.scopedAlert(c, s.queries())
	if err != nil {
		return err
	}
	now := s.now()
	err = pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		q := db.New(tx)
		if _, err := q.AlertAcknowledge(ctx, db.AlertAcknowledgeParams{ID: a.ID, StaffID: &v.ID, Now: &now}); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return &Problem{Status: http.StatusConflict, Message: "the alert is already " + a.Status}
			}
			return err
		}
		if err := jobs.AlertEvent(ctx, q, a.ID, "acknowledged", &v.ID, map[string]any{"via": via}, now); err != nil {
			return err
		}
		return audit(ctx, q, v.ID, "alert.acknowledge", &a.SurvivorID, map[string]any{"alert_id": a.ID, "via": via})
	})
	if err == nil {
		s.Metrics.AlertAcknowledged(a.Severity, via, now.Sub(a.CreatedAt))
	}
	return err
}

// resolve resolves the alert in the route with a note saying what was done
// (stored encrypted): 422 without one, 409 when it is resolved already.
func (s *Server) resolve(c echo.Context, via, note string) error {
	ctx := c.Request().Context()
	v := viewerOf(c)
	a, err := s.scopedAlert(c, s.queries())
	if err != nil {
		return err
	}
	if note == "" || utf8.RuneCountInString(note) > 4000 {
		return invalid("note", "what was done, 1 to 4000 characters")
	}
	now := s.now()
	return pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		q := db.New(tx)
		_, err := q.AlertResolve(ctx, db.AlertResolveParams{ID: a.ID, StaffID: &v.ID, Now: &now, ResolutionEnc: s.Keyring.SealString(crypt.AlertResolution, note)})
		if errors.Is(err, pgx.ErrNoRows) {
			return &Problem{Status: http.StatusConflict, Message: "the alert is already resolved"}
		}
		if err != nil {
			return err
		}
		if err := jobs.AlertEvent(ctx, q, a.ID, "resolved", &v.ID, map[string]any{"via": via}, now); err != nil {
			return err
		}
		return audit(ctx, q, v.ID, "alert.resolve", &a.SurvivorID, map[string]any{"alert_id": a.ID, "via": via})
	})
}

// respondAlert answers with the alert as it is now.
func (s *Server) respondAlert(c echo.Context, q *db.Queries, id uuid.UUID) error {
	ctx := c.Request().Context()
	a, err := q.AlertGet(ctx, id)
	if err != nil {
		return err
	}
	out, err := s.alertBase(ctx, q, a)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}
