package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"

	"saathi/db"
	"saathi/db/crypt"
	"saathi/db/phone"
	"saathi/jobs"
	"saathi/locales"
)

// StaffInput creates a staff member, from the API or the CLI.
type StaffInput struct {
	Name         string `json:"name"`
	Role         string `json:"role"`
	Phone        string `json:"phone"`
	SupervisorID string `json:"supervisor_id"`
	// Language of the staff member's alert texts; default en.
	Language string `json:"language"`
	// Username and Password sign in to the dashboard (optional: an
	// API-only member has neither).
	Username string `json:"username"`
	Password string `json:"password"`
}

// StaffJSON is a staff member as the API shows it.
type StaffJSON struct {
	ID           uuid.UUID  `json:"id"`
	Name         string     `json:"name"`
	Role         string     `json:"role"`
	Phone        string     `json:"phone,omitempty"`
	SupervisorID *uuid.UUID `json:"supervisor_id,omitempty"`
	Language     string     `json:"language"`
	Username     string     `json:"username,omitempty"`
	// Token is present only in the answer that creates the staff member.
	Token string `json:"token,omitempty"`
}

// CreateStaff validates in and stores a new staff member with a fresh API
// token, returned once in StaffJSON.Token. Invalid input is a *Problem
// naming the field.
func CreateStaff(ctx context.Context, pool *pgxpool.Pool, kr *crypt.Keyring, in StaffInput) (StaffJSON, error) {
	name := strings.TrimSpace(in.Name)
	if name == "" || utf8.RuneCountInString(name) > 100 {
		return StaffJSON{}, invalid("name", "must be 1 to 100 characters")
	}
	switch in.Role {
	case RoleAdmin, RoleSupervisor, RoleCaseworker:
	default:
		return StaffJSON{}, invalid("role", "must be admin, supervisor or caseworker")
	}
	lang := in.Language
	if lang == "" {
		lang = "en"
	}
	if !locales.IsSupported(lang) {
		return StaffJSON{}, invalid("language", "must be one of %s", strings.Join(locales.Supported, ", "))
	}
	params := db.StaffCreateParams{Role: in.Role, Language: lang, NameEnc: kr.SealString(crypt.StaffName, name)}
	if in.Phone != "" {
		e164, err := phone.Normalize(in.Phone)
		if err != nil {
			return StaffJSON{}, invalid("phone", "not a valid phone number")
		}
		params.PhoneEnc = kr.SealString(crypt.StaffPhone, e164)
		params.PhoneHash = kr.BlindIndex(e164)
	}
	if in.Username != "" || in.Password != "" {
		user, err := parseUsername(in.Username)
		if err != nil {
			return StaffJSON{}, err
		}
		hash, err := HashPassword(in.Password)
		if err != nil {
			return StaffJSON{}, err
		}
		params.UsernameHash, params.UsernameEnc = UsernameIndex(kr, user), kr.SealString(crypt.StaffUsername, user)
		params.PasswordHash = &hash
		in.Username = user
	}
	q := db.New(pool)
	if in.SupervisorID != "" {
		id, err := uuid.Parse(in.SupervisorID)
		if err != nil {
			return StaffJSON{}, invalid("supervisor_id", "not a staff ID")
		}
		sup, err := q.StaffGet(ctx, id)
		if err != nil {
			if errors.Is(db.NotFound(err), db.ErrNotFound) {
				return StaffJSON{}, invalid("supervisor_id", "no such staff member")
			}
			return StaffJSON{}, err
		}
		if sup.Role == RoleCaseworker {
			return StaffJSON{}, invalid("supervisor_id", "must be a supervisor or an admin")
		}
		params.SupervisorID = &id
	}
	token, hash := NewToken()
	params.TokenHash = hash
	staff, err := q.StaffCreate(ctx, params)
	if err != nil {
		if db.IsUniqueViolation(err, "staff_phone_hash_active") {
			return StaffJSON{}, invalid("phone", "another staff member has this number")
		}
		if db.IsUniqueViolation(err, "staff_username") {
			return StaffJSON{}, invalid("username", "another staff member has this username")
		}
		return StaffJSON{}, err
	}
	out := StaffJSON{ID: staff.ID, Name: name, Role: staff.Role, SupervisorID: staff.SupervisorID, Language: staff.Language, Username: in.Username, Token: token}
	if in.Phone != "" {
		out.Phone = phone.Mask(mustOpen(kr, crypt.StaffPhone, staff.PhoneEnc))
	}
	return out, nil
}

func mustOpen(kr *crypt.Keyring, p crypt.Purpose, sealed []byte) string {
	s, err := kr.OpenString(p, sealed)
	if err != nil {
		return ""
	}
	return s
}

func (s *Server) staffJSON(st db.Staff) (StaffJSON, error) {
	name, err := s.Keyring.OpenString(crypt.StaffName, st.NameEnc)
	if err != nil {
		return StaffJSON{}, err
	}
	out := StaffJSON{ID: st.ID, Name: name, Role: st.Role, SupervisorID: st.SupervisorID, Language: st.Language}
	if st.PhoneEnc != nil {
		p, err := s.Keyring.OpenString(crypt.StaffPhone, st.PhoneEnc)
		if err != nil {
			return StaffJSON{}, err
		}
		out.Phone = phone.Mask(p)
	}
	return out, nil
}

func (s *Server) staffCreate(c echo.Context) error {
	var in StaffInput
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	out, err := CreateStaff(c.Request().Context(), s.Pool, s.Keyring, in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, out)
}

func (s *Server) staffList(c echo.Context) error {
	rows, err := s.queries().StaffList(c.Request().Context())
	if err != nil {
		return err
	}
	out := make([]StaffJSON, 0, len(rows))
	for _, r := range rows {
		j, err := s.staffJSON(r)
		if err != nil {
			return err
		}
		out = append(out, j)
	}
	return c.JSON(http.StatusOK, map[string]any{"staff": out})
}

// ErrStaffDeactivated is the answer for acting on a deactivated member.
var ErrStaffDeactivated = &Problem{Status: http.StatusConflict, Message: "this staff member is deactivated"}

// RotateToken gives a staff member a new API token, shown once; the old
// one stops working at once. actor is the admin doing it (nil: the CLI).
// It is audited.
func RotateToken(ctx context.Context, pool *pgxpool.Pool, actor *uuid.UUID, id uuid.UUID) (string, error) {
	token, hash := NewToken()
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		q := db.New(tx)
		if err := lockActiveStaff(ctx, q, id); err != nil {
			return err
		}
		if _, err := q.StaffSetToken(ctx, db.StaffSetTokenParams{ID: id, TokenHash: hash}); err != nil {
			return err
		}
		return staffAudit(ctx, q, actor, "staff.token.rotate", id)
	})
	if err != nil {
		return "", err
	}
	return token, nil
}

// DeactivateStaff ends a staff member's access at once: their tokens stop
// working, they are texted no alerts and their ACKs match nothing. Their
// survivors stay assigned to them until reassigned; meanwhile those
// survivors' alerts go to their supervisor (or the admins), and the open
// ones are sent there now, as are the alerts that had escalated to them. actor is the admin doing it (nil: the CLI); an
// admin cannot deactivate themselves. It is audited.
func DeactivateStaff(ctx context.Context, pool *pgxpool.Pool, ins jobs.Inserter, deps *jobs.Deps, actor *uuid.UUID, id uuid.UUID, now time.Time) error {
	if actor != nil && *actor == id {
		return &Problem{Status: http.StatusConflict, Message: "you cannot deactivate yourself"}
	}
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		q := db.New(tx)
		if err := lockActiveStaff(ctx, q, id); err != nil {
			return err
		}
		if _, err := q.StaffDeactivate(ctx, db.StaffDeactivateParams{ID: id, Now: &now}); err != nil {
			return err
		}
		if err := jobs.RenotifyDeactivated(ctx, deps, ins, tx, id, actor, now); err != nil {
			return err
		}
		return staffAudit(ctx, q, actor, "staff.deactivate", id)
	})
}

// lockActiveStaff locks a staff member's row for a change to their account:
// a 404 for nobody, a 409 for a deactivated member.
func lockActiveStaff(ctx context.Context, q *db.Queries, id uuid.UUID) error {
	st, err := q.StaffGetForUpdate(ctx, id)
	if err != nil {
		return db.NotFound(err)
	}
	if st.DeactivatedAt != nil {
		return ErrStaffDeactivated
	}
	return nil
}

// staffAudit records an action on a staff member's account.
func staffAudit(ctx context.Context, q *db.Queries, actor *uuid.UUID, action string, target uuid.UUID) error {
	detail := map[string]any{"staff_id": target}
	if actor == nil {
		detail["via"] = "cli"
	}
	raw, err := json.Marshal(detail)
	if err != nil {
		return err
	}
	return q.AuditLogCreate(ctx, db.AuditLogCreateParams{StaffID: actor, Action: action, Detail: raw})
}

// staffTarget is the staff member a route names; an unknown ID is a 404.
func staffTarget(c echo.Context) (uuid.UUID, error) {
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return uuid.UUID{}, errNotFound
	}
	return id, nil
}

func (s *Server) staffRotateToken(c echo.Context) error {
	id, err := staffTarget(c)
	if err != nil {
		return err
	}
	v := viewerOf(c)
	token, err := RotateToken(c.Request().Context(), s.Pool, &v.ID, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"id": id, "token": token})
}

func (s *Server) staffDeactivate(c echo.Context) error {
	id, err := staffTarget(c)
	if err != nil {
		return err
	}
	v := viewerOf(c)
	if err := DeactivateStaff(c.Request().Context(), s.Pool, s.River, s.jobDeps(), &v.ID, id, s.now()); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
