package handlers

import (
	"os"
	"path/filepath"
)

// SetSpoolSync replaces how sp makes a write durable ((*os.File).Sync), so
// a test can see when the fsync happens or make it fail.
func SetSpoolSync(sp *Spool, sync func(*os.File) error) { sp.syncFunc = sync }

// SpoolFile is the file sp appends to.
func SpoolFile(sp *Spool) string { return filepath.Join(sp.Dir, sp.name) }

// QuarantineFile is the file sp's replays put the lines they cannot store.
func QuarantineFile(sp *Spool) string { return filepath.Join(sp.Dir, sp.quarantine) }

// ClaimSpool does the first step of a replay and nothing more, as a
// replay that crashed right after claiming would.
func ClaimSpool(sp *Spool) ([]string, error) { return sp.claim() }

// TextsInside is how many inbound texts s has received and not yet
// answered (waiting for a transaction, or in one).
func TextsInside(s *Server) int {
	g := s.groupOfTexts()
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.inside
}
