// Command loadgen measures Saathi's inbound path from a second process over
// loopback: it plays Twilio on both sides. It serves a fake Twilio REST API
// (point the Saathi under test at it with TWILIO_API_BASE_URL), enrols
// survivors through the admin API, then
//
//  1. posts signed inbound-SMS webhooks ("1") as fast as -concurrency
//     clients can for -duration, reporting requests/s and latency
//     percentiles, and
//  2. with -voice, asks a check-in call to every survivor and, once the
//     fake Twilio has them, posts signed answer and key-press webhooks
//     (/twilio/voice/answer, then /twilio/voice/gather with "1") as fast as
//     -concurrency clients can, each call and step once, reporting both
//     steps' rate and latency, and
//  3. posts "3" from one survivor at a time and times how long until the
//     caseworker's alert text reaches the fake Twilio.
//
// cmd/loadgen/bench-webhook.sh runs it against a fresh database next to
// pgbench's single-row insert rate. See README, Performance.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"saathi/jobs/telephony/twiliofake"
)

type options struct {
	target, publicURL, authToken, fakeAddr  string
	adminToken, caseworkerID, caseworkerTel string
	survivors, concurrency, alerts          int
	duration                                time.Duration
	voice                                   bool
}

func main() {
	var o options
	flag.StringVar(&o.target, "target", "http://127.0.0.1:18080", "Saathi's address")
	flag.StringVar(&o.publicURL, "public-url", "", "Saathi's SAATHI_PUBLIC_URL (signatures are over it); default -target")
	flag.StringVar(&o.authToken, "auth-token", twiliofake.AuthToken, "TWILIO_AUTH_TOKEN of the Saathi under test")
	flag.StringVar(&o.fakeAddr, "fake-addr", "127.0.0.1:18099", "where to serve the fake Twilio API")
	flag.StringVar(&o.adminToken, "admin-token", "", "an admin's API token (saathi staff add --role admin)")
	flag.StringVar(&o.caseworkerID, "caseworker-id", "", "the caseworker the survivors are assigned to")
	flag.StringVar(&o.caseworkerTel, "caseworker-phone", "+919000000001", "that caseworker's phone (alert texts go there)")
	flag.IntVar(&o.survivors, "survivors", 500, "survivors to enrol")
	flag.IntVar(&o.concurrency, "concurrency", 16, "concurrent webhook clients")
	flag.DurationVar(&o.duration, "duration", 20*time.Second, "length of the load phase")
	flag.IntVar(&o.alerts, "alerts", 100, "'3' replies to time to the caseworker's alert text")
	flag.BoolVar(&o.voice, "voice", false, "also load the voice webhooks (answer and key press) of one check-in call per survivor")
	flag.Parse()
	if o.publicURL == "" {
		o.publicURL = o.target
	}
	if o.adminToken == "" || o.caseworkerID == "" {
		fmt.Fprintln(os.Stderr, "loadgen: -admin-token and -caseworker-id are required")
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	// Alert texts: when each reference's text reaches "Twilio".
	var mu sync.Mutex
	arrived := map[string]chan time.Time{}
	fake, err := twiliofake.NewServerAt(o.fakeAddr)
	if err != nil {
		return fmt.Errorf("fake Twilio on %s: %w", o.fakeAddr, err)
	}
	defer fake.Close()
	fake.Discard = true
	fake.OnMessage = func(m twiliofake.Message) {
		if m.To != o.caseworkerTel {
			return
		}
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		for ref, ch := range arrived {
			if strings.Contains(m.Body, " "+ref+" ") {
				select {
				case ch <- now:
				default:
				}
			}
		}
	}
	var callMu sync.Mutex
	var calls []twiliofake.Call
	fake.OnCall = func(c twiliofake.Call) {
		callMu.Lock()
		defer callMu.Unlock()
		calls = append(calls, c)
	}
	fmt.Printf("fake Twilio on http://%s\n", o.fakeAddr)

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: o.concurrency * 2}}
	if err := waitReady(client, o.target); err != nil {
		return err
	}
	phones, refs, err := enrol(client, o)
	if err != nil {
		return err
	}
	fmt.Printf("enrolled %d survivors\n", len(phones))

	// Phase 1: throughput and latency of the webhook.
	var (
		sent, failed atomic.Int64
		latMu        sync.Mutex
		lats         []time.Duration
	)
	deadline := time.Now().Add(o.duration)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range o.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			var mine []time.Duration
			for time.Now().Before(deadline) {
				phone := phones[rng.IntN(len(phones))]
				t0 := time.Now()
				code, err := postSMS(client, o, phone, "1")
				mine = append(mine, time.Since(t0))
				if err != nil || code != http.StatusOK {
					failed.Add(1)
				}
				sent.Add(1)
			}
			latMu.Lock()
			lats = append(lats, mine...)
			latMu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(lats)
	fmt.Printf("webhook: %d requests in %.1fs = %.0f req/s, %d failed; latency p50 %s p90 %s p99 %s max %s (concurrency %d)\n",
		sent.Load(), elapsed.Seconds(), float64(sent.Load())/elapsed.Seconds(), failed.Load(),
		pct(lats, 50), pct(lats, 90), pct(lats, 99), lats[len(lats)-1], o.concurrency)

	if o.voice {
		callMu.Lock()
		placed := slices.Clone(calls)
		callMu.Unlock()
		if err := loadVoice(client, o, placed); err != nil {
			return err
		}
	}
	if o.alerts == 0 {
		return nil
	}
	// A pause, then phase 2 starts while phase 1's assessments are still
	// queued: an urgent reply must not wait behind them.
	time.Sleep(3 * time.Second)

	// Phase 2: "3" to the caseworker's alert text.
	var alertLats []time.Duration
	for i := range o.alerts {
		k := i % len(phones)
		ch := make(chan time.Time, 1)
		mu.Lock()
		arrived[refs[k]] = ch
		mu.Unlock()
		t0 := time.Now()
		if code, err := postSMS(client, o, phones[k], "3"); err != nil || code != http.StatusOK {
			return fmt.Errorf("posting 3: %d %v", code, err)
		}
		select {
		case t1 := <-ch:
			alertLats = append(alertLats, t1.Sub(t0))
		case <-time.After(30 * time.Second):
			return fmt.Errorf("no alert text for %s within 30 s", refs[k])
		}
		mu.Lock()
		delete(arrived, refs[k])
		mu.Unlock()
	}
	slices.Sort(alertLats)
	fmt.Printf("alert: %d '3' replies, time to the caseworker's alert text p50 %s p90 %s p99 %s max %s\n",
		len(alertLats), pct(alertLats, 50), pct(alertLats, 90), pct(alertLats, 99), alertLats[len(alertLats)-1])
	return nil
}

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

func enrol(c *http.Client, o options) (phones, refs []string, err error) {
	all := []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}
	for i := range o.survivors {
		phone := fmt.Sprintf("+9171%08d", i)
		ref := fmt.Sprintf("LOAD-%05d", i)
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
			return nil, nil, err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			return nil, nil, fmt.Errorf("enrol %s: %d %s", ref, resp.StatusCode, b)
		}
		// Alert texts name the case by its code, never the reference.
		var sv struct {
			ID       string `json:"id"`
			CaseCode string `json:"case_code"`
		}
		if err := json.Unmarshal(b, &sv); err != nil || sv.CaseCode == "" {
			return nil, nil, fmt.Errorf("enrol %s: no case code in %s", ref, b)
		}
		if o.voice {
			if err := askCall(c, o, sv.ID); err != nil {
				return nil, nil, err
			}
		}
		phones, refs = append(phones, phone), append(refs, sv.CaseCode)
	}
	return phones, refs, nil
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

// loadVoice plays the survivors' phones: each call is answered by a
// person (the call's URL, AnsweredBy=human) and "1" pressed at each of the
// menu's steps, every (call, step) once, from -concurrency clients.
func loadVoice(c *http.Client, o options, calls []twiliofake.Call) error {
	if len(calls) == 0 {
		return errors.New("voice: the fake Twilio has no calls (is the worker running?)")
	}
	const steps = 4
	var next atomic.Int64
	var failed atomic.Int64
	var mu sync.Mutex
	var answers, presses []time.Duration
	var wg sync.WaitGroup
	deadline := time.Now().Add(o.duration)
	start := time.Now()
	for range o.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var a, p []time.Duration
			for time.Now().Before(deadline) {
				i := int(next.Add(1) - 1)
				if i >= len(calls)*steps {
					break
				}
				call, step := calls[i%len(calls)], i/len(calls)+1
				u, err := url.Parse(call.URL)
				if err != nil {
					failed.Add(1)
					continue
				}
				t0 := time.Now()
				code, err := postSigned(c, o, u.RequestURI(), url.Values{"CallSid": {call.SID}, "AnsweredBy": {"human"}, "CallStatus": {"in-progress"}})
				a = append(a, time.Since(t0))
				if err != nil || code != http.StatusOK {
					failed.Add(1)
				}
				gather := strings.Replace(u.RequestURI(), "/answer?", "/gather?", 1) + fmt.Sprintf("&step=%d", step)
				t0 = time.Now()
				code, err = postSigned(c, o, gather, url.Values{"CallSid": {call.SID}, "Digits": {"1"}})
				p = append(p, time.Since(t0))
				if err != nil || code != http.StatusOK {
					failed.Add(1)
				}
			}
			mu.Lock()
			answers, presses = append(answers, a...), append(presses, p...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(answers)
	slices.Sort(presses)
	n := len(answers) + len(presses)
	fmt.Printf("voice: %d requests in %.1fs = %.0f req/s, %d failed (%d calls, concurrency %d)\n", n, elapsed.Seconds(), float64(n)/elapsed.Seconds(), failed.Load(), len(calls), o.concurrency)
	fmt.Printf("voice answer: p50 %s p99 %s max %s; key press: p50 %s p99 %s max %s\n",
		pct(answers, 50), pct(answers, 99), answers[len(answers)-1], pct(presses, 50), pct(presses, 99), presses[len(presses)-1])
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

var sidCounter atomic.Int64

func postSMS(c *http.Client, o options, from, body string) (int, error) {
	sid := fmt.Sprintf("SM%032x", uint64(time.Now().UnixNano())^uint64(sidCounter.Add(1))<<20)
	return postSigned(c, o, "/twilio/sms", url.Values{"MessageSid": {sid}, "From": {from}, "To": {"+15005550006"}, "Body": {body}})
}
