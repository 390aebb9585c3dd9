package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"saathi/db/crypt"
	"saathi/jobs"
	"saathi/jobs/risk"
	"saathi/locales"
)

// Config is everything Saathi reads from its environment.
type Config struct {
	DatabaseURL  string // DATABASE_URL
	Addr         string // SAATHI_ADDR: 127.0.0.1:8080 with the dev provider, else :8080
	PublicURL    string // SAATHI_PUBLIC_URL, no trailing slash
	publicURLSet bool
	Provider     string // SAATHI_PROVIDER: twilio or dev

	// DevAllowRemote (SAATHI_DEV_ALLOW_REMOTE=1) lets the dev provider
	// listen beyond this machine: its /dev pages have no authentication.
	DevAllowRemote bool
	// TrustedProxies (SAATHI_TRUSTED_PROXIES) lists the reverse proxies,
	// as CIDRs or addresses, whose X-Forwarded-For names the client.
	TrustedProxies string
	// MetricsAddr (SAATHI_METRICS_ADDR) is where Prometheus scrapes
	// /metrics, apart from the public listener; empty: no metrics served.
	MetricsAddr string

	EncryptionKey     string // SAATHI_ENCRYPTION_KEY, base64 of 32 bytes
	EncryptionKeyID   uint32 // SAATHI_ENCRYPTION_KEY_ID
	EncryptionOldKeys string // SAATHI_ENCRYPTION_OLD_KEYS: "id:base64,id:base64"
	BlindIndexKey     string // SAATHI_BLIND_INDEX_KEY, default the encryption key

	TwilioAccountSID          string // TWILIO_ACCOUNT_SID
	TwilioAuthToken           string // TWILIO_AUTH_TOKEN
	TwilioFromNumber          string // TWILIO_FROM_NUMBER
	TwilioMessagingServiceSID string // TWILIO_MESSAGING_SERVICE_SID
	TwilioAPIBaseURL          string // TWILIO_API_BASE_URL

	SpoolDir       string // SAATHI_SPOOL_DIR: inbound webhooks wait here while the database is down
	RiskRulesFile  string // SAATHI_RISK_RULES: a rules.toml replacing the built-in one
	DLTTemplateIDs string // SAATHI_DLT_TEMPLATE_IDS: "CheckinSMS.hi=1107...,CheckinSMS.en=..."
	// SenderName is the name texts give the service (SAATHI_SENDER_NAME):
	// "" for each language's own spelling of "Saathi"; a deployment may
	// pick a harmless cover name.
	SenderName     string
	ResponseWindow int // SAATHI_RESPONSE_WINDOW_MINUTES: no reply within this = missed
	// Retention (SAATHI_RETENTION, default 18mo) is how long message
	// bodies, reply evidence and alert notes are kept (jobs/retention.go).
	Retention jobs.RetentionPeriod

	// Voice check-ins.
	TwilioVoiceFrom string        // TWILIO_VOICE_FROM: caller ID of check-in calls (default TWILIO_FROM_NUMBER)
	VoiceAudioDir   string        // SAATHI_VOICE_AUDIO_DIR: a deployment's own recordings (and voice.toml)
	VoiceInbound    string        // SAATHI_VOICE_INBOUND: callback (default) or answer
	RingFor         time.Duration // SAATHI_CALL_RING_SECONDS: how long a check-in call rings

	// SMSRate (SAATHI_SMS_RATE) and CallRate (SAATHI_CALL_RATE) pace
	// routine check-ins to the provider: texts and calls per second, for
	// all processes together (jobs/pacing.go). Urgent traffic is never
	// paced.
	SMSRate, CallRate jobs.Pace

	LogFormat   string // SAATHI_LOG_FORMAT: json or text
	LogLevel    slog.Level
	DBMaxConns  int32         // SAATHI_DB_MAX_CONNS
	Workers     int           // SAATHI_WORKERS: concurrent jobs per worker process
	ShutdownFor time.Duration // SAATHI_SHUTDOWN_TIMEOUT
}

// DefaultTwilioAPIBaseURL is Twilio's real API.
const DefaultTwilioAPIBaseURL = "https://api.twilio.com"

// LoadConfig reads the environment through getenv (os.Getenv in
// production, a map in tests) and applies defaults.
func LoadConfig(getenv func(string) string) (Config, error) {
	c := Config{
		DatabaseURL:               getenv("DATABASE_URL"),
		Addr:                      getenv("SAATHI_ADDR"),
		PublicURL:                 strings.TrimRight(or(getenv("SAATHI_PUBLIC_URL"), "http://localhost:8080"), "/"),
		Provider:                  getenv("SAATHI_PROVIDER"),
		EncryptionKey:             getenv("SAATHI_ENCRYPTION_KEY"),
		EncryptionOldKeys:         getenv("SAATHI_ENCRYPTION_OLD_KEYS"),
		BlindIndexKey:             getenv("SAATHI_BLIND_INDEX_KEY"),
		TwilioAccountSID:          getenv("TWILIO_ACCOUNT_SID"),
		TwilioAuthToken:           getenv("TWILIO_AUTH_TOKEN"),
		TwilioFromNumber:          getenv("TWILIO_FROM_NUMBER"),
		TwilioMessagingServiceSID: getenv("TWILIO_MESSAGING_SERVICE_SID"),
		TwilioAPIBaseURL:          strings.TrimRight(or(getenv("TWILIO_API_BASE_URL"), DefaultTwilioAPIBaseURL), "/"),
		LogFormat:                 or(getenv("SAATHI_LOG_FORMAT"), "json"),
		SpoolDir:                  or(getenv("SAATHI_SPOOL_DIR"), "spool"),
		RiskRulesFile:             getenv("SAATHI_RISK_RULES"),
		DLTTemplateIDs:            getenv("SAATHI_DLT_TEMPLATE_IDS"),
		SenderName:                strings.TrimSpace(getenv("SAATHI_SENDER_NAME")),
		TwilioVoiceFrom:           getenv("TWILIO_VOICE_FROM"),
		VoiceAudioDir:             getenv("SAATHI_VOICE_AUDIO_DIR"),
		VoiceInbound:              or(getenv("SAATHI_VOICE_INBOUND"), "callback"),
		TrustedProxies:            getenv("SAATHI_TRUSTED_PROXIES"),
		MetricsAddr:               getenv("SAATHI_METRICS_ADDR"),
	}
	c.publicURLSet = getenv("SAATHI_PUBLIC_URL") != ""
	if c.Addr == "" {
		// The dev provider's pages are open to anyone who reaches them.
		c.Addr = ":8080"
		if c.Provider == "dev" {
			c.Addr = "127.0.0.1:8080"
		}
	}
	var errs []error
	if v := getenv("SAATHI_DEV_ALLOW_REMOTE"); v != "" {
		allow, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, errors.New("SAATHI_DEV_ALLOW_REMOTE must be 1 or 0"))
		}
		c.DevAllowRemote = allow
	}
	num := func(name string, def, lo, hi int) int {
		v := getenv(name)
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			errs = append(errs, fmt.Errorf("%s must be a whole number from %d to %d", name, lo, hi))
			return def
		}
		return n
	}
	rate := func(name string, def jobs.Pace) jobs.Pace {
		v := getenv(name)
		if v == "" {
			return def
		}
		r, err := strconv.ParseFloat(v, 64)
		if err != nil || !(r >= 0.01 && r <= 10000) {
			errs = append(errs, fmt.Errorf("%s must be a number of sends per second from 0.01 to 10000 (1 for a long code, your Messaging Service's or short code's rate otherwise)", name))
			return def
		}
		return jobs.Pace(r)
	}
	c.EncryptionKeyID = uint32(num("SAATHI_ENCRYPTION_KEY_ID", 1, 1, 1<<30))
	c.DBMaxConns = int32(num("SAATHI_DB_MAX_CONNS", 40, 4, 1000))
	c.Workers = num("SAATHI_WORKERS", 50, 1, 10000)
	c.ResponseWindow = num("SAATHI_RESPONSE_WINDOW_MINUTES", 24*60, 10, 30*24*60)
	c.ShutdownFor = time.Duration(num("SAATHI_SHUTDOWN_TIMEOUT_SECONDS", 25, 1, 3600)) * time.Second
	c.Retention = jobs.DefaultRetention
	if v := getenv("SAATHI_RETENTION"); v != "" {
		r, err := jobs.ParseRetention(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("SAATHI_RETENTION %w", err))
		}
		c.Retention = r
	}
	// Long enough to reach the phone, short enough to end before most
	// voicemail picks up (machine detection hangs up on it anyway).
	c.RingFor = time.Duration(num("SAATHI_CALL_RING_SECONDS", 20, 10, 60)) * time.Second
	// Defaults are what any Twilio account can take: one text a second is
	// a single long code's rate, one call a second an account's default
	// calls per second. A Messaging Service sends at its numbers' rates
	// together (a pool of 10 long codes: 10); a short code takes 100.
	c.SMSRate = rate("SAATHI_SMS_RATE", 1)
	c.CallRate = rate("SAATHI_CALL_RATE", 1)
	if c.VoiceInbound != "callback" && c.VoiceInbound != "answer" {
		errs = append(errs, errors.New("SAATHI_VOICE_INBOUND must be callback (reject and call back) or answer (a toll-free number: answer with the menu)"))
	}
	if err := c.LogLevel.UnmarshalText([]byte(or(getenv("SAATHI_LOG_LEVEL"), "info"))); err != nil {
		errs = append(errs, errors.New("SAATHI_LOG_LEVEL must be debug, info, warn or error"))
	}
	return c, errors.Join(errs...)
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// Validate checks the settings a command needs; every message names its
// variable. needProvider is false for commands that send nothing (migrate,
// staff add).
func (c Config) Validate(needProvider bool) error {
	var errs []error
	if c.DatabaseURL == "" {
		errs = append(errs, errors.New("DATABASE_URL is required (postgres://user@host:5432/db)"))
	}
	if _, err := c.Keyring(); err != nil {
		errs = append(errs, err)
	}
	if needProvider {
		errs = append(errs, c.validateServe()...)
		if _, err := c.RiskRules(); err != nil {
			errs = append(errs, err)
		}
		if _, err := c.Templates(); err != nil {
			errs = append(errs, err)
		}
		if _, err := c.TrustedProxyNets(); err != nil {
			errs = append(errs, err)
		}
		if _, _, err := c.Voice(); err != nil {
			errs = append(errs, err)
		}
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		errs = append(errs, errors.New("SAATHI_LOG_FORMAT must be json or text"))
	}
	return errors.Join(errs...)
}

func (c Config) validateServe() []error {
	var errs []error
	public, err := url.Parse(c.PublicURL)
	switch {
	case err != nil || (public.Scheme != "http" && public.Scheme != "https") || public.Host == "":
		errs = append(errs, errors.New("SAATHI_PUBLIC_URL must be an absolute http(s) URL such as https://saathi.example.org"))
		public = nil
	case public.User != nil || strings.ContainsAny(c.PublicURL, "?#"):
		// Twilio signs over this base plus the request's path and query:
		// anything after the path would break every signature, and
		// credentials have no place in a URL that is logged and texted.
		errs = append(errs, errors.New("SAATHI_PUBLIC_URL must have no user:password@, query or fragment"))
	}
	if c.MetricsAddr != "" {
		if _, port, err := net.SplitHostPort(c.MetricsAddr); err != nil || port == "" {
			errs = append(errs, fmt.Errorf("SAATHI_METRICS_ADDR %q must be host:port, such as 127.0.0.1:9090 or :9090", c.MetricsAddr))
		} else if c.MetricsAddr == c.Addr && port != "0" {
			errs = append(errs, fmt.Errorf("SAATHI_METRICS_ADDR %q must differ from SAATHI_ADDR: metrics are kept off the public listener", c.MetricsAddr))
		}
	}
	switch c.Provider {
	case "dev":
		if !c.DevAllowRemote && !loopbackAddr(c.Addr) {
			errs = append(errs, fmt.Errorf("SAATHI_ADDR %q would open the dev provider's unauthenticated /dev pages beyond this machine: use 127.0.0.1:8080, or set SAATHI_DEV_ALLOW_REMOTE=1", c.Addr))
		}
	case "twilio":
		if !strings.HasPrefix(c.TwilioAccountSID, "AC") || !alnum(c.TwilioAccountSID) {
			errs = append(errs, errors.New("TWILIO_ACCOUNT_SID must be your account SID (AC followed by letters and digits)"))
		}
		if c.TwilioAuthToken == "" || !alnum(c.TwilioAuthToken) {
			errs = append(errs, errors.New("TWILIO_AUTH_TOKEN is required (letters and digits)"))
		}
		if c.TwilioFromNumber == "" && c.TwilioMessagingServiceSID == "" {
			errs = append(errs, errors.New("TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID is required"))
		}
		if c.TwilioVoiceFrom == "" && c.TwilioFromNumber == "" {
			errs = append(errs, errors.New("TWILIO_VOICE_FROM is required for check-in calls when there is no TWILIO_FROM_NUMBER (calls to India must come from a non-Indian number)"))
		}
		if u, err := url.Parse(c.TwilioAPIBaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, errors.New("TWILIO_API_BASE_URL must be an absolute http(s) URL"))
		}
		// Twilio calls back and signs over this URL: a default would
		// silently lose every delivery status.
		if !c.publicURLSet {
			errs = append(errs, errors.New("SAATHI_PUBLIC_URL is required with the twilio provider (the https address Twilio reaches)"))
		} else if public != nil && public.Scheme != "https" && !loopbackHost(public.Hostname()) {
			errs = append(errs, errors.New("SAATHI_PUBLIC_URL must use https with the twilio provider (plain http only on localhost, 127.0.0.1 or ::1)"))
		}
	case "":
		errs = append(errs, errors.New("SAATHI_PROVIDER is required: twilio (real messages) or dev (nothing leaves the machine)"))
	default:
		errs = append(errs, fmt.Errorf("SAATHI_PROVIDER must be twilio or dev, not %q", c.Provider))
	}
	return errs
}

// loopbackHost is true for the names of this machine that cannot be
// anything else: a parsed host, never a prefix ("localhost.evil.tld").
func loopbackHost(host string) bool {
	return strings.EqualFold(host, "localhost") || host == "127.0.0.1" || host == "::1"
}

// loopbackAddr is true when a listen address accepts connections from this
// machine only. An empty host (":8080") listens on every interface, and a
// host name other than localhost may resolve anywhere.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// TrustedProxyNets parses SAATHI_TRUSTED_PROXIES: CIDRs or single
// addresses, comma-separated.
func (c Config) TrustedProxyNets() ([]*net.IPNet, error) {
	var out []*net.IPNet
	for _, part := range strings.Split(c.TrustedProxies, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		n, err := parseProxy(part)
		if err != nil {
			return nil, fmt.Errorf("SAATHI_TRUSTED_PROXIES: %q %v (want CIDRs or addresses: 10.0.0.0/8,192.0.2.7)", part, err)
		}
		out = append(out, n)
	}
	return out, nil
}

func parseProxy(s string) (*net.IPNet, error) {
	if strings.Contains(s, "/") {
		_, n, err := net.ParseCIDR(s)
		if err != nil {
			return nil, errors.New("is not a CIDR")
		}
		if ones, _ := n.Mask.Size(); ones == 0 {
			return nil, errors.New("trusts every address: any client could choose its own")
		}
		return n, nil
	}
	ip := net.ParseIP(s)
	if ip == nil {
		return nil, errors.New("is not an IP address")
	}
	if ip4 := ip.To4(); ip4 != nil {
		ip = ip4
	}
	return &net.IPNet{IP: ip, Mask: net.CIDRMask(len(ip)*8, len(ip)*8)}, nil
}

func alnum(s string) bool {
	for _, r := range s {
		if r > unicode.MaxASCII || !(unicode.IsLetter(r) || unicode.IsDigit(r)) {
			return false
		}
	}
	return s != ""
}

// Keyring builds the encryption keyring from the key settings.
func (c Config) Keyring() (*crypt.Keyring, error) {
	if c.EncryptionKey == "" {
		return nil, errors.New("SAATHI_ENCRYPTION_KEY is required: base64 of 32 random bytes (openssl rand -base64 32)")
	}
	current, err := crypt.ParseKey(c.EncryptionKey)
	if err != nil {
		return nil, fmt.Errorf("SAATHI_ENCRYPTION_KEY must be 32 bytes, base64: it %v", err)
	}
	keys := map[uint32][]byte{c.EncryptionKeyID: current}
	if c.EncryptionOldKeys != "" {
		for _, part := range strings.Split(c.EncryptionOldKeys, ",") {
			idStr, keyStr, ok := strings.Cut(strings.TrimSpace(part), ":")
			id, err := strconv.ParseUint(idStr, 10, 32)
			if !ok || err != nil {
				return nil, errors.New("SAATHI_ENCRYPTION_OLD_KEYS must look like 1:<base64 key>,2:<base64 key>")
			}
			key, err := crypt.ParseKey(keyStr)
			if err != nil {
				return nil, fmt.Errorf("SAATHI_ENCRYPTION_OLD_KEYS key %d must be 32 bytes, base64: it %v", id, err)
			}
			if uint32(id) == c.EncryptionKeyID {
				return nil, fmt.Errorf("SAATHI_ENCRYPTION_OLD_KEYS repeats the current key ID %d", id)
			}
			keys[uint32(id)] = key
		}
	}
	index := current
	if c.BlindIndexKey == "" && (c.EncryptionOldKeys != "" || c.EncryptionKeyID != 1) {
		// After a rotation the current key is not the one the stored phone
		// hashes were made with: lookups would silently stop matching.
		return nil, errors.New("SAATHI_BLIND_INDEX_KEY is required once the encryption key has been rotated: set it to the first SAATHI_ENCRYPTION_KEY")
	}
	if c.BlindIndexKey != "" {
		if index, err = crypt.ParseKey(c.BlindIndexKey); err != nil {
			return nil, fmt.Errorf("SAATHI_BLIND_INDEX_KEY must be 32 bytes, base64: it %v", err)
		}
	}
	return crypt.NewKeyring(c.EncryptionKeyID, keys, index)
}

// LogValue keeps secrets out of logs: only whether they are set.
func (c Config) LogValue() slog.Value {
	set := func(s string) string {
		if s == "" {
			return "(unset)"
		}
		return "(set)"
	}
	return slog.GroupValue(
		slog.String("addr", c.Addr),
		slog.Bool("dev_allow_remote", c.DevAllowRemote),
		slog.String("trusted_proxies", c.TrustedProxies),
		slog.String("metrics_addr", c.MetricsAddr),
		slog.String("public_url", c.PublicURL),
		slog.String("provider", c.Provider),
		slog.String("database_url", set(c.DatabaseURL)),
		slog.String("encryption_key", set(c.EncryptionKey)),
		slog.String("twilio_account_sid", set(c.TwilioAccountSID)),
		slog.String("twilio_auth_token", set(c.TwilioAuthToken)),
		slog.String("twilio_api_base_url", c.TwilioAPIBaseURL),
		slog.Int("workers", c.Workers),
		slog.Float64("sms_rate", float64(c.SMSRate)),
		slog.Float64("call_rate", float64(c.CallRate)),
		slog.String("retention", c.Retention.String()),
	)
}

// RiskRules loads SAATHI_RISK_RULES, or the built-in rules when unset.
func (c Config) RiskRules() (risk.Rules, error) {
	if c.RiskRulesFile == "" {
		return risk.Default(), nil
	}
	data, err := os.ReadFile(c.RiskRulesFile)
	if err != nil {
		return risk.Rules{}, fmt.Errorf("SAATHI_RISK_RULES: %w", err)
	}
	r, err := risk.Parse(data)
	if err != nil {
		return risk.Rules{}, fmt.Errorf("SAATHI_RISK_RULES %s: %w", c.RiskRulesFile, err)
	}
	return r, nil
}

// Catalog loads the texts, naming the service SAATHI_SENDER_NAME when set.
func (c Config) Catalog() (*locales.Catalog, error) {
	catalog, err := locales.NewCatalog()
	if err != nil {
		return nil, fmt.Errorf("load locales: %w", err)
	}
	if c.SenderName == "" {
		return catalog, nil
	}
	if err := locales.CheckSenderName(c.SenderName); err != nil {
		return nil, fmt.Errorf("SAATHI_SENDER_NAME %w", err)
	}
	return catalog.WithSenderName(c.SenderName)
}

// Voice loads the texts and how call prompts are spoken: a cover name
// (SAATHI_SENDER_NAME) needs recordings that say it, for every language
// spoken from recordings (SAATHI_VOICE_AUDIO_DIR).
func (c Config) Voice() (*locales.Catalog, *locales.Voice, error) {
	catalog, err := c.Catalog()
	if err != nil {
		return nil, nil, err
	}
	voice, err := locales.NewVoice(catalog, c.VoiceAudioDir)
	if err != nil {
		return nil, nil, fmt.Errorf("SAATHI_VOICE_AUDIO_DIR: %w", err)
	}
	return catalog, voice, nil
}

// Templates parses SAATHI_DLT_TEMPLATE_IDS: DLT template IDs (India) per
// message and language, "CheckinSMS.hi=1107161234567890123,...".
func (c Config) Templates() (map[string]string, error) {
	out := map[string]string{}
	if strings.TrimSpace(c.DLTTemplateIDs) == "" {
		return out, nil
	}
	for _, part := range strings.Split(c.DLTTemplateIDs, ",") {
		key, id, ok := strings.Cut(strings.TrimSpace(part), "=")
		msg, lang, ok2 := strings.Cut(key, ".")
		if !ok || !ok2 || id == "" || !alnum(id) {
			return nil, fmt.Errorf("SAATHI_DLT_TEMPLATE_IDS: %q must look like CheckinSMS.hi=1107161234567890123", part)
		}
		if !locales.IsSupported(lang) {
			return nil, fmt.Errorf("SAATHI_DLT_TEMPLATE_IDS: %q: unknown language %q", part, lang)
		}
		if !slices.Contains(locales.MessageIDs(), msg) {
			return nil, fmt.Errorf("SAATHI_DLT_TEMPLATE_IDS: %q: unknown message %q", part, msg)
		}
		out[key] = id
	}
	return out, nil
}
