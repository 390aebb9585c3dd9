package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/labstack/echo/v4"

	"saathi/db"
	"saathi/db/crypt"
	"saathi/db/phone"
	"saathi/jobs"
	"saathi/jobs/reply"
	"saathi/jobs/schedule"
	"saathi/locales"
)

// Channels Saathi can contact a survivor on.
var allChannels = []string{"sms", "voice"}

// DefaultTimezone is where the first deployments are.
const DefaultTimezone = "Asia/Kolkata"

// DefaultCadence tapers: weekly for twelve weeks, then monthly for a year.
var DefaultCadence = schedule.Cadence{Phases: []schedule.Phase{{EveryDays: 7, Times: 12}, {EveryDays: 30, Times: 12}}}

// consentMethods are the ways staff record a survivor's consent.
var consentMethods = []string{"verbal", "written", "electronic", "thumbprint", "phone_call", "in_person"}

// restoreMethods are the ways staff may give consent back after the
// survivor withdrew it themselves: only by speaking with them.
var restoreMethods = []string{"in_person", "phone_call"}

// WindowJSON is a contact window on the wire.
type WindowJSON struct {
	Days  []string `json:"days"`
	Start string   `json:"start"`
	End   string   `json:"end"`
}

// PhaseJSON is a cadence phase on the wire.
type PhaseJSON struct {
	EveryDays int `json:"every_days"`
	Times     int `json:"times"`
}

// CadenceJSON is a cadence on the wire.
type CadenceJSON struct {
	Phases []PhaseJSON `json:"phases"`
}

// ConsentInput records consent given or withdrawn.
type ConsentInput struct {
	Action     string   `json:"action,omitempty"`
	Channels   []string `json:"channels"`
	Method     string   `json:"method"`
	RecordedAt string   `json:"recorded_at,omitempty"`
	// Note says why (stored encrypted); required when staff give back
	// consent the survivor withdrew themselves.
	Note string `json:"note,omitempty"`
}

// SurvivorInput enrols (POST) or changes (PATCH: only the fields present) a
// survivor.
type SurvivorInput struct {
	Reference      *string      `json:"reference"`
	Phone          *string      `json:"phone"`
	Language       *string      `json:"language"`
	Channels       []string     `json:"channels"`
	Timezone       *string      `json:"timezone"`
	ContactWindows []WindowJSON `json:"contact_windows"`
	CaseworkerID   *string      `json:"caseworker_id"`
	DuressWord     *string      `json:"duress_word"`
	// DuressCode is typed on a call's keypad and ended with # (4 to 6
	// digits); "" removes it. Never shown back.
	DuressCode *string       `json:"duress_code"`
	Consent    *ConsentInput `json:"consent"`
	Cadence    *CadenceJSON  `json:"cadence"`
}

// survivorSpec is validated survivor input.
type survivorSpec struct {
	reference, phone, language, timezone string
	channels                             []string
	windows                              []schedule.ContactWindow
	caseworkerID                         uuid.UUID
	duress                               *string // nil: unchanged; "": none
	duressCode                           *string // nil: unchanged; "": none
	consent                              *consentSpec
	cadence                              *schedule.Cadence
}

type consentSpec struct {
	action, method, note string
	channels             []string
	recordedAt           time.Time
}

func parseReference(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" || utf8.RuneCountInString(s) > 64 {
		return "", invalid("reference", "must be 1 to 64 characters")
	}
	return s, nil
}

// errPhoneUnusable answers a malformed number and a number already
// enrolled alike, word for word: trying numbers must not tell anyone
// whether a person is enrolled.
var errPhoneUnusable = invalid("phone", "not a usable phone number: a valid mobile number (E.164, or 10 digits for India) not already enrolled")

func parsePhone(s string) (string, error) {
	e164, err := phone.Normalize(s)
	if err != nil {
		return "", errPhoneUnusable
	}
	return e164, nil
}

func parseLanguage(s string) (string, error) {
	if !locales.IsSupported(s) {
		return "", invalid("language", "must be one of %s", strings.Join(locales.Supported, ", "))
	}
	return s, nil
}

func parseChannels(field string, chs []string) ([]string, error) {
	if len(chs) == 0 {
		return nil, invalid(field, "at least one of sms, voice")
	}
	out := make([]string, 0, len(chs))
	for i, ch := range chs {
		if !slices.Contains(allChannels, ch) {
			return nil, invalid(fmt.Sprintf("%s[%d]", field, i), "must be sms or voice")
		}
		if slices.Contains(out, ch) {
			return nil, invalid(fmt.Sprintf("%s[%d]", field, i), "listed twice")
		}
		out = append(out, ch)
	}
	slices.Sort(out)
	return out, nil
}

func parseTimezone(s string) (string, error) {
	if s == "" || s == "Local" {
		return "", invalid("timezone", "must be an IANA time zone such as Asia/Kolkata")
	}
	if _, err := time.LoadLocation(s); err != nil {
		return "", invalid("timezone", "unknown time zone %q", s)
	}
	return s, nil
}

func parseWindows(in []WindowJSON) ([]schedule.ContactWindow, error) {
	if len(in) == 0 {
		return nil, invalid("contact_windows", "at least one safe contact window")
	}
	ws := make([]schedule.ContactWindow, len(in))
	for i, w := range in {
		for j, d := range w.Days {
			day, err := schedule.ParseDay(d)
			if err != nil {
				return nil, invalid(fmt.Sprintf("contact_windows[%d].days[%d]", i, j), "unknown day %q: use mon, tue, wed, thu, fri, sat, sun", d)
			}
			ws[i].Days = append(ws[i].Days, day)
		}
		var err error
		if ws[i].Start, err = schedule.ParseClock(w.Start); err != nil {
			return nil, invalid(fmt.Sprintf("contact_windows[%d].start", i), "must be a time HH:MM")
		}
		if ws[i].End, err = schedule.ParseClock(w.End); err != nil {
			return nil, invalid(fmt.Sprintf("contact_windows[%d].end", i), "must be a time HH:MM")
		}
	}
	if err := schedule.ValidateWindows(ws); err != nil {
		return nil, fieldProblem(err)
	}
	return ws, nil
}

func parseCadence(in *CadenceJSON) (schedule.Cadence, error) {
	var c schedule.Cadence
	for _, p := range in.Phases {
		c.Phases = append(c.Phases, schedule.Phase{EveryDays: p.EveryDays, Times: p.Times})
	}
	if err := c.Validate(); err != nil {
		return c, fieldProblem(err)
	}
	return c, nil
}

// fieldProblem turns a domain *schedule.FieldError into a 422.
func fieldProblem(err error) error {
	var fe *schedule.FieldError
	if errors.As(err, &fe) {
		return invalid(fe.Field, "%s", fe.Message)
	}
	return err
}

// parseDuressCode checks a duress code; "" removes it. Its errors never
// quote the code.
func parseDuressCode(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	if err := reply.ValidateDuressCode(s); err != nil {
		return "", invalid("duress_code", "%s", err.Error())
	}
	return s, nil
}

// parseDuress checks a duress word; "" removes it. The parser refuses
// words that could be confused with a reply code, a keyword or a danger
// phrase, and its errors never quote the word.
func parseDuress(p *reply.Parser, s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	if utf8.RuneCountInString(s) > 40 {
		return "", invalid("duress_word", "must be at most 40 characters")
	}
	if err := p.ValidateDuressWord(s); err != nil {
		return "", invalid("duress_word", "%s", strings.TrimPrefix(err.Error(), "reply: "))
	}
	return s, nil
}

func parseConsent(field string, in *ConsentInput, channels []string, now time.Time, needAction bool) (*consentSpec, error) {
	if in == nil {
		return nil, invalid(field, "consent is required: no consent, no contact")
	}
	out := &consentSpec{action: "give"}
	if needAction {
		if in.Action != "give" && in.Action != "withdraw" {
			return nil, invalid("action", "must be give or withdraw")
		}
		out.action = in.Action
	} else if in.Action != "" && in.Action != "give" {
		return nil, invalid(field+".action", "enrolment records consent given")
	}
	chs, err := parseChannels(prefix(field, "channels"), in.Channels)
	if err != nil {
		return nil, err
	}
	if out.action == "give" {
		for i, ch := range in.Channels {
			if !slices.Contains(channels, ch) {
				return nil, invalid(fmt.Sprintf("%s[%d]", prefix(field, "channels"), i), "%s is not one of the survivor's channels", ch)
			}
		}
	}
	out.channels = chs
	if !slices.Contains(consentMethods, in.Method) {
		return nil, invalid(prefix(field, "method"), "must be one of %s", strings.Join(consentMethods, ", "))
	}
	out.method = in.Method
	out.note = strings.TrimSpace(in.Note)
	if utf8.RuneCountInString(out.note) > 1000 {
		return nil, invalid(prefix(field, "note"), "must be at most 1000 characters")
	}
	out.recordedAt = now
	if in.RecordedAt != "" {
		t, err := time.Parse(time.RFC3339, in.RecordedAt)
		if err != nil {
			return nil, invalid(prefix(field, "recorded_at"), "must be an RFC 3339 time such as 2026-11-20T10:00:00+05:30")
		}
		// Consent takes effect when it was recorded, so a time ahead of
		// now would outrank a STOP arriving meanwhile. A clock a little
		// fast is taken as now.
		if t.After(now.Add(clockSkew)) {
			return nil, invalid(prefix(field, "recorded_at"), "is in the future")
		}
		out.recordedAt = t
		if t.After(now) {
			out.recordedAt = now
		}
	} else if !needAction {
		return nil, invalid(prefix(field, "recorded_at"), "when consent was given is required")
	}
	return out, nil
}

// clockSkew is how far ahead of the server's clock a client's "now" may be.
const clockSkew = time.Minute

// checkConsentChange checks a staff member's consent record against the
// latest record of each of its channels. A record may not predate them
// (consent takes effect in the order it was given); a carrier's block can
// be lifted only by the survivor's own START; and consent the survivor
// withdrew themselves can be given back only after speaking with them, in
// person or by phone, with a note saying why. restores reports that last
// case: it raises an alert for the supervisor to see.
func checkConsentChange(sp *consentSpec, latest []db.ConsentLatestRow) (restores bool, err error) {
	for _, l := range latest {
		if !slices.Contains(sp.channels, l.Channel) {
			continue
		}
		if sp.recordedAt.Before(l.RecordedAt) {
			return false, invalid("recorded_at", "is before the latest consent record for %s (%s): consent is recorded in the order it was given",
				l.Channel, l.RecordedAt.UTC().Format(time.RFC3339))
		}
		if sp.action != "give" || l.Action != "withdraw" {
			continue
		}
		switch l.Source {
		case "carrier":
			return false, invalid("channels", "the phone network blocks texts to this number since the person sent STOP: only they can lift it, by sending START")
		case "survivor":
			if !slices.Contains(restoreMethods, sp.method) {
				return false, invalid("method", "the person withdrew consent themselves: it can be given again only in_person or by phone_call")
			}
			if sp.note == "" {
				return false, invalid("note", "the person withdrew consent themselves: say when and how they asked to be contacted again")
			}
			restores = true
		}
	}
	return restores, nil
}

func prefix(field, name string) string {
	if field == "" {
		return name
	}
	return field + "." + name
}

// parseSurvivorCreate validates a full enrolment.
func parseSurvivorCreate(p *reply.Parser, in SurvivorInput, now time.Time) (*survivorSpec, error) {
	var (
		sp  survivorSpec
		err error
	)
	if in.Reference == nil {
		return nil, invalid("reference", "is required")
	}
	if sp.reference, err = parseReference(*in.Reference); err != nil {
		return nil, err
	}
	if in.Phone == nil {
		return nil, invalid("phone", "is required")
	}
	if sp.phone, err = parsePhone(*in.Phone); err != nil {
		return nil, err
	}
	if in.Language == nil {
		return nil, invalid("language", "is required")
	}
	if sp.language, err = parseLanguage(*in.Language); err != nil {
		return nil, err
	}
	if sp.channels, err = parseChannels("channels", in.Channels); err != nil {
		return nil, err
	}
	sp.timezone = DefaultTimezone
	if in.Timezone != nil {
		if sp.timezone, err = parseTimezone(*in.Timezone); err != nil {
			return nil, err
		}
	}
	if sp.windows, err = parseWindows(in.ContactWindows); err != nil {
		return nil, err
	}
	if in.CaseworkerID == nil {
		return nil, invalid("caseworker_id", "is required")
	}
	if sp.caseworkerID, err = uuid.Parse(*in.CaseworkerID); err != nil {
		return nil, invalid("caseworker_id", "not a staff ID")
	}
	if in.DuressWord != nil {
		d, err := parseDuress(p, *in.DuressWord)
		if err != nil {
			return nil, err
		}
		sp.duress = &d
	}
	if in.DuressCode != nil {
		c, err := parseDuressCode(*in.DuressCode)
		if err != nil {
			return nil, err
		}
		sp.duressCode = &c
	}
	if sp.consent, err = parseConsent("consent", in.Consent, sp.channels, now, false); err != nil {
		return nil, err
	}
	cad := DefaultCadence
	if in.Cadence != nil {
		if cad, err = parseCadence(in.Cadence); err != nil {
			return nil, err
		}
	}
	sp.cadence = &cad
	return &sp, nil
}

// checkAssignable confirms id is an active caseworker or supervisor whom
// the viewer may give a survivor to: anyone for an admin; for a
// supervisor, themselves or a member of their own team (a survivor handed
// to another team would leave their sight and their supervision).
func checkAssignable(ctx context.Context, q *db.Queries, v viewer, id uuid.UUID) error {
	st, err := q.StaffGet(ctx, id)
	if err != nil {
		if errors.Is(db.NotFound(err), db.ErrNotFound) {
			return invalid("caseworker_id", "no such caseworker")
		}
		return err
	}
	if st.Role != RoleCaseworker && st.Role != RoleSupervisor {
		return invalid("caseworker_id", "must be a caseworker or a supervisor")
	}
	if v.Role == RoleSupervisor && st.ID != v.ID && (st.SupervisorID == nil || *st.SupervisorID != v.ID) {
		return invalid("caseworker_id", "must be you or a member of your team")
	}
	return nil
}

func (s *Server) survivorCreate(c echo.Context) error {
	var in SurvivorInput
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	id, err := s.enrol(c, in)
	if err != nil {
		return err
	}
	out, err := s.loadSurvivorJSON(c.Request().Context(), s.queries(), id, true)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, out)
}

// enrol validates and stores a survivor with their consent, windows and
// cadence, for the API and the dashboard's form alike.
func (s *Server) enrol(c echo.Context, in SurvivorInput) (uuid.UUID, error) {
	ctx := c.Request().Context()
	v := viewerOf(c)
	now := s.now()
	sp, err := parseSurvivorCreate(s.Replies, in, now)
	if err != nil {
		return uuid.UUID{}, err
	}
	if err := checkAssignable(ctx, s.queries(), v, sp.caseworkerID); err != nil {
		return uuid.UUID{}, err
	}
	var id uuid.UUID
	err = pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		q := db.New(tx)
		params := db.SurvivorCreateParams{
			ReferenceEnc: s.Keyring.SealString(crypt.SurvivorReference, sp.reference),
			PhoneEnc:     s.Keyring.SealString(crypt.SurvivorPhone, sp.phone),
			PhoneHash:    s.Keyring.BlindIndex(sp.phone),
			Language:     sp.language,
			Channels:     sp.channels,
			Timezone:     sp.timezone,
			CaseworkerID: &sp.caseworkerID,
			Now:          now,
		}
		if s.ResponseWindowMinutes > 0 {
			params.ResponseWindowMinutes = ptr(int32(s.ResponseWindowMinutes))
		}
		if sp.duress != nil && *sp.duress != "" {
			params.DuressEnc = s.Keyring.SealString(crypt.SurvivorDuress, *sp.duress)
		}
		if sp.duressCode != nil && *sp.duressCode != "" {
			params.DuressCodeEnc = s.Keyring.SealString(crypt.SurvivorDuressCode, *sp.duressCode)
		}
		row, err := createWithCaseCode(ctx, q, params)
		if err != nil {
			return err
		}
		id = row.ID
		if err := insertWindows(ctx, q, id, sp.windows); err != nil {
			return err
		}
		if _, err := q.ConsentRecordCreate(ctx, db.ConsentRecordCreateParams{
			SurvivorID: id, Action: "give", Channels: sp.consent.channels, Method: sp.consent.method,
			Source: "staff", RecordedBy: &v.ID, RecordedAt: sp.consent.recordedAt, NoteEnc: s.sealNote(sp.consent.note),
		}); err != nil {
			return err
		}
		if err := replaceCadence(ctx, q, id, *sp.cadence, now, &v.ID); err != nil {
			return err
		}
		return audit(ctx, q, v.ID, "survivor.create", &id, nil)
	})
	if errors.Is(err, errPhoneTaken) {
		// On record, and answered exactly like a malformed number.
		if err := audit(ctx, s.queries(), v.ID, "survivor.phone_conflict", nil, nil); err != nil {
			return uuid.UUID{}, err
		}
		return uuid.UUID{}, errPhoneUnusable
	}
	return id, err
}

// errPhoneTaken is a phone number another active survivor has: never
// shown as such (see errPhoneUnusable).
var errPhoneTaken = errors.New("phone number already enrolled")

// createWithCaseCode inserts a survivor under a fresh case code, drawing
// again while the code is taken.
func createWithCaseCode(ctx context.Context, q *db.Queries, p db.SurvivorCreateParams) (db.Survivor, error) {
	for attempt := 0; ; attempt++ {
		p.CaseCode = jobs.NewCaseCode(attempt)
		row, err := q.SurvivorCreate(ctx, p)
		switch {
		case err == nil:
			return row, nil
		case db.IsUniqueViolation(err, "survivors_phone_hash_active"):
			return db.Survivor{}, errPhoneTaken
		case !errors.Is(err, pgx.ErrNoRows) || attempt == 30:
			return db.Survivor{}, fmt.Errorf("create survivor: %w", err)
		}
	}
}

// sealNote encrypts an optional free-text note.
func (s *Server) sealNote(note string) []byte {
	if note == "" {
		return nil
	}
	return s.Keyring.SealString(crypt.ConsentNote, note)
}

func insertWindows(ctx context.Context, q *db.Queries, id uuid.UUID, ws []schedule.ContactWindow) error {
	if err := q.ContactWindowDeleteAll(ctx, id); err != nil {
		return err
	}
	for i, w := range ws {
		days := make([]string, len(w.Days))
		for j, d := range w.Days {
			days[j] = schedule.DayName(d)
		}
		if err := q.ContactWindowCreate(ctx, db.ContactWindowCreateParams{
			SurvivorID: id, Position: int32(i), Days: days, StartMinute: int32(w.Start), EndMinute: int32(w.End),
		}); err != nil {
			return err
		}
	}
	return nil
}

// replaceCadence stores a cadence and expands it into scheduled check-ins.
// An edit deletes the check-ins not yet handed to the sender and schedules
// the new cadence's occurrences after now: past and in-flight check-ins
// are never touched, and none is duplicated.
func replaceCadence(ctx context.Context, q *db.Queries, id uuid.UUID, cad schedule.Cadence, now time.Time, by *uuid.UUID) error {
	phases := make([]PhaseJSON, len(cad.Phases))
	for i, p := range cad.Phases {
		phases[i] = PhaseJSON{EveryDays: p.EveryDays, Times: p.Times}
	}
	raw, err := json.Marshal(phases)
	if err != nil {
		return err
	}
	row, err := q.CadenceUpsert(ctx, db.CadenceUpsertParams{SurvivorID: id, Phases: raw, StartsAt: now, UpdatedBy: by, Now: now})
	if err != nil {
		return err
	}
	if _, err := q.CheckinDeleteFuture(ctx, db.CheckinDeleteFutureParams{SurvivorID: id, Now: now}); err != nil {
		return err
	}
	sv, err := q.SurvivorGet(ctx, id)
	if err != nil {
		return err
	}
	loc, err := time.LoadLocation(sv.Timezone)
	if err != nil {
		return err
	}
	var rows []db.CheckinCopyParams
	for i, due := range cad.OccurrencesAfter(row.StartsAt, now, loc) {
		rows = append(rows, db.CheckinCopyParams{
			SurvivorID: id, Kind: "cadence", CadenceVersion: &row.Version, Seq: ptr(int32(i + 1)), DueAt: due,
		})
	}
	_, err = q.CheckinCopy(ctx, rows)
	return err
}

func ptr[T any](v T) *T { return &v }

// audit records that staff did or saw something. detail never holds
// personal data: field names, not values.
func audit(ctx context.Context, q *db.Queries, staffID uuid.UUID, action string, survivorID *uuid.UUID, detail map[string]any) error {
	raw := []byte("{}")
	if detail != nil {
		var err error
		if raw, err = json.Marshal(detail); err != nil {
			return err
		}
	}
	return q.AuditLogCreate(ctx, db.AuditLogCreateParams{StaffID: &staffID, Action: action, SurvivorID: survivorID, Detail: raw})
}
