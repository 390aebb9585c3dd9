package handlers

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"saathi/db"
	"saathi/db/crypt"
	"saathi/db/phone"
)

// The simulator (dev provider only): a phone per enrolled survivor, showing
// what Saathi sent to their number (the dev outbox) and what they said
// back. A newcomer replies by text, answers a call and presses keys, or
// gives a missed call, and each goes through the functions Twilio's
// webhooks and the dev endpoints use (ReceiveSMS, answerCall, pressKeys,
// incomingCall): the page is a stand-in for a phone and for Twilio, never
// a second copy of the pipeline. Like the rest of /dev it has no sign-in
// (the dev provider listens on loopback only), but its forms carry the
// CSRF token: a page on another site must not text "3" in a survivor's
// name through a newcomer's browser.

// simOutboxRows bounds how much of the outbox a phone looks through: the
// latest rows, for every number.
const simOutboxRows = 1000

// simListMax bounds the phones listed, newest enrolment first.
const simListMax = 100

// simKeys are the keys a survivor may press in one go: a menu key, or a
// code ended with #.
var simKeys = regexp.MustCompile(`^[0-9*#]{1,12}$`)

// mountSimulator adds the simulator's pages, with sessions (a call in
// progress is kept in the browser's session) and CSRF protection. It needs
// the dashboard's templates and sessions: mount it after mountDashboard.
func (s *Server) mountSimulator(e *echo.Echo) {
	sim := e.Group("/dev/simulator", echo.WrapMiddleware(s.sessions.LoadAndSave), s.simulatorErrors, s.csrf())
	sim.GET("", s.simList)
	sim.GET("/:id", s.simPhonePage)
	sim.GET("/:id/live", s.simPhoneLive)
	sim.POST("/:id/text", s.simText)
	if s.Flow != nil {
		sim.POST("/:id/answer", s.simAnswer)
		sim.POST("/:id/keys", s.simPress)
		sim.POST("/:id/missed", s.simMissed)
	}
}

// simulatorErrors answers the simulator's refusals (a form without its
// CSRF token, a survivor who is not there, a bad field) with a page: the
// error handler answers everything under /dev/ in JSON, for the dev
// endpoints' scripts. Server errors are left to it, to be logged.
func (s *Server) simulatorErrors(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		err := next(c)
		if err == nil || c.Response().Committed {
			return err
		}
		var (
			p       *Problem
			httpErr *echo.HTTPError
			status  int
			message string
		)
		switch {
		case errors.As(err, &p):
			status, message = p.Status, p.Message
		case errors.Is(err, db.ErrNotFound):
			status = http.StatusNotFound
		case errors.As(err, &httpErr):
			status = httpErr.Code
			message, _ = httpErr.Message.(string)
		}
		if status == 0 || status >= 500 {
			return err
		}
		return s.render(c, status, "error", map[string]any{"Status": status, "Message": message})
	}
}

// simListRow is one phone on the list.
type simListRow struct {
	ID           uuid.UUID
	CaseCode     string
	Language     string
	LanguageName string
	Number       string // masked
}

// simList lists the enrolled survivors' phones, newest enrolment first.
func (s *Server) simList(c echo.Context) error {
	ctx := c.Request().Context()
	q := s.queries()
	var all []db.Survivor
	var after *uuid.UUID
	for {
		rows, err := q.SurvivorListScoped(ctx, db.SurvivorListScopedParams{ViewerRole: RoleAdmin, After: after, Lim: 500})
		if err != nil {
			return fmt.Errorf("simulator: list survivors: %w", err)
		}
		all = append(all, rows...)
		if len(rows) < 500 {
			break
		}
		after = &rows[len(rows)-1].ID
	}
	slices.SortFunc(all, func(a, b db.Survivor) int { return b.EnrolledAt.Compare(a.EnrolledAt) })
	out := make([]simListRow, 0, min(len(all), simListMax))
	for _, sv := range all[:min(len(all), simListMax)] {
		number, err := s.Keyring.OpenString(crypt.SurvivorPhone, sv.PhoneEnc)
		if err != nil {
			return err
		}
		out = append(out, simListRow{ID: sv.ID, CaseCode: sv.CaseCode, Language: sv.Language, LanguageName: languageName(sv.Language), Number: phone.Mask(number)})
	}
	return s.render(c, http.StatusOK, "simulator", map[string]any{"Phones": out, "More": len(all) - len(out)})
}

// languageName names a language in itself, as the phone's owner would.
func languageName(lang string) string { return cmp.Or(languageNames[lang], lang) }

// simSurvivor is the survivor whose phone a request is about, with their
// number; an unknown or erased one is a 404.
func (s *Server) simSurvivor(c echo.Context) (db.Survivor, string, error) {
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return db.Survivor{}, "", errNotFound
	}
	sv, err := s.queries().SurvivorGetScoped(c.Request().Context(), db.SurvivorGetScopedParams{ID: id, ViewerRole: RoleAdmin})
	if err != nil {
		if errors.Is(db.NotFound(err), db.ErrNotFound) {
			return db.Survivor{}, "", errNotFound
		}
		return db.Survivor{}, "", err
	}
	number, err := s.Keyring.OpenString(crypt.SurvivorPhone, sv.PhoneEnc)
	if err != nil {
		return db.Survivor{}, "", err
	}
	return sv, number, nil
}

// simPhone is what a phone page shows.
type simPhone struct {
	ID           uuid.UUID
	CaseCode     string
	Language     string // the survivor's: what the phone receives is in it
	LanguageName string
	Number       string // masked
	Voice        bool   // calls can be simulated
	Entries      []simEntry
	// Call is the call this browser is on with Saathi, if any.
	Call *simCallScreen
	// Flash says what the last action did, if anything.
	Flash *simNote
}

// simNote is a word on what an action did: a UI message ID, and whether
// it is a mistake to correct.
type simNote struct {
	ID    string
	Error bool
}

// simEntry is one thing on the phone's screen, oldest first.
type simEntry struct {
	Key  string // the element's ID: o<outbox row> or m<message>
	Kind string // saathi-text, own-text, saathi-call, own-call
	At   time.Time
	Time string // At on the phone's clock (the survivor's time zone)
	seq  int64  // the message ID, to order what happened in one instant
	Body string
	Call *simCall
}

// simCall is a call on the phone's screen: placed by Saathi, or the
// survivor's own call to Saathi's number.
type simCall struct {
	SID      string
	Ringing  bool   // Saathi's latest call, not answered yet
	Answered string // "person", "machine" or "" (not answered)
	Missed   bool   // the survivor's missed call (rejected as busy)
	Steps    []simCallStep
}

// simCallStep is something that happened during a call: keys pressed, or
// the words that answered them.
type simCallStep struct {
	Keys  string
	Heard string
}

// simCallScreen is a call in progress: what the survivor hears now, and
// whether the call waits for keys.
type simCallScreen struct {
	SID     string
	Machine bool // a voicemail answered: it heard nothing
	Heard   []simWords
	Keys    bool // the call waits for keys (a <Gather>)
	Ended   bool
}

// simWords is one prompt heard, in its language (a BCP 47 tag).
type simWords struct {
	Lang string
	Text string
}

// simCallState is the call in progress in a browser's session: its SID,
// its message row, and the TwiML Twilio would be running now.
type simCallState struct {
	SID     string `json:"sid"`
	Message int64  `json:"message"`
	Machine bool   `json:"machine,omitempty"`
	TwiML   string `json:"twiml"`
}

func simCallKey(id uuid.UUID) string { return "simulator.call." + id.String() }

func (s *Server) simCallState(c echo.Context, id uuid.UUID) (simCallState, bool) {
	raw := s.sessions.GetString(c.Request().Context(), simCallKey(id))
	var st simCallState
	if raw == "" || json.Unmarshal([]byte(raw), &st) != nil {
		return simCallState{}, false
	}
	return st, true
}

func (s *Server) putSimCallState(c echo.Context, id uuid.UUID, st simCallState) error {
	raw, err := json.Marshal(st)
	if err != nil {
		return err
	}
	s.sessions.Put(c.Request().Context(), simCallKey(id), string(raw))
	return nil
}

// simPhonePage shows a survivor's phone. A call that has ended is shown
// once (its last words), then left to the conversation.
func (s *Server) simPhonePage(c echo.Context) error {
	sv, number, err := s.simSurvivor(c)
	if err != nil {
		return err
	}
	p, err := s.simPhone(c, sv, number)
	if err != nil {
		return err
	}
	if note, ok := simFlash[c.QueryParam("done")]; ok {
		p.Flash = &note
	}
	if st, ok := s.simCallState(c, sv.ID); ok {
		screen, err := s.hear(st)
		if err != nil {
			return err
		}
		p.Call = &screen
		if screen.Ended {
			s.sessions.Remove(c.Request().Context(), simCallKey(sv.ID))
		}
	}
	return s.render(c, http.StatusOK, "simulator_phone", p)
}

// simPhoneLive is the phone's conversation alone: the page fetches it
// every few seconds, so texts and calls appear as the worker sends them.
// Its forms (answer a call) carry the CSRF token like the page's.
func (s *Server) simPhoneLive(c echo.Context) error {
	sv, number, err := s.simSurvivor(c)
	if err != nil {
		return err
	}
	data, err := s.simPhone(c, sv, number)
	if err != nil {
		return err
	}
	t, ok := s.pages["simulator_phone"]
	if !ok {
		return errors.New("no page simulator_phone")
	}
	p := page{Lang: s.pageLang(c), Path: c.Request().URL.Path, Data: data}
	p.CSRF, _ = c.Get(middleware.DefaultCSRFConfig.ContextKey).(string)
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, "simconversation", p); err != nil {
		return fmt.Errorf("render simulator conversation: %w", err)
	}
	return c.HTML(http.StatusOK, b.String())
}

// simPhone gathers a phone's conversation: the texts and calls the dev
// provider "sent" to the number (the outbox), the survivor's own texts,
// key presses and calls, and the answers given in TwiML (on record as
// messages), in the order they happened.
func (s *Server) simPhone(c echo.Context, sv db.Survivor, number string) (simPhone, error) {
	ctx := c.Request().Context()
	q := s.queries()
	loc, err := time.LoadLocation(sv.Timezone)
	if err != nil {
		loc = time.UTC
	}
	p := simPhone{ID: sv.ID, CaseCode: sv.CaseCode, Language: sv.Language, LanguageName: languageName(sv.Language), Number: phone.Mask(number), Voice: s.Flow != nil}
	msgs, err := q.MessageListBySurvivor(ctx, sv.ID)
	if err != nil {
		return p, fmt.Errorf("simulator: messages: %w", err)
	}
	open := func(enc []byte) (string, error) {
		if enc == nil {
			return "", nil
		}
		return s.Keyring.OpenString(crypt.MessageBody, enc)
	}
	bySID := map[string]db.Message{}
	calls := map[int64]*simCall{} // by the call's message ID
	var steps []db.Message        // keys and spoken answers, in order
	for _, m := range msgs {
		switch {
		case m.Direction == "out" && m.Status == "twiml" && m.Channel == "voice":
			steps = append(steps, m)
		case m.Direction == "out" && m.Status == "twiml":
			// The answer to a text, given in TwiML: Twilio texts it back.
			body, err := open(m.BodyEnc)
			if err != nil {
				return p, err
			}
			p.Entries = append(p.Entries, simEntry{Key: "m" + strconv.FormatInt(m.ID, 10), Kind: "saathi-text", At: m.CreatedAt, seq: m.ID, Body: body})
		case m.Direction == "out":
			if m.ProviderSid != nil {
				bySID[*m.ProviderSid] = m
			}
		case m.Channel == "sms":
			body, err := open(m.BodyEnc)
			if err != nil {
				return p, err
			}
			p.Entries = append(p.Entries, simEntry{Key: "m" + strconv.FormatInt(m.ID, 10), Kind: "own-text", At: m.CreatedAt, seq: m.ID, Body: body})
		case m.ReplyTo != nil:
			steps = append(steps, m) // keys pressed on a call
		default:
			// The survivor rang Saathi's number: rejected as busy (a missed
			// call), or answered with the menu (a toll-free number).
			call := &simCall{SID: deref(m.ProviderSid), Missed: m.Purpose == "missed_call"}
			if m.Purpose == "call_in" {
				call.Answered = "person"
			}
			calls[m.ID] = call
			p.Entries = append(p.Entries, simEntry{Key: "m" + strconv.FormatInt(m.ID, 10), Kind: "own-call", At: m.CreatedAt, seq: m.ID, Call: call})
		}
	}

	outbox, err := q.DevOutboxList(ctx, db.DevOutboxListParams{After: 0, Lim: simOutboxRows})
	if err != nil {
		return p, fmt.Errorf("simulator: outbox: %w", err)
	}
	// Saathi's latest call, if it can be answered.
	var latestCall *simCall
	// The outbox comes newest first; the phone reads it oldest first.
	for i := len(outbox) - 1; i >= 0; i-- {
		r := outbox[i]
		to, err := s.Keyring.OpenString(crypt.OutboxTo, r.ToEnc)
		if err != nil {
			return p, err
		}
		if to != number {
			continue
		}
		e := simEntry{Key: "o" + strconv.FormatInt(r.ID, 10), At: r.CreatedAt, seq: math.MaxInt64}
		m, known := bySID[r.Sid]
		if known {
			// The message row's time is on the service's clock, like every
			// other entry's; the outbox row's is the database's.
			e.At, e.seq = m.CreatedAt, m.ID
		}
		if r.Channel != "call" {
			body, err := s.Keyring.OpenString(crypt.OutboxBody, r.BodyEnc)
			if err != nil {
				return p, err
			}
			e.Kind, e.Body = "saathi-text", body
			p.Entries = append(p.Entries, e)
			continue
		}
		call := &simCall{SID: r.Sid}
		latestCall = nil
		if known {
			switch by := deref(m.AnsweredBy); {
			case by == "":
				latestCall = call
			case strings.HasPrefix(by, "machine") || by == "fax":
				call.Answered = "machine"
			default:
				call.Answered = "person"
			}
			calls[m.ID] = call
		}
		e.Kind, e.Call = "saathi-call", call
		p.Entries = append(p.Entries, e)
	}
	// Only Saathi's latest call can still ring: the dev provider never
	// gives up on a call, but Twilio does after its ring time.
	if latestCall != nil {
		latestCall.Ringing = true
	}
	for _, m := range steps {
		call := calls[deref(m.ReplyTo)]
		if call == nil {
			continue
		}
		body, err := open(m.BodyEnc)
		if err != nil {
			return p, err
		}
		if m.Direction == "in" {
			call.Steps = append(call.Steps, simCallStep{Keys: body})
		} else {
			call.Steps = append(call.Steps, simCallStep{Heard: body})
		}
	}
	slices.SortStableFunc(p.Entries, func(a, b simEntry) int {
		return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.seq, b.seq))
	})
	for i := range p.Entries {
		p.Entries[i].Time = p.Entries[i].At.In(loc).Format("02 Jan 15:04")
	}
	return p, nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// simFlash says what the last action did (?done=).
var simFlash = map[string]simNote{
	"missed":   {ID: "SimDoneMissed"},
	"empty":    {ID: "SimDoneEmpty", Error: true},
	"keys":     {ID: "SimDoneKeys", Error: true},
	"nocall":   {ID: "SimDoneNoCall", Error: true},
	"answered": {ID: "SimDoneAnswered", Error: true},
}

// backToPhone ends every action: POST, then redirect, then GET, so a
// reload never sends a text twice. #now is where the call and the
// reply box are.
func backToPhone(c echo.Context, id uuid.UUID, done string) error {
	u := "/dev/simulator/" + id.String()
	if done != "" {
		u += "?done=" + done
	}
	return c.Redirect(http.StatusSeeOther, u+"#now")
}

// newSimSID is a provider ID for what the simulated phone sends, shaped
// like Twilio's (prefix and 32 hex digits).
func newSimSID(prefix string) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// simText is the survivor's text, received as Twilio's webhook receives
// one. The answer Twilio would text back appears once the worker has put
// it on record.
func (s *Server) simText(c echo.Context) error {
	sv, number, err := s.simSurvivor(c)
	if err != nil {
		return err
	}
	body := strings.TrimSpace(c.FormValue("body"))
	if body == "" {
		return backToPhone(c, sv.ID, "empty")
	}
	if _, err := s.ReceiveSMS(c.Request().Context(), InboundSMS{SID: newSimSID("SM"), From: number, Body: body}); err != nil {
		return err
	}
	return backToPhone(c, sv.ID, "")
}

// simAnswer answers Saathi's call to this phone, as a person or as a
// voicemail, the way Twilio fetches a call's TwiML once machine detection
// has decided.
func (s *Server) simAnswer(c echo.Context) error {
	sv, _, err := s.simSurvivor(c)
	if err != nil {
		return err
	}
	by, ok := map[string]string{"person": "human", "machine": "machine_start"}[c.FormValue("as")]
	if !ok {
		return invalid("as", "answer as a person or a machine")
	}
	sid := c.FormValue("call")
	m, err := s.devCall(c, sid)
	if err != nil {
		return err
	}
	if m.SurvivorID == nil || *m.SurvivorID != sv.ID {
		return errNotFound
	}
	if m.AnsweredBy != nil {
		return backToPhone(c, sv.ID, "answered")
	}
	doc, err := s.answerCall(c.Request().Context(), m.ID, sid, by)
	if err != nil {
		return err
	}
	if err := s.putSimCallState(c, sv.ID, simCallState{SID: sid, Message: m.ID, Machine: by != "human", TwiML: doc}); err != nil {
		return err
	}
	return backToPhone(c, sv.ID, "")
}

// simPress presses keys on the call in progress: they go where the call's
// <Gather> sends them (its action names the call and the step), as
// Twilio would post them.
func (s *Server) simPress(c echo.Context) error {
	sv, _, err := s.simSurvivor(c)
	if err != nil {
		return err
	}
	st, ok := s.simCallState(c, sv.ID)
	if !ok {
		return backToPhone(c, sv.ID, "nocall")
	}
	id, step, ok := gatherStep(st.TwiML)
	if !ok || id != st.Message {
		return backToPhone(c, sv.ID, "nocall")
	}
	keys := strings.ReplaceAll(c.FormValue("digits"), " ", "")
	if !simKeys.MatchString(keys) {
		return backToPhone(c, sv.ID, "keys")
	}
	// Twilio posts the digits without the key that finished them.
	doc, err := s.pressKeys(c.Request().Context(), id, step, st.SID, strings.TrimSuffix(keys, "#"))
	if err != nil {
		return err
	}
	st.TwiML = doc
	if err := s.putSimCallState(c, sv.ID, st); err != nil {
		return err
	}
	return backToPhone(c, sv.ID, "")
}

// simMissed rings Saathi's number from this phone, as Twilio's incoming
// call webhook would report it. Usually the call is rejected as busy (a
// missed call) and a callback follows; on a toll-free number
// (SAATHI_VOICE_INBOUND=answer) it is answered with the menu.
func (s *Server) simMissed(c echo.Context) error {
	sv, number, err := s.simSurvivor(c)
	if err != nil {
		return err
	}
	sid := newSimSID("CA")
	doc, err := s.incomingCall(c.Request().Context(), sid, number)
	if err != nil {
		return err
	}
	if id, _, ok := gatherStep(doc); ok {
		if err := s.putSimCallState(c, sv.ID, simCallState{SID: sid, Message: id, TwiML: doc}); err != nil {
			return err
		}
		return backToPhone(c, sv.ID, "")
	}
	return backToPhone(c, sv.ID, "missed")
}

// twimlNode is any TwiML element, read as Twilio reads it.
type twimlNode struct {
	XMLName xml.Name
	Attrs   []xml.Attr  `xml:",any,attr"`
	Text    string      `xml:",chardata"`
	Nodes   []twimlNode `xml:",any"`
}

func (n twimlNode) attr(name string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func parseTwiML(doc string) (twimlNode, error) {
	var root twimlNode
	if err := xml.Unmarshal([]byte(doc), &root); err != nil {
		return twimlNode{}, fmt.Errorf("read TwiML: %w", err)
	}
	return root, nil
}

// gatherStep is where a TwiML document's <Gather> sends keys: the call's
// message ID and the step (the query of the gather URL). False when the
// document waits for no keys.
func gatherStep(doc string) (id int64, step int, ok bool) {
	root, err := parseTwiML(doc)
	if err != nil {
		return 0, 0, false
	}
	for _, n := range root.Nodes {
		if n.XMLName.Local != "Gather" {
			continue
		}
		u, err := url.Parse(n.attr("action"))
		if err != nil || !strings.HasSuffix(u.Path, "/twilio/voice/gather") {
			return 0, 0, false
		}
		id, err1 := strconv.ParseInt(u.Query().Get("m"), 10, 64)
		step, err2 := strconv.Atoi(u.Query().Get("step"))
		return id, step, err1 == nil && err2 == nil
	}
	return 0, 0, false
}

// hear is what the survivor hears of the call's TwiML: the words of each
// prompt, said (<Say>) or played from a recording (<Play>, shown as the
// script it was read from), and whether the call waits for keys.
func (s *Server) hear(st simCallState) (simCallScreen, error) {
	root, err := parseTwiML(st.TwiML)
	if err != nil {
		return simCallScreen{}, err
	}
	screen := simCallScreen{SID: st.SID, Machine: st.Machine}
	var walk func([]twimlNode)
	walk = func(nodes []twimlNode) {
		for _, n := range nodes {
			switch n.XMLName.Local {
			case "Say":
				screen.Heard = append(screen.Heard, simWords{Lang: n.attr("language"), Text: strings.TrimSpace(n.Text)})
			case "Play":
				screen.Heard = append(screen.Heard, s.recordedWords(strings.TrimSpace(n.Text)))
			case "Gather":
				walk(n.Nodes)
			}
		}
	}
	walk(root.Nodes)
	_, _, screen.Keys = gatherStep(st.TwiML)
	screen.Ended = !screen.Keys
	return screen, nil
}

// recordedWords is the script of a recorded prompt, from its URL
// (…/audio/<lang>/<MessageID>.wav?v=…).
func (s *Server) recordedWords(src string) simWords {
	u, err := url.Parse(src)
	if err != nil || s.Voice == nil {
		return simWords{Text: "♪"}
	}
	lang, file := path.Base(path.Dir(u.Path)), path.Base(u.Path)
	p, err := s.Voice.Prompt(lang, strings.TrimSuffix(file, path.Ext(file)))
	if err != nil {
		return simWords{Text: "♪"}
	}
	return simWords{Lang: lang, Text: p.Text}
}
