package handlers

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/labstack/echo/v4"

	"saathi/db"
)

// cadencesPage lists the cadence templates and the survivors an admin may
// apply one to (admins only).
func (s *Server) cadencesPage(c echo.Context) error {
	ctx := c.Request().Context()
	q := s.queries()
	rows, err := q.CadenceTemplateList(ctx)
	if err != nil {
		return err
	}
	type templateView struct {
		ID     uuid.UUID
		Name   string
		Phases []PhaseJSON
	}
	templates := make([]templateView, 0, len(rows))
	for _, t := range rows {
		tv := templateView{ID: t.ID, Name: t.Name}
		if err := json.Unmarshal(t.Phases, &tv.Phases); err != nil {
			return err
		}
		templates = append(templates, tv)
	}
	v := viewerOf(c)
	list, err := q.SurvivorListScoped(ctx, db.SurvivorListScopedParams{ViewerRole: v.Role, ViewerID: v.ID, Lim: 500})
	if err != nil {
		return err
	}
	survivors := make([]SurvivorJSON, 0, len(list))
	for _, r := range list {
		j, err := s.survivorBase(r)
		if err != nil {
			return err
		}
		survivors = append(survivors, j)
	}
	return s.render(c, http.StatusOK, "cadences", map[string]any{
		"Templates": templates, "Survivors": survivors, "Done": c.QueryParam("done"), "Error": c.QueryParam("error"),
	})
}

// cadenceTemplateCreate stores a named cadence: phases as "every days ×
// times" pairs, e.g. every 7 days 12 times, then every 30 days 12 times.
func (s *Server) cadenceTemplateCreate(c echo.Context) error {
	var in CadenceJSON
	for i := range 3 {
		every, times := c.FormValue("every_"+strconv.Itoa(i)), c.FormValue("times_"+strconv.Itoa(i))
		if every == "" && times == "" {
			continue
		}
		e, err1 := strconv.Atoi(every)
		n, err2 := strconv.Atoi(times)
		if err1 != nil || err2 != nil {
			return c.Redirect(http.StatusSeeOther, "/dashboard/cadences?error=phases")
		}
		in.Phases = append(in.Phases, PhaseJSON{EveryDays: e, Times: n})
	}
	name := strings.TrimSpace(c.FormValue("name"))
	if _, err := parseCadence(&in); err != nil || name == "" || len(name) > 80 {
		return c.Redirect(http.StatusSeeOther, "/dashboard/cadences?error=phases")
	}
	raw, err := json.Marshal(in.Phases)
	if err != nil {
		return err
	}
	v := viewerOf(c)
	if _, err := s.queries().CadenceTemplateCreate(c.Request().Context(), db.CadenceTemplateCreateParams{Name: name, Phases: raw, CreatedBy: &v.ID}); err != nil {
		if db.IsUniqueViolation(err, "") {
			return c.Redirect(http.StatusSeeOther, "/dashboard/cadences?error=name")
		}
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/dashboard/cadences?done=created")
}

// cadenceTemplateApply gives the chosen survivors a template's cadence:
// each one's future check-ins are replaced (none sent twice), in one
// transaction, each audited.
func (s *Server) cadenceTemplateApply(c echo.Context) error {
	ctx := c.Request().Context()
	v := viewerOf(c)
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return errNotFound
	}
	tmpl, err := s.queries().CadenceTemplateGet(ctx, id)
	if err != nil {
		return db.NotFound(err)
	}
	var in CadenceJSON
	if err := json.Unmarshal(tmpl.Phases, &in.Phases); err != nil {
		return err
	}
	cad, err := parseCadence(&in)
	if err != nil {
		return err
	}
	form, err := c.FormParams()
	if err != nil {
		return err
	}
	var ids []uuid.UUID
	for _, raw := range form["survivor"] {
		sid, err := uuid.Parse(raw)
		if err != nil {
			return invalid("survivor", "not a survivor ID")
		}
		ids = append(ids, sid)
	}
	if len(ids) == 0 {
		return c.Redirect(http.StatusSeeOther, "/dashboard/cadences?error=survivors")
	}
	now := s.now()
	err = pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		q := db.New(tx)
		for _, sid := range ids {
			sv, err := q.SurvivorGetScoped(ctx, db.SurvivorGetScopedParams{ID: sid, ViewerRole: v.Role, ViewerID: v.ID})
			if err != nil {
				return errNotFound // not theirs, or not there: nothing changes
			}
			if _, err := q.SurvivorGetForUpdate(ctx, sv.ID); err != nil {
				return err
			}
			if err := replaceCadence(ctx, q, sv.ID, cad, now, &v.ID); err != nil {
				return err
			}
			if err := audit(ctx, q, v.ID, "cadence.update", &sv.ID, map[string]any{"template": tmpl.ID}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err // a survivor not theirs or not there: nothing changed
	}
	return c.Redirect(http.StatusSeeOther, "/dashboard/cadences?done="+strconv.Itoa(len(ids)))
}
