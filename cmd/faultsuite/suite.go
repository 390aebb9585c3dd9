package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"saathi/jobs/telephony/twiliofake"
)

// Options are the suite's settings (the command's flags).
type Options struct {
	Survivors int     // survivors enrolled, each with one check-in due now
	Replies   int     // survivors who answer (a text or a key), each reply unique
	Replay    float64 // share of replies delivered twice
	// LatencyLo and LatencyHi bound the fake Twilio's answer time
	// (uniform); equal for a fixed latency.
	LatencyLo, LatencyHi time.Duration
	FaultRate            float64 // share of provider requests failed during dispatch
	LostCallbacks        float64 // share of status callbacks the network loses
	KillAt, CrashAt      float64 // dispatch progress at which a worker is killed, PostgreSQL crashed
	PGDown               time.Duration
	Settle               time.Duration // longest wait for everything to settle after the faults stop
	Seed                 uint64

	SaathiBin string // a built saathi binary; "" builds one
	PGBin     string // PostgreSQL's bin directory; "" finds one
	WorkDir   string // where the cluster, logs and spools go; "" for a temporary one
	Keep      bool   // keep WorkDir (and the cluster, stopped) afterwards

	Progress io.Writer // progress lines
}

// DefaultOptions are the by-hand run's settings: the 10,000
// survivors and 2,000 replies.
func DefaultOptions() Options {
	return Options{
		Survivors: 10000, Replies: 2000, Replay: 0.1,
		LatencyLo: 100 * time.Millisecond, LatencyHi: 300 * time.Millisecond,
		FaultRate: 0.2, LostCallbacks: 0.1, KillAt: 0.3, CrashAt: 0.6,
		PGDown: 5 * time.Second, Settle: 10 * time.Minute, Seed: 1,
		Progress: io.Discard,
	}
}

// suite is one run.
type suite struct {
	o       Options
	dir     string
	start   time.Time
	pg      *cluster
	pool    *pgxpool.Pool
	fake    *twiliofake.Server
	env     saathiEnv
	bin     string
	webs    []*proc
	workers []*proc
	lb      *balancer
	phones  *phones

	survivors   []*survivor
	staffPhones []string
	caseworkers []string // staff IDs
	adminToken  string

	chaos chaosLog
}

// chaosLog is what happened during dispatch, for the report.
type chaosLog struct {
	mu                                  sync.Mutex
	workersStarted                      time.Time
	killedAt, crashedAt, upAt, faultsAt time.Duration
	killCovered, crashCovered           int
	killInFlight, killRunning           int
	settledAt                           time.Duration
	settled                             bool
	notes                               []string
}

func (s *suite) logf(format string, args ...any) {
	fmt.Fprintf(s.o.Progress, "faultsuite %6.1fs  %s\n", time.Since(s.start).Seconds(), fmt.Sprintf(format, args...))
}

// Run runs the suite and returns its report; err is for a run that could
// not happen (no PostgreSQL, a build failure), not for what it found.
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.Survivors < 10 || o.Replies < 0 || o.Replies > o.Survivors || o.Replay < 0 || o.Replay > 1 ||
		o.FaultRate < 0 || o.FaultRate > 1 || o.LostCallbacks < 0 || o.LostCallbacks > 1 {
		return nil, errors.New("want -survivors ≥ 10, 0 ≤ -replies ≤ -survivors, and -replay, -fault-rate, -lost-callbacks between 0 and 1")
	}
	pgBin, err := findPGBin(o.PGBin)
	if err != nil {
		return nil, err
	}
	s := &suite{o: o, start: time.Now()}
	if s.dir = o.WorkDir; s.dir == "" {
		// Not t.TempDir or $HOME: the postgres user must reach the cluster.
		if s.dir, err = os.MkdirTemp("", "faultsuite-"); err != nil {
			return nil, err
		}
		if err := os.Chmod(s.dir, 0o755); err != nil {
			return nil, err
		}
	}
	defer s.teardown()

	if err := s.setUp(ctx, pgBin); err != nil {
		return nil, err
	}
	if err := s.dispatch(ctx); err != nil {
		return nil, err
	}
	s.stopAll()
	return s.account(ctx)
}

func (s *suite) setUp(ctx context.Context, pgBin string) error {
	var err error
	if s.bin = s.o.SaathiBin; s.bin == "" {
		s.logf("building saathi")
		s.bin = filepath.Join(s.dir, "saathi")
		if out, err := exec.CommandContext(ctx, "go", "build", "-o", s.bin, "saathi/cmd/saathi").CombinedOutput(); err != nil {
			return fmt.Errorf("go build ./cmd/saathi: %w\n%s", err, out)
		}
	}
	if s.pg, err = newCluster(ctx, pgBin, s.dir); err != nil {
		return err
	}
	if err := s.pg.Start(ctx); err != nil {
		return err
	}
	s.logf("PostgreSQL (%s) on port %d, data in %s", filepath.Base(filepath.Dir(pgBin)), s.pg.port, s.pg.data)
	admin, err := pgx.Connect(ctx, s.pg.URL("postgres"))
	if err != nil {
		return err
	}
	_, err = admin.Exec(ctx, "CREATE DATABASE saathi")
	admin.Close(ctx)
	if err != nil {
		return err
	}
	if s.pool, err = pgxpool.New(ctx, s.pg.URL("saathi")+"&pool_max_conns=4"); err != nil {
		return err
	}

	if s.fake, err = twiliofake.NewServerAt("127.0.0.1:0"); err != nil {
		return err
	}
	s.fake.LatencyFunc = twiliofake.UniformLatency(s.o.LatencyLo, s.o.LatencyHi)

	// The web processes listen on ports of their own; Twilio and staff
	// reach them through one public URL, the balancer's.
	lbPort, err := freePort()
	if err != nil {
		return err
	}
	s.env = saathiEnv{
		databaseURL: s.pg.URL("saathi"), twilioURL: s.fake.URL, encryptionKey: newKey(),
		publicURL: fmt.Sprintf("http://127.0.0.1:%d", lbPort),
	}
	if _, err := s.env.command(ctx, s.bin, "", "migrate"); err != nil {
		return err
	}
	if err := s.addStaff(ctx); err != nil {
		return err
	}
	for i := range 2 {
		p, err := startProc(s.env, s.bin, s.dir, fmt.Sprintf("web-%d", i+1), "web")
		if err != nil {
			return err
		}
		s.webs = append(s.webs, p)
	}
	for _, p := range s.webs {
		if err := p.waitReady(ctx, time.Minute); err != nil {
			return err
		}
	}
	if s.lb, err = newBalancerAt(fmt.Sprintf("127.0.0.1:%d", lbPort), s.webs); err != nil {
		return err
	}

	s.plan()
	s.phones = newPhones(s.fake, s.env.publicURL, s.survivors, s.staffPhones, s.o.LostCallbacks, s.o.Seed)
	if err := s.enrol(ctx); err != nil {
		return err
	}
	// The one write behind Saathi's back: every cadence's first check-in
	// falls due now, as if its 30 days had passed.
	tag, err := s.pool.Exec(ctx, `UPDATE checkins SET due_at = now() WHERE kind = 'cadence' AND state = 'scheduled'`)
	if err != nil {
		return err
	}
	if int(tag.RowsAffected()) != s.o.Survivors {
		return fmt.Errorf("%d check-ins made due, want %d", tag.RowsAffected(), s.o.Survivors)
	}
	s.logf("%d survivors enrolled, each with a check-in due now", s.o.Survivors)
	return nil
}

var createdRE = regexp.MustCompile(`created \w+ .* \(id ([0-9a-f-]{36})\)\ntoken: (\S+)`)

// addStaff creates an admin, a supervisor and five caseworkers, each with
// a phone for alert texts.
func (s *suite) addStaff(ctx context.Context) error {
	add := func(name, role, phone string, extra ...string) (id, token string, err error) {
		args := append([]string{"staff", "add", "--name", name, "--role", role, "--phone", phone}, extra...)
		out, err := s.env.command(ctx, s.bin, "", args...)
		if err != nil {
			return "", "", err
		}
		m := createdRE.FindStringSubmatch(out)
		if m == nil {
			return "", "", fmt.Errorf("staff add: unexpected output %q", out)
		}
		s.staffPhones = append(s.staffPhones, phone)
		return m[1], m[2], nil
	}
	var err error
	if _, s.adminToken, err = add("Admin", "admin", "+919000000001"); err != nil {
		return err
	}
	sup, _, err := add("Supervisor", "supervisor", "+919000000002")
	if err != nil {
		return err
	}
	for i := range 5 {
		id, _, err := add(fmt.Sprintf("Caseworker %d", i+1), "caseworker", fmt.Sprintf("+91900000001%d", i), "--supervisor", sup)
		if err != nil {
			return err
		}
		s.caseworkers = append(s.caseworkers, id)
	}
	return nil
}

// Channel and consent mixes, in tenths of the survivors: texts only,
// calls only, both (a check-in goes by text), both channels with consent
// to calls only (it goes by call).
var mixes = []struct {
	channels, consent []string
	tenths            int
}{
	{[]string{"sms"}, []string{"sms"}, 4},
	{[]string{"voice"}, []string{"voice"}, 3},
	{[]string{"sms", "voice"}, []string{"sms", "voice"}, 2},
	{[]string{"sms", "voice"}, []string{"voice"}, 1},
}

// mixOf is the mix of survivor i: the mixes' tenths, in turn.
func mixOf(i int) int {
	k := i % 10
	for j, m := range mixes {
		if k < m.tenths {
			return j
		}
		k -= m.tenths
	}
	return len(mixes) - 1
}

var languages = []string{"hi", "en", "pa", "gu", "ur"}

// threes are "3" in each language's digits: every one means "I need help
// now".
var threes = map[string]string{"en": "3", "hi": "३", "pa": "੩", "gu": "૩", "ur": "۳"}

// plan decides every survivor's channels, consent and reply, from the seed.
func (s *suite) plan() {
	rng := mrand.New(mrand.NewPCG(s.o.Seed, 0xfa17))
	n := s.o.Survivors
	for i := range n {
		m := mixes[mixOf(i)]
		sv := &survivor{
			idx: i, phone: fmt.Sprintf("+9170%08d", i), lang: languages[i%len(languages)],
			channels: m.channels, consent: m.consent, caseworkerIx: i % len(s.caseworkers),
			// One in fifty withdraws consent after enrolment: their
			// check-in must be skipped, and nothing may reach them.
			withdrawn: i%50 == 49,
		}
		if !sv.withdrawn {
			sv.channel = "sms"
			if len(m.consent) == 1 && m.consent[0] == "voice" {
				sv.channel = "voice"
			}
		}
		s.survivors = append(s.survivors, sv)
	}
	// Repliers: a random choice among those who will hear from Saathi.
	var reachable []*survivor
	for _, sv := range s.survivors {
		if sv.channel != "" {
			reachable = append(reachable, sv)
		}
	}
	rng.Shuffle(len(reachable), func(i, j int) { reachable[i], reachable[j] = reachable[j], reachable[i] })
	heldLeft := max(5, s.o.Replies/20)
	for _, sv := range reachable[:min(s.o.Replies, len(reachable))] {
		r := &plannedReply{replay: rng.Float64() < s.o.Replay}
		r.together = r.replay && rng.Float64() < 0.3
		switch x := rng.Float64(); {
		case x < 0.25:
			r.body, r.urgent = "3", true
			if sv.channel == "sms" && rng.Float64() < 0.5 {
				r.body = threes[sv.lang]
			}
		case x < 0.4:
			r.body = "2"
		case x < 0.9 || sv.channel == "voice":
			r.body = "1"
		default:
			r.body = "all fine, thank you"
		}
		if sv.channel == "sms" && heldLeft > 0 {
			r.held, heldLeft = true, heldLeft-1
		}
		sv.reply = r
	}
}

// enrol enrols every survivor through the admin API (both web processes,
// through the balancer), and withdraws the consent of those who withdraw.
func (s *suite) enrol(ctx context.Context) error {
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	api := func(method, path string, body any, want int, out any) error {
		raw, _ := json.Marshal(body)
		req, err := http.NewRequestWithContext(ctx, method, s.env.publicURL+path, bytes.NewReader(raw))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+s.adminToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
		if out != nil {
			return json.Unmarshal(b, out)
		}
		return nil
	}
	all := []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(s.survivors) || ctx.Err() != nil {
					return
				}
				sv := s.survivors[i]
				var out struct {
					ID string `json:"id"`
				}
				err := api(http.MethodPost, "/api/v1/survivors", map[string]any{
					"reference": fmt.Sprintf("FS-%05d", i), "phone": sv.phone, "language": sv.lang,
					"channels": sv.channels, "timezone": "Asia/Kolkata", "caseworker_id": s.caseworkers[sv.caseworkerIx],
					"contact_windows": []map[string]any{{"days": all, "start": "00:00", "end": "24:00"}},
					"consent": map[string]any{"channels": sv.consent, "method": "verbal",
						"recorded_at": time.Now().Add(-time.Hour).Format(time.RFC3339)},
					"cadence": map[string]any{"phases": []map[string]any{{"every_days": 30, "times": 1}}},
				}, http.StatusCreated, &out)
				if err == nil && sv.withdrawn {
					err = api(http.MethodPost, "/api/v1/survivors/"+out.ID+"/consent", map[string]any{
						"action": "withdraw", "channels": sv.consent, "method": "phone_call",
					}, http.StatusCreated, nil)
				}
				if err != nil {
					errs <- fmt.Errorf("enrol survivor %d: %w", i, err)
					return
				}
				sv.id = out.ID
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// dispatch starts the workers and plays the faults: random provider
// faults from the start, a worker SIGKILLed at KillAt of the dispatch, a
// PostgreSQL crash at CrashAt, the faults off once the crash is over and
// nearly everything went out; then it waits, up to Settle, for everything
// to settle.
func (s *suite) dispatch(ctx context.Context) error {
	reachable := 0
	for _, sv := range s.survivors {
		if sv.channel != "" {
			reachable++
		}
	}
	s.fake.SetRandomFaults(s.o.FaultRate)
	for i := range 2 {
		p, err := startProc(s.env, s.bin, s.dir, fmt.Sprintf("worker-%d", i+1), "worker")
		if err != nil {
			return err
		}
		s.workers = append(s.workers, p)
	}
	s.chaos.workersStarted = time.Now()
	since := func() time.Duration { return time.Since(s.chaos.workersStarted).Round(100 * time.Millisecond) }
	s.logf("2 workers started; provider faults at %.0f%%, latency %s–%s", s.o.FaultRate*100, s.o.LatencyLo, s.o.LatencyHi)

	progress := func(share float64) func() bool {
		return func() bool { return float64(s.phones.Covered()) >= share*float64(reachable) }
	}
	if !waitFor(ctx, 5*time.Minute, 20*time.Millisecond, progress(s.o.KillAt)) {
		return fmt.Errorf("dispatch did not reach %.0f%% within 5 minutes (%d of %d)", s.o.KillAt*100, s.phones.Covered(), reachable)
	}
	var running int
	_ = s.pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE state = 'running'`).Scan(&running)
	inFlight := s.fake.InFlight()
	victim := s.workers[1]
	if err := victim.Kill(); err != nil {
		return fmt.Errorf("kill %s: %w", victim.name, err)
	}
	s.chaos.killedAt, s.chaos.killCovered, s.chaos.killInFlight, s.chaos.killRunning = since(), s.phones.Covered(), inFlight, running
	s.logf("SIGKILL %s at %d of %d check-ins out: %d jobs running (both workers), %d provider requests in flight",
		victim.name, s.chaos.killCovered, reachable, running, inFlight)

	if !waitFor(ctx, 5*time.Minute, 20*time.Millisecond, progress(s.o.CrashAt)) {
		return fmt.Errorf("dispatch did not reach %.0f%% within 5 minutes after the kill (%d of %d)", s.o.CrashAt*100, s.phones.Covered(), reachable)
	}
	if err := s.pg.Crash(ctx); err != nil {
		return err
	}
	s.chaos.crashedAt, s.chaos.crashCovered = since(), s.phones.Covered()
	s.logf("PostgreSQL crashed (pg_ctl stop -m immediate) at %d of %d check-ins out; down for %s", s.chaos.crashCovered, reachable, s.o.PGDown)
	s.phones.OutageBegins(s.o.PGDown)
	time.Sleep(s.o.PGDown)
	if err := s.pg.Start(ctx); err != nil {
		return err
	}
	s.phones.OutageEnds()
	s.chaos.upAt = since()
	s.logf("PostgreSQL up again")

	// The faults last as long as the first wave of sends: until nearly
	// every check-in is out, or no more go out for a while (the rest wait
	// on retries and reconciliation, which then meet a healthy provider).
	covered, stalledSince := s.phones.Covered(), time.Now()
	waitFor(ctx, 2*time.Minute, 100*time.Millisecond, func() bool {
		if n := s.phones.Covered(); n != covered {
			covered, stalledSince = n, time.Now()
		}
		return progress(0.95)() || time.Since(stalledSince) > 5*time.Second
	})
	s.fake.SetRandomFaults(0)
	s.chaos.faultsAt = since()
	s.logf("provider faults off at %d of %d check-ins out; waiting up to %s to settle", s.phones.Covered(), reachable, s.o.Settle)

	deadline := time.Now().Add(s.o.Settle)
	calm := 0
	last := time.Now()
	for time.Now().Before(deadline) && ctx.Err() == nil {
		for _, p := range append(append([]*proc{}, s.webs...), s.workers...) {
			if err := p.Exited(); err != nil {
				return err
			}
		}
		left, why := s.unsettled(ctx)
		if left == 0 {
			calm++
		} else {
			calm = 0
		}
		if calm == 2 {
			s.chaos.settled, s.chaos.settledAt = true, since()
			s.logf("settled")
			return nil
		}
		if time.Since(last) > 15*time.Second {
			s.logf("waiting: %s", why)
			last = time.Now()
		}
		time.Sleep(time.Second)
	}
	s.chaos.settledAt = since()
	s.logf("not settled within %s", s.o.Settle)
	return nil
}

// unsettled counts what is still on its way, and says what: check-ins
// not out, sends whose outcome is unknown, jobs to run now or soon
// (retries, snoozed reconciliations), spooled replies, busy phones. Not
// the timers that are part of normal life: an alert's escalation (15 min
// for urgent ones), a check-in called again half an hour after nobody
// answered, the periodic planner and sweeper.
func (s *suite) unsettled(ctx context.Context) (int, string) {
	var checkins, attempting, jobs int
	err := s.pool.QueryRow(ctx, `
		SELECT
		  (SELECT count(*) FROM checkins c WHERE c.kind = 'cadence'
		     AND c.state NOT IN ('skipped', 'failed', 'cancelled')
		     AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.checkin_id = c.id AND m.direction = 'out' AND m.provider_sid IS NOT NULL)),
		  (SELECT count(*) FROM messages WHERE direction = 'out' AND status = 'attempting'),
		  (SELECT count(*) FROM river_job WHERE kind NOT IN ('checkin_plan', 'checkin_sweep', 'session_cleanup', 'alert_escalate')
		     AND (state IN ('available', 'running', 'retryable', 'pending')
		          OR (state = 'scheduled' AND scheduled_at < now() + interval '10 minutes'
		              AND NOT (kind = 'checkin_send' AND coalesce((args->>'call')::int, 0) > 0))))`,
	).Scan(&checkins, &attempting, &jobs)
	if err != nil {
		return 1, "database: " + err.Error()
	}
	spool, _, err := spoolLeft(s.webs)
	if err != nil {
		return 1, "spool: " + err.Error()
	}
	busy := int(s.phones.busy.Load())
	why := fmt.Sprintf("%d check-ins not out, %d sends unconfirmed, %d jobs to run, %d spooled, %d phones busy", checkins, attempting, jobs, spool, busy)
	return checkins + attempting + jobs + spool + busy, why
}

// stopAll stops the processes (SIGTERM, as a deployment would) and the
// fake; the database stays up for the accounting.
func (s *suite) stopAll() {
	for _, p := range append(append([]*proc{}, s.workers...), s.webs...) {
		p.Stop(30 * time.Second)
	}
	if s.lb != nil {
		s.lb.Close()
	}
	s.phones.active.Wait()
}

func (s *suite) teardown() {
	for _, p := range append(append([]*proc{}, s.workers...), s.webs...) {
		p.Stop(5 * time.Second)
	}
	if s.lb != nil {
		s.lb.Close()
	}
	if s.fake != nil {
		s.fake.Close()
	}
	if s.pool != nil {
		s.pool.Close()
	}
	if s.pg != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := s.pg.Stop(ctx); err != nil {
			s.logf("%v", err)
		}
		cancel()
	}
	if s.o.Keep || s.o.WorkDir != "" {
		s.logf("kept %s", s.dir)
		return
	}
	_ = os.RemoveAll(s.dir)
}
