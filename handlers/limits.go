package handlers

import (
	"crypto/rand"
	"errors"
	"math"
	"net/http"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"
)

// Limit is a token bucket per client address: up to Burst requests at
// once, then PerSecond.
type Limit struct {
	PerSecond float64
	Burst     int
}

// Limits are Saathi's abuse limits per client address. A zero Limit takes
// its default from DefaultLimits.
type Limits struct {
	// FailedAuth is spent by every 401 on /api/* and every 403 (forged or
	// unsigned webhook) on /twilio/*. An address with nothing left gets 429
	// on /api/* before its token is even looked at, and its unsigned
	// webhooks get 429. Successful requests cost nothing.
	FailedAuth Limit
	// Twilio counts every request to /twilio/*. Over it, a request whose
	// signature verifies is still processed; anything else gets 429.
	Twilio Limit
	// Dev counts every request to /dev/* (the dev provider's pages).
	Dev Limit
}

// DefaultLimits are the production limits.
//
// FailedAuth: 20 failures at once, then one every 3 s (the budget is full
// again after a minute). A script or dashboard left with a revoked token
// and retrying every few seconds never gets locked out; a guesser gets 20
// tries a minute, against tokens of 256 random bits.
//
// Twilio: 2,000 at once, then 200/s per address. Sending runs at about
// 1,300 texts/s per worker process, each followed by two or three status
// callbacks, spread over Twilio's pool of addresses; a wave stays under the
// limit in normal operation, so the warning logged over it means something
// (a proxy without SAATHI_TRUSTED_PROXIES, say). Over it nothing of
// Twilio's is lost anyway: signed requests are always processed. Unsigned
// requests cost a signature check and no database work.
//
// Dev: 30 at once, then 10/s: the outbox polled by hand or by a test, not
// a loop.
func DefaultLimits() Limits {
	return Limits{
		FailedAuth: Limit{PerSecond: 1.0 / 3, Burst: 20},
		Twilio:     Limit{PerSecond: 200, Burst: 2000},
		Dev:        Limit{PerSecond: 10, Burst: 30},
	}
}

func (l Limit) or(def Limit) Limit {
	if l.PerSecond <= 0 || l.Burst <= 0 {
		return def
	}
	return l
}

// errTooManyRequests is the answer over a limit, with a Retry-After header.
var errTooManyRequests = &Problem{Status: http.StatusTooManyRequests, Message: "too many requests; try again later"}

// abuseLimits holds the buckets of one router: every Handler() starts
// afresh.
type abuseLimits struct {
	s                     *Server
	failures, twilio, dev *buckets
	// signins counts failed sign-ins per username (see signinFailures).
	signins              *buckets
	lockouts, signedOver *throttledWarning
}

func (s *Server) newAbuseLimits() *abuseLimits {
	def := DefaultLimits()
	return &abuseLimits{
		s:          s,
		failures:   newBuckets(s.Limits.FailedAuth.or(def.FailedAuth)),
		twilio:     newBuckets(s.Limits.Twilio.or(def.Twilio)),
		dev:        newBuckets(s.Limits.Dev.or(def.Dev)),
		signins:    newBuckets(signinFailures),
		lockouts:   &throttledWarning{every: time.Minute},
		signedOver: &throttledWarning{every: time.Minute},
	}
}

// middleware applies the limit of the request's path. It goes by path
// prefix, not by route, so a route added later under /twilio/ or /dev/ is
// limited too.
func (l *abuseLimits) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		switch path := echo.GetPath(c.Request()); {
		case strings.HasPrefix(path, "/api/"), path == "/signin":
			return l.api(c, next)
		case strings.HasPrefix(path, "/twilio/"):
			return l.webhook(c, next)
		case strings.HasPrefix(path, "/dev/"):
			if ok, wait := l.dev.take(clientKey(c), l.s.now()); !ok {
				return tooManyRequests(c, wait)
			}
		}
		return next(c)
	}
}

// api refuses an address that has spent its failure budget, before its
// token is checked, so it cannot keep guessing; each 401 spends from it.
func (l *abuseLimits) api(c echo.Context, next echo.HandlerFunc) error {
	key := clientKey(c)
	if spent, wait := l.failures.spent(key, l.s.now()); spent {
		return tooManyRequests(c, wait)
	}
	err := next(c)
	if statusOf(c, err) == http.StatusUnauthorized {
		l.fail(c, key)
	}
	return err
}

// webhook limits /twilio/*. Over the request limit or the failure budget,
// only a request whose signature verifies goes through: Twilio does not
// retry a 4xx, and a survivor's "help" must never be dropped. Forged and
// unsigned requests (403) spend the failure budget, so a flood of them is
// cut off after a few while Twilio's signed traffic never is.
func (l *abuseLimits) webhook(c echo.Context, next echo.HandlerFunc) error {
	key, now := clientKey(c), l.s.now()
	ok, wait := l.twilio.take(key, now)
	if spent, failWait := l.failures.spent(key, now); spent {
		ok, wait = false, max(wait, failWait)
	}
	if !ok {
		if _, err := l.s.verifyTwilio(c); err != nil {
			return tooManyRequests(c, wait)
		}
		l.signedOver.log(l.s, now, "twilio webhooks over the per-address limit were processed because their signature verified",
			"route", c.Path(), "request_id", c.Response().Header().Get(echo.HeaderXRequestID))
	}
	err := next(c)
	if statusOf(c, err) == http.StatusForbidden {
		l.fail(c, key)
	}
	return err
}

// fail spends a token of key's failure budget and logs when that was the
// last one. The address is not logged: the request ID ties the line to the
// proxy's access log.
func (l *abuseLimits) fail(c echo.Context, key string) {
	now := l.s.now()
	l.failures.take(key, now)
	if spent, _ := l.failures.spent(key, now); spent {
		l.lockouts.log(l.s, now, "a client address spent its failure budget (401 on the API or 403 on a webhook) and is refused for now",
			"route", c.Path(), "request_id", c.Response().Header().Get(echo.HeaderXRequestID))
	}
}

// tooManyRequests is a 429 telling the client when a token is back.
func tooManyRequests(c echo.Context, wait time.Duration) error {
	secs := max(1, int(math.Ceil(wait.Seconds())))
	c.Response().Header().Set(echo.HeaderRetryAfter, strconv.Itoa(secs))
	return errTooManyRequests
}

// statusOf is the status a request is answered with: the committed one,
// or the one the error handler will give err. Other errors (500, a
// database's not-found) are never 401 or 403, which is all the limits ask.
func statusOf(c echo.Context, err error) int {
	var (
		p       *Problem
		httpErr *echo.HTTPError
	)
	switch {
	case err == nil:
		return c.Response().Status
	case errors.As(err, &p):
		return p.Status
	case errors.As(err, &httpErr):
		return httpErr.Code
	}
	return 0
}

// clientKey is the key of the request's client address: the address for
// IPv4, its /64 for IPv6 (a subscriber holds a whole /64 and must not get
// 2^64 budgets). The address comes from e.IPExtractor: X-Forwarded-For
// only from SAATHI_TRUSTED_PROXIES.
func clientKey(c echo.Context) string {
	ip := c.RealIP()
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	if addr = addr.Unmap(); addr.Is6() {
		p, _ := addr.Prefix(64)
		return p.String()
	}
	return addr.String()
}

// ipExtractor finds the client address. Behind a reverse proxy every
// client would share the proxy's address, so X-Forwarded-For is believed,
// but only from the configured proxies (echo would otherwise trust every
// private, loopback and link-local address).
func (s *Server) ipExtractor() echo.IPExtractor {
	if len(s.TrustedProxies) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, n := range s.TrustedProxies {
		opts = append(opts, echo.TrustIPRange(n))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// buckets is a token bucket per key. A bucket untouched long enough to be
// full again is forgotten: a new one would be the same.
type buckets struct {
	limit Limit
	idle  time.Duration

	mu    sync.Mutex
	m     map[string]*bucket
	swept time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

func newBuckets(l Limit) *buckets {
	idle := time.Duration(float64(l.Burst) / l.PerSecond * float64(time.Second))
	return &buckets{limit: l, idle: idle, m: map[string]*bucket{}}
}

// take spends a token of key's bucket. With none left it returns false and
// how long until there is one.
func (b *buckets) take(key string, now time.Time) (bool, time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if now.Sub(b.swept) > b.idle {
		for k, v := range b.m {
			if now.Sub(v.seen) > b.idle {
				delete(b.m, k)
			}
		}
		b.swept = now
	}
	bk := b.m[key]
	if bk == nil {
		bk = &bucket{lim: rate.NewLimiter(rate.Limit(b.limit.PerSecond), b.limit.Burst)}
		b.m[key] = bk
	}
	bk.seen = now
	if bk.lim.AllowN(now, 1) {
		return true, 0
	}
	return false, b.wait(bk, now)
}

// spent reports, without spending anything, whether key's bucket is empty
// and how long until it holds a token again.
func (b *buckets) spent(key string, now time.Time) (bool, time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	bk := b.m[key]
	if bk == nil || bk.lim.TokensAt(now) >= 1 {
		return false, 0
	}
	return true, b.wait(bk, now)
}

func (b *buckets) wait(bk *bucket, now time.Time) time.Duration {
	missing := 1 - bk.lim.TokensAt(now)
	return time.Duration(missing / b.limit.PerSecond * float64(time.Second))
}

// throttledWarning logs a warning at most once per interval, with how many
// times it happened since the last line: a flood must not flood the logs.
type throttledWarning struct {
	every time.Duration

	mu    sync.Mutex
	last  time.Time
	count int
}

func (w *throttledWarning) log(s *Server, now time.Time, msg string, args ...any) {
	w.mu.Lock()
	w.count++
	if !w.last.IsZero() && now.Sub(w.last) < w.every {
		w.mu.Unlock()
		return
	}
	n := w.count
	w.last, w.count = now, 0
	w.mu.Unlock()
	s.Logger.Warn(msg, append(args, "count", n)...)
}

// requestIDPattern is what an incoming X-Request-Id must look like to be
// kept: short, and nothing that could break a log line (no spaces, quotes,
// newlines, '=' or non-ASCII).
var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// requestID keeps a safe incoming X-Request-Id (a proxy's, to follow a
// request across both logs) and makes up a random one otherwise. It is
// echoed in the response and used in Saathi's logs.
func requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Request().Header.Get(echo.HeaderXRequestID)
		if !requestIDPattern.MatchString(id) {
			id = rand.Text()
			c.Request().Header.Set(echo.HeaderXRequestID, id)
		}
		c.Response().Header().Set(echo.HeaderXRequestID, id)
		return next(c)
	}
}

// securityHeaders go on every response, errors and webhooks included.
// no-store everywhere is the simple way to cover every answer that may
// carry personal data: nothing Saathi serves is worth caching. HSTS only
// when the public URL is https (over http a browser ignores it, and a dev
// setup on localhost must not be pinned to https).
func securityHeaders(hsts bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			h := c.Response().Header()
			h.Set(echo.HeaderXContentTypeOptions, "nosniff")
			h.Set(echo.HeaderReferrerPolicy, "no-referrer")
			h.Set(echo.HeaderCacheControl, "no-store")
			if hsts {
				h.Set(echo.HeaderStrictTransportSecurity, "max-age=63072000; includeSubDomains")
			}
			return next(c)
		}
	}
}
