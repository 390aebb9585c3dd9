package handlers

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"saathi/db"
)

// languageNames are the survivors' languages, each in its own script.
var languageNames = map[string]string{"en": "English", "hi": "हिन्दी", "pa": "ਪੰਜਾਬੀ", "gu": "ગુજરાતી", "ur": "اردو"}

// cadencePresets are the cadences the enrolment form offers.
var cadencePresets = map[string]CadenceJSON{
	"taper":   {Phases: []PhaseJSON{{EveryDays: 7, Times: 12}, {EveryDays: 30, Times: 12}}},
	"weekly":  {Phases: []PhaseJSON{{EveryDays: 7, Times: 12}}},
	"monthly": {Phases: []PhaseJSON{{EveryDays: 30, Times: 12}}},
}

// survivorsPage lists the survivors the viewer may see (audited, like the
// API's list).
func (s *Server) survivorsPage(c echo.Context) error {
	ctx := c.Request().Context()
	v := viewerOf(c)
	q := s.queries()
	rows, err := q.SurvivorListScoped(ctx, db.SurvivorListScopedParams{ViewerRole: v.Role, ViewerID: v.ID, Lim: 200})
	if err != nil {
		return err
	}
	out := make([]SurvivorJSON, 0, len(rows))
	ids := make([]uuid.UUID, 0, len(rows))
	for _, r := range rows {
		j, err := s.survivorBase(r)
		if err != nil {
			return err
		}
		out = append(out, j)
		ids = append(ids, r.ID)
	}
	if len(ids) > 0 {
		if err := q.AuditLogCreateMany(ctx, db.AuditLogCreateManyParams{StaffID: &v.ID, Action: "survivor.list", SurvivorIds: ids}); err != nil {
			return err
		}
	}
	return s.render(c, http.StatusOK, "survivors", map[string]any{"Survivors": out, "CanEnrol": v.Role != RoleCaseworker, "Flash": c.QueryParam("done")})
}

// survivorPage shows one survivor: their details, consent, and the whole
// timeline; check-ins are asked for and details changed from here.
// Audited as a read.
func (s *Server) survivorPage(c echo.Context) error {
	sv, err := s.scopedSurvivor(c, s.queries())
	if err != nil {
		return err
	}
	return s.renderSurvivor(c, sv, http.StatusOK, "", nil)
}

// survivorCheckin asks for an ad-hoc check-in from the survivor's page.
func (s *Server) survivorCheckin(c echo.Context) error {
	sv, err := s.scopedSurvivor(c, s.queries())
	if err != nil {
		return err
	}
	back := "/dashboard/survivors/" + sv.ID.String()
	if _, err := s.requestCheckin(c, sv, c.FormValue("channel")); err != nil {
		var p *Problem
		if errors.As(err, &p) && p.Status < 500 {
			return c.Redirect(http.StatusSeeOther, back+"?error=checkin")
		}
		return err
	}
	return c.Redirect(http.StatusSeeOther, back+"?done=checkin")
}

// enrolForm is the enrolment form's state: what was typed, and the
// problem with it.
type enrolForm struct {
	Values      map[string]string
	Checked     map[string]bool
	Languages   map[string]string
	Caseworkers []StaffJSON
	Error       string
	Field       string
}

// enrolPage shows the enrolment form (admins and supervisors).
func (s *Server) enrolPage(c echo.Context) error {
	form, err := s.newEnrolForm(c)
	if err != nil {
		return err
	}
	form.Values["timezone"] = DefaultTimezone
	form.Values["start"], form.Values["end"] = "10:00", "17:00"
	form.Values["recorded_at"] = s.now().In(mustLocation(DefaultTimezone)).Format("2006-01-02T15:04")
	for _, d := range []string{"mon", "tue", "wed", "thu", "fri"} {
		form.Checked["day_"+d] = true
	}
	form.Checked["ch_sms"], form.Checked["consent_sms"] = true, true
	return s.render(c, http.StatusOK, "enrol", form)
}

func (s *Server) newEnrolForm(c echo.Context) (enrolForm, error) {
	v := viewerOf(c)
	rows, err := s.queries().StaffList(c.Request().Context())
	if err != nil {
		return enrolForm{}, err
	}
	form := enrolForm{Values: map[string]string{}, Checked: map[string]bool{}, Languages: languageNames}
	for _, st := range rows {
		if st.Role == RoleAdmin || (v.Role == RoleSupervisor && st.ID != v.ID && (st.SupervisorID == nil || *st.SupervisorID != v.ID)) {
			continue
		}
		j, err := s.staffJSON(st)
		if err != nil {
			return enrolForm{}, err
		}
		form.Caseworkers = append(form.Caseworkers, j)
	}
	return form, nil
}

// enrolSubmit enrols a survivor from the form, through the same checks as
// the API; a problem shows the form again, filled in, naming the field.
func (s *Server) enrolSubmit(c echo.Context) error {
	form, err := s.newEnrolForm(c)
	if err != nil {
		return err
	}
	fields := []string{"reference", "phone", "language", "timezone", "start", "end", "caseworker_id", "duress_word", "duress_code", "method", "recorded_at", "cadence"}
	for _, f := range fields {
		form.Values[f] = strings.TrimSpace(c.FormValue(f))
	}
	checked := func(prefix string, names ...string) []string {
		var out []string
		for _, n := range names {
			if c.FormValue(prefix+n) != "" {
				form.Checked[prefix+n] = true
				out = append(out, n)
			}
		}
		return out
	}
	days := checked("day_", "mon", "tue", "wed", "thu", "fri", "sat", "sun")
	channels := checked("ch_", "sms", "voice")
	consented := checked("consent_", "sms", "voice")

	in := SurvivorInput{
		Reference: ptr(form.Values["reference"]), Phone: ptr(form.Values["phone"]), Language: ptr(form.Values["language"]),
		Channels: channels, Timezone: ptr(form.Values["timezone"]), CaseworkerID: ptr(form.Values["caseworker_id"]),
		ContactWindows: []WindowJSON{{Days: days, Start: form.Values["start"], End: form.Values["end"]}},
		Consent:        &ConsentInput{Channels: consented, Method: form.Values["method"]},
	}
	if in.Channels == nil {
		in.Channels = []string{}
	}
	if w := form.Values["duress_word"]; w != "" {
		in.DuressWord = &w
	}
	if code := form.Values["duress_code"]; code != "" {
		in.DuressCode = &code
	}
	if cad, ok := cadencePresets[form.Values["cadence"]]; ok {
		in.Cadence = &cad
	}
	// The form's local time is the survivor's time zone.
	if loc, err := time.LoadLocation(form.Values["timezone"]); err == nil {
		if t, err := time.ParseInLocation("2006-01-02T15:04", form.Values["recorded_at"], loc); err == nil {
			in.Consent.RecordedAt = t.Format(time.RFC3339)
		}
	}
	id, err := s.enrol(c, in)
	var p *Problem
	if errors.As(err, &p) && p.Status < 500 {
		form.Error, form.Field = p.Message, p.Field
		return s.render(c, http.StatusUnprocessableEntity, "enrol", form)
	}
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/dashboard/survivors/"+id.String()+"?done=enrolled")
}

func mustLocation(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		return time.UTC
	}
	return loc
}
