package handlers

import (
	"net/http"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/labstack/echo/v4"
	"github.com/riverqueue/river"

	"saathi/db"
	"saathi/jobs"
	"saathi/jobs/schedule"
)

// CheckinJSON is a check-in as the API shows it.
type CheckinJSON struct {
	ID       uuid.UUID  `json:"id"`
	Kind     string     `json:"kind"`
	Channel  *string    `json:"channel"`
	State    string     `json:"state"`
	Reason   *string    `json:"reason,omitempty"`
	DueAt    time.Time  `json:"due_at"`
	SendAt   *time.Time `json:"send_at,omitempty"`
	SentAt   *time.Time `json:"sent_at,omitempty"`
	Answered *time.Time `json:"answered_at,omitempty"`
}

func checkinJSON(c db.Checkin) CheckinJSON {
	return CheckinJSON{ID: c.ID, Kind: c.Kind, Channel: c.Channel, State: c.State, Reason: c.Reason, DueAt: c.DueAt, SentAt: c.SentAt, Answered: c.AnsweredAt}
}

// checkinCreate asks for an ad-hoc check-in. It is queued at once and sent
// at the next safe moment: now if a contact window is open (with time left),
// otherwise when the next one opens. Never outside a window.
func (s *Server) checkinCreate(c echo.Context) error {
	sv, err := s.scopedSurvivor(c, s.queries())
	if err != nil {
		return err
	}
	var in struct {
		Channel string `json:"channel"`
	}
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	out, err := s.requestCheckin(c, sv, in.Channel)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, out)
}

// requestCheckin asks for an ad-hoc check-in of a survivor the viewer may
// see (the API and the dashboard both ask through it).
func (s *Server) requestCheckin(c echo.Context, sv db.Survivor, channel string) (CheckinJSON, error) {
	ctx := c.Request().Context()
	v := viewerOf(c)
	in := struct{ Channel string }{channel}
	if in.Channel != "sms" && in.Channel != "voice" {
		return CheckinJSON{}, invalid("channel", "must be sms or voice")
	}
	if !slices.Contains(sv.Channels, in.Channel) {
		return CheckinJSON{}, invalid("channel", "%s is not one of the survivor's channels", in.Channel)
	}
	consent, err := currentConsent(ctx, s.queries(), sv.ID)
	if err != nil {
		return CheckinJSON{}, err
	}
	if !consent[in.Channel] {
		return CheckinJSON{}, invalid("channel", "the survivor has not consented to %s", in.Channel)
	}
	windows, loc, err := s.survivorWindows(c, sv)
	if err != nil {
		return CheckinJSON{}, err
	}
	now := s.now()
	sendAt, ok := schedule.NextSafe(windows, loc, now)
	if !ok {
		return CheckinJSON{}, invalid("contact_windows", "the survivor has no usable contact window")
	}

	var out CheckinJSON
	err = pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		q := db.New(tx)
		// One ad-hoc check-in on its way per channel: a double click must
		// not send the survivor two identical texts.
		if _, err := q.SurvivorGetForUpdate(ctx, sv.ID); err != nil {
			return db.NotFound(err)
		}
		pending, err := q.CheckinPendingAdhoc(ctx, db.CheckinPendingAdhocParams{SurvivorID: sv.ID, Channel: in.Channel})
		if err != nil {
			return err
		}
		if pending > 0 {
			return &Problem{Status: http.StatusConflict, Field: "channel", Message: "a check-in on this channel is already on its way"}
		}
		ci, err := q.CheckinCreate(ctx, db.CheckinCreateParams{
			SurvivorID: sv.ID, Kind: "adhoc", Channel: &in.Channel, DueAt: now, State: "queued", RequestedBy: &v.ID,
		})
		if err != nil {
			return err
		}
		// A job scheduled for "now" would wait for River's scheduler; one
		// without a time is worked at once.
		opts := &river.InsertOpts{}
		if sendAt.After(now) {
			opts.ScheduledAt = sendAt
		}
		if _, err := s.River.InsertTx(ctx, tx, jobs.CheckinSendArgs{CheckinID: ci.ID}, opts); err != nil {
			return err
		}
		out = checkinJSON(ci)
		at := sendAt.UTC()
		out.SendAt = &at
		return audit(ctx, q, v.ID, "checkin.request", &sv.ID, map[string]any{"channel": in.Channel})
	})
	return out, err
}

// cadencePut replaces a survivor's cadence. Future check-ins not yet handed
// to the sender are replaced; sent and in-flight ones are untouched.
func (s *Server) cadencePut(c echo.Context) error {
	ctx := c.Request().Context()
	sv, err := s.scopedSurvivor(c, s.queries())
	if err != nil {
		return err
	}
	var in CadenceJSON
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	if err := s.setCadence(c, sv, in); err != nil {
		return err
	}
	out, err := s.loadSurvivorJSON(ctx, s.queries(), sv.ID, true)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"cadence": out.Cadence, "next_checkin_due": out.NextCheckinDue})
}

// setCadence replaces a survivor's cadence for the API and the dashboard
// alike.
func (s *Server) setCadence(c echo.Context, sv db.Survivor, in CadenceJSON) error {
	ctx := c.Request().Context()
	v := viewerOf(c)
	cad, err := parseCadence(&in)
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		q := db.New(tx)
		cur, err := q.SurvivorGetForUpdate(ctx, sv.ID)
		if err != nil {
			return db.NotFound(err)
		}
		if cur.Status != "active" {
			return errNotFound // erased meanwhile
		}
		if err := replaceCadence(ctx, q, sv.ID, cad, s.now(), &v.ID); err != nil {
			return err
		}
		return audit(ctx, q, v.ID, "cadence.update", &sv.ID, nil)
	})
}

func (s *Server) survivorWindows(c echo.Context, sv db.Survivor) ([]schedule.ContactWindow, *time.Location, error) {
	rows, err := s.queries().ContactWindowList(c.Request().Context(), sv.ID)
	if err != nil {
		return nil, nil, err
	}
	loc, err := time.LoadLocation(sv.Timezone)
	if err != nil {
		return nil, nil, err
	}
	ws := make([]schedule.ContactWindow, 0, len(rows))
	for _, r := range rows {
		w, err := jobs.StoredWindow(r.Days, int(r.StartMinute), int(r.EndMinute))
		if err != nil {
			return nil, nil, err
		}
		ws = append(ws, w)
	}
	return ws, loc, nil
}
