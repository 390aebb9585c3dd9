package handlers

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"saathi/db"
	"saathi/jobs/risk"
)

// alertRow is one alert on the dashboard.
type alertRow struct {
	AlertJSON
	Age      string
	Left     string // time to escalation; "" when none is due
	Overdue  bool
	KindText string // the UI message ID naming the kind
}

// kindText names alert kinds for people (UI message IDs).
var kindText = map[string]string{
	"help_now": "KindHelpNow", "duress": "KindDuress", "call_me": "KindCallMe", risk.KindDanger: "KindDanger",
	"opt_out": "KindOptOut", risk.KindUnreachable: "KindUnreachable", risk.KindInvalidNumber: "KindInvalidNumber",
	risk.KindConsentRestored: "KindConsentRestored", risk.KindContactRequested: "KindContactRequested", "free_text": "KindFreeText",
}

// roughly says a duration the way people do: 3 min, 2 h, 4 d.
func roughly(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "<1 min"
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h", int(d.Hours()))
	}
	return fmt.Sprintf("%d d", int(d.Hours()/24))
}

func (s *Server) alertRow(a AlertJSON) alertRow {
	now := s.now()
	r := alertRow{AlertJSON: a, Age: roughly(now.Sub(a.CreatedAt)), KindText: cmp.Or(kindText[a.Kind], "KindFreeText")}
	if a.Status == "open" && a.SLADueAt != nil {
		if left := a.SLADueAt.Sub(now); left > 0 {
			r.Left = roughly(left)
		} else {
			r.Overdue = true
		}
	}
	return r
}

// dashboard is a staff member's home: the open and acknowledged alerts
// they answer for (through the survivors' current assignment), urgent
// first, each with its age and the time left before it escalates.
func (s *Server) dashboard(c echo.Context) error {
	rows, err := s.myAlerts(c)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "dashboard", rows)
}

// dashboardLive is the dashboard's list alone: the page fetches it every
// few seconds, so a new alert appears without a reload.
func (s *Server) dashboardLive(c echo.Context) error {
	rows, err := s.myAlerts(c)
	if err != nil {
		return err
	}
	return s.renderFragment(c, "dashboard", "alertlist", rows)
}

// myAlerts lists the viewer's unresolved alerts, urgent first (audited:
// the list shows each case).
func (s *Server) myAlerts(c echo.Context) ([]alertRow, error) {
	ctx := c.Request().Context()
	v := viewerOf(c)
	q := s.queries()
	rows, err := q.AlertListScoped(ctx, db.AlertListScopedParams{ViewerRole: v.Role, ViewerID: v.ID, Lim: 200})
	if err != nil {
		return nil, err
	}
	var out []alertRow
	var survivors []uuid.UUID
	for _, a := range rows {
		if a.Status == "resolved" {
			continue
		}
		j, err := s.alertBase(ctx, q, a)
		if err != nil {
			return nil, err
		}
		out = append(out, s.alertRow(j))
		if !slices.Contains(survivors, a.SurvivorID) {
			survivors = append(survivors, a.SurvivorID)
		}
	}
	slices.SortStableFunc(out, func(a, b alertRow) int {
		if r := cmp.Compare(risk.Severity(b.Severity).Rank(), risk.Severity(a.Severity).Rank()); r != 0 {
			return r
		}
		return a.CreatedAt.Compare(b.CreatedAt)
	})
	if len(survivors) > 0 {
		if err := q.AuditLogCreateMany(ctx, db.AuditLogCreateManyParams{StaffID: &v.ID, Action: "alert.list", SurvivorIds: survivors}); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// alertPage shows one alert: the evidence (the survivor's words, the
// duress word masked), its history, and the actions. Audited as a read.
func (s *Server) alertPage(c echo.Context) error {
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
	if err := audit(ctx, q, viewerOf(c).ID, "alert.read", &a.SurvivorID, map[string]any{"alert_id": a.ID, "via": "dashboard"}); err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "alert", map[string]any{"Alert": s.alertRow(out), "Flash": c.QueryParam("done")})
}

// alertAct acknowledges or resolves an alert from its page, through the
// same rules as the API, and comes back to it.
func (s *Server) alertAct(c echo.Context) error {
	action := c.Param("action")
	var err error
	switch action {
	case "acknowledge":
		err = s.acknowledge(c, "dashboard")
	case "resolve":
		err = s.resolve(c, "dashboard", strings.TrimSpace(c.FormValue("note")))
	default:
		return errNotFound
	}
	if p, ok := err.(*Problem); ok && (p.Status == http.StatusConflict || p.Status == http.StatusUnprocessableEntity) {
		return c.Redirect(http.StatusSeeOther, "/dashboard/alerts/"+c.Param("id")+"?done="+map[int]string{409: "conflict", 422: "note"}[p.Status])
	}
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/dashboard/alerts/"+c.Param("id")+"?done="+action)
}
