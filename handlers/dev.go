package handlers

import (
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
