package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/labstack/echo/v4"

	"saathi/db"
	"saathi/db/crypt"
	"saathi/db/phone"
	"saathi/jobs"
	"saathi/jobs/callflow"
	"saathi/locales"
)

// Voice inbound modes (SAATHI_VOICE_INBOUND): what a survivor's call to
// Saathi's number gets.
const (
	// VoiceInboundCallback rejects the call (busy: nobody pays) and calls
	// back: the survivor's missed call is the request.
	VoiceInboundCallback = "callback"
	// VoiceInboundAnswer answers with the check-in menu at once, for a
	// toll-free number where calling costs the survivor nothing.
	VoiceInboundAnswer = "answer"
)

var callSIDPattern = regexp.MustCompile(`^CA[0-9a-fA-F]{32}$`)

// maxMenuSteps bounds how many times a call asks the question (repeats
// and unknown keys included) before saying goodbye.
const maxMenuSteps = 4

// voiceCall is a call in progress: its message row (placed by Saathi, or
// the survivor's own call to a toll-free number) and its language.
type voiceCall struct {
	msg  db.Message
	lang string
}

// callParam is the call's message ID in a voice step's URL (?m=).
func callParam(c echo.Context) int64 {
	id, err := strconv.ParseInt(c.QueryParam("m"), 10, 64)
	if err != nil {
		return 0
	}
	return id
}

// stepParam is the menu step in a voice step's URL (?step=), 0 if none.
func stepParam(c echo.Context) int {
	step, err := strconv.Atoi(c.QueryParam("step"))
	if err != nil || step < 1 || step > maxMenuSteps {
		return 0
	}
	return step
}

// callFor finds the call a voice webhook is about: id is its message row
// (?m=, in the URL Saathi chose), and the CallSid must be that call's, or
// be adopted by it when the webhook beat the worker's record of the SID.
func (s *Server) callFor(ctx context.Context, id int64, callSID string) (voiceCall, error) {
	q := s.queries()
	m, err := q.MessageGet(ctx, id)
	if err != nil {
		return voiceCall{}, db.NotFound(err)
	}
	if m.Channel != "voice" || m.SurvivorID == nil || (m.ProviderSid != nil && *m.ProviderSid != callSID) {
		return voiceCall{}, errNotFound
	}
	if m.ProviderSid == nil && callSID != "" {
		if _, err := q.MessageUpdateStatus(ctx, db.MessageUpdateStatusParams{
			ID: m.ID, Status: "in-progress", FromStatuses: jobs.CallStatusesBefore("in-progress"), ProviderSid: &callSID, Now: s.now(),
		}); err != nil {
			return voiceCall{}, err
		}
		m.ProviderSid = &callSID
	}
	lang := "en"
	if m.Language != nil {
		lang = *m.Language
	}
	return voiceCall{msg: m, lang: lang}, nil
}

// voiceURL is the URL of a step of call m.
func (s *Server) voiceURL(step string, m int64, query ...string) string {
	u := s.PublicURL + "/twilio/voice/" + step + "?m=" + strconv.FormatInt(m, 10)
	for i := 0; i+1 < len(query); i += 2 {
		u += "&" + query[i] + "=" + query[i+1]
	}
	return u
}

// next is where the question at step goes: the keys, or silence. The
// language rides along in the (signed) URL, so keys pressed while the
// database is down are still answered in it.
func (s *Server) next(m int64, step int, lang string) callflow.Next {
	st := strconv.Itoa(step)
	return callflow.Next{Action: s.voiceURL("gather", m, "step", st, "l", lang), NoInput: s.voiceURL("noinput", m, "step", st)}
}

// twimlVoice answers a voice webhook. Every failure becomes a hang-up:
// anything but TwiML makes Twilio speak an error message into the call,
// and to a voicemail too.
func (s *Server) twimlVoice(c echo.Context, doc string, err error) error {
	if err != nil {
		if !errors.Is(err, errNotFound) {
			s.Logger.Error("voice step failed; hanging up", "route", c.Path(), "err", err)
		}
		doc = callflow.Hangup()
	}
	return c.Blob(http.StatusOK, "text/xml; charset=utf-8", []byte(doc))
}

// voiceAnswer is the URL of a call Saathi placed. Like every voice
// webhook it checks Twilio's signature first: a forged request gets a 403
// and changes nothing.
func (s *Server) voiceAnswer(c echo.Context) error {
	params, err := s.verifyTwilio(c)
	if err != nil {
		return err
	}
	doc, err := s.answerCall(c.Request().Context(), callParam(c), params["CallSid"], params["AnsweredBy"])
	return s.twimlVoice(c, doc, err)
}

// answerCall is the first TwiML of a call Saathi placed, fetched once
// machine detection has decided: a machine hears nothing.
func (s *Server) answerCall(ctx context.Context, id int64, callSID, answeredBy string) (string, error) {
	call, err := s.callFor(ctx, id, callSID)
	if err != nil {
		return "", err
	}
	if answeredBy != "" {
		if err := s.queries().MessageSetAnsweredBy(ctx, db.MessageSetAnsweredByParams{ID: call.msg.ID, AnsweredBy: &answeredBy, Now: s.now()}); err != nil {
			return "", err
		}
	}
	switch {
	case strings.HasPrefix(answeredBy, "machine") || answeredBy == "fax":
		return callflow.Machine(), nil
	case answeredBy == "unknown":
		return s.Flow.Gate(call.lang, s.voiceURL("gate", call.msg.ID))
	}
	return s.Flow.Menu(call.lang, s.next(call.msg.ID, 1, call.lang))
}

// voiceGate: whoever answered pressed a key, so a person is there.
func (s *Server) voiceGate(c echo.Context) error {
	params, err := s.verifyTwilio(c)
	if err != nil {
		return err
	}
	call, err := s.callFor(c.Request().Context(), callParam(c), params["CallSid"])
	if err != nil {
		return s.twimlVoice(c, "", err)
	}
	doc, err := s.Flow.Menu(call.lang, s.next(call.msg.ID, 1, call.lang))
	return s.twimlVoice(c, doc, err)
}

// voiceGather takes the keys pressed at a step of the call.
func (s *Server) voiceGather(c echo.Context) error {
	params, err := s.verifyTwilio(c)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), s.receiveTimeout())
	defer cancel()
	doc, err := s.pressKeys(ctx, callParam(c), stepParam(c), params["CallSid"], params["Digits"])
	if err != nil && !errors.Is(err, errNotFound) && s.Spool != nil {
		// The database is down or hung: the keys must not be lost (a "3"
		// above all). They wait in the spool, like a text, and are
		// answered now from the keys alone, in the call's language.
		req := c.Request()
		if spErr := s.Spool.Append(SpooledRequest{
			URL: s.PublicURL + req.URL.RequestURI(), Params: params,
			Signature: req.Header.Get("X-Twilio-Signature"), ReceivedAt: s.now(),
		}); spErr != nil {
			s.Logger.Error("keys pressed could not be stored or spooled", "err", err, "spool_err", spErr)
		} else {
			s.Logger.Warn("keys pressed spooled: database unavailable", "err", err)
			doc, err = s.Flow.Answer(c.QueryParam("l"), answerToKeys(params["Digits"]))
		}
	}
	return s.twimlVoice(c, doc, err)
}

// answerToKeys is the answer to keys without the database: what 1, 2 or 3
// mean needs nothing stored, and anything longer (the duress code, say) gets
// what 1 gets, exactly as it would with the database.
func answerToKeys(digits string) string {
	switch strings.Trim(strings.TrimSpace(digits), "#*") {
	case "2":
		return locales.VoiceCallMe
	case "3":
		return locales.VoiceHelpNow
	}
	return locales.VoiceThanks
}

// pressKeys handles keys pressed at ?step=: 1, 2, 3 or the duress code
// go through the one reply path (stored once per call and step, like a
// text per MessageSid) and are answered; 9, or a key that means nothing,
// asks the question again.
func (s *Server) pressKeys(ctx context.Context, id int64, step int, callSID, digits string) (string, error) {
	call, err := s.callFor(ctx, id, callSID)
	if err != nil {
		return "", err
	}
	if step == 0 {
		return "", errNotFound
	}
	keys := strings.Trim(strings.TrimSpace(digits), "#*")
	if asksAgain(keys) {
		if step >= maxMenuSteps {
			return s.Flow.Goodbye(call.lang)
		}
		return s.Flow.Repeat(call.lang, s.next(call.msg.ID, step+1, call.lang))
	}
	answer, err := s.storeKeys(ctx, call, step, callSID, keys, s.now())
	if err != nil {
		return "", err
	}
	return s.Flow.Answer(call.lang, answer)
}

// asksAgain reports whether keys ask for the question again rather than
// answer it: 9, nothing, or one key that means nothing.
func asksAgain(keys string) bool {
	return keys == "" || keys == "9" || (len(keys) == 1 && !strings.Contains("123", keys))
}

// storeKeys takes keys pressed at a step of a call through the one reply
// path and returns the prompt that answers them.
func (s *Server) storeKeys(ctx context.Context, call voiceCall, step int, callSID, keys string, at time.Time) (string, error) {
	var answer string
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		q := db.New(tx)
		sv, err := q.SurvivorGet(ctx, *call.msg.SurvivorID)
		if err != nil {
			return err
		}
		if sv.Status != "active" {
			answer = locales.VoiceThanks
			return nil
		}
		from, err := s.Keyring.OpenString(crypt.MessagePeer, call.msg.PeerEnc)
		if err != nil {
			return err
		}
		d := s.jobDeps()
		out, err := d.ReceiveReply(ctx, s.River, tx, jobs.ReplySurvivor{
			ID: sv.ID, Language: sv.Language, Channels: sv.Channels, DuressEnc: sv.DuressEnc, CodeEnc: sv.DuressCodeEnc,
		}, jobs.Reply{
			Channel: "voice", SID: callSID + "/" + strconv.Itoa(step), From: from, Body: keys,
			ReceivedAt: at, Call: &call.msg, Answers: callflow.Answers(),
		})
		if err != nil {
			return err
		}
		answer = out.Answer
		if !out.Stored {
			// Twilio asked again (a retry): the same answer, nothing stored.
			res, err := d.Understand("voice", keys, sv.DuressEnc, sv.DuressCodeEnc)
			if err != nil {
				return err
			}
			answer = callflow.Answers()[res.Intent]
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("keys pressed: %w", err)
	}
	if answer == "" {
		// A code that is not theirs (mistyped?): kept for the caseworker,
		// and answered like "1", so nothing sounds different.
		answer = locales.VoiceThanks
	}
	return answer, nil
}

// replayKeys stores keys pressed while the database was down, from the
// spool (the call was answered at the time).
func (s *Server) replayKeys(ctx context.Context, r SpooledRequest) error {
	u, err := url.Parse(r.URL)
	if err != nil {
		return fmt.Errorf("spooled keys: %w", err)
	}
	q := u.Query()
	id, _ := strconv.ParseInt(q.Get("m"), 10, 64)
	step, _ := strconv.Atoi(q.Get("step"))
	keys := strings.Trim(strings.TrimSpace(r.Params["Digits"]), "#*")
	if step < 1 || step > maxMenuSteps || asksAgain(keys) {
		return nil // nothing to keep: a repeat
	}
	call, err := s.callFor(ctx, id, r.Params["CallSid"])
	if errors.Is(err, errNotFound) || errors.Is(err, db.ErrNotFound) {
		s.Logger.Error("spooled keys for an unknown call dropped", "call", id)
		return nil
	}
	if err != nil {
		return err
	}
	_, err = s.storeKeys(ctx, call, step, r.Params["CallSid"], keys, r.ReceivedAt)
	return err
}

// voiceNoInput: no key after the question. The first time it is asked
// again; the second time the call ends politely (and, with no key pressed,
// the check-in is called again later: see jobs.CallEnded).
func (s *Server) voiceNoInput(c echo.Context) error {
	params, err := s.verifyTwilio(c)
	if err != nil {
		return err
	}
	call, err := s.callFor(c.Request().Context(), callParam(c), params["CallSid"])
	if err != nil {
		return s.twimlVoice(c, "", err)
	}
	step := stepParam(c)
	if step == 0 {
		return s.twimlVoice(c, "", errNotFound)
	}
	var doc string
	if c.QueryParam("again") == "" && step < maxMenuSteps {
		next := s.next(call.msg.ID, step+1, call.lang)
		next.NoInput += "&again=1"
		doc, err = s.Flow.NoInput(call.lang, next)
	} else {
		doc, err = s.Flow.Goodbye(call.lang)
	}
	return s.twimlVoice(c, doc, err)
}

// voiceStatus records a call's status callback. Statuses only move
// forward and a replay changes nothing; when a call ends with no key
// pressed, the check-in is called again or counts as missed.
func (s *Server) voiceStatus(c echo.Context) error {
	params, err := s.verifyTwilio(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	sid, status := params["CallSid"], params["CallStatus"]
	if !jobs.KnownCallStatus(status) || sid == "" {
		return c.NoContent(http.StatusNoContent)
	}
	advanced := false // the status moved forward: count it once committed
	err = pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		q := db.New(tx)
		m, err := q.MessageGetBySID(ctx, sid)
		if errors.Is(err, pgx.ErrNoRows) {
			// The callback beat the worker's record of the SID: the
			// message ID in the URL finds the attempt, which adopts it.
			if m, err = q.MessageGet(ctx, callParam(c)); errors.Is(err, pgx.ErrNoRows) || (err == nil && (m.Channel != "voice" || (m.ProviderSid != nil && *m.ProviderSid != sid))) {
				return nil
			}
		}
		if err != nil {
			return err
		}
		now := s.now()
		if ab := params["AnsweredBy"]; ab != "" && m.AnsweredBy == nil {
			if err := q.MessageSetAnsweredBy(ctx, db.MessageSetAnsweredByParams{ID: m.ID, AnsweredBy: &ab, Now: now}); err != nil {
				return err
			}
		}
		n, err := q.MessageUpdateStatus(ctx, db.MessageUpdateStatusParams{ID: m.ID, Status: status, FromStatuses: jobs.CallStatusesBefore(status), ProviderSid: &sid, Now: now})
		advanced = n > 0
		if err != nil || n == 0 || !jobs.CallStatusFinal(status) {
			return err
		}
		return jobs.CallEnded(ctx, s.River, tx, m, s.CallRate, now)
	})
	if err != nil {
		return err
	}
	if advanced {
		s.Metrics.MessageStatus("voice", status)
	}
	return c.NoContent(http.StatusNoContent)
}

// voiceIncoming answers a call to Saathi's number. A known survivor who
// consents to calls is rejected as busy (nobody pays) and called back at
// once, or, with SAATHI_VOICE_INBOUND=answer (a toll-free number), hears
// the menu now. Anyone else is rejected, and the call kept (masked) for
// admins: nothing tells a stranger whose number this is.
func (s *Server) voiceIncoming(c echo.Context) error {
	params, err := s.verifyTwilio(c)
	if err != nil {
		return err
	}
	doc, err := s.incomingCall(c.Request().Context(), params["CallSid"], params["From"])
	if err != nil {
		s.Logger.Error("incoming call failed; rejecting", "err", err)
		doc = callflow.Reject()
	}
	return c.Blob(http.StatusOK, "text/xml; charset=utf-8", []byte(doc))
}

// incomingCall stores a call to Saathi's number once per CallSid and says
// what to answer.
func (s *Server) incomingCall(ctx context.Context, callSID, fromRaw string) (string, error) {
	if !callSIDPattern.MatchString(callSID) {
		return callflow.Reject(), nil
	}
	from, err := phone.Normalize(fromRaw)
	hidden := err != nil // no usable caller ID: an unknown caller
	if hidden {
		from = strings.TrimSpace(fromRaw)
	}
	hash := s.Keyring.BlindIndex(from)
	now := s.now()
	doc := callflow.Reject()
	err = pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		q := db.New(tx)
		p := db.MessageReceiveParams{
			Channel: "voice", Purpose: "unmatched", PeerHash: hash, PeerEnc: s.Keyring.SealString(crypt.MessagePeer, from),
			BodyEnc: s.Keyring.SealString(crypt.MessageBody, ""), Provider: "twilio", ProviderSid: &callSID, Now: now,
		}
		var sv db.SurvivorForReplyRow
		voice := false
		if !hidden {
			sv, err = q.SurvivorForReply(ctx, hash)
			switch {
			case err == nil:
				consent, err := jobs.CurrentConsent(ctx, q, sv.ID)
				if err != nil {
					return err
				}
				voice = consent["voice"] && slices.Contains(sv.Channels, "voice")
				p.SurvivorID, p.Purpose = &sv.ID, "missed_call"
			case !errors.Is(err, pgx.ErrNoRows):
				return err
			}
		}
		if voice && s.VoiceInbound == VoiceInboundAnswer {
			p.Purpose, p.Language = "call_in", &sv.Language
		}
		id, err := q.MessageReceive(ctx, p)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // Twilio asked again: rejected again, nothing scheduled twice
		}
		if err != nil || !voice {
			return err
		}
		if s.VoiceInbound == VoiceInboundAnswer {
			doc, err = s.Flow.Menu(sv.Language, s.next(id, 1, sv.Language))
			return err
		}
		_, err = jobs.RequestCallback(ctx, s.jobDeps(), s.River, tx, sv.ID, now)
		return err
	})
	if err != nil {
		return "", err
	}
	return doc, nil
}

// voiceAudio serves the recorded prompts Twilio plays (<Play>): the same
// for every caller, nothing personal.
func (s *Server) voiceAudio(c echo.Context) error {
	rec, ok := s.Voice.Recording(c.Param("lang"), c.Param("file"))
	if !ok {
		return errNotFound
	}
	c.Response().Header().Set(echo.HeaderContentType, rec.ContentType)
	http.ServeContent(c.Response(), c.Request(), "", time.Time{}, rec.Open())
	return nil
}
