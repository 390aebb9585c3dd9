package jobs

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/riverqueue/river"
)

// Metrics are Saathi's Prometheus series, on a registry of their own (not
// the global default), served at SAATHI_METRICS_ADDR. Every label value
// comes from a small fixed set (a channel, a status, a severity, a route
// pattern, a job kind): never a phone number, a SID, or a survivor's or
// staff member's ID.
//
// A nil *Metrics records nothing, so tests and commands that do not serve
// metrics need not build one.
type Metrics struct {
	Registry *prometheus.Registry

	messages       *prometheus.CounterVec
	alertsRaised   *prometheus.CounterVec
	acknowledged   *prometheus.HistogramVec
	webhookLatency *prometheus.HistogramVec
	jobErrors      *prometheus.CounterVec
}

// NewMetrics registers Saathi's series, and the Go runtime's and the
// process's, on a new registry.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "saathi_messages_total",
			Help: "Texts (channel sms) and calls (channel voice) reaching a status: accepted, refused or unknown when handed to the provider; then each status the provider reports back (sent, delivered, undelivered, failed; ringing, in-progress, completed, busy, no-answer, canceled).",
		}, []string{"channel", "status"}),
		alertsRaised: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "saathi_alerts_raised_total",
			Help: "Alerts opened, by severity and the kind of signal that raised them.",
		}, []string{"severity", "kind"}),
		acknowledged: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "saathi_alert_time_to_acknowledge_seconds",
			Help: "Time from an alert being raised to a staff member acknowledging it, by severity and how (api, dashboard, sms).",
			// From half a minute to three days: an urgent alert escalates
			// after 15 minutes, a medium one after a day.
			Buckets: []float64{30, 60, 120, 300, 600, 900, 1800, 3600, 2 * 3600, 4 * 3600, 8 * 3600, 24 * 3600, 72 * 3600},
		}, []string{"severity", "via"}),
		webhookLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "saathi_webhook_duration_seconds",
			Help: "Time to answer a Twilio webhook (with the dev provider, also its simulations under /dev), by route pattern and HTTP status.",
			// Twilio waits 15 s; a survivor on a call hears silence while
			// Saathi answers, so the low end matters most.
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 15},
		}, []string{"route", "code"}),
		jobErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "saathi_river_job_errors_total",
			Help: "River jobs that failed or were cancelled, by kind and what River does next (retryable: tried again; discarded: out of attempts; cancelled: given up on purpose).",
		}, []string{"kind", "state"}),
	}
	m.Registry.MustRegister(m.messages, m.alertsRaised, m.acknowledged, m.webhookLatency, m.jobErrors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the registry in Prometheus's text format. A collector
// whose query fails leaves its series out of that scrape (and is logged);
// the others are still served.
func (m *Metrics) Handler(logger *slog.Logger) http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
		ErrorLog:      slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		Registry:      m.Registry,
		Timeout:       10 * time.Second,
	})
}

// Message statuses at the moment of sending, before the provider reports.
const (
	SendAccepted = "accepted" // the provider took it
	SendRefused  = "refused"  // the provider said no (a *SendError)
	SendUnknown  = "unknown"  // no answer: reconciled before any retry
)

// MessageStatus counts a text or call (channel sms or voice) reaching a
// status.
func (m *Metrics) MessageStatus(channel, status string) {
	if m == nil {
		return
	}
	m.messages.WithLabelValues(channel, status).Inc()
}

// sendOutcome counts what the provider said to one send.
func (m *Metrics) sendOutcome(channel string, err error) {
	switch {
	case err == nil:
		m.MessageStatus(channel, SendAccepted)
	case errors.As(err, new(*SendError)):
		m.MessageStatus(channel, SendRefused)
	default:
		m.MessageStatus(channel, SendUnknown)
	}
}

// AlertRaised counts an alert opened. It is counted when the alert is
// written: should its transaction roll back and the job run again, the
// alert is counted twice (an overcount, never a miss).
func (m *Metrics) AlertRaised(severity, kind string) {
	if m == nil {
		return
	}
	m.alertsRaised.WithLabelValues(severity, kind).Inc()
}

// AlertAcknowledged records how long an alert waited to be acknowledged.
func (m *Metrics) AlertAcknowledged(severity, via string, waited time.Duration) {
	if m == nil {
		return
	}
	m.acknowledged.WithLabelValues(severity, via).Observe(max(waited, 0).Seconds())
}

// WebhookAnswered records the time taken to answer a webhook. route is the
// route's pattern (/twilio/sms), never the URL as requested.
func (m *Metrics) WebhookAnswered(route string, code int, took time.Duration) {
	if m == nil {
		return
	}
	m.webhookLatency.WithLabelValues(route, statusCode(code)).Observe(took.Seconds())
}

func statusCode(code int) string {
	if code < 100 || code > 599 {
		return "other"
	}
	return strconv.Itoa(code)
}

// WatchJobErrors counts the failed and cancelled jobs of a client that
// works jobs, until ctx ends. River drops events when the channel is full
// (1,000 waiting), so counting does nothing slow.
func (m *Metrics) WatchJobErrors(ctx context.Context, client *river.Client[pgx.Tx]) {
	if m == nil {
		return
	}
	events, cancel := client.Subscribe(river.EventKindJobFailed, river.EventKindJobCancelled)
	go func() {
		defer cancel()
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-events:
				if !ok {
					return
				}
				if ev.Job != nil {
					m.jobErrors.WithLabelValues(ev.Job.Kind, string(ev.Job.State)).Inc()
				}
			}
		}
	}()
}

// queueDepth reports how many River jobs wait or run, by queue, kind and
// state, counted when Prometheus scrapes: the numbers are the database's,
// the same from every replica.
type queueDepth struct {
	pool   *pgxpool.Pool
	logger *slog.Logger
	desc   *prometheus.Desc
}

// NewQueueDepthCollector counts River's unfinished jobs on every scrape,
// with one grouped query bounded to 2 s. When the database does not
// answer, the series are left out of that scrape (and the failure is
// logged), rather than failing the others.
func NewQueueDepthCollector(pool *pgxpool.Pool, logger *slog.Logger) prometheus.Collector {
	return &queueDepth{pool: pool, logger: logger, desc: prometheus.NewDesc(
		"saathi_river_jobs",
		"River jobs not yet finished, by queue, kind and state (available: due now; scheduled: due later; retryable: failed, to be tried again; running).",
		[]string{"queue", "kind", "state"}, nil)}
}

func (q *queueDepth) Describe(ch chan<- *prometheus.Desc) { ch <- q.desc }

func (q *queueDepth) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	rows, err := q.pool.Query(ctx, `
		SELECT queue, kind, state::text, count(*)
		FROM river_job
		WHERE state IN ('available', 'scheduled', 'retryable', 'running')
		GROUP BY queue, kind, state`)
	if err == nil {
		defer rows.Close()
		var queue, kind, state string
		var n int64
		_, err = pgx.ForEachRow(rows, []any{&queue, &kind, &state, &n}, func() error {
			ch <- prometheus.MustNewConstMetric(q.desc, prometheus.GaugeValue, float64(n), queue, kind, state)
			return nil
		})
	}
	if err != nil {
		q.logger.Warn("metrics: counting River jobs failed", "err", err)
	}
}
