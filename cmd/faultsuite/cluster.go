package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ErrNoPostgres means the PostgreSQL server binaries (initdb, pg_ctl) were
// not found: the suite needs its own cluster, which it can restart.
var ErrNoPostgres = errors.New("PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install postgresql, or give -pg-bin")

// cluster is a private PostgreSQL cluster (own data directory and port,
// like db/devpg.sh's) that the suite may stop and start at will without
// disturbing the shared server other tests use.
type cluster struct {
	bin, data string
	port      int
	// owner runs initdb and pg_ctl: "postgres" when the suite runs as root
	// (initdb refuses root), "" for the invoking user.
	owner string
}

// findPGBin returns the directory holding initdb and pg_ctl: dir if given,
// else the newest /usr/lib/postgresql/*/bin, else the one on PATH.
func findPGBin(dir string) (string, error) {
	has := func(d string) bool {
		for _, b := range []string{"initdb", "pg_ctl", "postgres"} {
			if _, err := os.Stat(filepath.Join(d, b)); err != nil {
				return false
			}
		}
		return true
	}
	if dir != "" {
		if !has(dir) {
			return "", fmt.Errorf("-pg-bin %s: %w", dir, ErrNoPostgres)
		}
		return dir, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return pgMajor(b) - pgMajor(a) })
	for _, d := range dirs {
		if has(d) {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil && has(filepath.Dir(p)) {
		return filepath.Dir(p), nil
	}
	return "", ErrNoPostgres
}

// pgMajor is the version in /usr/lib/postgresql/<major>/bin, 0 if none.
func pgMajor(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

// newCluster creates (initdb) a cluster under dir, on a free port.
func newCluster(ctx context.Context, bin, dir string) (*cluster, error) {
	c := &cluster{bin: bin, data: filepath.Join(dir, "pg")}
	if os.Geteuid() == 0 {
		c.owner = "postgres"
	}
	if err := os.MkdirAll(c.data, 0o700); err != nil {
		return nil, err
	}
	if c.owner != "" {
		u, err := user.Lookup(c.owner)
		if err != nil {
			return nil, fmt.Errorf("running as root needs the %s user to own the cluster: %w", c.owner, err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		// The postgres user must reach the data directory through dir.
		for _, d := range []string{dir, c.data} {
			if err := os.Chown(d, uid, gid); err != nil {
				return nil, err
			}
		}
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	c.port = port
	if out, err := c.run(ctx, "initdb", "-D", c.data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C"); err != nil {
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	return c, nil
}

// URL is the connection string of database name.
func (c *cluster) URL(name string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, name)
}

// Start starts the server with production durability: synchronous_commit
// and fsync on, whatever the system defaults. Enough connections for four
// Saathi processes at their default pool size (40 each) and the suite.
func (c *cluster) Start(ctx context.Context) error {
	opts := strings.Join([]string{
		"-p", strconv.Itoa(c.port), "-c", "listen_addresses=127.0.0.1", "-k", c.data,
		"-c", "synchronous_commit=on", "-c", "fsync=on", "-c", "full_page_writes=on",
		"-c", "max_connections=300",
	}, " ")
	out, err := c.run(ctx, "pg_ctl", "-D", c.data, "-l", filepath.Join(c.data, "server.log"), "-w", "-t", "60", "-o", opts, "start")
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(c.data, "server.log"))
		return fmt.Errorf("pg_ctl start: %w\n%s\n%s", err, out, tail(string(log), 10))
	}
	return nil
}

// Crash stops the server the way a power cut would (pg_ctl -m immediate:
// no checkpoint, connections cut, WAL replayed at the next start): what was
// committed must survive it, with synchronous_commit on.
func (c *cluster) Crash(ctx context.Context) error {
	if out, err := c.run(ctx, "pg_ctl", "-D", c.data, "-m", "immediate", "-w", "stop"); err != nil {
		return fmt.Errorf("pg_ctl stop: %w\n%s", err, out)
	}
	return nil
}

// Stop shuts the server down cleanly, if it runs.
func (c *cluster) Stop(ctx context.Context) error {
	if _, err := c.run(ctx, "pg_ctl", "-D", c.data, "status"); err != nil {
		return nil // not running
	}
	if out, err := c.run(ctx, "pg_ctl", "-D", c.data, "-m", "fast", "-w", "stop"); err != nil {
		return fmt.Errorf("pg_ctl stop: %w\n%s", err, out)
	}
	return nil
}

func (c *cluster) run(ctx context.Context, name string, args ...string) ([]byte, error) {
	path := filepath.Join(c.bin, name)
	var cmd *exec.Cmd
	if c.owner != "" {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", c.owner, "--", path}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, path, args...)
	}
	return cmd.CombinedOutput()
}

// freePort asks the kernel for a free TCP port on loopback.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waitFor polls ok every interval until it is true or the deadline passes.
func waitFor(ctx context.Context, within, interval time.Duration, ok func() bool) bool {
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(interval)
	}
	return true
}

func tail(s string, lines int) string {
	parts := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}
