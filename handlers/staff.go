package handlers

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"

	"saathi/db"
	"saathi/db/crypt"
	"saathi/db/phone"
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
}

// StaffJSON is a staff member as the API shows it.
type StaffJSON struct {
	ID           uuid.UUID  `json:"id"`
	Name         string     `json:"name"`
	Role         string     `json:"role"`
	Phone        string     `json:"phone,omitempty"`
	SupervisorID *uuid.UUID `json:"supervisor_id,omitempty"`
	Language     string     `json:"language"`
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
		if db.IsUniqueViolation(err, "staff_phone_hash_key") {
			return StaffJSON{}, invalid("phone", "another staff member has this number")
		}
		return StaffJSON{}, err
	}
	out := StaffJSON{ID: staff.ID, Name: name, Role: staff.Role, SupervisorID: staff.SupervisorID, Language: staff.Language, Token: token}
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
