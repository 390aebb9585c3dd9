package handlers

import (
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"saathi/db"
	"saathi/locales"
)

// signinFailures: a username may fail signing in 5 times at once, then
// once every 3 minutes. Counted for every username typed, whether an
// account has it or not, so the lock tells nobody which names exist.
var signinFailures = Limit{PerSecond: 1.0 / 180, Burst: 5}

// signinPage shows the sign-in form.
func (s *Server) signinPage(c echo.Context) error {
	return s.render(c, http.StatusOK, "signin", map[string]string{"Next": safeNext(c.QueryParam("next"))})
}

// signin checks a username and password. A wrong pair, an unknown name and
// an account without a password all get the same answer after the same
// work; repeated failures lock the username for a while (and, each a 401,
// spend the address's failure budget like a bad API token). Success renews
// the session ID.
func (s *Server) signin(c echo.Context) error {
	ctx := c.Request().Context()
	user := strings.ToLower(strings.TrimSpace(c.FormValue("username")))
	password := c.FormValue("password")
	next := safeNext(c.FormValue("next"))
	again := func(msg string) error {
		return s.render(c, http.StatusUnauthorized, "signin", map[string]string{"Next": next, "Error": msg, "Username": user})
	}
	key := "signin:" + string(UsernameIndex(s.Keyring, user))
	now := s.now()
	if spent, _ := s.limits.signins.spent(key, now); spent {
		return again("SignInLocked")
	}
	st, err := s.queries().StaffGetByUsernameHash(ctx, UsernameIndex(s.Keyring, user))
	var hash *string
	switch {
	case err == nil:
		hash = st.PasswordHash
	case !errorsIsNotFound(err):
		return err
	}
	if !checkPassword(password, hash) || err != nil {
		s.limits.signins.take(key, now)
		if spent, _ := s.limits.signins.spent(key, now); spent {
			return again("SignInLocked")
		}
		return again("SignInFailed")
	}
	// A new session ID at sign-in: one planted before cannot be ridden.
	if err := s.sessions.RenewToken(ctx); err != nil {
		return err
	}
	s.sessions.Put(ctx, sessStaff, st.ID.String())
	s.sessions.Put(ctx, sessGeneration, int(st.SessionGeneration))
	if err := audit(ctx, s.queries(), st.ID, "staff.signin", nil, nil); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, next)
}

func errorsIsNotFound(err error) bool { return db.NotFound(err) == db.ErrNotFound }

// signout ends this session.
func (s *Server) signout(c echo.Context) error {
	if err := s.sessions.Destroy(c.Request().Context()); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/signin")
}

// signoutEverywhere ends every session of the signed-in staff member, on
// every device (a phone left somewhere, a shared computer).
func (s *Server) signoutEverywhere(c echo.Context) error {
	ctx := c.Request().Context()
	st := c.Get(webStaffKey).(db.Staff)
	if err := s.queries().StaffEndSessions(ctx, st.ID); err != nil {
		return err
	}
	if err := audit(ctx, s.queries(), st.ID, "staff.signout_everywhere", nil, nil); err != nil {
		return err
	}
	if err := s.sessions.Destroy(ctx); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/signin")
}

// setLanguage remembers the dashboard language for a year.
func (s *Server) setLanguage(c echo.Context) error {
	lang := c.FormValue("lang")
	if !locales.IsSupported(lang) {
		return invalid("lang", "unknown language")
	}
	c.SetCookie(&http.Cookie{
		Name: langCookie, Value: lang, Path: "/", MaxAge: int((365 * 24 * time.Hour).Seconds()),
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: strings.HasPrefix(s.PublicURL, "https://"),
	})
	return c.Redirect(http.StatusSeeOther, safeNext(c.FormValue("next")))
}
