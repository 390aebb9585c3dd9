// Command loadgen measures Saathi's inbound path from a second process over
// loopback: it plays Twilio on both sides. It serves a fake Twilio REST API
// (point the Saathi under test at it with TWILIO_API_BASE_URL; -twilio-latency
// makes it answer as slowly as Twilio does), enrols survivors through the
// admin API, then
//
//  1. closed loop: posts signed inbound-SMS webhooks ("1") as fast as
//     -concurrency clients can for -duration;
//  2. open loop: posts them at fixed arrival rates for -open-duration each,
//     at the -open-loop percentages of the closed loop's rate (or at -rate
//     alone), timing each request from when it was due to be sent, so that
//     a slow answer cannot hide the requests queued behind it (coordinated
//     omission);
//  3. with -voice, asks a check-in call to every survivor and, once the
//     fake Twilio has them, posts signed answer and key-press webhooks
//     (/twilio/voice/answer, then /twilio/voice/gather with "1") as fast as
//     -concurrency clients can, each call and step once;
//  4. posts "3" from -alerts survivors of their own, -alert-concurrency at a
//     time, and times how long until each caseworker alert text reaches the
//     fake Twilio;
//  5. checks in the database (-database) that every webhook answered 200
//     was stored: its MessageSid is in messages, at once or after the spool
//     is replayed (within -verify-timeout).
//
// Rates and latency percentiles count successes (200) only; failures are
// counted apart, by status. It exits non-zero when a 200 was not stored or
// an alert text never came.
//
// cmd/loadgen/bench-webhook.sh runs it against a fresh database next to
// pgbench's single-row insert rate. See README, Performance.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"saathi/jobs/telephony/twiliofake"
)

type options struct {
	target, publicURL, authToken, fakeAddr  string
	adminToken, caseworkerID, caseworkerTel string
	databaseURL, spoolDir, twilioLatency    string
	survivors, concurrency, maxInFlight     int
	alerts, alertConcurrency                int
	duration, openDuration, verifyTimeout   time.Duration
	rate                                    float64
	openLoop                                []float64
	voice                                   bool
}

func main() {
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (options, error) {
	var o options
	var openLoop string
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.StringVar(&o.target, "target", "http://127.0.0.1:18080", "Saathi's address")
	fs.StringVar(&o.publicURL, "public-url", "", "Saathi's SAATHI_PUBLIC_URL (signatures are over it); default -target")
	fs.StringVar(&o.authToken, "auth-token", twiliofake.AuthToken, "TWILIO_AUTH_TOKEN of the Saathi under test")
	fs.StringVar(&o.fakeAddr, "fake-addr", "127.0.0.1:18099", "where to serve the fake Twilio API")
	fs.StringVar(&o.twilioLatency, "twilio-latency", "0", "how long the fake Twilio takes to answer: 0, a duration (150ms) or a uniform range (100ms-200ms)")
	fs.StringVar(&o.adminToken, "admin-token", "", "an admin's API token (saathi staff add --role admin)")
	fs.StringVar(&o.caseworkerID, "caseworker-id", "", "the caseworker the survivors are assigned to")
	fs.StringVar(&o.caseworkerTel, "caseworker-phone", "+919000000001", "that caseworker's phone (alert texts go there)")
	fs.StringVar(&o.databaseURL, "database", os.Getenv("DATABASE_URL"), "Saathi's database, to check that every 200 was stored (default $DATABASE_URL)")
	fs.StringVar(&o.spoolDir, "spool-dir", "", "Saathi's SAATHI_SPOOL_DIR, to report replies waiting in the spool")
	fs.DurationVar(&o.verifyTimeout, "verify-timeout", 60*time.Second, "how long to wait for spooled replies to be replayed into the database")
	fs.IntVar(&o.survivors, "survivors", 500, "survivors to enrol for the load phases")
	fs.IntVar(&o.concurrency, "concurrency", 16, "concurrent clients of the closed loop and the voice phase")
	fs.DurationVar(&o.duration, "duration", 20*time.Second, "length of the closed loop and of the voice phase")
	fs.Float64Var(&o.rate, "rate", 0, "open loop only, at this many requests per second (no closed loop)")
	fs.StringVar(&openLoop, "open-loop", "50,80,95", "open-loop rates, in percent of the closed loop's rate (\"\" for none)")
	fs.DurationVar(&o.openDuration, "open-duration", 0, "length of each open-loop phase; default -duration")
	fs.IntVar(&o.maxInFlight, "max-in-flight", 1000, "open loop: requests in flight at most (more wait, and their wait counts in their latency)")
	fs.IntVar(&o.alerts, "alerts", 1000, "'3' replies to time to the caseworker's alert text, each from a survivor of its own")
	fs.IntVar(&o.alertConcurrency, "alert-concurrency", 1, "'3' replies in flight at once")
	fs.BoolVar(&o.voice, "voice", false, "also load the voice webhooks (answer and key press) of one check-in call per survivor")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.publicURL == "" {
		o.publicURL = o.target
	}
	if o.openDuration == 0 {
		o.openDuration = o.duration
	}
	var err error
	if o.openLoop, err = parsePercents(openLoop); err != nil {
		return o, err
	}
	if _, err := twiliofake.ParseLatency(o.twilioLatency); err != nil {
		return o, fmt.Errorf("-twilio-latency: %w", err)
	}
	switch {
	case o.adminToken == "" || o.caseworkerID == "":
		return o, errors.New("-admin-token and -caseworker-id are required")
	case o.databaseURL == "":
		return o, errors.New("-database (or DATABASE_URL) is required: every 200 is checked against the database")
	case o.survivors <= 0 || o.concurrency <= 0 || o.maxInFlight <= 0 || o.alertConcurrency <= 0:
		return o, errors.New("-survivors, -concurrency, -max-in-flight and -alert-concurrency must be positive")
	case o.alerts < 0 || o.rate < 0 || o.duration <= 0:
		return o, errors.New("-alerts and -rate must not be negative, -duration must be positive")
	}
	return o, nil
}

// parsePercents reads "50,80,95".
func parsePercents(spec string) ([]float64, error) {
	var out []float64
	for _, s := range strings.Split(spec, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		p, err := strconv.ParseFloat(s, 64)
		if err != nil || p <= 0 || p > 1000 {
			return nil, fmt.Errorf("-open-loop: %q is not a percentage", s)
		}
		out = append(out, p)
	}
	return out, nil
}

func run(o options) error {
	latency, _ := twiliofake.ParseLatency(o.twilioLatency)
	fake, err := twiliofake.NewServerAt(o.fakeAddr)
	if err != nil {
		return fmt.Errorf("fake Twilio on %s: %w", o.fakeAddr, err)
	}
	defer fake.Close()
	fake.Discard = true
	fake.LatencyFunc = latency
	alerts := newAlertWatch(o.caseworkerTel)
	fake.OnMessage = alerts.arrived
	var callMu sync.Mutex
	var calls []twiliofake.Call
	fake.OnCall = func(c twiliofake.Call) {
		callMu.Lock()
		defer callMu.Unlock()
		calls = append(calls, c)
	}
	fmt.Printf("fake Twilio on http://%s, latency %s\n", o.fakeAddr, o.twilioLatency)

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		MaxIdleConnsPerHost: max(o.concurrency, o.maxInFlight) + o.alertConcurrency,
	}}
	if err := waitReady(client, o.target); err != nil {
		return err
	}
	load, err := enrol(client, o, "LOAD", 71, o.survivors, o.voice)
	if err != nil {
		return err
	}
	alerting, err := enrol(client, o, "ALERT", 72, o.alerts, false)
	if err != nil {
		return err
	}
	fmt.Printf("enrolled %d survivors for the load, %d for the alerts\n", len(load), len(alerting))

	var stored []string // MessageSids answered 200
	sms := func() (string, int, error) {
		return postSMS(client, o, load[mrand.IntN(len(load))].phone, "1")
	}

	// 1. Closed loop: the most the clients get through.
	maxRate := o.rate
	if o.rate == 0 {
		p := closedLoop(o.concurrency, o.duration, sms)
		fmt.Println(p.report(fmt.Sprintf("webhook closed loop, %d clients", o.concurrency)))
		stored = append(stored, p.stored...)
		maxRate = p.rate()
	}

	// 2. Open loop: fixed arrival rates below that maximum.
	rates := []float64{o.rate}
	if o.rate == 0 {
		rates = nil
		for _, pct := range o.openLoop {
			rates = append(rates, maxRate*pct/100)
		}
	}
	for _, r := range rates {
		if r <= 0 {
			continue
		}
		p := openLoop(r, o.openDuration, o.maxInFlight, sms)
		name := fmt.Sprintf("webhook open loop at %.0f/s", r)
		if o.rate == 0 {
			name += fmt.Sprintf(" (%.0f%% of %.0f/s)", 100*r/maxRate, maxRate)
		}
		fmt.Println(p.report(name))
		stored = append(stored, p.stored...)
	}

	if o.voice {
		callMu.Lock()
		placed := slices.Clone(calls)
		callMu.Unlock()
		if err := loadVoice(client, o, placed); err != nil {
			return err
		}
	}

	var problems []string
	if o.alerts > 0 {
		// A pause, then the alerts start while the load's assessments are
		// still queued: an urgent reply must not wait behind them.
		time.Sleep(3 * time.Second)
		p, lost := alertLatency(client, o, alerting, alerts)
		fmt.Println(p.report(fmt.Sprintf("alert: '3' to the caseworker's alert text, %d at a time", o.alertConcurrency)))
		stored = append(stored, p.stored...)
		if lost > 0 {
			problems = append(problems, fmt.Sprintf("%d alert texts never came", lost))
		}
	}

	// 5. Every 200 stored, now or by the spool's replay.
	if o.spoolDir != "" {
		fmt.Printf("spool: %d bytes waiting after the load\n", spoolBacklog(o.spoolDir))
	}
	missing, err := verifyStored(context.Background(), o.databaseURL, stored, o.verifyTimeout)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	fmt.Printf("verify: %d of %d webhooks answered 200 are stored in messages", len(stored)-missing, len(stored))
	if o.spoolDir != "" {
		fmt.Printf(" (spool: %d bytes left)", spoolBacklog(o.spoolDir))
	}
	fmt.Println()
	if missing > 0 {
		problems = append(problems, fmt.Sprintf("%d webhooks answered 200 were not stored within %s", missing, o.verifyTimeout))
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// request sends one webhook: the MessageSid it carried (or ""), the
// status of the answer, or the error that stopped it.
type request func() (sid string, status int, err error)

// phase collects one load phase's outcomes: successes with their latency
// and MessageSid, failures by kind.
type phase struct {
	mu       sync.Mutex
	ok       []time.Duration
	stored   []string
	failures map[string]int
	sent     int
	elapsed  time.Duration
	// behind counts open-loop requests sent more than a millisecond after
	// they were due (every -max-in-flight slot was busy, or the load
	// generator itself could not keep up).
	behind int
}

func newPhase() *phase { return &phase{failures: map[string]int{}} }

func (p *phase) record(latency time.Duration, sid string, status int, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sent++
	if err == nil && status == http.StatusOK {
		p.ok = append(p.ok, latency)
		if sid != "" {
			p.stored = append(p.stored, sid)
		}
		return
	}
	p.failures[failureKind(status, err)]++
}

// fail counts a failure of kind; sid, when set, was answered 200 all the
// same, so it must be stored.
func (p *phase) fail(kind, sid string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sent++
	p.failures[kind]++
	if sid != "" {
		p.stored = append(p.stored, sid)
	}
}

// failureKind names a failure without anything from the request in it.
func failureKind(status int, err error) string {
	var ne net.Error
	switch {
	case err != nil && errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case err != nil:
		return "transport error"
	}
	return "status " + strconv.Itoa(status)
}

// rate is successes per second.
func (p *phase) rate() float64 {
	if p.elapsed <= 0 {
		return 0
	}
	return float64(len(p.ok)) / p.elapsed.Seconds()
}

func (p *phase) report(name string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	slices.Sort(p.ok)
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s: %d sent in %.1fs; %d ok = %.0f/s, p50 %s p80 %s p90 %s p99 %s max %s; %d failed",
		name, p.sent, p.elapsed.Seconds(), len(p.ok), float64(len(p.ok))/p.elapsed.Seconds(),
		pct(p.ok, 50), pct(p.ok, 80), pct(p.ok, 90), pct(p.ok, 99), pct(p.ok, 100), p.sent-len(p.ok))
	if len(p.failures) > 0 {
		kinds := make([]string, 0, len(p.failures))
		for k, n := range p.failures {
			kinds = append(kinds, fmt.Sprintf("%s: %d", k, n))
		}
		slices.Sort(kinds)
		fmt.Fprintf(&sb, " (%s)", strings.Join(kinds, ", "))
	}
	if p.behind > 0 {
		fmt.Fprintf(&sb, "; %d sent >1ms late", p.behind)
	}
	return sb.String()
}

// closedLoop runs concurrency clients, each sending its next request as
// soon as the last is answered, for d.
func closedLoop(concurrency int, d time.Duration, req request) *phase {
	p := newPhase()
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for range concurrency {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				t0 := time.Now()
				sid, status, err := req()
				p.record(time.Since(t0), sid, status, err)
			}
		})
	}
	wg.Wait()
	p.elapsed = time.Since(start)
	return p
}

// openLoop sends requests at a fixed rate for d, whatever the answers
// do: request i is due at start + i/rate, and its latency runs from then,
// so time spent waiting for a free slot (at most maxInFlight at once)
// counts too.
func openLoop(rate float64, d time.Duration, maxInFlight int, req request) *phase {
	p := newPhase()
	n := int(rate * d.Seconds())
	slots := make(chan struct{}, maxInFlight)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		due := start.Add(time.Duration(float64(i) * float64(time.Second) / rate))
		if wait := time.Until(due); wait > 0 {
			time.Sleep(wait)
		}
		slots <- struct{}{}
		if time.Since(due) > time.Millisecond {
			p.mu.Lock()
			p.behind++
			p.mu.Unlock()
		}
		wg.Go(func() {
			defer func() { <-slots }()
			sid, status, err := req()
			p.record(time.Since(due), sid, status, err)
		})
	}
	wg.Wait()
	p.elapsed = time.Since(start)
	return p
}

// pct is the p-th percentile of sorted (p = 100: the largest).
func pct(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	return sorted[min(max(i-1, 0), len(sorted)-1)].Round(10 * time.Microsecond)
}

func waitReady(c *http.Client, target string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		resp, err := c.Get(target + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return errors.New("saathi did not become ready within 60 s")
}

// survivor is one enrolled survivor, as loadgen plays them.
type survivor struct {
	phone    string
	caseCode string // alert texts name the case by its code
}

// enrol enrols n survivors with phones +91<area><8 digits>; with call set,
// asks a check-in call to each.
func enrol(c *http.Client, o options, prefix string, area, n int, call bool) ([]survivor, error) {
	all := []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}
	var out []survivor
	for i := range n {
		phone := fmt.Sprintf("+91%d%08d", area, i)
		ref := fmt.Sprintf("%s-%05d", prefix, i)
		body, _ := json.Marshal(map[string]any{
			"reference": ref, "phone": phone, "language": []string{"en", "hi", "pa", "gu", "ur"}[i%5],
			"channels": []string{"sms", "voice"}, "timezone": "Asia/Kolkata", "caseworker_id": o.caseworkerID,
			"contact_windows": []map[string]any{{"days": all, "start": "00:00", "end": "24:00"}},
			"consent":         map[string]any{"channels": []string{"sms", "voice"}, "method": "verbal", "recorded_at": time.Now().Add(-time.Hour).Format(time.RFC3339)},
			"cadence":         map[string]any{"phases": []map[string]any{{"every_days": 30, "times": 1}}},
		})
		req, _ := http.NewRequest(http.MethodPost, o.target+"/api/v1/survivors", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+o.adminToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			return nil, err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			return nil, fmt.Errorf("enrol %s: %d %s", ref, resp.StatusCode, b)
		}
		var sv struct {
			ID       string `json:"id"`
			CaseCode string `json:"case_code"`
		}
		if err := json.Unmarshal(b, &sv); err != nil || sv.CaseCode == "" {
			return nil, fmt.Errorf("enrol %s: no case code in %s", ref, b)
		}
		if call {
			if err := askCall(c, o, sv.ID); err != nil {
				return nil, err
			}
		}
		out = append(out, survivor{phone: phone, caseCode: sv.CaseCode})
	}
	return out, nil
}

// askCall asks for an ad-hoc check-in call to a survivor.
func askCall(c *http.Client, o options, id string) error {
	req, _ := http.NewRequest(http.MethodPost, o.target+"/api/v1/survivors/"+id+"/checkins", strings.NewReader(`{"channel": "voice"}`))
	req.Header.Set("Authorization", "Bearer "+o.adminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("ask a call: %d %s", resp.StatusCode, b)
	}
	return nil
}

// alertWatch tells waiting '3' replies when their case's alert text
// reaches the fake Twilio.
type alertWatch struct {
	caseworkerTel string
	mu            sync.Mutex
	waiting       map[string]chan time.Time // by case code
}

func newAlertWatch(tel string) *alertWatch {
	return &alertWatch{caseworkerTel: tel, waiting: map[string]chan time.Time{}}
}

func (w *alertWatch) arrived(m twiliofake.Message) {
	if m.To != w.caseworkerTel {
		return
	}
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	for code, ch := range w.waiting {
		if strings.Contains(m.Body, " "+code+" ") {
			select {
			case ch <- now:
			default:
			}
		}
	}
}

func (w *alertWatch) expect(code string) chan time.Time {
	ch := make(chan time.Time, 1)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.waiting[code] = ch
	return ch
}

func (w *alertWatch) forget(code string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.waiting, code)
}

// alertLatency posts "3" once from each survivor, o.alertConcurrency at a
// time, and times each until its alert text reaches the fake Twilio. A
// success is an alert text; a '3' answered 200 whose text never came within
// 30 s is counted in lost.
func alertLatency(c *http.Client, o options, survivors []survivor, w *alertWatch) (p *phase, lost int) {
	p = newPhase()
	var next atomic.Int64
	var lostN atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range o.alertConcurrency {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(survivors) {
					return
				}
				sv := survivors[i]
				ch := w.expect(sv.caseCode)
				t0 := time.Now()
				sid, status, err := postSMS(c, o, sv.phone, "3")
				if err != nil || status != http.StatusOK {
					p.record(0, "", status, err)
					w.forget(sv.caseCode)
					continue
				}
				select {
				case t1 := <-ch:
					p.record(t1.Sub(t0), sid, status, nil)
				case <-time.After(30 * time.Second):
					lostN.Add(1)
					p.fail("no alert text within 30 s", sid)
				}
				w.forget(sv.caseCode)
			}
		})
	}
	wg.Wait()
	p.elapsed = time.Since(start)
	return p, int(lostN.Load())
}

// loadVoice plays the survivors' phones: each call is answered by a
// person (the call's URL, AnsweredBy=human) and "1" pressed at each of the
// menu's steps, every (call, step) once, from -concurrency clients.
func loadVoice(c *http.Client, o options, calls []twiliofake.Call) error {
	if len(calls) == 0 {
		return errors.New("voice: the fake Twilio has no calls (is the worker running?)")
	}
	const steps = 4
	var next atomic.Int64
	answers, presses := newPhase(), newPhase()
	var wg sync.WaitGroup
	deadline := time.Now().Add(o.duration)
	start := time.Now()
	for range o.concurrency {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				i := int(next.Add(1) - 1)
				if i >= len(calls)*steps {
					return
				}
				call, step := calls[i%len(calls)], i/len(calls)+1
				u, err := url.Parse(call.URL)
				if err != nil {
					answers.fail("bad call URL", "")
					continue
				}
				t0 := time.Now()
				status, err := postSigned(c, o, u.RequestURI(), url.Values{"CallSid": {call.SID}, "AnsweredBy": {"human"}, "CallStatus": {"in-progress"}})
				answers.record(time.Since(t0), "", status, err)
				gather := strings.Replace(u.RequestURI(), "/answer?", "/gather?", 1) + fmt.Sprintf("&step=%d", step)
				t0 = time.Now()
				status, err = postSigned(c, o, gather, url.Values{"CallSid": {call.SID}, "Digits": {"1"}})
				presses.record(time.Since(t0), "", status, err)
			}
		})
	}
	wg.Wait()
	answers.elapsed, presses.elapsed = time.Since(start), time.Since(start)
	fmt.Printf("voice: %d calls, %d clients\n", len(calls), o.concurrency)
	fmt.Println(answers.report("voice answer"))
	fmt.Println(presses.report("voice key press"))
	return nil
}

// postSigned posts a form signed as Twilio signs it.
func postSigned(c *http.Client, o options, path string, form url.Values) (int, error) {
	form.Set("AccountSid", twiliofake.AccountSID)
	req, _ := http.NewRequest(http.MethodPost, o.target+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", twiliofake.Signature(o.authToken, o.publicURL+path, form))
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// sidPrefix makes this run's MessageSids unlike any earlier run's.
var (
	sidPrefix  = newSIDPrefix()
	sidCounter atomic.Uint64
)

func newSIDPrefix() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// postSMS posts an inbound text and returns its MessageSid.
func postSMS(c *http.Client, o options, from, body string) (string, int, error) {
	sid := fmt.Sprintf("SM%s%016x", sidPrefix, sidCounter.Add(1))
	status, err := postSigned(c, o, "/twilio/sms", url.Values{"MessageSid": {sid}, "From": {from}, "To": {"+15005550006"}, "Body": {body}})
	return sid, status, err
}

// verifyStored waits up to timeout for every sid to be in messages (a
// spooled reply is stored when the spool is replayed) and returns how many
// are not.
func verifyStored(ctx context.Context, databaseURL string, sids []string, timeout time.Duration) (int, error) {
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		return 0, fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(ctx)
	missing := slices.Clone(sids)
	deadline := time.Now().Add(timeout)
	for {
		var still []string
		for chunk := range slices.Chunk(missing, 10000) {
			rows, err := conn.Query(ctx, "SELECT provider_sid FROM messages WHERE direction = 'in' AND provider_sid = ANY($1)", chunk)
			if err != nil {
				return 0, fmt.Errorf("look up MessageSids: %w", err)
			}
			found, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				return 0, fmt.Errorf("look up MessageSids: %w", err)
			}
			have := make(map[string]bool, len(found))
			for _, s := range found {
				have[s] = true
			}
			for _, s := range chunk {
				if !have[s] {
					still = append(still, s)
				}
			}
		}
		missing = still
		if len(missing) == 0 || time.Now().After(deadline) {
			return len(missing), nil
		}
		time.Sleep(time.Second)
	}
}

// spoolBacklog is the size of the spool files waiting to be replayed.
func spoolBacklog(dir string) int64 {
	var total int64
	for _, pattern := range []string{"inbound-*.spool", "inbound-*.replaying"} {
		matches, _ := filepath.Glob(filepath.Join(dir, pattern))
		for _, m := range matches {
			if fi, err := os.Stat(m); err == nil {
				total += fi.Size()
			}
		}
	}
	return total
}
