package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"saathi/jobs/telephony/twiliofake"
)

// saathiEnv is the environment every Saathi process of a run shares: the
// twilio provider pointed at the fake, one database, one key. Nothing is
// inherited from the suite's own environment but PATH.
type saathiEnv struct {
	databaseURL, publicURL, twilioURL string
	encryptionKey                     string
}

func newKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

func (e saathiEnv) vars(extra ...string) []string {
	return append([]string{
		"PATH=" + os.Getenv("PATH"),
		"DATABASE_URL=" + e.databaseURL,
		"SAATHI_PROVIDER=twilio",
		"SAATHI_PUBLIC_URL=" + e.publicURL,
		"SAATHI_ENCRYPTION_KEY=" + e.encryptionKey,
		"TWILIO_ACCOUNT_SID=" + twiliofake.AccountSID,
		"TWILIO_AUTH_TOKEN=" + twiliofake.AuthToken,
		"TWILIO_FROM_NUMBER=" + saathiNumber,
		"TWILIO_API_BASE_URL=" + e.twilioURL,
		"SAATHI_LOG_FORMAT=json",
		"SAATHI_LOG_LEVEL=info",
		// A Messaging Service's or short code's throughput: check-ins are
		// paced (slots, held jobs) without making the run hours long.
		"SAATHI_SMS_RATE=200",
		"SAATHI_CALL_RATE=200",
	}, extra...)
}

// saathiNumber is Saathi's own number (texts and calls come from it).
const saathiNumber = "+15005550006"

// command runs a one-off saathi subcommand and returns its output.
func (e saathiEnv) command(ctx context.Context, bin string, stdin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = e.vars()
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("saathi %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// proc is one `saathi serve` process.
type proc struct {
	name, role string
	addr       string // web: where it listens
	spoolDir   string // web: its own spool directory
	logPath    string
	cmd        *exec.Cmd
	done       chan struct{}
	killed     atomic.Bool
	exitErr    error
}

// startProc starts `saathi serve --role=role`, its log (JSON lines) in
// dir/<name>.log.
func startProc(e saathiEnv, bin, dir, name, role string) (*proc, error) {
	p := &proc{name: name, role: role, logPath: filepath.Join(dir, name+".log"), done: make(chan struct{})}
	extra := []string{}
	if role == "web" {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		p.addr = fmt.Sprintf("127.0.0.1:%d", port)
		p.spoolDir = filepath.Join(dir, name+"-spool")
		extra = append(extra, "SAATHI_ADDR="+p.addr, "SAATHI_SPOOL_DIR="+p.spoolDir)
	}
	logf, err := os.Create(p.logPath)
	if err != nil {
		return nil, err
	}
	p.cmd = exec.Command(bin, "serve", "--role="+role)
	p.cmd.Env = e.vars(extra...)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	dieWithParent(p.cmd)
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		p.exitErr = p.cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	return p, nil
}

// waitReady waits for a web process's /readyz, or a worker's first log
// line saying River started.
func (p *proc) waitReady(ctx context.Context, within time.Duration) error {
	client := &http.Client{Timeout: 2 * time.Second}
	ok := waitFor(ctx, within, 100*time.Millisecond, func() bool {
		select {
		case <-p.done:
			return true
		default:
		}
		if p.role != "web" {
			return logHas(p.logPath, `"msg":"starting saathi"`)
		}
		resp, err := client.Get("http://" + p.addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	select {
	case <-p.done:
		log, _ := os.ReadFile(p.logPath)
		return fmt.Errorf("%s exited: %v\n%s", p.name, p.exitErr, tail(string(log), 15))
	default:
	}
	if !ok {
		return fmt.Errorf("%s not ready within %s", p.name, within)
	}
	return nil
}

func logHas(path, s string) bool {
	b, err := os.ReadFile(path)
	return err == nil && strings.Contains(string(b), s)
}

// Kill sends SIGKILL: no shutdown, no deferred code, jobs and provider
// requests cut off where they are.
func (p *proc) Kill() error {
	p.killed.Store(true)
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		return err
	}
	<-p.done
	return nil
}

// Stop asks for a graceful shutdown (SIGTERM) and kills after within.
func (p *proc) Stop(within time.Duration) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(within):
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
	}
}

// Exited reports an unexpected exit: not killed by the suite.
func (p *proc) Exited() error {
	select {
	case <-p.done:
		if !p.killed.Load() {
			return fmt.Errorf("%s exited by itself: %v", p.name, p.exitErr)
		}
	default:
	}
	return nil
}

// logLine is what the suite reads from a process's JSON log lines.
type logLine struct {
	Level string `json:"level"`
	Msg   string `json:"msg"`
	Count int    `json:"count"`
}

// logStats counts the log lines the report needs, and the lines that
// quote any of phones (there must be none).
type logStats struct {
	spooledSMS, spooledKeys, replayed int
	quarantined, errors               int
	phoneLines                        int
	phoneExample                      string // the first such line's process and message, not the number
}

func readLogs(procs []*proc, phones []string) (logStats, error) {
	var st logStats
	for _, p := range procs {
		f, err := os.Open(p.logPath)
		if err != nil {
			return st, err
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		for sc.Scan() {
			line := sc.Text()
			var l logLine
			_ = json.Unmarshal([]byte(line), &l)
			switch {
			case l.Msg == "inbound SMS spooled: database unavailable":
				st.spooledSMS++
			case l.Msg == "keys pressed spooled: database unavailable":
				st.spooledKeys++
			case l.Msg == "spooled replies stored":
				st.replayed += l.Count
			case strings.HasPrefix(l.Msg, "spool: a line cannot be replayed"):
				st.quarantined++
			}
			if l.Level == "ERROR" {
				st.errors++
			}
			if quotesPhone(line, phones) {
				st.phoneLines++
				if st.phoneExample == "" {
					st.phoneExample = p.name + ": " + l.Msg
				}
			}
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return st, fmt.Errorf("read %s: %w", p.logPath, err)
		}
	}
	return st, nil
}

// quotesPhone reports whether line holds one of phones, with or without
// its +, or URL-encoded.
func quotesPhone(line string, phones []string) bool {
	if !strings.Contains(line, "9170") && !strings.Contains(line, "9190") {
		return false // every phone of a run starts +9170 or +9190
	}
	for _, p := range phones {
		if strings.Contains(line, p[1:]) {
			return true
		}
	}
	return false
}

// spoolLeft counts the lines still waiting in web processes' spools, and
// those quarantined (a quarantined reply is lost until an operator acts).
func spoolLeft(procs []*proc) (waiting, quarantined int, err error) {
	for _, p := range procs {
		if p.spoolDir == "" {
			continue
		}
		files, err := filepath.Glob(filepath.Join(p.spoolDir, "*"))
		if err != nil {
			return 0, 0, err
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if errors.Is(err, os.ErrNotExist) {
				continue // replayed meanwhile
			}
			if err != nil {
				return 0, 0, err
			}
			n := 0
			for _, l := range strings.Split(string(b), "\n") {
				if strings.TrimSpace(l) != "" {
					n++
				}
			}
			if strings.HasPrefix(filepath.Base(f), "quarantine-") {
				quarantined += n
			} else {
				waiting += n
			}
		}
	}
	return waiting, quarantined, nil
}

// balancer is the load balancer in front of the web processes: Twilio and
// staff reach Saathi at one public URL (SAATHI_PUBLIC_URL, over which
// Twilio signs), and each request goes to the next web process.
type balancer struct {
	srv  *http.Server
	ln   net.Listener
	next atomic.Uint64
}

func newBalancerAt(addr string, backends []*proc) (*balancer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	b := &balancer{ln: ln}
	targets := make([]*url.URL, len(backends))
	for i, p := range backends {
		targets[i] = &url.URL{Scheme: "http", Host: p.addr}
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 256
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(targets[int(b.next.Add(1))%len(targets)])
			r.Out.Host = r.In.Host
		},
		Transport: transport,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	b.srv = &http.Server{Handler: proxy, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = b.srv.Serve(ln) }()
	return b, nil
}

func (b *balancer) URL() string { return "http://" + b.ln.Addr().String() }

func (b *balancer) Close() { _ = b.srv.Close() }
