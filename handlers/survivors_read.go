package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/labstack/echo/v4"

	"saathi/db"
	"saathi/db/crypt"
	"saathi/db/phone"
	"saathi/jobs"
	"saathi/jobs/schedule"
)

// SurvivorJSON is a survivor as staff see it: the phone masked, the duress
// word never shown.
type SurvivorJSON struct {
	ID uuid.UUID `json:"id"`
	// CaseCode is the server-assigned code (SA-4821), the only identifier
	// that goes out in texts to staff phones.
	CaseCode       string              `json:"case_code"`
	Reference      string              `json:"reference"`
	Phone          string              `json:"phone"`
	Language       string              `json:"language"`
	Channels       []string            `json:"channels"`
	Timezone       string              `json:"timezone"`
	CaseworkerID   *uuid.UUID          `json:"caseworker_id"`
	HasDuressWord  bool                `json:"has_duress_word"`
	HasDuressCode  bool                `json:"has_duress_code"`
	EnrolledAt     time.Time           `json:"enrolled_at"`
	UpdatedAt      time.Time           `json:"updated_at"`
	ContactWindows []WindowJSON        `json:"contact_windows,omitempty"`
	Consent        map[string]bool     `json:"consent,omitempty"`
	ConsentHistory []ConsentRecordJSON `json:"consent_history,omitempty"`
	Cadence        *CadenceOutJSON     `json:"cadence,omitempty"`
	NextCheckinDue *time.Time          `json:"next_checkin_due,omitempty"`
}

// ConsentRecordJSON is one entry of the consent history.
type ConsentRecordJSON struct {
	Action     string     `json:"action"`
	Channels   []string   `json:"channels"`
	Method     string     `json:"method"`
	Source     string     `json:"source"`
	RecordedBy *uuid.UUID `json:"recorded_by,omitempty"`
	RecordedAt time.Time  `json:"recorded_at"`
	Note       string     `json:"note,omitempty"`
}

// CadenceOutJSON is the stored cadence.
type CadenceOutJSON struct {
	Phases   json.RawMessage `json:"phases"`
	StartsAt time.Time       `json:"starts_at"`
	Version  int32           `json:"version"`
}

// survivorBase decrypts the fields every view shows.
func (s *Server) survivorBase(sv db.Survivor) (SurvivorJSON, error) {
	ref, err := s.Keyring.OpenString(crypt.SurvivorReference, sv.ReferenceEnc)
	if err != nil {
		return SurvivorJSON{}, err
	}
	ph, err := s.Keyring.OpenString(crypt.SurvivorPhone, sv.PhoneEnc)
	if err != nil {
		return SurvivorJSON{}, err
	}
	return SurvivorJSON{
		ID: sv.ID, CaseCode: sv.CaseCode, Reference: ref, Phone: phone.Mask(ph), Language: sv.Language, Channels: sv.Channels,
		Timezone: sv.Timezone, CaseworkerID: sv.CaseworkerID, HasDuressWord: sv.DuressEnc != nil, HasDuressCode: sv.DuressCodeEnc != nil,
		EnrolledAt: sv.EnrolledAt, UpdatedAt: sv.UpdatedAt,
	}, nil
}

// loadSurvivorJSON builds the full view of one survivor.
func (s *Server) loadSurvivorJSON(ctx context.Context, q *db.Queries, id uuid.UUID, full bool) (SurvivorJSON, error) {
	sv, err := q.SurvivorGet(ctx, id)
	if err != nil {
		return SurvivorJSON{}, db.NotFound(err)
	}
	out, err := s.survivorBase(sv)
	if err != nil || !full {
		return out, err
	}
	windows, err := q.ContactWindowList(ctx, id)
	if err != nil {
		return out, err
	}
	for _, w := range windows {
		out.ContactWindows = append(out.ContactWindows, WindowJSON{
			Days: w.Days, Start: schedule.Clock(w.StartMinute).String(), End: schedule.Clock(w.EndMinute).String(),
		})
	}
	if out.Consent, err = currentConsent(ctx, q, id); err != nil {
		return out, err
	}
	history, err := q.ConsentRecordList(ctx, id)
	if err != nil {
		return out, err
	}
	for _, r := range history {
		rec := ConsentRecordJSON{
			Action: r.Action, Channels: r.Channels, Method: r.Method, Source: r.Source, RecordedBy: r.RecordedBy, RecordedAt: r.RecordedAt,
		}
		if r.NoteEnc != nil {
			if rec.Note, err = s.Keyring.OpenString(crypt.ConsentNote, r.NoteEnc); err != nil {
				return out, err
			}
		}
		out.ConsentHistory = append(out.ConsentHistory, rec)
	}
	cad, err := q.CadenceGet(ctx, id)
	switch {
	case err == nil:
		out.Cadence = &CadenceOutJSON{Phases: cad.Phases, StartsAt: cad.StartsAt, Version: cad.Version}
	case !errors.Is(db.NotFound(err), db.ErrNotFound):
		return out, err
	}
	next, err := q.CheckinNextForSurvivor(ctx, id)
	switch {
	case err == nil:
		out.NextCheckinDue = &next.DueAt
	case !errors.Is(db.NotFound(err), db.ErrNotFound):
		return out, err
	}
	return out, nil
}

// currentConsent says, per channel, whether the latest consent record
// gives consent.
func currentConsent(ctx context.Context, q *db.Queries, id uuid.UUID) (map[string]bool, error) {
	out, err := jobs.CurrentConsent(ctx, q, id)
	if err != nil {
		return nil, err
	}
	for _, ch := range allChannels {
		if _, ok := out[ch]; !ok {
			out[ch] = false // listed, so the API always shows every channel
		}
	}
	return out, nil
}

// scopedSurvivor loads a survivor the viewer may see; anyone else's is a
// 404, exactly like a survivor that does not exist.
func (s *Server) scopedSurvivor(c echo.Context, q *db.Queries) (db.Survivor, error) {
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return db.Survivor{}, errNotFound
	}
	v := viewerOf(c)
	sv, err := q.SurvivorGetScoped(c.Request().Context(), db.SurvivorGetScopedParams{ID: id, ViewerRole: v.Role, ViewerID: v.ID})
	if err != nil {
		if errors.Is(db.NotFound(err), db.ErrNotFound) {
			return db.Survivor{}, errNotFound
		}
		return db.Survivor{}, err
	}
	return sv, nil
}

func (s *Server) survivorGet(c echo.Context) error {
	ctx := c.Request().Context()
	q := s.queries()
	sv, err := s.scopedSurvivor(c, q)
	if err != nil {
		return err
	}
	out, err := s.loadSurvivorJSON(ctx, q, sv.ID, true)
	if err != nil {
		return err
	}
	if err := audit(ctx, q, viewerOf(c).ID, "survivor.read", &sv.ID, nil); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

// survivorList pages through the survivors the viewer may see, by ID:
// ?limit=N (1..100, default 50) and ?after=<last ID of the previous page>.
func (s *Server) survivorList(c echo.Context) error {
	ctx := c.Request().Context()
	v := viewerOf(c)
	limit := 50
	if l := c.QueryParam("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 100 {
			return invalid("limit", "must be 1 to 100")
		}
		limit = n
	}
	params := db.SurvivorListScopedParams{ViewerRole: v.Role, ViewerID: v.ID, Lim: int32(limit)}
	if a := c.QueryParam("after"); a != "" {
		id, err := uuid.Parse(a)
		if err != nil {
			return invalid("after", "not a survivor ID")
		}
		params.After = &id
	}
	var out []SurvivorJSON
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		q := db.New(tx)
		rows, err := q.SurvivorListScoped(ctx, params)
		if err != nil {
			return err
		}
		ids := make([]uuid.UUID, 0, len(rows))
		out = make([]SurvivorJSON, 0, len(rows))
		for _, r := range rows {
			j, err := s.survivorBase(r)
			if err != nil {
				return err
			}
			out = append(out, j)
			ids = append(ids, r.ID)
		}
		if len(ids) == 0 {
			return nil
		}
		return q.AuditLogCreateMany(ctx, db.AuditLogCreateManyParams{StaffID: &v.ID, Action: "survivor.list", SurvivorIds: ids})
	})
	if err != nil {
		return err
	}
	resp := map[string]any{"survivors": out}
	if len(out) == limit {
		resp["next_after"] = out[len(out)-1].ID
	}
	return c.JSON(http.StatusOK, resp)
}
