package handlers

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"saathi/db"
)

// Staff roles.
const (
	RoleAdmin      = "admin"
	RoleSupervisor = "supervisor"
	RoleCaseworker = "caseworker"
)

// tokenPrefix marks Saathi API tokens so they are recognisable in a leak
// scanner and in support conversations.
const tokenPrefix = "sth_"

// NewToken returns a fresh API token and the hash stored for it. The token
// is shown once; only the hash is kept.
func NewToken() (token string, hash []byte) {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	token = tokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	return token, HashToken(token)
}

// HashToken is the stored form of a token. Tokens carry 256 random bits, so
// a fast hash is enough: there is nothing to brute-force.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// viewer is the authenticated staff member.
type viewer struct {
	ID   uuid.UUID
	Role string
}

const viewerKey = "saathi.viewer"

func viewerOf(c echo.Context) viewer { return c.Get(viewerKey).(viewer) }

// authenticate resolves the bearer token to a staff member.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		auth := c.Request().Header.Get(echo.HeaderAuthorization)
		scheme, token, ok := strings.Cut(auth, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || !strings.HasPrefix(token, tokenPrefix) {
			c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="saathi"`)
			return errUnauthorized
		}
		staff, err := s.queries().StaffGetByTokenHash(c.Request().Context(), HashToken(strings.TrimSpace(token)))
		if err != nil {
			if errors.Is(db.NotFound(err), db.ErrNotFound) {
				c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="saathi", error="invalid_token"`)
				return errUnauthorized
			}
			return err
		}
		c.Set(viewerKey, viewer{ID: staff.ID, Role: staff.Role})
		return next(c)
	}
}

// requireRole lets only the given roles through.
func requireRole(roles ...string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if !slices.Contains(roles, viewerOf(c).Role) {
				return errForbidden
			}
			return next(c)
		}
	}
}

func (s *Server) me(c echo.Context) error {
	v := viewerOf(c)
	staff, err := s.queries().StaffGet(c.Request().Context(), v.ID)
	if err != nil {
		return db.NotFound(err)
	}
	out, err := s.staffJSON(staff)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}
