package handlers

import (
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"saathi/db"
	"saathi/db/crypt"
	"saathi/db/phone"
)

// The survivor page's forms: change contact details, consent, the cadence;
// reveal the number to call; erase (admins). Each goes through the same
// function as the API, so the rules, the audit and the errors are the same.

// revealFor is how long a revealed number stays shown to the staff member
// who revealed it, in that session only.
const revealFor = 10 * time.Minute

func revealKey(id uuid.UUID) string { return "reveal:" + id.String() }

// phoneView is a survivor's number on a page: masked, unless the viewer
// revealed it (audited) in this session in the last few minutes; then it
// is a tel: link.
type phoneView struct {
	SurvivorID uuid.UUID
	Masked     string
	Full       string       // "" until revealed
	Tel        template.URL // tel:<Full>, a number Saathi checked (E.164)
	Back       string       // the page to come back to after revealing
}

func (s *Server) phoneView(c echo.Context, sv db.Survivor, back string) (phoneView, error) {
	full, err := s.Keyring.OpenString(crypt.SurvivorPhone, sv.PhoneEnc)
	if err != nil {
		return phoneView{}, err
	}
	pv := phoneView{SurvivorID: sv.ID, Masked: phone.Mask(full), Back: back}
	// Kept as Unix seconds: the session codec (gob) knows no time.Time.
	if until := s.sessions.GetInt64(c.Request().Context(), revealKey(sv.ID)); s.now().Unix() < until {
		pv.Full, pv.Tel = full, template.URL("tel:"+full)
	}
	return pv, nil
}

// revealPhone shows a survivor's full number to the staff member asking,
// for a few minutes, and puts it on record: a number is the most dangerous
// thing a screen can show.
func (s *Server) revealPhone(c echo.Context) error {
	ctx := c.Request().Context()
	q := s.queries()
	sv, err := s.scopedSurvivor(c, q)
	if err != nil {
		return err
	}
	back := safeNext(c.FormValue("back"))
	if err := audit(ctx, q, viewerOf(c).ID, "survivor.phone_reveal", &sv.ID, map[string]any{"via": "dashboard", "page": back}); err != nil {
		return err
	}
	s.sessions.Put(ctx, revealKey(sv.ID), s.now().Add(revealFor).Unix())
	return c.Redirect(http.StatusSeeOther, back)
}

// survivorFlash says what was just done on the survivor page (?done=), as
// UI message IDs.
var survivorFlash = map[string]string{
	"enrolled": "Enrolled", "checkin": "CheckinAsked", "edit": "Saved", "consent": "ConsentRecorded", "cadence": "CadenceChanged",
}

// windowRow is one safe window on the change form.
type windowRow struct {
	Index      int
	Days       map[string]bool
	Start, End string
}

// windowRows is how many safe windows the form offers.
const windowRows = 3

// survivorView is the survivor page: details, forms, timeline.
type survivorView struct {
	Survivor  SurvivorJSON
	Rows      []timelineRow // the timeline, newest first
	Phone     phoneView
	Next      string
	Flash     string
	Error     string // the problem with the form just sent
	Field     string // the field it names
	Form      string // which form it was: edit, consent, cadence
	Windows   []windowRow
	Languages map[string]string
	Cadences  []cadenceChoice
	CanPlan   bool // change the cadence: admins and supervisors
	CanErase  bool // admins
}

// cadenceChoice is a cadence the page offers: a preset or an admin's
// template.
type cadenceChoice struct {
	Value   string
	NameID  string // a preset's UI message ID
	Name    string // a template's name, as its admin wrote it
	Cadence CadenceJSON
}

// renderSurvivor shows a survivor's page (audited as a read), with the
// problem of the form just sent, if any.
func (s *Server) renderSurvivor(c echo.Context, sv db.Survivor, status int, form string, problem *Problem) error {
	ctx := c.Request().Context()
	q := s.queries()
	v := viewerOf(c)
	out, err := s.loadSurvivorJSON(ctx, q, sv.ID, true)
	if err != nil {
		return err
	}
	tl, err := s.survivorTimeline(ctx, q, sv)
	if err != nil {
		return err
	}
	slices.Reverse(tl) // newest first on a page
	if err := audit(ctx, q, v.ID, "survivor.read", &sv.ID, map[string]any{"via": "dashboard"}); err != nil {
		return err
	}
	view := survivorView{
		Survivor: out, Rows: s.timelineRows(s.pageLang(c), mustLocation(sv.Timezone), tl), Flash: survivorFlash[c.QueryParam("done")], Error: c.QueryParam("error"),
		Languages: languageNames, CanPlan: v.Role != RoleCaseworker, CanErase: v.Role == RoleAdmin, Form: form,
	}
	if problem != nil {
		view.Error, view.Field = problem.Message, problem.Field
	}
	if out.NextCheckinDue != nil {
		// In the survivor's own time: the windows are theirs.
		view.Next = out.NextCheckinDue.In(mustLocation(sv.Timezone)).Format("Mon 02 Jan 15:04 MST")
	}
	if view.Phone, err = s.phoneView(c, sv, "/dashboard/survivors/"+sv.ID.String()); err != nil {
		return err
	}
	for i := range windowRows {
		row := windowRow{Index: i, Days: map[string]bool{}}
		if i < len(out.ContactWindows) {
			w := out.ContactWindows[i]
			for _, d := range w.Days {
				row.Days[d] = true
			}
			row.Start, row.End = w.Start, w.End
		}
		view.Windows = append(view.Windows, row)
	}
	if view.CanPlan {
		if view.Cadences, err = s.cadenceChoices(c); err != nil {
			return err
		}
	}
	return s.render(c, status, "survivor", view)
}

// cadenceChoices are the presets, then the admins' templates.
func (s *Server) cadenceChoices(c echo.Context) ([]cadenceChoice, error) {
	out := []cadenceChoice{
		{Value: "taper", NameID: "CadenceTaper", Cadence: cadencePresets["taper"]},
		{Value: "weekly", NameID: "CadenceWeekly", Cadence: cadencePresets["weekly"]},
		{Value: "monthly", NameID: "CadenceMonthly", Cadence: cadencePresets["monthly"]},
	}
	rows, err := s.queries().CadenceTemplateList(c.Request().Context())
	if err != nil {
		return nil, err
	}
	for _, t := range rows {
		var cad CadenceJSON
		if err := json.Unmarshal(t.Phases, &cad.Phases); err != nil {
			return nil, err
		}
		out = append(out, cadenceChoice{Value: t.ID.String(), Name: t.Name, Cadence: cad})
	}
	return out, nil
}

// survivorForm handles the survivor page's forms. A problem shows the page
// again naming the field, with nothing changed.
func (s *Server) survivorForm(c echo.Context) error {
	sv, err := s.scopedSurvivor(c, s.queries())
	if err != nil {
		return err
	}
	form := c.Param("form")
	switch form {
	case "edit":
		err = s.updateSurvivor(c, sv, editInput(c))
	case "consent":
		err = s.recordConsent(c, sv, consentInput(c, sv.Timezone))
	case "cadence":
		if viewerOf(c).Role == RoleCaseworker {
			return errForbidden
		}
		var choices []cadenceChoice
		if choices, err = s.cadenceChoices(c); err != nil {
			return err
		}
		i := slices.IndexFunc(choices, func(ch cadenceChoice) bool { return ch.Value == c.FormValue("cadence") })
		if i < 0 {
			err = invalid("cadence", "choose one of the cadences")
			break
		}
		err = s.setCadence(c, sv, choices[i].Cadence)
	default:
		return errNotFound
	}
	var p *Problem
	if errors.As(err, &p) && p.Status < 500 && p.Status != http.StatusNotFound && p.Status != http.StatusForbidden {
		return s.renderSurvivor(c, sv, http.StatusUnprocessableEntity, form, p)
	}
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/dashboard/survivors/"+sv.ID.String()+"?done="+form)
}

// editInput reads the change form: language, channels, safe windows.
func editInput(c echo.Context) SurvivorInput {
	in := SurvivorInput{Language: ptr(c.FormValue("language")), Channels: []string{}, ContactWindows: []WindowJSON{}}
	for _, ch := range allChannels {
		if c.FormValue("ch_"+ch) != "" {
			in.Channels = append(in.Channels, ch)
		}
	}
	for i := range windowRows {
		n := strconv.Itoa(i)
		w := WindowJSON{Days: []string{}, Start: strings.TrimSpace(c.FormValue("start_" + n)), End: strings.TrimSpace(c.FormValue("end_" + n))}
		for _, d := range weekdays {
			if c.FormValue("day_"+n+"_"+d) != "" {
				w.Days = append(w.Days, d)
			}
		}
		if len(w.Days) == 0 && w.Start == "" && w.End == "" {
			continue // an empty row
		}
		in.ContactWindows = append(in.ContactWindows, w)
	}
	return in
}

// consentInput reads the consent form; its time is the survivor's.
func consentInput(c echo.Context, timezone string) ConsentInput {
	in := ConsentInput{Action: c.FormValue("action"), Channels: []string{}, Method: c.FormValue("method"), Note: c.FormValue("note")}
	for _, ch := range allChannels {
		if c.FormValue("consent_"+ch) != "" {
			in.Channels = append(in.Channels, ch)
		}
	}
	if raw := c.FormValue("recorded_at"); raw != "" {
		t, err := time.ParseInLocation("2006-01-02T15:04", raw, mustLocation(timezone))
		if err != nil {
			in.RecordedAt = raw // refused by the same check as the API's
		} else {
			in.RecordedAt = t.Format(time.RFC3339)
		}
	}
	return in
}

// weekdays in the order the forms show them.
var weekdays = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}

// erasePage asks an admin to type the case code before erasing.
func (s *Server) erasePage(c echo.Context) error {
	sv, err := s.scopedSurvivor(c, s.queries())
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "erase", map[string]any{"ID": sv.ID, "CaseCode": sv.CaseCode})
}

// eraseSubmit erases a survivor's personal data once the admin typed their
// case code exactly; anything else changes nothing.
func (s *Server) eraseSubmit(c echo.Context) error {
	sv, err := s.scopedSurvivor(c, s.queries())
	if err != nil {
		return err
	}
	if !strings.EqualFold(strings.TrimSpace(c.FormValue("confirm")), sv.CaseCode) {
		return s.render(c, http.StatusUnprocessableEntity, "erase", map[string]any{"ID": sv.ID, "CaseCode": sv.CaseCode, "Wrong": true})
	}
	if err := s.eraseSurvivor(c, sv); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/dashboard/survivors?done=erased")
}
