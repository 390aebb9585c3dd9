package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"saathi/db/crypt"
	"saathi/db/dbtest"
	"saathi/jobs/telephony/twiliofake"
)

// testEnv is a complete dev configuration against a fresh database.
// twilioEnv is testEnv with the twilio provider against the fake, over a
// fresh database, spooling into spoolDir.
func twilioEnv(t *testing.T, fake *twiliofake.Server, spoolDir string) map[string]string {
	env := testEnv(t, dbtest.NewURL(t))
	maps.Copy(env, map[string]string{
		"SAATHI_PROVIDER":     "twilio",
		"TWILIO_ACCOUNT_SID":  fake.AccountSID,
		"TWILIO_AUTH_TOKEN":   fake.AuthToken,
		"TWILIO_FROM_NUMBER":  "+15005550006",
		"TWILIO_API_BASE_URL": fake.URL,
		"SAATHI_SPOOL_DIR":    spoolDir,
		"SAATHI_LOG_LEVEL":    "info",
	})
	return env
}

func testEnv(t *testing.T, dbURL string) map[string]string {
	t.Helper()
	return map[string]string{
		"DATABASE_URL":          dbURL,
		"SAATHI_ADDR":           "127.0.0.1:0",
		"SAATHI_PUBLIC_URL":     "http://localhost:8080",
		"SAATHI_ENCRYPTION_KEY": crypt.NewKey(),
		"SAATHI_PROVIDER":       "dev",
		"SAATHI_LOG_FORMAT":     "text",
		"SAATHI_SPOOL_DIR":      t.TempDir(),
	}
}

func getenvFrom(env map[string]string) func(string) string {
	return func(k string) string { return env[k] }
}

// runCLI runs the saathi command as main would.
func runCLI(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, getenvFrom(env), strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

var tokenRE = regexp.MustCompile(`token: (sth_[A-Za-z0-9_-]+)`)

// TestServeEndToEnd boots the real server on a random port, creates an
// admin with the CLI, and enrols a survivor over HTTP; then asks for an
// ad-hoc check-in and waits for it in the dev outbox.
func TestServeEndToEnd(t *testing.T) {
	t.Parallel()
	env := testEnv(t, dbtest.NewURL(t))
	// The NGO's cover name, in place of "Saathi" in every text; Urdu is
	// spoken from recordings, which must say it (these stand-ins do not,
	// but their voice.toml says so: enough for this test).
	env["SAATHI_SENDER_NAME"] = "Asha"
	env["SAATHI_VOICE_AUDIO_DIR"] = coverNameRecordings(t, "Asha")

	code, out, errOut := runCLI(t, env, "staff", "add", "--name", "Asha", "--role", "admin")
	if code != 0 {
		t.Fatalf("staff add admin: exit %d: %s", code, errOut)
	}
	admin := tokenRE.FindStringSubmatch(out)
	if admin == nil {
		t.Fatalf("no token printed: %q", out)
	}
	code, out, errOut = runCLI(t, env, "staff", "add", "--name", "Kiran", "--role", "caseworker", "--phone", "+919000000001")
	if code != 0 {
		t.Fatalf("staff add caseworker: exit %d: %s", code, errOut)
	}
	cwID := regexp.MustCompile(`\(id ([0-9a-f-]{36})\)`).FindStringSubmatch(out)
	if cwID == nil {
		t.Fatalf("no id printed: %q", out)
	}

	cfg, err := LoadConfig(getenvFrom(env))
	if err != nil {
		t.Fatal(err)
	}
	m := NewMain()
	m.Config = cfg
	m.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := m.Run(ctx); err != nil {
		t.Fatalf("run: %v", err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})

	call := func(method, path, token string, body any) (int, map[string]any) {
		t.Helper()
		var rd io.Reader
		if body != nil {
			raw, _ := json.Marshal(body)
			rd = bytes.NewReader(raw)
		}
		req, _ := http.NewRequest(method, m.URL()+path, rd)
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}

	if code, body := call("GET", "/healthz", "", nil); code != 200 {
		t.Fatalf("healthz: %d %v", code, body)
	}
	if code, body := call("GET", "/readyz", "", nil); code != 200 || body["status"] != "ready" {
		t.Fatalf("readyz: %d %v", code, body)
	}
	all := []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}
	code, sv := call("POST", "/api/v1/survivors", admin[1], map[string]any{
		"reference": "CHD-0042", "phone": "+919876543210", "language": "hi", "channels": []string{"sms"},
		"timezone":        "Asia/Kolkata",
		"contact_windows": []map[string]any{{"days": all, "start": "00:00", "end": "24:00"}},
		"caseworker_id":   cwID[1], "duress_word": "mango",
		"consent": map[string]any{"channels": []string{"sms"}, "method": "verbal", "recorded_at": "2026-11-20T10:00:00+05:30"},
	})
	if code != http.StatusCreated || sv["phone"] != "+91******3210" {
		t.Fatalf("enrol: %d %v", code, sv)
	}
	if code, body := call("GET", "/api/v1/survivors", "", nil); code != http.StatusUnauthorized {
		t.Fatalf("list without token: %d %v", code, body)
	}

	code, ci := call("POST", "/api/v1/survivors/"+sv["id"].(string)+"/checkins", admin[1], map[string]any{"channel": "sms"})
	if code != http.StatusAccepted {
		t.Fatalf("ad-hoc check-in: %d %v", code, ci)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, outbox := call("GET", "/dev/outbox", "", nil)
		if msgs, _ := outbox["messages"].([]any); len(msgs) > 0 {
			msg := msgs[0].(map[string]any)
			body := msg["body"].(string)
			if !regexp.MustCompile(`\p{Devanagari}`).MatchString(body) || msg["to"] != "+91******3210" {
				t.Fatalf("outbox message not a Hindi text to the survivor: %v", msg)
			}
			if !strings.Contains(body, "Asha") || strings.Contains(body, "साथी") {
				t.Fatalf("check-in %q does not use SAATHI_SENDER_NAME", body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("check-in did not reach the dev outbox within 15 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestCLIUsageErrors(t *testing.T) {
	t.Parallel()
	env := testEnv(t, "postgres://nobody@127.0.0.1:1/none")
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no command", nil, 2, "no command given"},
		{"unknown command", []string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{"staff without add", []string{"staff"}, 2, "staff add"},
		{"staff add without name", []string{"staff", "add", "--role", "admin"}, 2, "--name is required"},
		{"staff add without role", []string{"staff", "add", "--name", "A"}, 2, "--role is required"},
		{"staff add unknown flag", []string{"staff", "add", "--nme", "A"}, 2, "flag provided but not defined: -nme"},
		{"serve bad role", []string{"serve", "--role", "chef"}, 2, "--role must be web, worker or all"},
		{"migrate with argument", []string{"migrate", "now"}, 2, "migrate takes no arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, env, tt.args...)
			if code != tt.code || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stderr %q; want exit %d containing %q", code, errOut, tt.code, tt.want)
			}
			if strings.Contains(errOut, "goroutine ") || strings.Contains(errOut, "panic") {
				t.Errorf("stack trace for a user mistake: %s", errOut)
			}
		})
	}
}

func TestStaffAddInvalid(t *testing.T) {
	t.Parallel()
	env := testEnv(t, dbtest.NewURL(t))
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--name", "A", "--role", "boss"}, "--role: must be admin, supervisor or caseworker"},
		{[]string{"--name", "A", "--role", "caseworker", "--phone", "123"}, "--phone: not a valid phone number"},
		{[]string{"--name", "A", "--role", "caseworker", "--supervisor", "nope"}, "--supervisor: not a staff ID"},
		{[]string{"--name", "A", "--role", "caseworker", "--language", "xx"}, "--language: must be one of"},
	}
	for _, tt := range tests {
		code, out, errOut := runCLI(t, env, append([]string{"staff", "add"}, tt.args...)...)
		if code != 2 || !strings.Contains(errOut, tt.want) || out != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 2 and %q", tt.args, code, out, errOut, tt.want)
		}
	}
}

func TestConfigErrorsNameTheVariable(t *testing.T) {
	t.Parallel()
	base := testEnv(t, "postgres://x@127.0.0.1/x")
	tests := []struct {
		name  string
		set   map[string]string
		want  string
		serve bool
	}{
		{"no database", map[string]string{"DATABASE_URL": ""}, "DATABASE_URL is required", false},
		{"no key", map[string]string{"SAATHI_ENCRYPTION_KEY": ""}, "SAATHI_ENCRYPTION_KEY is required", false},
		{"short key", map[string]string{"SAATHI_ENCRYPTION_KEY": "c2hvcnQ="}, "SAATHI_ENCRYPTION_KEY must be 32 bytes, base64", false},
		{"bad old keys", map[string]string{"SAATHI_ENCRYPTION_OLD_KEYS": "oops"}, "SAATHI_ENCRYPTION_OLD_KEYS must look like", false},
		{"no provider", map[string]string{"SAATHI_PROVIDER": ""}, "SAATHI_PROVIDER is required", true},
		{"unknown provider", map[string]string{"SAATHI_PROVIDER": "carrier-pigeon"}, "SAATHI_PROVIDER must be twilio or dev", true},
		{"twilio without sid", map[string]string{"SAATHI_PROVIDER": "twilio", "TWILIO_AUTH_TOKEN": "abc", "TWILIO_FROM_NUMBER": "+15005550006"}, "TWILIO_ACCOUNT_SID", true},
		{"twilio without sender", map[string]string{"SAATHI_PROVIDER": "twilio", "TWILIO_ACCOUNT_SID": "AC123", "TWILIO_AUTH_TOKEN": "abc"}, "TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID", true},
		{"bad public url", map[string]string{"SAATHI_PUBLIC_URL": "saathi.example.org"}, "SAATHI_PUBLIC_URL", true},
		{"twilio without a public url", map[string]string{"SAATHI_PROVIDER": "twilio", "TWILIO_ACCOUNT_SID": "AC123", "TWILIO_AUTH_TOKEN": "abc", "TWILIO_FROM_NUMBER": "+15005550006", "SAATHI_PUBLIC_URL": ""}, "SAATHI_PUBLIC_URL is required", true},
		{"rotated key without a blind-index key", map[string]string{"SAATHI_ENCRYPTION_KEY_ID": "2", "SAATHI_ENCRYPTION_OLD_KEYS": "1:" + crypt.NewKey()}, "SAATHI_BLIND_INDEX_KEY is required", false},
		{"unknown DLT message", map[string]string{"SAATHI_DLT_TEMPLATE_IDS": "Nope.hi=123"}, "SAATHI_DLT_TEMPLATE_IDS", true},
		{"plain http public url with twilio", twilioConfigEnv("http://saathi.example.org"), "SAATHI_PUBLIC_URL must use https", true},
		{"public url host starting with localhost", twilioConfigEnv("http://localhost.evil.tld"), "SAATHI_PUBLIC_URL must use https", true},
		{"public url host starting with 127.0.0.1", twilioConfigEnv("http://127.0.0.1.evil.tld:8080"), "SAATHI_PUBLIC_URL must use https", true},
		{"public url with localhost as user", twilioConfigEnv("http://localhost@evil.tld"), "SAATHI_PUBLIC_URL must have no user:password@", true},
		{"public url with user and password", map[string]string{"SAATHI_PUBLIC_URL": "https://user:pw@saathi.example.org"}, "SAATHI_PUBLIC_URL must have no user:password@, query or fragment", true},
		{"public url with a query", map[string]string{"SAATHI_PUBLIC_URL": "https://saathi.example.org/?a=1"}, "SAATHI_PUBLIC_URL must have no user:password@, query or fragment", true},
		{"public url with an empty query", map[string]string{"SAATHI_PUBLIC_URL": "https://saathi.example.org?"}, "SAATHI_PUBLIC_URL must have no user:password@, query or fragment", true},
		{"public url with a fragment", map[string]string{"SAATHI_PUBLIC_URL": "https://saathi.example.org/#x"}, "SAATHI_PUBLIC_URL must have no user:password@, query or fragment", true},
		{"dev on every interface", map[string]string{"SAATHI_ADDR": ":8080"}, "SAATHI_ADDR", true},
		{"dev on 0.0.0.0", map[string]string{"SAATHI_ADDR": "0.0.0.0:8080"}, "SAATHI_ADDR", true},
		{"dev on [::]", map[string]string{"SAATHI_ADDR": "[::]:8080"}, "SAATHI_ADDR", true},
		{"dev on a LAN address", map[string]string{"SAATHI_ADDR": "192.168.1.20:8080"}, "SAATHI_ADDR", true},
		{"dev on a host name", map[string]string{"SAATHI_ADDR": "saathi.lan:8080"}, "SAATHI_ADDR", true},
		{"dev on a host name starting with localhost", map[string]string{"SAATHI_ADDR": "localhost.evil.tld:8080"}, "SAATHI_ADDR", true},
		{"dev allow remote not a yes or no", map[string]string{"SAATHI_DEV_ALLOW_REMOTE": "please"}, "SAATHI_DEV_ALLOW_REMOTE", false},
		{"trusted proxy not an address", map[string]string{"SAATHI_TRUSTED_PROXIES": "10.0.0.0/8,proxy.lan"}, "SAATHI_TRUSTED_PROXIES", true},
		{"trusted proxy bad prefix length", map[string]string{"SAATHI_TRUSTED_PROXIES": "10.0.0.0/33"}, "SAATHI_TRUSTED_PROXIES", true},
		{"trusted proxies everyone", map[string]string{"SAATHI_TRUSTED_PROXIES": "0.0.0.0/0"}, "SAATHI_TRUSTED_PROXIES", true},
		{"sender name that gives the service away", map[string]string{"SAATHI_SENDER_NAME": "Helpline"}, "SAATHI_SENDER_NAME", true},
		{"sender name in Hindi that gives it away", map[string]string{"SAATHI_SENDER_NAME": "आश्रय"}, "SAATHI_SENDER_NAME", true},
		{"sender name with digits", map[string]string{"SAATHI_SENDER_NAME": "Asha 24x7"}, "SAATHI_SENDER_NAME", true},
		{"sender name too long", map[string]string{"SAATHI_SENDER_NAME": "Kiran Tailoring And Embroidery"}, "SAATHI_SENDER_NAME", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			for k, v := range tt.set {
				env[k] = v
			}
			cfg, err := LoadConfig(getenvFrom(env))
			if err == nil {
				err = cfg.Validate(tt.serve)
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
	if _, err := LoadConfig(getenvFrom(map[string]string{"SAATHI_WORKERS": "lots"})); err == nil || !strings.Contains(err.Error(), "SAATHI_WORKERS") {
		t.Errorf("bad SAATHI_WORKERS: %v", err)
	}
}

// coverNameRecordings makes a recordings directory (SAATHI_VOICE_AUDIO_DIR)
// for a cover name from the built-in Urdu stand-ins.
func coverNameRecordings(t *testing.T, name string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "ur"), 0o755); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("../../locales/audio/ur/*.wav")
	if err != nil || len(files) == 0 {
		t.Fatalf("built-in recordings: %v %v", files, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "ur", filepath.Base(f)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := os.ReadFile("../../locales/voice.toml")
	if err != nil {
		t.Fatal(err)
	}
	cfg = []byte(strings.Replace(string(cfg), `name = "ساتھی"`, `name = "`+name+`"`, 1))
	if err := os.WriteFile(filepath.Join(dir, "voice.toml"), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// twilioConfigEnv is a valid twilio provider setting with the given public URL.
func twilioConfigEnv(publicURL string) map[string]string {
	return map[string]string{
		"SAATHI_PROVIDER": "twilio", "TWILIO_ACCOUNT_SID": "AC123", "TWILIO_AUTH_TOKEN": "abc",
		"TWILIO_FROM_NUMBER": "+15005550006", "SAATHI_PUBLIC_URL": publicURL, "SAATHI_ADDR": ":8080",
	}
}

// TestConfigListenAndProxies: what the address, public URL and proxy
// checks accept, and the listen address each provider gets by default.
func TestConfigListenAndProxies(t *testing.T) {
	t.Parallel()
	base := testEnv(t, "postgres://x@127.0.0.1/x")
	tests := []struct {
		name    string
		set     map[string]string
		addr    string // the listen address that results
		proxies []string
	}{
		{"dev listens on loopback by default", map[string]string{"SAATHI_ADDR": ""}, "127.0.0.1:8080", nil},
		{"twilio listens everywhere by default", mergeEnv(twilioConfigEnv("https://saathi.example.org"), map[string]string{"SAATHI_ADDR": ""}), ":8080", nil},
		{"dev on localhost", map[string]string{"SAATHI_ADDR": "localhost:8080"}, "localhost:8080", nil},
		{"dev on ::1", map[string]string{"SAATHI_ADDR": "[::1]:8080"}, "[::1]:8080", nil},
		{"dev on 127.0.0.2", map[string]string{"SAATHI_ADDR": "127.0.0.2:8080"}, "127.0.0.2:8080", nil},
		{"dev remote when asked", map[string]string{"SAATHI_ADDR": ":8080", "SAATHI_DEV_ALLOW_REMOTE": "1"}, ":8080", nil},
		{"dev on 0.0.0.0 when asked", map[string]string{"SAATHI_ADDR": "0.0.0.0:8080", "SAATHI_DEV_ALLOW_REMOTE": "true"}, "0.0.0.0:8080", nil},
		{"twilio on every interface", twilioConfigEnv("https://saathi.example.org/base"), ":8080", nil},
		{"twilio behind http on localhost", twilioConfigEnv("http://localhost:8080"), ":8080", nil},
		{"twilio behind http on 127.0.0.1", twilioConfigEnv("http://127.0.0.1:18080"), ":8080", nil},
		{"twilio behind http on ::1", twilioConfigEnv("http://[::1]:8080"), ":8080", nil},
		{"trusted proxies", map[string]string{"SAATHI_TRUSTED_PROXIES": " 10.0.0.0/8, 192.0.2.7 ,2001:db8::/32,::1"}, "127.0.0.1:0", []string{"10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32", "::1/128"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := LoadConfig(getenvFrom(mergeEnv(base, tt.set)))
			if err == nil {
				err = cfg.Validate(true)
			}
			if err != nil {
				t.Fatalf("rejected: %v", err)
			}
			if cfg.Addr != tt.addr {
				t.Errorf("listen address %q, want %q", cfg.Addr, tt.addr)
			}
			nets, err := cfg.TrustedProxyNets()
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, n := range nets {
				got = append(got, n.String())
			}
			if strings.Join(got, ",") != strings.Join(tt.proxies, ",") {
				t.Errorf("trusted proxies %v, want %v", got, tt.proxies)
			}
		})
	}
}

// mergeEnv is the maps laid over one another, later ones winning.
func mergeEnv(maps ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range maps {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func TestConfigNeverLogsSecrets(t *testing.T) {
	t.Parallel()
	env := testEnv(t, "postgres://saathi:hunter2@db.internal/saathi")
	env["TWILIO_AUTH_TOKEN"] = "supersecrettoken"
	cfg, err := LoadConfig(getenvFrom(env))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "config", cfg)
	for _, secret := range []string{"hunter2", "supersecrettoken", env["SAATHI_ENCRYPTION_KEY"]} {
		if strings.Contains(buf.String(), secret) {
			t.Errorf("logged config contains a secret: %s", buf.String())
		}
	}
}

func TestMigrateCommand(t *testing.T) {
	t.Parallel()
	env := testEnv(t, dbtest.NewEmptyURL(t))
	for i := range 2 {
		if code, _, errOut := runCLI(t, env, "migrate"); code != 0 {
			t.Fatalf("migrate run %d: exit %d: %s", i+1, code, errOut)
		}
	}
	// serve refuses a database that is not migrated.
	unmigrated := testEnv(t, dbtest.NewEmptyURL(t))
	cfg, _ := LoadConfig(getenvFrom(unmigrated))
	m := NewMain()
	m.Config, m.Logger = cfg, slog.New(slog.NewTextHandler(io.Discard, nil))
	err := m.Run(context.Background())
	m.Close()
	if err == nil || !strings.Contains(err.Error(), "saathi migrate") {
		t.Errorf("serve on an unmigrated database: %v", err)
	}
}

func TestMigrateUnreachableDatabase(t *testing.T) {
	t.Parallel()
	env := testEnv(t, "postgres://nobody@127.0.0.1:1/none?connect_timeout=2")
	code, _, errOut := runCLI(t, env, "migrate")
	if code != 1 || !strings.Contains(errOut, "connect to database") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	if strings.Contains(errOut, "goroutine ") {
		t.Error("stack trace printed")
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	code, out, _ := runCLI(t, nil, "version")
	if code != 0 || !strings.HasPrefix(out, "saathi ") {
		t.Errorf("version: %d %q", code, out)
	}
}
