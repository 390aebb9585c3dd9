package handlers

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"saathi/db"
	"saathi/db/crypt"
)

// minCell is the fewest survivors a report cell may be built from: a
// smaller count could point at a person ("the one survivor in this team
// who asked for help that week"), so it shows as "<5".
const minCell = 5

// suppressed is what a too-small cell shows.
const suppressed = "<5"

// reportWeeks is how far back the report goes.
const reportWeeks = 12

// cell is a count, or "<5" when fewer than minCell survivors make it.
func cell(n, survivors int64) string {
	if survivors < minCell {
		return suppressed
	}
	return strconv.FormatInt(n, 10)
}

// report is the programme report: counts only, per week and team.
type report struct {
	Since    time.Time
	Checkins []reportCheckins
	Flags    []reportFlags
	Ack      []reportAck
	Chart    reportChart
}

type reportCheckins struct {
	Week, Team, Channel, Sent, Answered, Rate string
}

type reportFlags struct {
	Week, Team, Severity, Flags string
}

type reportAck struct {
	Week, Team, Median string
}

// reportChart is check-ins sent and answered per week, as SVG bars.
type reportChart struct {
	Bars          []reportBar
	Width, Height int
}

type reportBar struct {
	Week                        string
	X, SentY, SentH, AnsY, AnsH int
	Sent, Answered              string
}

// buildReport reads the report's counts and suppresses small cells.
func (s *Server) buildReport(ctx context.Context) (report, error) {
	q := s.queries()
	since := s.now().AddDate(0, 0, -7*reportWeeks)
	r := report{Since: since}
	teams := map[uuid.UUID]string{}
	team := func(id *uuid.UUID) string {
		if id == nil {
			return "—"
		}
		if name, ok := teams[*id]; ok {
			return name
		}
		name := "—"
		if st, err := q.StaffGetAny(ctx, *id); err == nil {
			name, _ = s.Keyring.OpenString(crypt.StaffName, st.NameEnc)
		}
		teams[*id] = name
		return name
	}
	week := func(d time.Time) string { return d.Format("2006-01-02") }

	rows, err := q.ReportCheckins(ctx, since)
	if err != nil {
		return r, err
	}
	for _, c := range rows {
		row := reportCheckins{Week: week(c.Week.Time), Team: team(c.Team), Channel: c.Channel,
			Sent: cell(c.Sent, c.Survivors), Answered: cell(c.Answered, c.Survivors), Rate: suppressed}
		if c.Survivors >= minCell && c.Sent > 0 {
			row.Rate = fmt.Sprintf("%d%%", c.Answered*100/c.Sent)
		}
		r.Checkins = append(r.Checkins, row)
	}
	flags, err := q.ReportFlags(ctx, since)
	if err != nil {
		return r, err
	}
	for _, f := range flags {
		r.Flags = append(r.Flags, reportFlags{Week: week(f.Week.Time), Team: team(f.Team), Severity: f.Severity, Flags: cell(f.Flags, f.Survivors)})
	}
	acks, err := q.ReportAcknowledge(ctx, since)
	if err != nil {
		return r, err
	}
	for _, a := range acks {
		row := reportAck{Week: week(a.Week.Time), Team: team(a.Team), Median: suppressed}
		if a.Survivors >= minCell {
			row.Median = roughly(time.Duration(a.MedianSeconds * float64(time.Second)))
		}
		r.Ack = append(r.Ack, row)
	}
	weekly, err := q.ReportWeekly(ctx, since)
	if err != nil {
		return r, err
	}
	r.Chart = chart(weekly, week)
	return r, nil
}

// chart draws sent and answered check-ins per week as paired bars; a week
// built from fewer than minCell survivors has no bars (and says "<5").
func chart(weekly []db.ReportWeeklyRow, week func(time.Time) string) reportChart {
	const barW, gap, height = 14, 12, 160
	c := reportChart{Width: max(len(weekly), 1) * (2*barW + gap), Height: height + 20}
	var top int64 = 1
	for _, w := range weekly {
		if w.Survivors >= minCell {
			top = max(top, w.Sent)
		}
	}
	for i, w := range weekly {
		b := reportBar{Week: week(w.Week.Time), X: i * (2*barW + gap), Sent: cell(w.Sent, w.Survivors), Answered: cell(w.Answered, w.Survivors)}
		if w.Survivors >= minCell {
			b.SentH = int(w.Sent * height / top)
			b.AnsH = int(w.Answered * height / top)
		}
		b.SentY, b.AnsY = height-b.SentH, height-b.AnsH
		c.Bars = append(c.Bars, b)
	}
	return c
}

// reportsPage shows the programme report (admins and supervisors).
func (s *Server) reportsPage(c echo.Context) error {
	r, err := s.buildReport(c.Request().Context())
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "reports", r)
}

// reportsCSV is the same report as CSV, small cells suppressed alike.
func (s *Server) reportsCSV(c echo.Context) error {
	r, err := s.buildReport(c.Request().Context())
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	h.Set(echo.HeaderContentDisposition, `attachment; filename="saathi-report.csv"`)
	c.Response().WriteHeader(http.StatusOK)
	w := csv.NewWriter(c.Response())
	_ = w.Write([]string{"section", "week", "team", "channel_or_severity", "value", "answered", "response_rate"})
	for _, x := range r.Checkins {
		_ = w.Write([]string{"checkins", x.Week, x.Team, x.Channel, x.Sent, x.Answered, x.Rate})
	}
	for _, x := range r.Flags {
		_ = w.Write([]string{"flags", x.Week, x.Team, x.Severity, x.Flags, "", ""})
	}
	for _, x := range r.Ack {
		_ = w.Write([]string{"median_time_to_acknowledge", x.Week, x.Team, "", x.Median, "", ""})
	}
	w.Flush()
	return w.Error()
}
