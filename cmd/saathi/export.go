package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/google/uuid"

	"saathi/db"
	"saathi/handlers"
)

// exportCmd writes one survivor's data as JSON for a data-subject request:
// to stdout, or to a new file readable by its owner only. The export is
// audited before a byte of it is written.
func exportCmd(ctx context.Context, cfg Config, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("export")
	survivor := fs.String("survivor", "", "the survivor's ID")
	outPath := fs.String("out", "", "write to this new file (created 0600) instead of standard output")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *survivor == "" {
		return usageError{"export: --survivor ID is required"}
	}
	id, err := uuid.Parse(*survivor)
	if err != nil {
		return usageError{fmt.Sprintf("export: --survivor %q is not a survivor ID", *survivor)}
	}
	pool, kr, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()

	w, finish := stdout, func() error { return nil }
	if *outPath != "" {
		// O_EXCL: never write over another file, nor into one whose
		// permissions someone else chose.
		f, err := os.OpenFile(*outPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			if errors.Is(err, os.ErrExist) {
				return fmt.Errorf("export: --out %s already exists: choose a new file name", *outPath)
			}
			return fmt.Errorf("export: --out: %w", err)
		}
		ok := false
		defer func() {
			if !ok {
				f.Close()
				os.Remove(*outPath)
			}
		}()
		w, finish = f, func() error {
			if err := f.Sync(); err != nil {
				return err
			}
			ok = true
			return f.Close()
		}
	}

	exp, err := handlers.ExportSurvivor(ctx, pool, kr, nil, id, time.Now())
	switch {
	case errors.Is(err, db.ErrNotFound):
		return fmt.Errorf("export: no survivor with ID %s", id)
	case errors.Is(err, handlers.ErrSurvivorErased):
		return fmt.Errorf("export: survivor %s: %v; nothing personal is left to export", id, err)
	case err != nil:
		return fmt.Errorf("export: %w", err)
	}
	raw, err := json.MarshalIndent(exp, "", "  ")
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if _, err := w.Write(append(raw, '\n')); err != nil {
		return fmt.Errorf("export: write: %w", err)
	}
	if err := finish(); err != nil {
		return fmt.Errorf("export: --out %s: %w", *outPath, err)
	}
	where := "standard output"
	if *outPath != "" {
		where = *outPath
	}
	fmt.Fprintf(stderr, "exported survivor %s (case %s) to %s; audited as survivor.export.\n"+
		"It holds their personal data in the clear: hand it over by a safe route, then delete every copy.\n",
		id, exp.Survivor.CaseCode, where)
	return nil
}
