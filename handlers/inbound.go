package handlers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/labstack/echo/v4"
	"github.com/twilio/twilio-go/twiml"

	"saathi/db"
	"saathi/db/crypt"
	"saathi/db/phone"
	"saathi/jobs"
	"saathi/jobs/reply"
	"saathi/locales"
	"saathi/locales/segment"
)

// InboundSMS is one received text, from Twilio's webhook, the dev page or
// the spool.
type InboundSMS struct {
	SID  string // Twilio's MessageSid: the deduplication key
	From string
	Body string
	// ReceivedAt is when Twilio delivered it (a spooled reply keeps its
	// own time); zero means now.
	ReceivedAt time.Time
	// Spooled is set when the text is replayed from the spool: Twilio was
	// answered long ago (with no text), so no answer goes back in TwiML.
	Spooled bool
}

// receiveTimeout bounds the database work of a webhook: Twilio waits 15 s,
// and a hung database must turn into a spooled reply, not a timeout.
const receiveTimeout = 5 * time.Second

var messageSIDPattern = regexp.MustCompile(`^(SM|MM)[0-9a-fA-F]{32}$`)

// smsAnswers is what the survivor is told by text for each intent. The
// duress word gets exactly what "1" gets: nothing in the answer may differ.
var smsAnswers = map[reply.Intent]string{
	reply.OK:       locales.ReplyThanks,
	reply.Duress:   locales.ReplyThanks,
	reply.CallMe:   locales.ReplyCallMe,
	reply.HelpNow:  locales.ReplyHelpNow,
	reply.HelpInfo: locales.HelpInfo,
	reply.FreeText: locales.ReplyFreeText,
}

var ackPattern = regexp.MustCompile(`(?i)^\s*ack\s*[:#-]?\s*(\d{6})\s*$`)

// twilioSMS is Twilio's inbound SMS webhook. It answers within
// milliseconds: the message is stored and its assessment job inserted in
// one transaction. If that fails (the database is down) the signed request
// goes to the local spool and Twilio still gets a 200: Twilio does not
// retry a 5xx, and a reply must never be lost.
func (s *Server) twilioSMS(c echo.Context) error {
	params, err := s.verifyTwilio(c)
	if err != nil {
		return err
	}
	in := InboundSMS{SID: params["MessageSid"], From: params["From"], Body: params["Body"]}
	if !messageSIDPattern.MatchString(in.SID) {
		return &Problem{Status: http.StatusBadRequest, Field: "MessageSid", Message: "not a message SID"}
	}
	if in.From == "" {
		return &Problem{Status: http.StatusBadRequest, Field: "From", Message: "missing sender"}
	}
	text, err := s.ReceiveSMS(c.Request().Context(), in)
	if err != nil {
		if s.Spool == nil {
			return err
		}
		req := c.Request()
		if spErr := s.Spool.Append(SpooledRequest{
			URL: s.PublicURL + req.URL.RequestURI(), Params: params,
			Signature: req.Header.Get("X-Twilio-Signature"), ReceivedAt: s.now(),
		}); spErr != nil {
			s.Logger.Error("inbound SMS could not be stored or spooled", "err", err, "spool_err", spErr)
			return err
		}
		s.Logger.Warn("inbound SMS spooled: database unavailable", "err", err)
		text = ""
	}
	return twimlReply(c, text)
}

func twimlReply(c echo.Context, text string) error {
	var verbs []twiml.Element
	if text != "" {
		verbs = append(verbs, &twiml.MessagingMessage{Body: text})
	}
	xml, err := twiml.Messages(verbs)
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, "text/xml; charset=utf-8", []byte(xml))
}

func (s *Server) receiveTimeout() time.Duration {
	if s.ReceiveTimeout > 0 {
		return s.ReceiveTimeout
	}
	return receiveTimeout
}

// ReceiveSMS stores an inbound text once, acts on what must happen at once
// (opt-out and opt-in, a caseworker's ACK), inserts the assessment job, and
// returns the text to answer with ("" for none). A duplicate delivery of
// the same message changes nothing and is not answered again.
//
// Texts arriving together share one transaction (group commit, see
// textGroup); the answer comes after that transaction commits, so an
// answer still means the text is stored. ctx's deadline, if sooner than
// receiveTimeout, bounds the wait; its cancellation does not (the text
// may already be stored with others).
func (s *Server) ReceiveSMS(ctx context.Context, in InboundSMS) (string, error) {
	deadline := time.Now().Add(s.receiveTimeout()) // the real clock: NowFunc may be fixed
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	return s.groupOfTexts().receive(s, in, deadline)
}

// receiveTexts stores texts in one transaction: the senders are looked up
// and the survivors' replies stored in one pipelined round trip each, and
// their jobs inserted in one statement (jobs.ReceiveReplies). A text from
// staff or from an unknown number takes statements of its own. The answers
// are in the order of texts.
func (s *Server) receiveTexts(ctx context.Context, texts []InboundSMS) ([]string, error) {
	froms := make([]string, len(texts))
	hashes := make([][]byte, len(texts))
	for i, in := range texts {
		from, err := phone.Normalize(in.From)
		if err != nil {
			from = strings.TrimSpace(in.From) // kept as given, matched to nobody
		}
		froms[i], hashes[i] = from, s.Keyring.BlindIndex(from)
		if texts[i].ReceivedAt.IsZero() {
			texts[i].ReceivedAt = s.now()
		}
	}
	answers := make([]string, len(texts))
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		clear(answers)
		q := db.New(tx)
		var (
			replies   []jobs.SurvivorReply
			replyText []int // replies[k] is texts[replyText[k]]
			unmatched []int
			lookErr   error
		)
		q.SurvivorForReplyMany(ctx, hashes).QueryRow(func(i int, sv db.SurvivorForReplyManyRow, err error) {
			switch {
			case err == nil:
				in := texts[i]
				replies = append(replies, jobs.SurvivorReply{
					Survivor: jobs.ReplySurvivor{ID: sv.ID, Language: sv.Language, Channels: sv.Channels, DuressEnc: sv.DuressEnc, CodeEnc: sv.DuressCodeEnc, SMSConsent: sv.SmsConsent},
					Reply:    jobs.Reply{Channel: "sms", SID: in.SID, From: froms[i], Body: in.Body, ReceivedAt: in.ReceivedAt, Spooled: in.Spooled, Answers: smsAnswers},
				})
				replyText = append(replyText, i)
			case errors.Is(err, pgx.ErrNoRows):
				unmatched = append(unmatched, i)
			case lookErr == nil:
				lookErr = err
			}
		})
		if lookErr != nil {
			return lookErr
		}
		if len(replies) > 0 {
			outs, err := s.jobDeps().ReceiveReplies(ctx, s.River, tx, replies)
			if err != nil {
				return err
			}
			for k, out := range outs {
				if out.Answer == "" {
					continue
				}
				if answers[replyText[k]], err = s.Catalog.Text(replies[k].Survivor.Language, out.Answer, nil); err != nil {
					return err
				}
			}
		}
		for _, i := range unmatched {
			var err error
			if answers[i], err = s.receiveNotFromSurvivor(ctx, q, texts[i], froms[i], hashes[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("receive SMS: %w", err)
	}
	return answers, nil
}

// receiveNotFromSurvivor stores a text from a staff member's phone (and
// acts on an ACK) or from a number nobody knows, inside the transaction.
func (s *Server) receiveNotFromSurvivor(ctx context.Context, q *db.Queries, in InboundSMS, from string, hash []byte) (string, error) {
	enc, segs := segment.Count(in.Body)
	params := db.MessageReceiveParams{
		Channel: "sms", Purpose: "unmatched", PeerHash: hash,
		PeerEnc: s.Keyring.SealString(crypt.MessagePeer, from), BodyEnc: s.Keyring.SealString(crypt.MessageBody, in.Body),
		Provider: "twilio", ProviderSid: &in.SID, Segments: ptr(int32(segs)), Encoding: ptr(string(enc)), Now: in.ReceivedAt,
	}
	st, err := q.StaffGetByPhoneHash(ctx, hash)
	switch {
	case err == nil:
		params.StaffID, params.Purpose = &st.ID, "staff"
	case !errors.Is(err, pgx.ErrNoRows):
		return "", err
	}
	if _, err := q.MessageReceive(ctx, params); errors.Is(err, pgx.ErrNoRows) {
		return "", nil // delivered before
	} else if err != nil {
		return "", err
	}
	if params.StaffID == nil {
		return "", nil // an unknown number is kept for admins; no answer reveals anything
	}
	return s.staffReply(ctx, q, st, in.Body, in.ReceivedAt)
}

// staffReply handles "ACK 123456" from an active staff member's registered
// phone (a deactivated member's phone is matched to nobody).
func (s *Server) staffReply(ctx context.Context, q *db.Queries, st db.Staff, body string, now time.Time) (string, error) {
	m := ackPattern.FindStringSubmatch(body)
	if m == nil {
		return "", nil
	}
	text := func(id string, data map[string]any) (string, error) { return s.Catalog.Text(st.Language, id, data) }
	alert, err := q.AlertGetOpenByCode(ctx, m[1])
	if errors.Is(err, pgx.ErrNoRows) {
		return text(locales.AlertAckUnknown, nil)
	}
	if err != nil {
		return "", err
	}
	// Only someone who may see the alert now (through the survivor's
	// current assignment) can acknowledge it; to anyone else the code
	// does not exist.
	if _, err := q.AlertGetScoped(ctx, db.AlertGetScopedParams{ID: alert.ID, ViewerRole: st.Role, ViewerID: st.ID}); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return text(locales.AlertAckUnknown, nil)
		}
		return "", err
	}
	if _, err := q.AlertAcknowledge(ctx, db.AlertAcknowledgeParams{ID: alert.ID, StaffID: &st.ID, Now: &now}); err != nil {
		return "", err
	}
	if err := jobs.AlertEvent(ctx, q, alert.ID, "acknowledged", &st.ID, map[string]any{"via": "sms"}, now); err != nil {
		return "", err
	}
	if err := audit(ctx, q, st.ID, "alert.acknowledge", &alert.SurvivorID, map[string]any{"alert_id": alert.ID, "via": "sms"}); err != nil {
		return "", err
	}
	s.Metrics.AlertAcknowledged(alert.Severity, "sms", now.Sub(alert.CreatedAt))
	sv, err := q.SurvivorGet(ctx, alert.SurvivorID)
	if err != nil {
		return "", err
	}
	return text(locales.AlertAckConfirm, map[string]any{"Case": sv.CaseCode})
}

// devInbound simulates a text from a phone (dev provider only), through
// the same path as Twilio's webhook.
func (s *Server) devInbound(c echo.Context) error {
	var in struct {
		From string `json:"from"`
		Body string `json:"body"`
	}
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	if _, err := phone.Normalize(in.From); err != nil {
		return invalid("from", "not a valid phone number")
	}
	if strings.TrimSpace(in.Body) == "" {
		return invalid("body", "is required")
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	text, err := s.ReceiveSMS(c.Request().Context(), InboundSMS{SID: "SM" + hex.EncodeToString(b), From: in.From, Body: in.Body})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"reply": text})
}

// UnmatchedJSON is a text from a number Saathi does not know.
type UnmatchedJSON struct {
	ID         int64     `json:"id"`
	From       string    `json:"from"`
	Body       string    `json:"body"`
	ReceivedAt time.Time `json:"received_at"`
}

// unmatchedList shows admins the texts from unknown numbers (a survivor
// writing from a new phone, a wrong number), newest first, the sender
// masked. Reading them is audited.
func (s *Server) unmatchedList(c echo.Context) error {
	ctx := c.Request().Context()
	q := s.queries()
	rows, err := q.MessageListUnmatched(ctx, 200)
	if err != nil {
		return err
	}
	out := make([]UnmatchedJSON, 0, len(rows))
	for _, m := range rows {
		from, err := s.Keyring.OpenString(crypt.MessagePeer, m.PeerEnc)
		if err != nil {
			return err
		}
		body, err := s.Keyring.OpenString(crypt.MessageBody, m.BodyEnc)
		if err != nil {
			return err
		}
		out = append(out, UnmatchedJSON{ID: m.ID, From: phone.Mask(from), Body: body, ReceivedAt: m.CreatedAt})
	}
	if err := audit(ctx, q, viewerOf(c).ID, "messages.unmatched.read", nil, map[string]any{"count": len(out)}); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"messages": out})
}
