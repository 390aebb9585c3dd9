package handlers

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/twilio/twilio-go/client"
)

// SpooledRequest is a signed webhook that could not be stored when it
// arrived. It is kept verbatim, signature included, and checked again
// when replayed, so a tampered spool file cannot inject replies.
type SpooledRequest struct {
	URL        string            `json:"url"`
	Params     map[string]string `json:"params"`
	Signature  string            `json:"signature"`
	ReceivedAt time.Time         `json:"received_at"`
}

// Spool is an append-only local file of webhooks waiting for the database.
// Each process writes its own file (a web replica's spool is local disk);
// every line is fsynced before Twilio gets its 200.
type Spool struct {
	Dir string

	mu   sync.Mutex
	name string
}

// NewSpool prepares dir (0700) for this process's spool file.
func NewSpool(dir string) (*Spool, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool directory %s: %w", dir, err)
	}
	host, _ := os.Hostname()
	return &Spool{Dir: dir, name: fmt.Sprintf("inbound-%s-%d.jsonl", sanitize(host), os.Getpid())}, nil
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '.' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') {
			return r
		}
		return '_'
	}, s)
}

// Append writes one request durably.
func (sp *Spool) Append(r SpooledRequest) error {
	line, err := json.Marshal(r)
	if err != nil {
		return err
	}
	sp.mu.Lock()
	defer sp.mu.Unlock()
	f, err := os.OpenFile(filepath.Join(sp.Dir, sp.name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ReplaySpool feeds every spooled request back through ReceiveSMS, where
// the MessageSid deduplicates anything that made it in after all. Requests
// that fail again stay spooled for the next round. It returns how many
// were stored.
func (s *Server) ReplaySpool(ctx context.Context) (int, error) {
	if s.Spool == nil {
		return 0, nil
	}
	sp := s.Spool
	files, err := filepath.Glob(filepath.Join(sp.Dir, "inbound-*.jsonl*"))
	if err != nil {
		return 0, err
	}
	stored := 0
	for _, path := range files {
		// Claim the file: a process appending to it starts a new one.
		claimed := path
		if !strings.HasSuffix(path, ".replaying") {
			sp.mu.Lock()
			claimed = path + ".replaying"
			err := os.Rename(path, claimed)
			sp.mu.Unlock()
			if err != nil {
				if errors.Is(err, os.ErrNotExist) {
					continue
				}
				return stored, err
			}
		}
		n, left, err := s.replayFile(ctx, claimed)
		stored += n
		if err != nil {
			return stored, err
		}
		for _, r := range left {
			if err := sp.Append(r); err != nil {
				return stored, err
			}
		}
		if err := os.Remove(claimed); err != nil {
			return stored, err
		}
	}
	return stored, nil
}

func (s *Server) replayFile(ctx context.Context, path string) (stored int, left []SpooledRequest, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, nil, err
	}
	defer f.Close()
	validator := client.NewRequestValidator(s.TwilioAuthToken)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var r SpooledRequest
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			s.Logger.Error("spool: unreadable line dropped", "file", filepath.Base(path))
			continue
		}
		if !validator.Validate(r.URL, r.Params, r.Signature) {
			s.Logger.Error("spool: line with a bad signature dropped", "file", filepath.Base(path))
			continue
		}
		if _, err := s.ReceiveSMS(ctx, InboundSMS{SID: r.Params["MessageSid"], From: r.Params["From"], Body: r.Params["Body"], ReceivedAt: r.ReceivedAt}); err != nil {
			left = append(left, r)
			continue
		}
		stored++
	}
	return stored, left, sc.Err()
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
