// Package handlers holds Saathi's HTTP surface: the admin API, health
// checks, Twilio webhooks and the dev provider's pages, on one echo router.
package handlers

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/riverqueue/river"

	"saathi/db"
	"saathi/db/crypt"
	"saathi/jobs"
	"saathi/jobs/callflow"
	"saathi/jobs/reply"
	"saathi/jobs/risk"
	"saathi/locales"
)

// MaxBodyBytes caps every request body.
const MaxBodyBytes = 64 << 10

// Server serves the HTTP API. Every dependency is a field, set by the
// composition root (cmd/saathi) or by a test.
type Server struct {
	Pool    *pgxpool.Pool
	River   *river.Client[pgx.Tx] // may be insert-only (web role)
	Keyring *crypt.Keyring
	Catalog *locales.Catalog
	Replies *reply.Parser
	Logger  *slog.Logger

	// PublicURL is the base URL the world reaches Saathi at, without a
	// trailing slash (Twilio signs webhooks over it).
	PublicURL string
	// DevProvider enables the /dev pages (outbox, simulated inbound).
	DevProvider bool
	// TwilioAuthToken checks the signature on Twilio's webhooks.
	TwilioAuthToken string
	// Spool keeps inbound webhooks while the database is unreachable.
	Spool *Spool
	// ReceiveTimeout bounds the database work of an inbound webhook before
	// it is spooled instead (0: receiveTimeout, 5 s).
	ReceiveTimeout time.Duration
	// ResponseWindowMinutes is the default time a survivor has to answer a
	// check-in before it counts as missed (0: the database default, 24 h).
	ResponseWindowMinutes int
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client (SAATHI_TRUSTED_PROXIES). Without them the client is the
	// connection's peer: behind a proxy, every client would share its
	// address and its limits.
	TrustedProxies []*net.IPNet
	// Limits are the abuse limits per client address; zero fields take
	// DefaultLimits.
	Limits Limits

	// Voice is how call prompts sound in each language, and Flow renders
	// the TwiML of each step of a check-in call with it.
	Voice *locales.Voice
	Flow  *callflow.Flow
	// VoiceInbound is what a survivor's call to Saathi's number gets:
	// VoiceInboundCallback (default) or VoiceInboundAnswer.
	VoiceInbound string

	// UI renders the dashboard's words; nil: no dashboard (API only).
	UI *locales.UI
	// RiverUI serves River's queue UI at /admin/river (admins only); nil:
	// not mounted.
	RiverUI http.Handler
	// Sessions keeps dashboard sessions; nil: one in PostgreSQL, made by
	// Handler (the composition root sets one that cleans expired rows).
	Sessions *scs.SessionManager

	// Rules maps signals to severities (alerts raised by staff actions);
	// nil means the built-in rules.
	Rules *risk.Rules

	// NowFunc returns the current time; tests inject a fixed clock.
	NowFunc func() time.Time

	// Metrics counts webhooks, statuses, alerts and acknowledgements; nil
	// counts nothing.
	Metrics *jobs.Metrics

	// CallRate paces the next call of a check-in nobody answered, like the
	// planner's calls (SAATHI_CALL_RATE); 0 leaves them unpaced.
	CallRate jobs.Pace

	texts *textGroup // inbound texts waiting to be stored together: see groupOfTexts

	// Set by Handler.
	limits   *abuseLimits
	sessions *scs.SessionManager
	pages    pages
}

// jobDeps is what the jobs package's domain functions (raising an alert,
// moving alerts) need from a web process.
func (s *Server) jobDeps() *jobs.Deps {
	return &jobs.Deps{Pool: s.Pool, Keyring: s.Keyring, Catalog: s.Catalog, Replies: s.Replies, Rules: s.Rules, Logger: s.Logger, NowFunc: s.NowFunc, PublicURL: s.PublicURL, Metrics: s.Metrics}
}

func (s *Server) rules() risk.Rules { return s.jobDeps().RiskRules() }

func (s *Server) now() time.Time {
	if s.NowFunc != nil {
		return s.NowFunc()
	}
	return time.Now()
}

func (s *Server) queries() *db.Queries { return db.New(s.Pool) }

// Handler builds the echo router with every route.
func (s *Server) Handler() *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = s.errorHandler
	// The client address decides the abuse limits: X-Forwarded-For only
	// from the trusted proxies.
	e.IPExtractor = s.ipExtractor()
	public, err := url.Parse(s.PublicURL)
	hsts := err == nil && public.Scheme == "https"

	e.Use(securityHeaders(hsts))
	e.Use(requestID)
	e.Use(s.recoverer)
	e.Use(middleware.BodyLimit("64K"))
	webhooks := map[string]bool{} // route patterns, filled in once every route is registered
	e.Use(s.webhookMetrics(webhooks))
	e.Use(s.accessLog)
	s.limits = s.newAbuseLimits()
	e.Use(s.limits.middleware)

	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)

	e.GET("/api/openapi.yaml", s.openapi)
	api := e.Group("/api/v1", s.authenticate)
	api.GET("/me", s.me)
	api.POST("/staff", s.staffCreate, requireRole(RoleAdmin))
	api.GET("/staff", s.staffList, requireRole(RoleAdmin, RoleSupervisor))
	api.POST("/staff/:id/token", s.staffRotateToken, requireRole(RoleAdmin))
	api.POST("/staff/:id/deactivate", s.staffDeactivate, requireRole(RoleAdmin))

	api.POST("/survivors", s.survivorCreate, requireRole(RoleAdmin, RoleSupervisor))
	api.GET("/survivors", s.survivorList)
	api.GET("/survivors/:id", s.survivorGet)
	api.PATCH("/survivors/:id", s.survivorPatch)
	api.DELETE("/survivors/:id", s.survivorDelete, requireRole(RoleAdmin))
	api.POST("/survivors/:id/consent", s.consentCreate)
	api.PUT("/survivors/:id/cadence", s.cadencePut, requireRole(RoleAdmin, RoleSupervisor))
	api.POST("/survivors/:id/checkins", s.checkinCreate)

	api.GET("/survivors/:id/timeline", s.timeline)
	api.GET("/messages/unmatched", s.unmatchedList, requireRole(RoleAdmin))
	api.GET("/alerts", s.alertList)
	api.GET("/alerts/:id", s.alertGet)
	api.POST("/alerts/:id/acknowledge", s.alertAcknowledge)
	api.POST("/alerts/:id/resolve", s.alertResolve)

	e.POST("/twilio/status", s.twilioStatus)
	e.POST("/twilio/sms", s.twilioSMS)
	if s.Flow != nil {
		e.POST("/twilio/voice/answer", s.voiceAnswer)
		e.POST("/twilio/voice/gate", s.voiceGate)
		e.POST("/twilio/voice/gather", s.voiceGather)
		e.POST("/twilio/voice/noinput", s.voiceNoInput)
		e.POST("/twilio/voice/status", s.voiceStatus)
		e.POST("/twilio/voice/incoming", s.voiceIncoming)
		// Recorded prompts: Twilio fetches them to <Play>; nothing personal.
		e.GET("/twilio/voice/audio/:lang/:file", s.voiceAudio)
	}

	if s.UI != nil {
		s.mountDashboard(e)
	}
	if s.DevProvider && s.UI != nil {
		s.mountSimulator(e)
	}

	if s.DevProvider {
		e.GET("/dev/outbox", s.devOutbox)
		e.POST("/dev/inbound", s.devInbound)
		if s.Flow != nil {
			e.POST("/dev/voice/answer", s.devVoiceAnswer)
			e.POST("/dev/voice/press", s.devVoicePress)
			e.POST("/dev/voice/missed", s.devVoiceMissed)
		}
	}
	// Twilio's webhooks are timed; so are the dev provider's simulations
	// of them (the same functions behind them), so a demo shows the series.
	for _, r := range e.Routes() {
		if strings.HasPrefix(r.Path, "/twilio/") || r.Path == "/dev/inbound" || strings.HasPrefix(r.Path, "/dev/voice/") {
			webhooks[r.Path] = true
		}
	}
	return e
}

// recoverer turns a panic into a 500 without leaking a stack trace to the
// client; the trace goes to the log.
func (s *Server) recoverer(next echo.HandlerFunc) echo.HandlerFunc {
	return middleware.RecoverWithConfig(middleware.RecoverConfig{
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			s.Logger.Error("panic in handler", "route", c.Path(), "err", err, "stack", string(stack))
			return err
		},
	})(next)
}

// accessLog logs method, route pattern (never the raw URL, which may carry
// an ID), status and duration.
func (s *Server) accessLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		s.Logger.Debug("request", "method", c.Request().Method, "route", c.Path(),
			"status", c.Response().Status, "duration_ms", time.Since(start).Milliseconds(),
			"request_id", c.Response().Header().Get(echo.HeaderXRequestID))
		return nil
	}
}

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// readyz is ready when the database answers and every migration this
// binary embeds (Saathi's and River's) is applied: a replica started
// before `saathi migrate` ran takes no traffic. /healthz stays the
// liveness check, so the replica is not restarted meanwhile.
func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 3*time.Second)
	defer cancel()
	unavailable := func(reason string) error {
		return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "error": reason})
	}
	if err := s.Pool.Ping(ctx); err != nil {
		return unavailable("database unreachable")
	}
	if err := db.CheckMigrations(ctx, s.Pool); err != nil {
		if errors.Is(err, db.ErrMigrationsPending) {
			return unavailable(err.Error()) // names whose, and what to run
		}
		// Anything else (a timeout, a lost connection) is the database's
		// trouble: the details go to the log, not to whoever asks.
		s.Logger.Warn("readiness: migrations could not be checked", "err", err)
		return unavailable("database unreachable")
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}
