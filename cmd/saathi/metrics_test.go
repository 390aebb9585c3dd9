package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"saathi/db"
	"saathi/db/dbtest"
	"saathi/handlers"
	"saathi/jobs"
	"saathi/jobs/telephony/twiliofake"
)

// TestMetricsSeries boots the real service with SAATHI_METRICS_ADDR and
// drives a check-in sent through the fake Twilio, its delivery callback,
// a "3" from the survivor (an urgent alert, texted to the caseworker), an
// acknowledgement four minutes later, a job that River cancels and a spool
// line that cannot be replayed; then scrapes /metrics over HTTP and reads
// each series with its labels. No label value may look like a phone
// number, an ID or a SID.
func TestMetricsSeries(t *testing.T) {
	t.Parallel()
	fake := twiliofake.New(t)
	spoolDir := filepath.Join(t.TempDir(), "spool")
	env := twilioEnv(t, fake, spoolDir)
	env["SAATHI_METRICS_ADDR"] = "127.0.0.1:0"
	admin := addStaff(t, env, "--name", "Asha", "--role", "admin")
	cw := addStaff(t, env, "--name", "Kiran", "--role", "caseworker", "--phone", "+919000000001")

	cfg, err := LoadConfig(getenvFrom(env))
	if err != nil {
		t.Fatal(err)
	}
	// A line no replay can take (its signature is not Twilio's): it is
	// quarantined at start, and the spool series must say so.
	keyring, err := cfg.Keyring()
	if err != nil {
		t.Fatal(err)
	}
	earlier, err := handlers.NewSpool(spoolDir, keyring)
	if err != nil {
		t.Fatal(err)
	}
	if err := earlier.Append(handlers.SpooledRequest{URL: cfg.PublicURL + "/twilio/sms", Params: map[string]string{"MessageSid": "SM0"}, Signature: "forged", ReceivedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}

	var offset atomic.Int64 // the service's clock runs this far ahead
	m := NewMain()
	m.Config = cfg
	m.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	m.NowFunc = func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	if err := m.Run(context.Background()); err != nil {
		t.Fatalf("run: %v", err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	if m.MetricsURL() == "" || strings.HasPrefix(m.MetricsURL(), m.URL()) {
		t.Fatalf("metrics at %q: want a listener of their own, apart from %s", m.MetricsURL(), m.URL())
	}
	api := apiClient{t: t, base: m.URL()}

	// A check-in, sent by the worker through the fake Twilio.
	const survivorPhone = "+919876543210"
	all := []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}
	code, sv := api.call("POST", "/api/v1/survivors", admin.token, map[string]any{
		"reference": "CHD-0042", "phone": survivorPhone, "language": "hi", "channels": []string{"sms"},
		"timezone": "Asia/Kolkata", "contact_windows": []map[string]any{{"days": all, "start": "00:00", "end": "24:00"}},
		"caseworker_id": cw.id, "consent": map[string]any{"channels": []string{"sms"}, "method": "verbal", "recorded_at": time.Now().Add(-time.Hour).Format(time.RFC3339)},
	})
	if code != http.StatusCreated {
		t.Fatalf("enrol: %d %v", code, sv)
	}
	if code, body := api.call("POST", "/api/v1/survivors/"+sv["id"].(string)+"/checkins", admin.token, map[string]any{"channel": "sms"}); code != http.StatusAccepted {
		t.Fatalf("check-in: %d %v", code, body)
	}
	checkin := waitFor(t, "the check-in at the fake Twilio", func() (twiliofake.Message, bool) {
		for _, msg := range fake.Messages() {
			if msg.To == survivorPhone {
				return msg, true
			}
		}
		return twiliofake.Message{}, false
	})

	// Its delivery callback, signed as Twilio signs.
	callback, err := url.Parse(checkin.StatusCallback)
	if err != nil {
		t.Fatal(err)
	}
	if code := postSigned(t, m.URL(), cfg.PublicURL, fake.AuthToken, callback.RequestURI(), url.Values{
		"MessageSid": {checkin.SID}, "MessageStatus": {"delivered"}, "AccountSid": {fake.AccountSID},
	}); code != http.StatusNoContent {
		t.Fatalf("status callback: %d", code)
	}

	// "3": an urgent alert, texted to the caseworker.
	if code := postSigned(t, m.URL(), cfg.PublicURL, fake.AuthToken, "/twilio/sms", url.Values{
		"MessageSid": {"SM" + strings.Repeat("ab", 16)}, "From": {survivorPhone}, "To": {"+15005550006"}, "Body": {"3"}, "AccountSid": {fake.AccountSID},
	}); code != http.StatusOK {
		t.Fatalf("inbound reply: %d", code)
	}
	alertID := waitFor(t, "the urgent alert", func() (string, bool) {
		_, body := api.call("GET", "/api/v1/alerts?status=open", cw.token, nil)
		alerts, _ := body["alerts"].([]any)
		if len(alerts) == 0 {
			return "", false
		}
		return alerts[0].(map[string]any)["id"].(string), true
	})
	waitFor(t, "the caseworker's alert text", func() (bool, bool) {
		for _, msg := range fake.Messages() {
			if msg.To == "+919000000001" {
				return true, true
			}
		}
		return false, false
	})

	// Acknowledged four minutes after it was raised.
	offset.Store(int64(4 * time.Minute))
	if code, body := api.call("POST", "/api/v1/alerts/"+alertID+"/acknowledge", cw.token, nil); code != http.StatusOK {
		t.Fatalf("acknowledge: %d %v", code, body)
	}

	// A send job for a check-in that does not exist: River cancels it.
	pool, err := db.Connect(context.Background(), cfg.DatabaseURL, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	workers := river.NewWorkers()
	jobs.Register(workers, &jobs.Deps{})
	inserter, err := river.NewClient(riverpgxv5.New(pool), &river.Config{Workers: workers, Logger: m.Logger})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := inserter.Insert(context.Background(), jobs.CheckinSendArgs{CheckinID: uuid.New()}, nil); err != nil {
		t.Fatal(err)
	}

	value := func(fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
		t.Helper()
		v, ok := sample(fams, name, labels)
		if !ok {
			t.Errorf("no %s%v in the scrape", name, labels)
		}
		return v
	}
	// The cancelled job and the quarantined line are counted by the
	// worker and the replayer on their own time: wait for both.
	fams := waitFor(t, "the cancelled job and the quarantined spool line", func() (map[string]*dto.MetricFamily, bool) {
		fams := scrape(t, m.MetricsURL())
		cancelled, _ := sample(fams, "saathi_river_job_errors_total", map[string]string{"kind": "checkin_send", "state": "cancelled"})
		quarantined, _ := sample(fams, "saathi_spool_quarantined_lines", nil)
		return fams, cancelled == 1 && quarantined == 1
	})

	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		// The check-in and the caseworker's alert text.
		{"saathi_messages_total", map[string]string{"channel": "sms", "status": jobs.SendAccepted}, 2},
		{"saathi_messages_total", map[string]string{"channel": "sms", "status": "delivered"}, 1},
		{"saathi_alerts_raised_total", map[string]string{"severity": "urgent", "kind": "help_now"}, 1},
		{"saathi_alert_time_to_acknowledge_seconds_count", map[string]string{"severity": "urgent", "via": "api"}, 1},
		{"saathi_alert_time_to_acknowledge_seconds_sum", map[string]string{"severity": "urgent", "via": "api"}, 240},
		{"saathi_webhook_duration_seconds_count", map[string]string{"route": "/twilio/status", "code": "204"}, 1},
		{"saathi_webhook_duration_seconds_count", map[string]string{"route": "/twilio/sms", "code": "200"}, 1},
		// The alert escalates in 15 minutes unless resolved: its job waits.
		{"saathi_river_jobs", map[string]string{"queue": jobs.QueueAlerts, "kind": "alert_escalate", "state": "scheduled"}, 1},
		{"saathi_spool_lines", nil, 0},
		{"saathi_spool_files", nil, 0},
	}
	for _, c := range checks {
		got := value(fams, c.name, c.labels)
		// The acknowledgement waited 240 s by the service's clock, give
		// or take the time the test took between the two reads of it.
		if c.name == "saathi_alert_time_to_acknowledge_seconds_sum" {
			if got < c.want || got > c.want+30 {
				t.Errorf("%s%v = %v, want about %v", c.name, c.labels, got, c.want)
			}
			continue
		}
		if got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if _, ok := fams["go_goroutines"]; !ok {
		t.Error("no Go runtime series")
	}
	if _, ok := fams["process_resident_memory_bytes"]; !ok {
		t.Error("no process series")
	}

	// Nothing personal in any label, on any series.
	personal := regexp.MustCompile(`\d{7,}|[0-9a-f]{8}-[0-9a-f]{4}-|(SM|MM|CA|AC)[0-9a-f]{32}|CHD|Kiran|Asha`)
	for name, fam := range fams {
		for _, metric := range fam.GetMetric() {
			for _, l := range metric.GetLabel() {
				if personal.MatchString(l.GetValue()) || strings.Contains(l.GetValue(), alertID) || strings.Contains(l.GetValue(), sv["id"].(string)) {
					t.Errorf("%s has label %s=%q", name, l.GetName(), l.GetValue())
				}
			}
		}
	}
}

// TestMetricsAddrValidated: SAATHI_METRICS_ADDR is a listen address apart
// from SAATHI_ADDR, or unset.
func TestMetricsAddrValidated(t *testing.T) {
	t.Parallel()
	base := testEnv(t, "postgres://x@127.0.0.1/x")
	base["SAATHI_ADDR"] = "127.0.0.1:8080"
	for addr, want := range map[string]string{
		"":               "",
		"127.0.0.1:9090": "",
		":9090":          "",
		"9090":           `SAATHI_METRICS_ADDR "9090" must be host:port`,
		"localhost":      `SAATHI_METRICS_ADDR "localhost" must be host:port`,
		"127.0.0.1:":     `SAATHI_METRICS_ADDR "127.0.0.1:" must be host:port`,
		"127.0.0.1:8080": `SAATHI_METRICS_ADDR "127.0.0.1:8080" must differ from SAATHI_ADDR`,
	} {
		cfg, err := LoadConfig(getenvFrom(mergeEnv(base, map[string]string{"SAATHI_METRICS_ADDR": addr})))
		if err == nil {
			err = cfg.Validate(true)
		}
		switch {
		case want == "" && err != nil:
			t.Errorf("SAATHI_METRICS_ADDR=%q refused: %v", addr, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("SAATHI_METRICS_ADDR=%q: error %v, want %q", addr, err, want)
		}
	}
}

// TestMetricsListenerBusy: a metrics address already taken stops the
// start with a message naming the variable.
func TestMetricsListenerBusy(t *testing.T) {
	t.Parallel()
	env := testEnv(t, dbtest.NewURL(t))
	taken := NewMain()
	taken.Config, _ = LoadConfig(getenvFrom(env))
	taken.Config.MetricsAddr = "127.0.0.1:0"
	taken.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := taken.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	env["SAATHI_METRICS_ADDR"] = strings.TrimSuffix(strings.TrimPrefix(taken.MetricsURL(), "http://"), "/metrics")
	code, _, errOut := runCLI(t, env, "serve")
	if code != 1 || !strings.Contains(errOut, "listen on SAATHI_METRICS_ADDR") {
		t.Errorf("exit %d, stderr %q; want 1 naming SAATHI_METRICS_ADDR", code, errOut)
	}
}

type staffCreds struct{ id, token string }

// addStaff adds a staff member with the CLI and returns their ID and token.
func addStaff(t *testing.T, env map[string]string, args ...string) staffCreds {
	t.Helper()
	code, out, errOut := runCLI(t, env, append([]string{"staff", "add"}, args...)...)
	if code != 0 {
		t.Fatalf("staff add %v: exit %d: %s", args, code, errOut)
	}
	id := regexp.MustCompile(`\(id ([0-9a-f-]{36})\)`).FindStringSubmatch(out)
	token := tokenRE.FindStringSubmatch(out)
	if id == nil || token == nil {
		t.Fatalf("staff add printed %q", out)
	}
	return staffCreds{id: id[1], token: token[1]}
}

// apiClient calls the running service's JSON API.
type apiClient struct {
	t    *testing.T
	base string
}

func (a apiClient) call(method, path, token string, body any) (int, map[string]any) {
	a.t.Helper()
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, a.base+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// postSigned posts a webhook form to the service at base, signed as Twilio
// signs it for the public URL, and returns the status.
func postSigned(t *testing.T, base, publicURL, authToken, requestURI string, form url.Values) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+requestURI, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", twiliofake.Signature(authToken, publicURL+requestURI, form))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", requestURI, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// waitFor polls check every 50 ms for up to 15 s.
func waitFor[T any](t *testing.T, what string, check func() (T, bool)) T {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		v, ok := check()
		if ok {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited 15 s for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// scrape fetches /metrics and parses Prometheus's text format.
func scrape(t *testing.T, metricsURL string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(metricsURL)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	return fams
}

// sample finds the value of the series with exactly these labels; a
// histogram's _count and _sum are asked for by those names.
func sample(fams map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	base, part := name, ""
	for _, suffix := range []string{"_count", "_sum"} {
		if _, ok := fams[name]; !ok && strings.HasSuffix(name, suffix) {
			base, part = strings.TrimSuffix(name, suffix), suffix
		}
	}
	fam, ok := fams[base]
	if !ok {
		return 0, false
	}
	for _, metric := range fam.GetMetric() {
		got := map[string]string{}
		for _, l := range metric.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		if !maps.Equal(got, labels) && !(len(got) == 0 && labels == nil) {
			continue
		}
		switch {
		case part == "_count":
			return float64(metric.GetHistogram().GetSampleCount()), true
		case part == "_sum":
			return metric.GetHistogram().GetSampleSum(), true
		case metric.Counter != nil:
			return metric.GetCounter().GetValue(), true
		case metric.Gauge != nil:
			return metric.GetGauge().GetValue(), true
		}
	}
	return 0, false
}
