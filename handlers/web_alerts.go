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
	"saathi/db/crypt"
	"saathi/jobs/risk"
)

// alertRow is one alert on the dashboard.
type alertRow struct {
	AlertJSON
	Age        string
	Left       string // time to escalation; "" when none is due
	Overdue    bool
	KindText   string // the UI message ID naming the kind
	Escalated  string // the UI message ID saying who it was escalated to; "" if not
	Caseworker string // whose case it is (team lists only)
}

// escalatedText says who an unacknowledged alert has reached (UI message
// IDs by escalation level).
var escalatedText = map[int32]string{1: "EscalatedSupervisor", 2: "EscalatedAdmins"}

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
	r := alertRow{AlertJSON: a, Age: roughly(now.Sub(a.CreatedAt)), KindText: cmp.Or(kindText[a.Kind], "KindFreeText"), Escalated: escalatedText[a.EscalationLevel]}
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
	rows, err := s.myAlerts(c, true)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "dashboard", rows)
}

// alertList is the dashboard's list: a caseworker's own alerts, or a
// supervisor's or admin's team's, each with its caseworker and how far it
// has escalated.
type alertList struct {
	Team   bool
	Alerts []alertRow
}

// dashboardLive is the dashboard's list alone: the page fetches it every
// few seconds, so a new alert appears without a reload.
func (s *Server) dashboardLive(c echo.Context) error {
	// Not audited: the list shows case codes and kinds, no personal data,
	// and a row every few seconds per open page would bury the audit log.
	// Opening an alert is audited.
	rows, err := s.myAlerts(c, false)
	if err != nil {
		return err
	}
	return s.renderFragment(c, "dashboard", "alertlist", rows)
}

// dashboardAlertsMax bounds the dashboard's list (the most severe and
// oldest shown first).
const dashboardAlertsMax = 500

// myAlerts lists the viewer's unresolved alerts, urgent first (audited
// when asked: the page lists each case).
func (s *Server) myAlerts(c echo.Context, audited bool) (alertList, error) {
	ctx := c.Request().Context()
	v := viewerOf(c)
	q := s.queries()
	rows, err := q.AlertListUnresolvedScoped(ctx, db.AlertListUnresolvedScopedParams{ViewerRole: v.Role, ViewerID: v.ID, Lim: dashboardAlertsMax})
	if err != nil {
		return alertList{}, err
	}
	list := alertList{Team: v.Role != RoleCaseworker}
	names := map[uuid.UUID]string{}
	var out []alertRow
	var survivors []uuid.UUID
	for _, a := range rows {
		j, err := s.alertBase(ctx, q, a)
		if err != nil {
			return list, err
		}
		r := s.alertRow(j)
		if list.Team && a.CaseworkerID != nil {
			if _, ok := names[*a.CaseworkerID]; !ok {
				st, err := q.StaffGet(ctx, *a.CaseworkerID)
				if err != nil {
					return list, err
				}
				if names[st.ID], err = s.Keyring.OpenString(crypt.StaffName, st.NameEnc); err != nil {
					return list, err
				}
			}
			r.Caseworker = names[*a.CaseworkerID]
		}
		out = append(out, r)
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
	if audited && len(survivors) > 0 {
		if err := q.AuditLogCreateMany(ctx, db.AuditLogCreateManyParams{StaffID: &v.ID, Action: "alert.list", SurvivorIds: survivors}); err != nil {
			return list, err
		}
	}
	list.Alerts = out
	return list, nil
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
	sv, err := q.SurvivorGet(ctx, a.SurvivorID)
	if err != nil {
		return err
	}
	// Times on the page are the survivor's, like their timeline's.
	loc := mustLocation(sv.Timezone)
	for i := range out.Timeline {
		out.Timeline[i].CreatedAt = out.Timeline[i].CreatedAt.In(loc)
	}
	data := map[string]any{"Alert": s.alertRow(out), "Flash": c.QueryParam("done"), "SurvivorLang": sv.Language}
	if sv.Status == "active" {
		// The number to call, and what happened with them lately.
		if data["Phone"], err = s.phoneView(c, sv, "/dashboard/alerts/"+a.ID.String()); err != nil {
			return err
		}
		tl, err := s.survivorTimeline(ctx, q, sv)
		if err != nil {
			return err
		}
		slices.Reverse(tl)
		data["Rows"] = s.timelineRows(s.pageLang(c), loc, tl[:min(len(tl), alertTimelineRows)])
		data["SurvivorID"] = sv.ID
	}
	if err := audit(ctx, q, viewerOf(c).ID, "alert.read", &a.SurvivorID, map[string]any{"alert_id": a.ID, "via": "dashboard"}); err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "alert", data)
}

// alertTimelineRows is how much of the survivor's timeline an alert's
// page shows: the latest; the survivor's page has it all.
const alertTimelineRows = 20

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
