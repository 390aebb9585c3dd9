package handlers

import (
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/alexedwards/scs/pgxstore"
	"github.com/alexedwards/scs/v2"
	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"saathi/db"
	"saathi/locales"
)

// The dashboard: server-rendered pages (html/template, embedded), signed
// in with a username and password, with sessions in PostgreSQL and a CSRF
// token on every form. It follows the API's rules: scoping through the
// survivor's current assignment, 404 for what is not yours, audit.

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// Session keys.
const (
	sessStaff      = "staff"      // the signed-in staff member's ID
	sessGeneration = "generation" // their session generation when signed in
)

// sessionIdle is how long a session lasts without a request.
const sessionIdle = 30 * time.Minute

// langCookie remembers the dashboard language chosen.
const langCookie = "saathi_lang"

// newSessions makes the session manager: sessions in PostgreSQL, an
// HttpOnly, SameSite=Lax cookie (Secure when the public URL is https),
// ended after 30 idle minutes or 12 hours in all.
func (s *Server) newSessions() *scs.SessionManager {
	sm := scs.New()
	// Expired sessions are deleted by a periodic job (jobs.SessionCleanup),
	// once for every web process, not by a goroutine in each.
	sm.Store = pgxstore.NewWithCleanupInterval(s.Pool, 0)
	sm.IdleTimeout = sessionIdle
	sm.Lifetime = 12 * time.Hour
	sm.Cookie.Name = "saathi_session"
	sm.Cookie.HttpOnly = true
	sm.Cookie.SameSite = http.SameSiteLaxMode
	sm.Cookie.Secure = strings.HasPrefix(s.PublicURL, "https://")
	sm.Cookie.Path = "/"
	return sm
}

// pages holds the parsed templates: each page with the layout.
type pages map[string]*template.Template

func (s *Server) parsePages() (pages, error) {
	funcs := template.FuncMap{
		"list":     func(items ...string) []string { return items },
		"add":      func(a, b int) int { return a + b },
		"atoi":     func(s string) int { n, _ := strconv.Atoi(s); return n },
		"title":    title,
		"langname": languageName,
		"intent":   intentWord,
		"t": func(lang, id string, kv ...any) string {
			var data map[string]any
			if len(kv) > 0 {
				data = map[string]any{}
				for i := 0; i+1 < len(kv); i += 2 {
					data[fmt.Sprint(kv[i])] = kv[i+1]
				}
			}
			return s.UI.T(lang, id, data)
		},
	}
	out := pages{}
	names, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		return nil, err
	}
	// Partials (templates/_*.html) are parsed with every page.
	partials, err := fs.Glob(templateFiles, "templates/_*.html")
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		if strings.HasSuffix(name, "/layout.html") || strings.HasPrefix(path.Base(name), "_") {
			continue
		}
		files := append([]string{"templates/layout.html", name}, partials...)
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFiles, files...)
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", name, err)
		}
		out[strings.TrimSuffix(strings.TrimPrefix(name, "templates/"), ".html")] = t
	}
	return out, nil
}

// page is what every page's template gets.
type page struct {
	Lang      string
	Languages []string
	CSRF      string
	Staff     *db.Staff
	Path      string
	Data      any
}

// renderFragment writes one named template of a page (a part the page
// refreshes by itself), without the layout.
func (s *Server) renderFragment(c echo.Context, pageName, tmpl string, data any) error {
	t, ok := s.pages[pageName]
	if !ok {
		return fmt.Errorf("no page %q", pageName)
	}
	p := page{Lang: s.pageLang(c), Data: data}
	// A form in the part needs the token like the page's.
	p.CSRF, _ = c.Get(middleware.DefaultCSRFConfig.ContextKey).(string)
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, tmpl, p); err != nil {
		return fmt.Errorf("render %s/%s: %w", pageName, tmpl, err)
	}
	return c.HTML(http.StatusOK, b.String())
}

// render writes a page. Pages may show personal data: never cached (the
// security headers send no-store on every response).
func (s *Server) render(c echo.Context, status int, name string, data any) error {
	t, ok := s.pages[name]
	if !ok {
		return fmt.Errorf("no page %q", name)
	}
	p := page{Lang: s.pageLang(c), Languages: s.UI.Languages(), Path: c.Request().URL.Path, Data: data}
	if tok, ok := c.Get(middleware.DefaultCSRFConfig.ContextKey).(string); ok {
		p.CSRF = tok
	}
	if st, ok := c.Get(webStaffKey).(db.Staff); ok {
		p.Staff = &st
	}
	var b strings.Builder
	if err := t.Execute(&b, p); err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	return c.HTML(status, b.String())
}

// pageLang is the dashboard language: the one chosen (a cookie), else
// the staff member's own, else English.
func (s *Server) pageLang(c echo.Context) string {
	if ck, err := c.Cookie(langCookie); err == nil && locales.IsSupported(ck.Value) {
		return ck.Value
	}
	if st, ok := c.Get(webStaffKey).(db.Staff); ok && locales.IsSupported(st.Language) {
		return st.Language
	}
	return "en"
}

const webStaffKey = "saathi.web.staff"

// requireSignIn lets a page through only with a valid session of an active
// staff member whose sessions have not been ended since (sign out
// everywhere, a password reset, deactivation); anyone else goes to the
// sign-in page and comes back after.
func (s *Server) requireSignIn(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		id, err := uuid.Parse(s.sessions.GetString(ctx, sessStaff))
		if err == nil {
			st, err := s.queries().StaffGet(ctx, id)
			switch {
			case err == nil && st.SessionGeneration == int32(s.sessions.GetInt(ctx, sessGeneration)):
				c.Set(webStaffKey, st)
				c.Set(viewerKey, viewer{ID: st.ID, Role: st.Role})
				return next(c)
			case err != nil && !errors.Is(db.NotFound(err), db.ErrNotFound):
				return err
			}
			_ = s.sessions.Destroy(ctx)
		}
		return c.Redirect(http.StatusSeeOther, "/signin?next="+url.QueryEscape(c.Request().URL.RequestURI()))
	}
}

// safeNext is where to go after signing in: a path on this site only, never
// another host ("//evil", "https://evil", "/\evil").
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/dashboard"
	}
	u, err := url.Parse(next)
	if err != nil || u.Host != "" || u.Scheme != "" {
		return "/dashboard"
	}
	return next
}

// csrf protects every form: a token in a cookie and in the form; a post
// without a matching one is refused with 403.
func (s *Server) csrf() echo.MiddlewareFunc {
	return middleware.CSRFWithConfig(middleware.CSRFConfig{
		TokenLookup:    "form:csrf",
		CookieName:     "saathi_csrf",
		CookiePath:     "/",
		CookieHTTPOnly: true,
		CookieSecure:   strings.HasPrefix(s.PublicURL, "https://"),
		CookieSameSite: http.SameSiteLaxMode,
		ErrorHandler: func(error, echo.Context) error {
			return &Problem{Status: http.StatusForbidden, Message: "the form expired or did not come from Saathi: reload the page and try again"}
		},
	})
}

// mountDashboard adds the sign-in and dashboard pages, with sessions and
// CSRF protection on every one of them.
func (s *Server) mountDashboard(e *echo.Echo) {
	var err error
	if s.pages, err = s.parsePages(); err != nil {
		panic(err) // embedded templates: a broken one is a build mistake, caught by every test
	}
	s.sessions = s.Sessions
	if s.sessions == nil {
		s.sessions = s.newSessions()
	}
	static, err := fs.Sub(staticFiles, "static")
	if err != nil {
		panic(err)
	}
	e.GET("/static/*", echo.WrapHandler(http.StripPrefix("/static/", http.FileServerFS(static))))

	web := e.Group("", echo.WrapMiddleware(s.sessions.LoadAndSave), s.csrf())
	web.GET("/", func(c echo.Context) error { return c.Redirect(http.StatusSeeOther, "/dashboard") })
	web.GET("/signin", s.signinPage)
	web.POST("/signin", s.signin)
	web.POST("/signout", s.signout)
	web.POST("/language", s.setLanguage)

	// River's queue UI, for admins only, behind the same sign-in (outside
	// the CSRF group: its own API posts JSON; the session cookie is
	// SameSite=Lax, so no other site can post with it).
	if s.RiverUI != nil {
		river := e.Group("/admin/river", echo.WrapMiddleware(s.sessions.LoadAndSave), s.requireSignIn, requireRole(RoleAdmin))
		river.Any("", echo.WrapHandler(s.RiverUI))
		river.Any("/*", echo.WrapHandler(s.RiverUI))
	}

	in := web.Group("", s.requireSignIn)
	in.POST("/signout/everywhere", s.signoutEverywhere)
	in.GET("/dashboard", s.dashboard)
	in.GET("/dashboard/live/alerts", s.dashboardLive)
	in.GET("/dashboard/alerts/:id", s.alertPage)
	in.GET("/dashboard/survivors", s.survivorsPage)
	in.GET("/dashboard/survivors/new", s.enrolPage, requireRole(RoleAdmin, RoleSupervisor))
	in.POST("/dashboard/survivors", s.enrolSubmit, requireRole(RoleAdmin, RoleSupervisor))
	in.GET("/dashboard/survivors/:id", s.survivorPage)
	in.POST("/dashboard/survivors/:id/checkins", s.survivorCheckin)
	in.POST("/dashboard/survivors/:id/reveal", s.revealPhone)
	in.POST("/dashboard/survivors/:id/change/:form", s.survivorForm)
	in.GET("/dashboard/survivors/:id/erase", s.erasePage, requireRole(RoleAdmin))
	in.POST("/dashboard/survivors/:id/erase", s.eraseSubmit, requireRole(RoleAdmin))
	in.GET("/dashboard/staff", s.staffPage, requireRole(RoleAdmin, RoleSupervisor))
	in.POST("/dashboard/staff", s.staffAdd, requireRole(RoleAdmin))
	in.POST("/dashboard/staff/:id/:action", s.staffAct, requireRole(RoleAdmin))
	in.GET("/dashboard/audit", s.auditPage, requireRole(RoleAdmin))
	in.GET("/dashboard/reports", s.reportsPage, requireRole(RoleAdmin, RoleSupervisor))
	in.GET("/dashboard/cadences", s.cadencesPage, requireRole(RoleAdmin))
	in.POST("/dashboard/cadences", s.cadenceTemplateCreate, requireRole(RoleAdmin))
	in.POST("/dashboard/cadences/:id/apply", s.cadenceTemplateApply, requireRole(RoleAdmin))
	in.GET("/dashboard/reports.csv", s.reportsCSV, requireRole(RoleAdmin, RoleSupervisor))
	in.POST("/dashboard/alerts/:id/:action", s.alertAct)
}
