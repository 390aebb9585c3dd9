package handlers

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"saathi/db"
	"saathi/db/crypt"
)

// staffRow is a staff member on the staff page.
type staffRow struct {
	StaffJSON
	Username    string
	Deactivated bool
}

// staffPage lists every staff member (admins; supervisors see it too,
// without the actions), with the form to add one.
func (s *Server) staffPage(c echo.Context) error {
	rows, err := s.queries().StaffListAll(c.Request().Context())
	if err != nil {
		return err
	}
	out := make([]staffRow, 0, len(rows))
	for _, st := range rows {
		j, err := s.staffJSON(st)
		if err != nil {
			return err
		}
		r := staffRow{StaffJSON: j, Deactivated: st.DeactivatedAt != nil}
		if st.UsernameEnc != nil {
			if r.Username, err = s.Keyring.OpenString(crypt.StaffUsername, st.UsernameEnc); err != nil {
				return err
			}
		}
		out = append(out, r)
	}
	return s.render(c, http.StatusOK, "staff", map[string]any{
		"Staff": out, "Admin": viewerOf(c).Role == RoleAdmin, "Done": c.QueryParam("done"), "Error": c.QueryParam("error"),
		"Token": c.Get("newToken"),
	})
}

// staffAdd adds a staff member from the form (admins). Their API token is
// shown once, on the page that answers.
func (s *Server) staffAdd(c echo.Context) error {
	in := StaffInput{
		Name: c.FormValue("name"), Role: c.FormValue("role"), Phone: c.FormValue("phone"),
		SupervisorID: c.FormValue("supervisor_id"), Language: c.FormValue("language"),
		Username: c.FormValue("username"), Password: c.FormValue("password"),
	}
	out, err := CreateStaff(c.Request().Context(), s.Pool, s.Keyring, in)
	var p *Problem
	if errors.As(err, &p) && p.Status < 500 {
		return c.Redirect(http.StatusSeeOther, "/dashboard/staff?error="+p.Field)
	}
	if err != nil {
		return err
	}
	v := viewerOf(c)
	if err := staffAudit(c.Request().Context(), s.queries(), &v.ID, "staff.create", out.ID); err != nil {
		return err
	}
	c.Set("newToken", out.Token)
	return s.staffPage(c)
}

// staffAct deactivates a staff member, or gives them a new password (which
// ends their sessions), from the staff page (admins).
func (s *Server) staffAct(c echo.Context) error {
	ctx := c.Request().Context()
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return errNotFound
	}
	v := viewerOf(c)
	switch c.Param("action") {
	case "deactivate":
		err = DeactivateStaff(ctx, s.Pool, s.River, s.jobDeps(), &v.ID, id, s.now())
	case "password":
		err = s.resetPassword(c, id, c.FormValue("password"))
	default:
		return errNotFound
	}
	var p *Problem
	if errors.As(err, &p) && p.Status < 500 {
		return c.Redirect(http.StatusSeeOther, "/dashboard/staff?error="+cmpOr(p.Field, "action"))
	}
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/dashboard/staff?done="+c.Param("action"))
}

// resetPassword sets a new password and ends every session of the member.
func (s *Server) resetPassword(c echo.Context, id uuid.UUID, password string) error {
	hash, err := HashPassword(password)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	n, err := s.queries().StaffSetPassword(ctx, db.StaffSetPasswordParams{ID: id, PasswordHash: &hash})
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrStaffDeactivated
	}
	v := viewerOf(c)
	return staffAudit(ctx, s.queries(), &v.ID, "staff.password.reset", id)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// auditRow is one audit log entry on the audit page.
type auditRow struct {
	db.AuditLogPageRow
	Staff string
}

// auditPage shows the audit log, newest first, 100 at a time (admins):
// who saw or changed what, by IDs and case codes (detail holds no
// personal data).
func (s *Server) auditPage(c echo.Context) error {
	ctx := c.Request().Context()
	p := db.AuditLogPageParams{Lim: 100}
	if b := c.QueryParam("before"); b != "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil {
			return invalid("before", "not an entry number")
		}
		p.Before = &n
	}
	rows, err := s.queries().AuditLogPage(ctx, p)
	if err != nil {
		return err
	}
	names := map[uuid.UUID]string{}
	out := make([]auditRow, 0, len(rows))
	for _, r := range rows {
		row := auditRow{AuditLogPageRow: r}
		if r.StaffID != nil {
			if _, ok := names[*r.StaffID]; !ok {
				st, err := s.queries().StaffGetAny(ctx, *r.StaffID)
				if err == nil {
					names[*r.StaffID], _ = s.Keyring.OpenString(crypt.StaffName, st.NameEnc)
				}
			}
			row.Staff = names[*r.StaffID]
		}
		out = append(out, row)
	}
	next := int64(0)
	if len(rows) == int(p.Lim) {
		next = rows[len(rows)-1].ID
	}
	v := viewerOf(c)
	if err := audit(ctx, s.queries(), v.ID, "audit.read", nil, nil); err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "audit", map[string]any{"Rows": out, "Next": next, "Detail": func(b []byte) string { return strings.TrimSpace(string(b)) }})
}
