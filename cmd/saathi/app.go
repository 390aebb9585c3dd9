package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"riverqueue.com/riverui"

	"saathi/db"
	"saathi/handlers"
	"saathi/jobs"
	"saathi/jobs/callflow"
	"saathi/jobs/reply"
	"saathi/jobs/telephony"
	"saathi/locales"
	"saathi/locales/lexicon"
)

// Main is the running program: built from Config by Run, torn down by
// Close. Tests boot the real thing through it on a random port.
type Main struct {
	Config Config
	Role   string // web, worker or all
	Logger *slog.Logger
	Stdout io.Writer
	// NowFunc overrides the clock of handlers and jobs (tests).
	NowFunc func() time.Time

	pool   *pgxpool.Pool
	river  *river.Client[pgx.Tx]
	http   *http.Server
	ln     net.Listener
	cancel context.CancelFunc
	done   chan struct{}

	// srv is the web role's handlers: Close replays its spool one last
	// time.
	srv *handlers.Server
	// metrics are served on their own listener (SAATHI_METRICS_ADDR).
	metrics     *jobs.Metrics
	metricsHTTP *http.Server
	metricsLn   net.Listener
	metricsDone chan struct{}
}

// NewMain returns a Main with production defaults.
func NewMain() *Main {
	return &Main{Role: "all", Stdout: os.Stdout}
}

// URL is the address the HTTP server listens on, once Run has returned.
func (m *Main) URL() string {
	if m.ln == nil {
		return ""
	}
	return "http://" + m.ln.Addr().String()
}

// MetricsURL is the address /metrics is served at, once Run has
// returned; "" when SAATHI_METRICS_ADDR is unset.
func (m *Main) MetricsURL() string {
	if m.metricsLn == nil {
		return ""
	}
	return "http://" + m.metricsLn.Addr().String() + "/metrics"
}

// Run validates the configuration, connects, and starts the HTTP server
// and/or the workers. It returns once they are running.
func (m *Main) Run(ctx context.Context) error {
	web, worker := m.Role == "web" || m.Role == "all", m.Role == "worker" || m.Role == "all"
	if !web && !worker {
		return usageError{fmt.Sprintf("serve: --role must be web, worker or all, not %q", m.Role)}
	}
	if err := m.Config.Validate(true); err != nil {
		return err
	}
	if m.Logger == nil {
		m.Logger = newLogger(m.Config, os.Stderr)
	}
	m.Logger.Info("starting saathi", "version", version, "role", m.Role, "config", m.Config)
	if m.Config.Provider == "dev" {
		m.Logger.Warn("SAATHI_PROVIDER=dev: nothing is sent to real phones; see /dev/outbox")
	}

	keyring, err := m.Config.Keyring()
	if err != nil {
		return err
	}
	catalog, voice, err := m.Config.Voice()
	if err != nil {
		return err
	}
	parser, err := reply.NewParser(lexicon.FS)
	if err != nil {
		return fmt.Errorf("load reply lexicon: %w", err)
	}
	if m.pool, err = db.Connect(ctx, m.Config.DatabaseURL, m.Config.DBMaxConns); err != nil {
		return err
	}
	if err := db.CheckMigrations(ctx, m.pool); err != nil {
		return fmt.Errorf("%w (run: saathi migrate)", err)
	}

	var sender jobs.Sender
	switch m.Config.Provider {
	case "twilio":
		sender, err = telephony.NewTwilio(telephony.TwilioConfig{
			AccountSID: m.Config.TwilioAccountSID, AuthToken: m.Config.TwilioAuthToken,
			From: m.Config.TwilioFromNumber, MessagingServiceSID: m.Config.TwilioMessagingServiceSID, VoiceFrom: m.Config.TwilioVoiceFrom,
			BaseURL: m.Config.TwilioAPIBaseURL,
		})
		if err != nil {
			return err
		}
	case "dev":
		sender = telephony.NewDev(m.pool, keyring)
	}

	rules, err := m.Config.RiskRules()
	if err != nil {
		return err
	}
	templates, err := m.Config.Templates()
	if err != nil {
		return err
	}
	if m.Config.MetricsAddr != "" {
		m.metrics = jobs.NewMetrics()
		m.metrics.Registry.MustRegister(jobs.NewQueueDepthCollector(m.pool, m.Logger))
	}
	deps := &jobs.Deps{
		Pool: m.pool, Keyring: keyring, Catalog: catalog, Replies: parser, Sender: sender,
		Logger: m.Logger, PublicURL: m.Config.PublicURL, NowFunc: m.NowFunc, Rules: &rules, Templates: templates,
		RingFor: m.Config.RingFor, Metrics: m.metrics, SMSRate: m.Config.SMSRate, CallRate: m.Config.CallRate,
	}
	if caller, ok := sender.(jobs.Caller); ok {
		deps.Caller = caller
	}
	workers := river.NewWorkers()
	jobs.Register(workers, deps)
	// Retention takes its age from the configuration (SAATHI_RETENTION).
	river.AddWorker(workers, &jobs.RetentionWorker{Deps: deps, Period: m.Config.Retention})
	rc := jobs.ClientConfig(workers, m.Config.Workers, m.Logger.With("component", "river"))
	rc.PeriodicJobs = append(rc.PeriodicJobs, jobs.RetentionPeriodicJob())
	if !worker {
		// The web role only inserts jobs.
		rc.Queues, rc.PeriodicJobs = nil, nil
	}
	if m.river, err = river.NewClient(riverpgxv5.New(m.pool), rc); err != nil {
		return fmt.Errorf("river: %w", err)
	}

	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	m.cancel = cancel
	if worker {
		m.metrics.WatchJobErrors(runCtx, m.river)
		if err := m.river.Start(runCtx); err != nil {
			return fmt.Errorf("start workers: %w", err)
		}
	}
	if web {
		spool, err := handlers.NewSpool(m.Config.SpoolDir, keyring)
		if err != nil {
			return fmt.Errorf("SAATHI_SPOOL_DIR: %w", err)
		}
		proxies, err := m.Config.TrustedProxyNets()
		if err != nil {
			return err
		}
		flow, err := callflow.New(voice, m.Config.PublicURL+"/twilio/voice/audio")
		if err != nil {
			return err
		}
		ui, err := locales.NewUI()
		if err != nil {
			return fmt.Errorf("dashboard texts: %w", err)
		}
		queues, err := riverui.NewHandler(&riverui.HandlerOpts{
			Endpoints: riverui.NewEndpoints(m.river, nil), Logger: m.Logger.With("component", "riverui"),
			Prefix: "/admin/river", JobListHideArgsByDefault: true,
		})
		if err != nil {
			return fmt.Errorf("river UI: %w", err)
		}
		if err := queues.Start(runCtx); err != nil {
			return fmt.Errorf("river UI: %w", err)
		}
		srv := &handlers.Server{
			Voice: voice, Flow: flow, VoiceInbound: m.Config.VoiceInbound, UI: ui, RiverUI: queues,
			Pool: m.pool, River: m.river, Keyring: keyring, Catalog: catalog, Replies: parser,
			Logger: m.Logger, PublicURL: m.Config.PublicURL, DevProvider: m.Config.Provider == "dev",
			TwilioAuthToken: m.Config.TwilioAuthToken, NowFunc: m.NowFunc, Spool: spool,
			ResponseWindowMinutes: m.Config.ResponseWindow, Rules: &rules, TrustedProxies: proxies,
			Metrics: m.metrics, CallRate: m.Config.CallRate,
		}
		m.srv = srv
		if m.metrics != nil {
			m.metrics.Registry.MustRegister(handlers.NewSpoolCollector(spool, m.Logger))
		}
		// Replies spooled while the database was down (by this process or
		// an earlier one on this disk) go in as soon as it is back.
		go srv.RunSpoolReplayer(runCtx, 10*time.Second)
		if m.ln, err = net.Listen("tcp", m.Config.Addr); err != nil {
			return fmt.Errorf("listen on SAATHI_ADDR %s: %w", m.Config.Addr, err)
		}
		m.http = &http.Server{
			Handler:           srv.Handler(),
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      60 * time.Second,
			IdleTimeout:       120 * time.Second,
		}
		m.done = make(chan struct{})
		go func() {
			defer close(m.done)
			if err := m.http.Serve(m.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				m.Logger.Error("http server stopped", "err", err)
			}
		}()
		m.Logger.Info("listening", "url", m.URL(), "public_url", m.Config.PublicURL)
	}
	if m.metrics != nil {
		if err := m.serveMetrics(); err != nil {
			return err
		}
	}
	return nil
}

// serveMetrics serves /metrics on SAATHI_METRICS_ADDR, a listener of its
// own: scrapes never reach the public address, nor its abuse limits.
func (m *Main) serveMetrics() error {
	ln, err := net.Listen("tcp", m.Config.MetricsAddr)
	if err != nil {
		return fmt.Errorf("listen on SAATHI_METRICS_ADDR %s: %w", m.Config.MetricsAddr, err)
	}
	m.metricsLn = ln
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.metrics.Handler(m.Logger))
	m.metricsHTTP = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 30 * time.Second}
	m.metricsDone = make(chan struct{})
	go func() {
		defer close(m.metricsDone)
		if err := m.metricsHTTP.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.Logger.Error("metrics server stopped", "err", err)
		}
	}()
	m.Logger.Info("metrics", "url", m.MetricsURL())
	return nil
}

// Close stops accepting requests and lets those in flight finish, replays
// the spool one last time (what cannot go in now stays on disk for the
// next start), lets running jobs finish (up to the shutdown timeout, then
// cancels them: they are retried elsewhere), and closes the pool.
func (m *Main) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), m.Config.ShutdownFor)
	defer cancel()
	var errs []error
	if m.http != nil {
		if err := m.http.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("http shutdown: %w", err))
		}
		<-m.done
	}
	if m.srv != nil {
		m.flushSpool(ctx)
	}
	if m.river != nil && (m.Role == "worker" || m.Role == "all") {
		if err := m.river.Stop(ctx); err != nil {
			m.Logger.Warn("workers did not stop in time; cancelling", "err", err)
			hard, cancelHard := context.WithTimeout(context.Background(), 5*time.Second)
			if err := m.river.StopAndCancel(hard); err != nil {
				// Still running: their rows stay 'running' and River's
				// rescuer hands them to another worker (RescueAfter);
				// sends reconcile with the provider before sending again.
				// A planned outcome, so the exit stays clean.
				m.Logger.Warn("jobs still running at exit are left for River's rescuer", "err", err)
			}
			cancelHard()
		}
	}
	if m.metricsHTTP != nil {
		// Its own deadline: the shared one may be spent by now, and a
		// scrape is never worth waiting for.
		mctx, mcancel := context.WithTimeout(context.Background(), 2*time.Second)
		if err := m.metricsHTTP.Shutdown(mctx); err != nil {
			m.metricsHTTP.Close()
		}
		mcancel()
		<-m.metricsDone
	}
	if m.cancel != nil {
		m.cancel()
	}
	if m.pool != nil {
		m.pool.Close()
	}
	return errors.Join(errs...)
}

// flushSpool replays what the spool holds, once no new webhook can
// arrive: replies spooled during a short outage go in now rather than at
// the next start. With the database still down, or out of time, they
// stay on disk, sealed, for the next process on this disk.
func (m *Main) flushSpool(ctx context.Context) {
	n, err := m.srv.ReplaySpool(ctx)
	if n > 0 {
		m.Logger.Info("spooled replies stored at shutdown", "count", n)
	}
	if err != nil {
		m.Logger.Warn("spool left on disk for the next start", "err", err)
	}
}
