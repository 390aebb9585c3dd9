package jobs_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"

	"saathi/db"
	"saathi/db/crypt"
	"saathi/db/dbtest"
	"saathi/jobs"
	"saathi/jobs/telephony/twiliofake"
)

// noopArgs is a job that does nothing: the yardstick for what River itself
// costs on this machine, with the same client settings.
type noopArgs struct{}

func (noopArgs) Kind() string { return "bench_noop" }

type noopWorker struct {
	river.WorkerDefaults[noopArgs]
	done *atomic.Int64
}

func (w *noopWorker) Work(context.Context, *river.Job[noopArgs]) error {
	w.done.Add(1)
	return nil
}

// benchSizes are the N to run: SAATHI_BENCH_N="10000,100000" by hand, a
// small one by default so CI runs it quickly.
func benchSizes(b *testing.B) []int {
	spec := os.Getenv("SAATHI_BENCH_N")
	if spec == "" {
		spec = "2000"
	}
	var out []int
	for _, s := range strings.Split(spec, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			b.Fatalf("SAATHI_BENCH_N: %q is not a positive number", s)
		}
		out = append(out, n)
	}
	return out
}

// bulkSurvivors enrols n survivors reachable at any time, with consent,
// using COPY (the API path is measured elsewhere), and one due check-in
// each. It returns nothing: the check-ins are 'scheduled' and due now.
func (f *fixture) bulkSurvivors(b *testing.B, n int, due time.Time, futurePerSurvivor int) {
	b.Helper()
	ctx := context.Background()
	ids := make([]uuid.UUID, n)
	for i := range ids {
		ids[i] = uuid.New()
	}
	kr := f.keyring
	copyRows := func(table string, cols []string, row func(i int) []any, rows int) {
		_, err := f.pool.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromFunc(func() func() ([]any, error) {
			i := 0
			return func() ([]any, error) {
				if i == rows {
					return nil, nil
				}
				i++
				return row(i - 1), nil
			}
		}()))
		if err != nil {
			b.Fatalf("copy %s: %v", table, err)
		}
	}
	copyRows("survivors", []string{"id", "case_code", "reference_enc", "phone_enc", "phone_hash", "language", "channels", "timezone", "caseworker_id"}, func(i int) []any {
		phone := "+91" + strconv.Itoa(7000000000+i)
		return []any{ids[i], "SA-" + strconv.Itoa(1000000+i), kr.SealString(crypt.SurvivorReference, "B-"+strconv.Itoa(i)), kr.SealString(crypt.SurvivorPhone, phone), kr.BlindIndex(phone),
			[]string{"en", "hi", "pa", "gu", "ur"}[i%5], []string{"sms"}, "Asia/Kolkata", f.caseworker}
	}, n)
	copyRows("contact_windows", []string{"survivor_id", "position", "days", "start_minute", "end_minute"}, func(i int) []any {
		return []any{ids[i], 0, []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}, 0, 1440}
	}, n)
	copyRows("consent_records", []string{"survivor_id", "action", "channels", "method", "source", "recorded_at"}, func(i int) []any {
		return []any{ids[i], "give", []string{"sms"}, "verbal", "staff", due.Add(-time.Hour)}
	}, n)
	total := n * (1 + futurePerSurvivor)
	copyRows("checkins", []string{"survivor_id", "kind", "due_at", "state"}, func(i int) []any {
		k := i / n // 0: due now; k > 0: k weeks ahead
		return []any{ids[i%n], "cadence", due.Add(time.Duration(k) * 7 * 24 * time.Hour), "scheduled"}
	}, total)
	if _, err := f.pool.Exec(ctx, "ANALYZE"); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkCheckinPipeline enqueues N due check-ins with the planner and
// sends them through the real sender, twilio-go and the fake Twilio; then,
// in the same run and database, works N no-op jobs twice: with Saathi's
// River settings, and with River tuned for throughput. The figures that
// matter are the ratios: check-ins/s over each no-op rate.
//
// The database commits durably (synchronous_commit on, as in production).
// Check-ins are unpaced (Deps.SMSRate 0): this is how fast Saathi can
// send, not the rate the provider accepts.
// The fake Twilio answers each request after SAATHI_BENCH_LATENCY (a
// comma-separated list, each "0", "150ms" or a uniform range
// "100ms-200ms"; default 0). SAATHI_BENCH_WORKERS sets Saathi's workers
// (default 50), SAATHI_BENCH_TUNED the tuned baseline's
// "workers,fetch cooldown,fetch poll interval" (default "200,1ms,5ms").
//
//	SAATHI_BENCH_N=10000 SAATHI_BENCH_LATENCY=0,150ms go test ./jobs -run '^$' -bench CheckinPipeline -benchtime 1x -timeout 60m
func BenchmarkCheckinPipeline(b *testing.B) {
	latencies := benchLatencies(b)
	tuned := tunedSettings(b)
	for _, n := range benchSizes(b) {
		for _, lat := range latencies {
			b.Run(fmt.Sprintf("n=%d/latency=%s", n, lat.name), func(b *testing.B) {
				for b.Loop() {
					runPipeline(b, n, lat.fn, tuned)
				}
			})
		}
	}
}

// benchLatency is a fake-Twilio latency setting and its name.
type benchLatency struct {
	name string
	fn   func() time.Duration
}

func benchLatencies(b *testing.B) []benchLatency {
	spec := os.Getenv("SAATHI_BENCH_LATENCY")
	if spec == "" {
		spec = "0"
	}
	var out []benchLatency
	for _, s := range strings.Split(spec, ",") {
		fn, err := twiliofake.ParseLatency(s)
		if err != nil {
			b.Fatalf("SAATHI_BENCH_LATENCY: %v", err)
		}
		out = append(out, benchLatency{name: strings.TrimSpace(s), fn: fn})
	}
	return out
}

// riverSettings are the River client settings a run is measured with.
type riverSettings struct {
	workers                  int
	fetchCooldown, fetchPoll time.Duration
}

func (s riverSettings) String() string {
	return fmt.Sprintf("%d workers, fetch cooldown %s, fetch poll %s", s.workers, s.fetchCooldown, s.fetchPoll)
}

// saathiSettings are production's: jobs.ClientConfig with
// SAATHI_BENCH_WORKERS jobs at once (default 50, SAATHI_WORKERS' default).
func saathiSettings() riverSettings {
	cfg := jobs.ClientConfig(river.NewWorkers(), 1, quiet())
	s := riverSettings{workers: 50, fetchCooldown: cfg.FetchCooldown, fetchPoll: cfg.FetchPollInterval}
	if v, err := strconv.Atoi(os.Getenv("SAATHI_BENCH_WORKERS")); err == nil && v > 0 {
		s.workers = v
	}
	return s
}

// tunedSettings are what River itself can do on this machine: many
// workers fetching as often as River allows.
func tunedSettings(b *testing.B) riverSettings {
	spec := os.Getenv("SAATHI_BENCH_TUNED")
	if spec == "" {
		spec = "200,1ms,5ms"
	}
	parts := strings.Split(spec, ",")
	bad := func() { b.Fatalf("SAATHI_BENCH_TUNED: %q is not workers,cooldown,poll (200,1ms,5ms)", spec) }
	if len(parts) != 3 {
		bad()
	}
	var s riverSettings
	var err1, err2, err3 error
	s.workers, err1 = strconv.Atoi(strings.TrimSpace(parts[0]))
	s.fetchCooldown, err2 = time.ParseDuration(strings.TrimSpace(parts[1]))
	s.fetchPoll, err3 = time.ParseDuration(strings.TrimSpace(parts[2]))
	if err1 != nil || err2 != nil || err3 != nil || s.workers <= 0 || s.fetchCooldown < time.Millisecond || s.fetchPoll < s.fetchCooldown {
		bad()
	}
	return s
}

// clientConfig is Saathi's River config (jobs.ClientConfig: its queues,
// error handler, retention) with the default queue's workers and the
// fetch timing set to s.
func (s riverSettings) clientConfig(workers *river.Workers) *river.Config {
	cfg := jobs.ClientConfig(workers, s.workers, quiet())
	cfg.PeriodicJobs = nil // the benchmark runs the planner itself
	cfg.FetchCooldown, cfg.FetchPollInterval = s.fetchCooldown, s.fetchPoll
	return cfg
}

func runPipeline(b *testing.B, n int, latency func() time.Duration, tuned riverSettings) {
	b.StopTimer()
	ctx := context.Background()
	f := setup(b)
	conns := 40 // SAATHI_DB_MAX_CONNS' default
	if v, err := strconv.Atoi(os.Getenv("SAATHI_BENCH_CONNS")); err == nil && v > 0 {
		conns = v
	}
	pool, err := db.Connect(ctx, f.pool.Config().ConnString(), int32(conns))
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	dbtest.RequireSynchronousCommit(b, pool)
	deps := *f.deps
	deps.Pool, deps.NowFunc = pool, nil
	driver := riverpgxv5.New(pool)
	f.bulkSurvivors(b, n, time.Now().Add(-time.Minute), 0)
	saathi := saathiSettings()
	b.Logf("synchronous_commit on; %d connections; Saathi: %s; tuned: %s", conns, saathi, tuned)

	// The fake keeps nothing in memory, so the heap measured is Saathi's.
	var accepted atomic.Int64
	f.fake.Discard = true
	f.fake.LatencyFunc = latency
	f.fake.OnMessage = func(twiliofake.Message) { accepted.Add(1) }

	var peak atomic.Uint64
	stopSampling := sampleHeap(&peak)
	b.StartTimer()

	// 1. The planner claims every due check-in and enqueues its job.
	workers := river.NewWorkers()
	jobs.Register(workers, &deps)
	inserter, err := river.NewClient(driver, saathi.clientConfig(workers))
	if err != nil {
		b.Fatal(err)
	}
	planStart := time.Now()
	planned, err := (&jobs.CheckinPlanWorker{Deps: &deps}).Plan(rivertest.WorkContext(ctx, inserter), time.Now())
	if err != nil || planned != n {
		b.Fatalf("planned %d of %d: %v", planned, n, err)
	}
	planDur := time.Since(planStart)

	// 2. Workers send them all through twilio-go to the fake Twilio.
	sendStart := time.Now()
	client, err := river.NewClient(driver, saathi.clientConfig(workers))
	if err != nil {
		b.Fatal(err)
	}
	if err := client.Start(ctx); err != nil {
		b.Fatal(err)
	}
	for accepted.Load() < int64(n) {
		time.Sleep(20 * time.Millisecond)
	}
	for f.count("SELECT count(*) FROM checkins WHERE state = 'sent'") < n {
		time.Sleep(20 * time.Millisecond)
	}
	waitCompleted(b, pool, jobs.CheckinSendArgs{}.Kind(), n)
	sendDur := time.Since(sendStart)
	if err := client.Stop(ctx); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	stopSampling()
	if got := accepted.Load(); got != int64(n) {
		b.Fatalf("Twilio accepted %d messages for %d check-ins", got, n)
	}
	if got := f.count("SELECT count(DISTINCT provider_sid) FROM messages WHERE provider_sid IS NOT NULL"); got != n {
		b.Fatalf("%d distinct messages recorded for %d check-ins", got, n)
	}

	// 3. The same number of no-op jobs: Saathi's settings, then tuned.
	noopDur := runNoop(b, pool, saathi, n)
	tunedDur := runNoop(b, pool, tuned, n)

	real := float64(n) / sendDur.Seconds()
	base, fast := float64(n)/noopDur.Seconds(), float64(n)/tunedDur.Seconds()
	b.ReportMetric(real, "checkins/s")
	b.ReportMetric(base, "noop-jobs/s")
	b.ReportMetric(real/base, "ratio")
	b.ReportMetric(fast, "noop-tuned-jobs/s")
	b.ReportMetric(real/fast, "ratio-tuned")
	b.ReportMetric(float64(planDur.Milliseconds()), "plan-ms")
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
	b.StartTimer()
}

// waitCompleted waits until River has recorded n jobs of kind as
// completed: a job's work is done when its completion is committed, not
// when its Work returns (River completes jobs in batches, later).
func waitCompleted(b *testing.B, pool *pgxpool.Pool, kind string, n int) {
	b.Helper()
	for {
		var done int
		if err := pool.QueryRow(context.Background(), "SELECT count(*) FROM river_job WHERE kind = $1 AND state = 'completed'", kind).Scan(&done); err != nil {
			b.Fatal(err)
		}
		if done >= n {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// runNoop inserts n no-op jobs, then times a client with settings s
// working them all, until their completion is recorded.
func runNoop(b *testing.B, pool *pgxpool.Pool, s riverSettings, n int) time.Duration {
	b.Helper()
	ctx := context.Background()
	// Earlier runs' no-op jobs are already completed; start from none.
	if _, err := pool.Exec(ctx, "DELETE FROM river_job WHERE kind = $1", noopArgs{}.Kind()); err != nil {
		b.Fatal(err)
	}
	driver := riverpgxv5.New(pool)
	var done atomic.Int64
	workers := river.NewWorkers()
	river.AddWorker(workers, &noopWorker{done: &done})
	client, err := river.NewClient(driver, s.clientConfig(workers))
	if err != nil {
		b.Fatal(err)
	}
	for left := n; left > 0; left -= 10000 {
		batch := make([]river.InsertManyParams, min(left, 10000))
		for i := range batch {
			batch[i] = river.InsertManyParams{Args: noopArgs{}}
		}
		if _, err := client.InsertMany(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	start := time.Now()
	if err := client.Start(ctx); err != nil {
		b.Fatal(err)
	}
	for done.Load() < int64(n) {
		time.Sleep(time.Millisecond)
	}
	waitCompleted(b, pool, noopArgs{}.Kind(), n)
	elapsed := time.Since(start)
	if err := client.Stop(ctx); err != nil {
		b.Fatal(err)
	}
	return elapsed
}

// sampleHeap records the largest in-use heap until stopped.
func sampleHeap(peak *atomic.Uint64) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	return func() { close(done); <-finished }
}

// benchPace is the planner's pacing, per channel: SAATHI_BENCH_PACE
// (sends a second; 0 for none), default 1, production's default.
func benchPace(b *testing.B) jobs.Pace {
	v := os.Getenv("SAATHI_BENCH_PACE")
	if v == "" {
		return 1
	}
	r, err := strconv.ParseFloat(v, 64)
	if err != nil || r < 0 {
		b.Fatalf("SAATHI_BENCH_PACE: %q is not a rate (sends a second, 0 for none)", v)
	}
	return jobs.Pace(r)
}

// BenchmarkPlannerTick times one planner tick with N survivors enrolled,
// each with 24 check-ins planned (24 million rows at N=1,000,000), and
// samples the heap during the ticks. SAATHI_BENCH_DUE sets how many are due
// (default 1% of N): a tick's work grows with what is due, not with N, and
// its memory is bounded by the batch size. Sends are paced at
// SAATHI_BENCH_PACE a second per channel (default 1, production's).
//
//	SAATHI_BENCH_N=100000,1000000 SAATHI_BENCH_DUE=1000 go test ./jobs -run '^$' -bench PlannerTick -benchtime 3x -timeout 3h
func BenchmarkPlannerTick(b *testing.B) {
	for _, n := range benchSizes(b) {
		due := max(n/100, 1)
		if s := os.Getenv("SAATHI_BENCH_DUE"); s != "" {
			d, err := strconv.Atoi(s)
			if err != nil || d <= 0 || d > n {
				b.Fatalf("SAATHI_BENCH_DUE: %q is not a number from 1 to N", s)
			}
			due = d
		}
		b.Run(fmt.Sprintf("survivors=%d/due=%d", n, due), func(b *testing.B) {
			b.StopTimer()
			f := setup(b)
			dbtest.RequireSynchronousCommit(b, f.pool)
			f.fake.AllowUnused()
			f.deps.NowFunc = nil
			f.deps.SMSRate, f.deps.CallRate = benchPace(b), benchPace(b)
			now := time.Now()
			// Everyone has 24 check-ins ahead; then make some due.
			f.bulkSurvivors(b, n, now.Add(time.Hour), 23)
			if _, err := f.pool.Exec(context.Background(),
				"UPDATE checkins SET due_at = $1 WHERE id IN (SELECT id FROM checkins WHERE due_at = $2 LIMIT $3)", now.Add(-time.Minute), now.Add(time.Hour), due); err != nil {
				b.Fatal(err)
			}
			_, _ = f.pool.Exec(context.Background(), "ANALYZE checkins")
			client, err := river.NewClient(f.driver, f.riverConfig())
			if err != nil {
				b.Fatal(err)
			}
			ctx := rivertest.WorkContext(context.Background(), client)
			var ticks time.Duration
			runtime.GC()
			var base runtime.MemStats
			runtime.ReadMemStats(&base)
			var peak atomic.Uint64
			stopSampling := sampleHeap(&peak)
			// b.Loop, not b.N: the benchmark function then runs once, and a
			// million survivors are enrolled once, not for a probe run too.
			b.StartTimer()
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				if i > 0 { // put the claimed check-ins back for another tick
					_, _ = f.pool.Exec(context.Background(), "UPDATE checkins SET state = 'scheduled' WHERE state = 'queued'")
					_, _ = f.pool.Exec(context.Background(), "DELETE FROM river_job")
					_, _ = f.pool.Exec(context.Background(), "DELETE FROM send_pacing")
				}
				b.StartTimer()
				start := time.Now()
				planned, err := (&jobs.CheckinPlanWorker{Deps: f.deps}).Plan(ctx, time.Now())
				ticks += time.Since(start)
				if err != nil || planned != due {
					b.Fatalf("planned %d of %d: %v", planned, due, err)
				}
			}
			stopSampling()
			b.ReportMetric(float64(ticks.Microseconds())/1000/float64(b.N), "tick-ms")
			b.ReportMetric(float64(n*24), "checkin-rows")
			b.ReportMetric(float64(due), "due")
			b.ReportMetric(float64(f.deps.SMSRate), "pace-per-s")
			b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
			b.ReportMetric(float64(base.HeapInuse)/(1<<20), "heap-before-MiB")
		})
	}
}
