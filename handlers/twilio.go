package handlers

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"
	"github.com/twilio/twilio-go/client"

	"saathi/db"
)

// statusRank orders message statuses so callbacks only move a message
// forward: Twilio may deliver "sent" after "delivered".
var statusRank = map[string]int{
	"attempting": 0, "accepted": 1, "scheduled": 1, "queued": 2, "sending": 3, "sent": 4,
	"delivered": 5, "undelivered": 5, "failed": 5, "canceled": 5, "read": 6,
}

// lowerStatuses lists the statuses a message may move from to reach s.
func lowerStatuses(s string) []string {
	var out []string
	for st, r := range statusRank {
		if r < statusRank[s] {
			out = append(out, st)
		}
	}
	return out
}

// verifyTwilio checks X-Twilio-Signature over the public URL of this
// request and its POST parameters. Behind a proxy the URL Twilio signed is
// the public one, so it is built from SAATHI_PUBLIC_URL, never from Host.
func (s *Server) verifyTwilio(c echo.Context) (map[string]string, error) {
	req := c.Request()
	if err := req.ParseForm(); err != nil {
		return nil, &Problem{Status: http.StatusBadRequest, Message: "malformed form body"}
	}
	params := make(map[string]string, len(req.PostForm))
	for k, v := range req.PostForm {
		params[k] = v[0]
	}
	sig := req.Header.Get("X-Twilio-Signature")
	if s.TwilioAuthToken == "" || sig == "" {
		return nil, &Problem{Status: http.StatusForbidden, Message: "invalid signature"}
	}
	validator := client.NewRequestValidator(s.TwilioAuthToken)
	if !validator.Validate(s.PublicURL+req.URL.RequestURI(), params, sig) {
		return nil, &Problem{Status: http.StatusForbidden, Message: "invalid signature"}
	}
	return params, nil
}

// twilioStatus records a delivery status callback. It is idempotent and
// order-safe: a replay changes nothing and a late, lower status never
// overwrites a final one.
func (s *Server) twilioStatus(c echo.Context) error {
	params, err := s.verifyTwilio(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	sid, status := params["MessageSid"], params["MessageStatus"]
	if sid == "" {
		sid = params["SmsSid"]
	}
	if status == "" {
		status = params["SmsStatus"]
	}
	if _, known := statusRank[status]; !known || sid == "" {
		// Nothing Saathi tracks; answer 2xx so Twilio does not retry.
		return c.NoContent(http.StatusNoContent)
	}
	q := s.queries()
	msg, err := q.MessageGetBySID(ctx, sid)
	if errors.Is(db.NotFound(err), db.ErrNotFound) {
		// The callback may beat the worker's record of the SID (or the
		// worker crashed before writing it): the message ID in the callback
		// URL finds the attempt, and the SID is adopted.
		id, perr := strconv.ParseInt(c.QueryParam("m"), 10, 64)
		if perr != nil {
			return c.NoContent(http.StatusNoContent)
		}
		msg, err = q.MessageGet(ctx, id)
		if errors.Is(db.NotFound(err), db.ErrNotFound) || (err == nil && msg.ProviderSid != nil && *msg.ProviderSid != sid) {
			return c.NoContent(http.StatusNoContent)
		}
	}
	if err != nil {
		return err
	}
	p := db.MessageUpdateStatusParams{ID: msg.ID, Status: status, FromStatuses: lowerStatuses(status), ProviderSid: &sid, Now: s.now()}
	// Twilio's codes are five digits; one that does not fit the column is
	// left out rather than wrapped into some other code.
	if code, err := strconv.ParseInt(params["ErrorCode"], 10, 32); err == nil && code != 0 {
		c32 := int32(code)
		p.ErrorCode = &c32
	}
	n, err := q.MessageUpdateStatus(ctx, p)
	if err != nil {
		return err
	}
	if n > 0 {
		s.Metrics.MessageStatus(msg.Channel, status)
	}
	// A check-in that never reached the phone counts as missed at once.
	if n > 0 && (status == "undelivered" || status == "failed") && msg.CheckinID != nil {
		if err := q.CheckinDeliveryFailed(ctx, db.CheckinDeliveryFailedParams{ID: *msg.CheckinID, Now: s.now()}); err != nil {
			return err
		}
	}
	return c.NoContent(http.StatusNoContent)
}
