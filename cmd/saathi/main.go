// Command saathi runs Saathi: the HTTP API and webhooks, the River workers
// that send check-ins and raise alerts, migrations and staff management.
//
//	saathi serve [--role=web|worker|all]
//	saathi migrate
//	saathi staff add --name N --role admin|supervisor|caseworker [--phone P] [--supervisor ID] [--language L] [--username U --password-stdin]
//	saathi staff token ID
//	saathi staff deactivate ID
//	saathi keys status|rotate [--batch N]
//	saathi export --survivor ID [--out FILE]
//	saathi seed-demo
//	saathi version
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // survivors' time zones must resolve in a scratch image too

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"saathi/db"
	"saathi/db/crypt"
	"saathi/handlers"
	"saathi/jobs"
)

// version is set at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	stopProfile, err := startCPUProfile(os.Getenv("SAATHI_CPU_PROFILE"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "saathi:", err)
		os.Exit(1)
	}
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stopProfile()
	stop()
	os.Exit(code)
}

// startCPUProfile profiles the whole process into path (for benchmarks:
// go tool pprof), until the returned function is called; "" profiles
// nothing.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("SAATHI_CPU_PROFILE: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("SAATHI_CPU_PROFILE: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "saathi: SAATHI_CPU_PROFILE:", err)
		}
	}, nil
}

// usageError is a mistake on the command line: print it with the usage, exit 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

const usage = `usage:
  saathi serve [--role=web|worker|all]   run the HTTP server and/or the workers
  saathi migrate                         apply Saathi's and River's migrations
  saathi staff add --name N --role admin|supervisor|caseworker [--phone P] [--supervisor ID] [--language L]
                 [--username U --password-stdin]
                                         create a staff member and print their API token once;
                                         with a username, the password (12+ characters) is read from stdin
  saathi staff token ID                  give a staff member a new API token (the old one stops working)
  saathi staff deactivate ID             end a staff member's access; their survivors' alerts go to their supervisor
  saathi keys status                     count the sealed values in every column by encryption key ID
  saathi keys rotate [--batch N]         re-seal every value under SAATHI_ENCRYPTION_KEY, in batches, while the service runs;
                                         resumable; the phone-number blind index is never re-keyed
  saathi export --survivor ID [--out FILE]
                                         a survivor's data as JSON for a data-subject request (audited);
                                         --out creates a new file readable by its owner only
  saathi seed-demo                       (dev provider only) create demo staff and print fresh tokens
  saathi version                         print the version
Configuration comes from the environment; see README.md.`

// run is main without the process: testable, and it returns the exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	err := dispatch(ctx, args, getenv, stdin, stdout, stderr)
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "saathi: %s\n\n%s\n", ue.msg, usage)
		return 2
	default:
		fmt.Fprintf(stderr, "saathi: %s\n", err)
		return 1
	}
}

func dispatch(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{"no command given"}
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "saathi", versionString())
		return nil
	case "help", "--help", "-h":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	cfg, err := LoadConfig(getenv)
	if err != nil {
		return err
	}
	switch cmd {
	case "serve":
		return serveCmd(ctx, cfg, rest, stdout)
	case "migrate":
		if len(rest) > 0 {
			return usageError{"migrate takes no arguments"}
		}
		return migrateCmd(ctx, cfg)
	case "staff":
		return staffCmd(ctx, cfg, rest, stdin, stdout)
	case "keys":
		return keysCmd(ctx, cfg, rest, stdout)
	case "export":
		return exportCmd(ctx, cfg, rest, stdout, stderr)
	case "seed-demo":
		return seedDemoCmd(ctx, cfg, stdout)
	default:
		return usageError{fmt.Sprintf("unknown command %q", cmd)}
	}
}

func versionString() string {
	v := version
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " (" + s.Value[:12] + ")"
			}
		}
	}
	return v
}

// newFlagSet returns a flag set whose errors come back as usage errors
// instead of exiting the process.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return usageError{fmt.Sprintf("%s: %v", fs.Name(), err)}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))}
	}
	return nil
}

func serveCmd(ctx context.Context, cfg Config, args []string, stdout io.Writer) error {
	fs := newFlagSet("serve")
	role := fs.String("role", "all", "web, worker or all")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	m := NewMain()
	m.Config, m.Role, m.Stdout = cfg, *role, stdout
	if err := m.Run(ctx); err != nil {
		m.Close()
		return err
	}
	<-ctx.Done()
	m.Logger.Info("shutting down")
	return m.Close()
}

func migrateCmd(ctx context.Context, cfg Config) error {
	if err := cfg.Validate(false); err != nil {
		return err
	}
	pool, err := db.Connect(ctx, cfg.DatabaseURL, 4)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := db.Migrate(ctx, pool, newLogger(cfg, os.Stderr)); err != nil {
		return err
	}
	return nil
}

func staffCmd(ctx context.Context, cfg Config, args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 {
		return usageError{"staff: give a subcommand: add, token or deactivate"}
	}
	switch args[0] {
	case "add":
		return staffAddCmd(ctx, cfg, args[1:], stdin, stdout)
	case "token", "deactivate":
		return staffAccountCmd(ctx, cfg, args[0], args[1:], stdout)
	default:
		return usageError{fmt.Sprintf("staff: unknown subcommand %q (add, token or deactivate)", args[0])}
	}
}

// staffAccountCmd rotates a staff member's token or deactivates them.
func staffAccountCmd(ctx context.Context, cfg Config, sub string, args []string, stdout io.Writer) error {
	if len(args) != 1 {
		return usageError{fmt.Sprintf("staff %s: give exactly one staff ID", sub)}
	}
	id, err := uuid.Parse(args[0])
	if err != nil {
		return usageError{fmt.Sprintf("staff %s: %q is not a staff ID", sub, args[0])}
	}
	pool, _, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	if sub == "token" {
		token, err := handlers.RotateToken(ctx, pool, nil, id)
		if err != nil {
			return staffProblem(err)
		}
		fmt.Fprintf(stdout, "new token for %s: %s\nThe old token no longer works. The new one is shown only now; keep it somewhere safe.\n", id, token)
		return nil
	}
	rules, err := cfg.RiskRules()
	if err != nil {
		return err
	}
	// An insert-only River client: the open alerts of the member's
	// survivors are texted to their supervisor by the workers.
	workers := river.NewWorkers()
	jobs.Register(workers, &jobs.Deps{})
	rc, err := river.NewClient(riverpgxv5.New(pool), &river.Config{Workers: workers, Logger: newLogger(cfg, io.Discard)})
	if err != nil {
		return fmt.Errorf("river: %w", err)
	}
	if err := handlers.DeactivateStaff(ctx, pool, rc, &jobs.Deps{Rules: &rules}, nil, id, time.Now()); err != nil {
		return staffProblem(err)
	}
	fmt.Fprintf(stdout, "deactivated %s: their token no longer works and they get no alerts; their survivors' alerts go to their supervisor until you reassign them.\n", id)
	return nil
}

// staffProblem words an API problem (404, 409) for the command line.
func staffProblem(err error) error {
	var p *handlers.Problem
	if errors.Is(err, db.ErrNotFound) || (errors.As(err, &p) && p.Status == 404) {
		return errors.New("no staff member with that ID")
	}
	if errors.As(err, &p) {
		return errors.New(p.Message)
	}
	return err
}

func staffAddCmd(ctx context.Context, cfg Config, args []string, stdin io.Reader, stdout io.Writer) error {
	fs := newFlagSet("staff add")
	var in handlers.StaffInput
	fs.StringVar(&in.Name, "name", "", "full name")
	fs.StringVar(&in.Role, "role", "", "admin, supervisor or caseworker")
	fs.StringVar(&in.Phone, "phone", "", "mobile number for alert texts")
	fs.StringVar(&in.SupervisorID, "supervisor", "", "supervisor's staff ID")
	fs.StringVar(&in.Language, "language", "", "language of alert texts (default en)")
	fs.StringVar(&in.Username, "username", "", "username for the dashboard")
	passwordStdin := fs.Bool("password-stdin", false, "read the dashboard password from the first line of standard input")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *passwordStdin {
		if in.Username == "" {
			return usageError{"staff add: --password-stdin needs --username"}
		}
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read the password: %w", err)
		}
		in.Password = strings.TrimRight(line, "\r\n")
	} else if in.Username != "" {
		return usageError{"staff add: --username needs --password-stdin (a password on the command line would stay in the shell history)"}
	}
	if in.Name == "" {
		return usageError{"staff add: --name is required"}
	}
	if in.Role == "" {
		return usageError{"staff add: --role is required (admin, supervisor or caseworker)"}
	}
	pool, kr, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	out, err := handlers.CreateStaff(ctx, pool, kr, in)
	if err != nil {
		var p *handlers.Problem
		if errors.As(err, &p) && p.Field != "" {
			flagName := map[string]string{"supervisor_id": "supervisor", "password": "password-stdin"}[p.Field]
			if flagName == "" {
				flagName = p.Field
			}
			return usageError{fmt.Sprintf("staff add: --%s: %s", flagName, p.Message)}
		}
		return err
	}
	fmt.Fprintf(stdout, "created %s %s (id %s)\ntoken: %s\nThe token is shown only now; keep it somewhere safe.\n", out.Role, out.Name, out.ID, out.Token)
	return nil
}

// openStore validates the settings a command without a provider needs and
// opens a small pool and the keyring.
func openStore(ctx context.Context, cfg Config) (*pgxpool.Pool, *crypt.Keyring, error) {
	if err := cfg.Validate(false); err != nil {
		return nil, nil, err
	}
	kr, err := cfg.Keyring()
	if err != nil {
		return nil, nil, err
	}
	pool, err := db.Connect(ctx, cfg.DatabaseURL, 2)
	if err != nil {
		return nil, nil, err
	}
	return pool, kr, nil
}

func newLogger(cfg Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if strings.EqualFold(cfg.LogFormat, "text") {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
