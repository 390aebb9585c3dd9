package handlers

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
)

// webhookMetrics times the answer to every Twilio webhook (and the dev
// provider's simulations of them), labelled with the route's pattern
// (c.Path(), e.g. /twilio/voice/audio/:lang/:file): the URL as requested
// may carry a message ID or a file name. routes are the registered
// webhook patterns; a request that matched none (a 404) is not timed, so
// a stranger's made-up paths cannot grow the series.
func (s *Server) webhookMetrics(routes map[string]bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if s.Metrics == nil || !routes[c.Path()] {
				return next(c)
			}
			start := time.Now()
			err := next(c)
			if err != nil {
				// Answer now, so the status is the one Twilio gets and
				// the time includes writing it.
				c.Error(err)
			}
			s.Metrics.WebhookAnswered(c.Path(), c.Response().Status, time.Since(start))
			return nil
		}
	}
}

// SpoolPending counts what waits in the spool directory (every replica's
// files, if they share it): files and lines still to replay, and lines
// quarantined because they cannot be.
func (sp *Spool) SpoolPending() (files, lines, quarantined int, err error) {
	for _, pattern := range []string{spoolPattern, claimedPattern, "quarantine-*.spool"} {
		paths, err := filepath.Glob(filepath.Join(sp.Dir, pattern))
		if err != nil {
			return 0, 0, 0, fmt.Errorf("spool: %w", err)
		}
		for _, path := range paths {
			n, err := countLines(path)
			if errors.Is(err, fs.ErrNotExist) {
				continue // replayed and removed meanwhile
			}
			if err != nil {
				return 0, 0, 0, err
			}
			if pattern == "quarantine-*.spool" {
				quarantined += n
				continue
			}
			files++
			lines += n
		}
	}
	return files, lines, quarantined, nil
}

// countLines counts the lines of a spool file (each ends in a newline;
// a last line cut short by a crash counts too) without holding the file
// in memory.
func countLines(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	buf := make([]byte, 32<<10)
	n, last := 0, byte('\n')
	for {
		k, err := f.Read(buf)
		if k > 0 {
			n += bytes.Count(buf[:k], []byte{'\n'})
			last = buf[k-1]
		}
		if errors.Is(err, io.EOF) {
			if last != '\n' {
				n++
			}
			return n, nil
		}
		if err != nil {
			return n, fmt.Errorf("spool: read %s: %w", filepath.Base(path), err)
		}
	}
}

// spoolCollector reports the spool's size on every scrape.
type spoolCollector struct {
	spool                     *Spool
	logger                    *slog.Logger
	files, lines, quarantined *prometheus.Desc
}

// NewSpoolCollector reports how many files and lines wait in the spool
// (replies that arrived while the database was down) and how many lines
// are quarantined. Lines waiting for long mean the database is still
// unreachable from this replica; any quarantined line needs an operator.
func NewSpoolCollector(sp *Spool, logger *slog.Logger) prometheus.Collector {
	return &spoolCollector{spool: sp, logger: logger,
		files:       prometheus.NewDesc("saathi_spool_files", "Spool files with webhooks waiting to be replayed into the database.", nil, nil),
		lines:       prometheus.NewDesc("saathi_spool_lines", "Webhooks (texts, key presses) waiting in the spool to be replayed into the database.", nil, nil),
		quarantined: prometheus.NewDesc("saathi_spool_quarantined_lines", "Spooled webhooks that cannot be replayed (key or auth token changed, damaged): each needs an operator.", nil, nil),
	}
}

func (c *spoolCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.files
	ch <- c.lines
	ch <- c.quarantined
}

func (c *spoolCollector) Collect(ch chan<- prometheus.Metric) {
	files, lines, quarantined, err := c.spool.SpoolPending()
	if err != nil {
		c.logger.Warn("metrics: counting the spool failed", "err", err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.files, prometheus.GaugeValue, float64(files))
	ch <- prometheus.MustNewConstMetric(c.lines, prometheus.GaugeValue, float64(lines))
	ch <- prometheus.MustNewConstMetric(c.quarantined, prometheus.GaugeValue, float64(quarantined))
}
