package handlers

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twilio/twilio-go/client"

	"saathi/db/crypt"
)

// SpooledRequest is a signed webhook that could not be stored when it
// arrived. It is kept verbatim, signature included, and checked again
// when replayed, so a spool line that was not Twilio's cannot inject a
// reply even if it was sealed with Saathi's key.
type SpooledRequest struct {
	URL        string            `json:"url"`
	Params     map[string]string `json:"params"`
	Signature  string            `json:"signature"`
	ReceivedAt time.Time         `json:"received_at"`
}

// Spool file names. Each Spool appends to a file of its own; a replay
// claims files by renaming them, and keeps lines it cannot replay in a
// quarantine file of its own, which no replay reads.
const (
	spoolPattern   = "inbound-*.spool"
	claimedPattern = "inbound-*.replaying"
)

// Spool is an append-only local store of webhooks waiting for the
// database. Each line is one SpooledRequest, sealed with the keyring
// (AES-256-GCM bound to crypt.SpoolLine) and base64-encoded: during an
// outage the disk holds no phone number and no reply text in the clear.
// Every line is fsynced before Twilio gets its 200.
type Spool struct {
	Dir string

	keyring *crypt.Keyring
	// name is this Spool's file; quarantine is where the lines its
	// replays cannot store are kept, still sealed, for an operator.
	name, quarantine string

	mu       sync.Mutex // appends, and claims of the files being appended to
	replayMu sync.Mutex // one replay at a time

	// syncFunc makes a write durable: (*os.File).Sync. Tests replace it to
	// see when the fsync happens, or to make it fail.
	syncFunc func(*os.File) error
}

// NewSpool prepares dir (0700) for a spool file sealed with keyring. The
// keyring must keep every key that sealed a line still waiting: after a
// rotation, the old key stays among the retired ones until the spool is
// empty.
func NewSpool(dir string, keyring *crypt.Keyring) (*Spool, error) {
	if keyring == nil {
		return nil, errors.New("spool: no keyring")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool directory %s: %w", dir, err)
	}
	// Host and PID tell an operator where a file came from; the random
	// part keeps a restarted container (same host name, PID 1) from
	// appending to the file of its previous life.
	host, _ := os.Hostname()
	id := fmt.Sprintf("%s-%d-%s", sanitize(host), os.Getpid(), randomHex(4))
	return &Spool{
		Dir: dir, keyring: keyring,
		name: "inbound-" + id + ".spool", quarantine: "quarantine-" + id + ".spool",
		syncFunc: (*os.File).Sync,
	}, nil
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '.' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') {
			return r
		}
		return '_'
	}, s)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Append seals r and writes it as one line. It returns only once the
// line (and, for a new file, its name) is fsynced: a 200 to Twilio must
// not promise a reply that a crash could still lose.
func (sp *Spool) Append(r SpooledRequest) error {
	plain, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("spool: encode request: %w", err)
	}
	line := base64.StdEncoding.AppendEncode(nil, sp.keyring.Seal(crypt.SpoolLine, plain))
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return sp.appendLines(sp.name, [][]byte{line})
}

// appendLines writes lines to the named file and fsyncs it; the caller
// holds sp.mu. A replay in another process sharing the directory may
// claim (rename) the file while it is open here, and may have read it
// before these lines landed: when the name no longer leads to the file
// written, the lines are written again under the name. The second copy
// is harmless; the MessageSid deduplicates.
func (sp *Spool) appendLines(name string, lines [][]byte) error {
	for range 3 {
		stayed, err := sp.appendOnce(name, lines)
		if err != nil || stayed {
			return err
		}
	}
	return fmt.Errorf("spool: %s was claimed three times while being written", name)
}

// appendOnce appends and fsyncs, and reports whether the file written is
// still the one named name.
func (sp *Spool) appendOnce(name string, lines [][]byte) (stayed bool, err error) {
	path := filepath.Join(sp.Dir, name)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o600)
	if err != nil {
		return false, fmt.Errorf("spool: open %s: %w", name, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return false, fmt.Errorf("spool: stat %s: %w", name, err)
	}
	size := fi.Size()
	var buf []byte
	if size > 0 {
		last := []byte{0}
		if _, err := f.ReadAt(last, size-1); err != nil {
			return false, fmt.Errorf("spool: read %s: %w", name, err)
		}
		if last[0] != '\n' {
			// A torn line from a crash mid-write: start a line of our own
			// rather than be glued to it.
			buf = append(buf, '\n')
		}
	}
	for _, l := range lines {
		buf = append(append(buf, l...), '\n')
	}
	if _, err := f.Write(buf); err != nil {
		// Half a line would not open on replay: take it back.
		_ = f.Truncate(size)
		return false, fmt.Errorf("spool: write %s: %w", name, err)
	}
	if err := sp.syncFunc(f); err != nil {
		// The lines are left: if they reach the disk after all, a replay
		// stores them once at most.
		return false, fmt.Errorf("spool: fsync %s: %w", name, err)
	}
	if size == 0 {
		if err := syncDir(sp.Dir); err != nil {
			return false, err
		}
	}
	now, err := os.Stat(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("spool: stat %s: %w", name, err)
	}
	return err == nil && os.SameFile(fi, now), f.Close()
}

// syncDir makes a new file's name durable; fsyncing the file alone does
// not.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("spool: open directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("spool: fsync directory: %w", err)
	}
	return nil
}

// claim renames every spool file in the directory (any process's) to a
// new .replaying name, so appends go to fresh files while it is read, and
// returns every claimed file, including those of replays that did not
// finish (a crash, an outage). Each claim has a name of its own: a new
// claim never overwrites an older one that is still unread.
func (sp *Spool) claim() ([]string, error) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	files, err := filepath.Glob(filepath.Join(sp.Dir, spoolPattern))
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	for _, path := range files {
		claimed := fmt.Sprintf("%s.%d-%s.replaying", strings.TrimSuffix(path, ".spool"), time.Now().UnixNano(), randomHex(4))
		if err := os.Rename(path, claimed); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("spool: claim %s: %w", filepath.Base(path), err)
		}
	}
	claimed, err := filepath.Glob(filepath.Join(sp.Dir, claimedPattern))
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	return claimed, nil
}

// spoolLine is one line of a claimed file.
type spoolLine struct {
	raw  []byte // as found: base64 of the sealed request
	file string // where it was found (base name), for logs
	req  SpooledRequest
}

// readClaimed reads every line of the claimed files, in file order. A file
// already gone was settled by another replay of this directory.
func (sp *Spool) readClaimed(claimed []string) ([]spoolLine, error) {
	var lines []spoolLine
	for _, path := range claimed {
		data, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("spool: read %s: %w", filepath.Base(path), err)
		}
		for raw := range bytes.SplitSeq(data, []byte("\n")) {
			if len(bytes.TrimSpace(raw)) > 0 {
				lines = append(lines, spoolLine{raw: raw, file: filepath.Base(path)})
			}
		}
	}
	return lines, nil
}

// settle keeps what must wait and what is quarantined, each fsynced, and
// only then removes the claimed files: a crash in between leaves lines
// twice (a second copy is deduplicated by its MessageSid, or quarantined
// twice), never nowhere.
func (sp *Spool) settle(claimed []string, keep, quarantined [][]byte) error {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if len(quarantined) > 0 {
		if err := sp.appendLines(sp.quarantine, quarantined); err != nil {
			return err
		}
	}
	if len(keep) > 0 {
		if err := sp.appendLines(sp.name, keep); err != nil {
			return err
		}
	}
	for _, path := range claimed {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("spool: remove %s: %w", filepath.Base(path), err)
		}
	}
	return nil
}

// ReplaySpool feeds every spooled reply back through ReceiveSMS, marked
// Spooled (Twilio was answered long ago), oldest first: a STOP and a
// START sent during one outage must land in the order they were sent.
// The MessageSid deduplicates anything that made it in after all.
//
// A line that does not open or whose Twilio signature fails is never
// stored and never dropped: it goes, still sealed, to the quarantine file
// in the spool directory, with an error log that names the file and the
// reason but nothing personal. When the database turns out to be down
// again, the rest waits for the next round. It returns how many replies
// went through (stored now, or found already stored).
func (s *Server) ReplaySpool(ctx context.Context) (int, error) {
	if s.Spool == nil {
		return 0, nil
	}
	sp := s.Spool
	sp.replayMu.Lock()
	defer sp.replayMu.Unlock()
	claimed, err := sp.claim()
	if err != nil || len(claimed) == 0 {
		return 0, err
	}
	lines, err := sp.readClaimed(claimed)
	if err != nil {
		return 0, err
	}

	validator := client.NewRequestValidator(s.TwilioAuthToken)
	var pending []spoolLine
	var quarantined [][]byte
	for _, l := range lines {
		req, err := sp.open(l.raw, validator)
		if err != nil {
			quarantined = append(quarantined, l.raw)
			attrs := []any{"file", l.file, "quarantine", sp.quarantine, "reason", err.Error()}
			if sid := req.Params["MessageSid"]; messageSIDPattern.MatchString(sid) {
				attrs = append(attrs, "message_sid", sid) // to find it in Twilio's console
			}
			s.Logger.Error("spool: a line cannot be replayed; quarantined", attrs...)
			continue
		}
		l.req = req
		pending = append(pending, l)
	}
	slices.SortStableFunc(pending, func(a, b spoolLine) int { return a.req.ReceivedAt.Compare(b.req.ReceivedAt) })

	var keep [][]byte
	var outage error
	done := 0
	for i, l := range pending {
		err := s.replayLine(ctx, l.req)
		if err == nil {
			done++
			continue
		}
		if s.databaseUnavailable(ctx, err) {
			for _, rest := range pending[i:] {
				keep = append(keep, rest.raw)
			}
			outage = fmt.Errorf("spool: %d replies wait for the database: %w", len(pending)-i, err)
			break
		}
		s.Logger.Error("spool: a reply could not be stored; kept for the next round", "file", l.file, "err", err)
		keep = append(keep, l.raw)
	}
	if done == 0 && len(quarantined) == 0 && len(lines) > 0 {
		// Nothing changed: the claimed files wait as they are.
		return 0, outage
	}
	if err := sp.settle(claimed, keep, quarantined); err != nil {
		return done, errors.Join(outage, err)
	}
	return done, outage
}

// replayLine stores one spooled request: keys pressed on a call, or a
// text.
func (s *Server) replayLine(ctx context.Context, r SpooledRequest) error {
	// The public URL may carry a path of its own (behind a proxy).
	if u, err := url.Parse(r.URL); err == nil && strings.HasSuffix(u.Path, "/twilio/voice/gather") {
		ctx, cancel := context.WithTimeout(ctx, s.receiveTimeout())
		defer cancel()
		return s.replayKeys(ctx, r)
	}
	p := r.Params
	_, err := s.ReceiveSMS(ctx, InboundSMS{SID: p["MessageSid"], From: p["From"], Body: p["Body"], ReceivedAt: r.ReceivedAt, Spooled: true})
	return err
}

// open decodes, opens and checks one line. A line that does not open (its
// key is no longer configured, it is damaged, or Saathi did not write it)
// or whose signature fails (a forgery, or the Twilio auth token changed
// since) must not become a reply. The errors name no personal data.
func (sp *Spool) open(raw []byte, validator client.RequestValidator) (SpooledRequest, error) {
	var r SpooledRequest
	sealed, err := base64.StdEncoding.AppendDecode(nil, raw)
	if err != nil {
		return r, errors.New("not base64: damaged, or not written by Saathi")
	}
	plain, err := sp.keyring.Open(crypt.SpoolLine, sealed)
	if err != nil {
		if id, ok := crypt.KeyID(sealed); ok {
			return r, fmt.Errorf("does not open with key %d: the key is not configured, or the line is damaged", id)
		}
		return r, errors.New("does not open: damaged, or not written by Saathi")
	}
	if err := json.Unmarshal(plain, &r); err != nil {
		return r, errors.New("opens, but is not a request")
	}
	if !validator.Validate(r.URL, r.Params, r.Signature) {
		return r, errors.New("the Twilio signature does not match: forged, or the auth token changed since")
	}
	return r, nil
}

// databaseUnavailable tells an outage (a timeout, or no answer to a ping)
// from a failure of one reply: in an outage the remaining replies wait
// for the next round instead of timing out one after another.
func (s *Server) databaseUnavailable(ctx context.Context, err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || ctx.Err() != nil {
		return true
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return s.Pool.Ping(ctx) != nil
}

// RunSpoolReplayer replays the spool every interval until ctx ends.
func (s *Server) RunSpoolReplayer(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := s.ReplaySpool(ctx)
		if n > 0 {
			s.Logger.Info("spooled replies stored", "count", n)
		}
		if err != nil && ctx.Err() == nil {
			s.Logger.Warn("spool replay", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
