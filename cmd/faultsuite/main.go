// Command faultsuite proves that Saathi loses nothing and sends nothing
// twice under real faults. It runs the real thing: a private PostgreSQL
// cluster (synchronous_commit on), two `saathi serve --role=web` and two
// `saathi serve --role=worker` processes with the twilio provider pointed
// at a fake Twilio (twiliofake) that answers in 100–300 ms. It enrols
// -survivors survivors through the API with texts and calls mixed, makes
// each one's check-in due now, and while the check-ins go out:
//
//   - the fake fails -fault-rate of the requests (429, 500, timeouts with
//     the message taken or not, and answers lost after it was taken);
//   - a worker process is SIGKILLed with jobs and provider requests in
//     flight (River's rescuer must hand its jobs to the other);
//   - PostgreSQL is crashed (pg_ctl stop -m immediate) and started again
//     after -pg-down (texts and keys arriving meanwhile are spooled by the
//     web processes and replayed);
//   - the survivors' phones answer: -replies signed texts and key presses,
//     -replay of them delivered twice, "3" in several scripts among them;
//     and Twilio's status callbacks come back (-lost-callbacks of them
//     lost).
//
// Then it waits (up to -settle) for every check-in to reach a final state
// and the spool to empty, and prints the accounting: due, sent, failed
// with reasons, duplicates at the provider, replies in and stored, urgent
// replies and their alerts, spool left. It exits 1 on any loss, duplicate
// or urgent reply without an alert, 2 if it could not run.
//
//	go run ./cmd/faultsuite                      # 10,000 survivors, 2,000 replies
//	go run ./cmd/faultsuite -survivors 500 -replies 200
//
// See docs/reliability.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	o := DefaultOptions()
	var latency string
	flag.IntVar(&o.Survivors, "survivors", o.Survivors, "survivors enrolled, each with one check-in due now")
	flag.IntVar(&o.Replies, "replies", o.Replies, "survivors who reply (a text, or a key on the check-in call)")
	flag.Float64Var(&o.Replay, "replay", o.Replay, "share of replies Twilio delivers twice")
	flag.StringVar(&latency, "latency", "100ms-300ms", "the fake Twilio's answer time: a duration, or lo-hi for uniform between them")
	flag.Float64Var(&o.FaultRate, "fault-rate", o.FaultRate, "share of provider requests that fail during dispatch")
	flag.Float64Var(&o.LostCallbacks, "lost-callbacks", o.LostCallbacks, "share of status callbacks lost on the way")
	flag.Float64Var(&o.KillAt, "kill-at", o.KillAt, "share of check-ins out when a worker is SIGKILLed")
	flag.Float64Var(&o.CrashAt, "crash-at", o.CrashAt, "share of check-ins out when PostgreSQL is crashed")
	flag.DurationVar(&o.PGDown, "pg-down", o.PGDown, "how long PostgreSQL stays down")
	flag.DurationVar(&o.Settle, "settle", o.Settle, "longest wait for everything to settle once the faults stop")
	flag.Uint64Var(&o.Seed, "seed", o.Seed, "seed of the survivors' plan and the phones' choices")
	flag.StringVar(&o.SaathiBin, "saathi", "", "a built saathi binary (default: go build ./cmd/saathi)")
	flag.StringVar(&o.PGBin, "pg-bin", "", "PostgreSQL's bin directory (default: the newest /usr/lib/postgresql/*/bin)")
	flag.StringVar(&o.WorkDir, "dir", "", "working directory, kept afterwards (default: a temporary one, removed)")
	flag.BoolVar(&o.Keep, "keep", false, "keep the working directory (logs, spools, the stopped cluster)")
	quiet := flag.Bool("quiet", false, "no progress lines on stderr")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "faultsuite: unexpected argument %q\n", flag.Arg(0))
		os.Exit(2)
	}
	var err error
	if o.LatencyLo, o.LatencyHi, err = parseLatency(latency); err != nil {
		fmt.Fprintf(os.Stderr, "faultsuite: -latency: %v\n", err)
		os.Exit(2)
	}
	if !*quiet {
		o.Progress = os.Stderr
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	r, err := Run(ctx, o)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "faultsuite: %v\n", err)
		os.Exit(2)
	}
	r.Print(os.Stdout)
	if len(r.Problems()) > 0 {
		os.Exit(1)
	}
}

// parseLatency reads "200ms" (fixed) or "100ms-300ms" (uniform).
func parseLatency(s string) (lo, hi time.Duration, err error) {
	a, b, ranged := strings.Cut(s, "-")
	if lo, err = time.ParseDuration(a); err != nil {
		return 0, 0, fmt.Errorf("%q is not a duration or a range lo-hi", s)
	}
	hi = lo
	if ranged {
		if hi, err = time.ParseDuration(b); err != nil || hi < lo {
			return 0, 0, fmt.Errorf("%q is not a range lo-hi with lo ≤ hi", s)
		}
	}
	if lo < 0 {
		return 0, 0, fmt.Errorf("%q is negative", s)
	}
	return lo, hi, nil
}
