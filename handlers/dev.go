package handlers

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"saathi/db"
	"saathi/db/crypt"
	"saathi/db/phone"
)

// OutboxJSON is one message the dev provider would have sent.
type OutboxJSON struct {
	SID       string    `json:"sid"`
	Channel   string    `json:"channel"`
	To        string    `json:"to"`
	Body      string    `json:"body"`
	CreatedAt time.Time `json:"created_at"`
}

// devOutbox lists what the dev provider "sent", newest first. It exists
// only when SAATHI_PROVIDER=dev. Numbers are masked even here.
func (s *Server) devOutbox(c echo.Context) error {
	rows, err := s.queries().DevOutboxList(c.Request().Context(), db.DevOutboxListParams{After: 0, Lim: 200})
	if err != nil {
		return err
	}
	out := make([]OutboxJSON, 0, len(rows))
	for _, r := range rows {
		to, err := s.Keyring.OpenString(crypt.OutboxTo, r.ToEnc)
		if err != nil {
			return err
		}
		body, err := s.Keyring.OpenString(crypt.OutboxBody, r.BodyEnc)
		if err != nil {
			return err
		}
		out = append(out, OutboxJSON{SID: r.Sid, Channel: r.Channel, To: phone.Mask(to), Body: body, CreatedAt: r.CreatedAt})
	}
	return c.JSON(http.StatusOK, map[string]any{"messages": out})
}

// The dev provider's phone: calls placed to /dev/outbox are answered,
// keys pressed and missed calls given here, through the same steps as
// Twilio's webhooks (without their signatures), and each answers with the
// TwiML Twilio would get.

// devCall finds a call the dev provider placed, by its SID in the outbox.
func (s *Server) devCall(c echo.Context, sid string) (db.Message, error) {
	m, err := s.queries().MessageGetBySID(c.Request().Context(), sid)
	if err != nil || m.Channel != "voice" || m.Direction != "out" {
		return db.Message{}, invalid("call", "no call with that SID: take one from /dev/outbox")
	}
	return m, nil
}

func devTwiML(c echo.Context, doc string, err error) error {
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, "text/xml; charset=utf-8", []byte(doc))
}

// devVoiceAnswer: {"call": SID, "answered_by": "human"} (or unknown,
// machine_start, fax…) is the call answered.
func (s *Server) devVoiceAnswer(c echo.Context) error {
	var in struct {
		Call       string `json:"call"`
		AnsweredBy string `json:"answered_by"`
	}
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	m, err := s.devCall(c, in.Call)
	if err != nil {
		return err
	}
	if in.AnsweredBy == "" {
		in.AnsweredBy = "human"
	}
	doc, err := s.answerCall(c.Request().Context(), m.ID, in.Call, in.AnsweredBy)
	return devTwiML(c, doc, err)
}

// devVoicePress: {"call": SID, "digits": "3"} are keys pressed at the
// call's next step ("step" to choose one).
func (s *Server) devVoicePress(c echo.Context) error {
	var in struct {
		Call   string `json:"call"`
		Digits string `json:"digits"`
		Step   int    `json:"step"`
	}
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	m, err := s.devCall(c, in.Call)
	if err != nil {
		return err
	}
	if in.Step == 0 {
		n, err := s.queries().MessageCallKeys(c.Request().Context(), m.ID)
		if err != nil {
			return err
		}
		in.Step = int(n) + 1
	}
	if in.Step < 1 || in.Step > maxMenuSteps {
		return invalid("step", "must be 1 to %d", maxMenuSteps)
	}
	doc, err := s.pressKeys(c.Request().Context(), m.ID, in.Step, in.Call, in.Digits)
	return devTwiML(c, doc, err)
}

// devVoiceMissed: {"from": "+91…"} rings Saathi's number.
func (s *Server) devVoiceMissed(c echo.Context) error {
	var in struct {
		From string `json:"from"`
	}
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	doc, err := s.incomingCall(c.Request().Context(), "CA"+hex.EncodeToString(b), in.From)
	return devTwiML(c, doc, err)
}
