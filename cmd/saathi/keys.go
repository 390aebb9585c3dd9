package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"saathi/db"
	"saathi/db/crypt"
)

// blindIndexNote is said wherever keys are: the phone-number index is
// keyed apart from the encryption key and must never change, or no
// survivor's reply would match their number again.
const blindIndexNote = "The phone-number blind index (SAATHI_BLIND_INDEX_KEY) is not re-keyed and must stay as it is."

func keysCmd(ctx context.Context, cfg Config, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return usageError{"keys: give a subcommand: status or rotate"}
	}
	switch args[0] {
	case "status":
		if len(args) > 1 {
			return usageError{fmt.Sprintf("keys status: unexpected argument %q", args[1])}
		}
		return keysStatusCmd(ctx, cfg, stdout)
	case "rotate":
		return keysRotateCmd(ctx, cfg, args[1:], stdout)
	default:
		return usageError{fmt.Sprintf("keys: unknown subcommand %q (status or rotate)", args[0])}
	}
}

func keysStatusCmd(ctx context.Context, cfg Config, stdout io.Writer) error {
	pool, _, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	counts, err := countSealed(ctx, pool)
	if err != nil {
		return err
	}
	printSealed(stdout, counts, cfg.EncryptionKeyID)
	fmt.Fprintln(stdout, blindIndexNote)
	return nil
}

func keysRotateCmd(ctx context.Context, cfg Config, args []string, stdout io.Writer) error {
	fs := newFlagSet("keys rotate")
	batch := fs.Int("batch", 500, "rows re-sealed per transaction (1 to 10000)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *batch < 1 || *batch > 10000 {
		return usageError{fmt.Sprintf("keys rotate: --batch must be 1 to 10000, not %d", *batch)}
	}
	pool, kr, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	r := &keyRotation{pool: pool, keyring: kr, current: cfg.EncryptionKeyID, batch: int32(*batch), progress: stdout}
	if err := r.check(ctx, configuredKeyIDs(cfg)); err != nil {
		return err
	}
	runErr := r.run(ctx)
	// What was done is counted, audited and shown even after an
	// interruption: the finished batches are committed.
	bg := context.WithoutCancel(ctx)
	counts, err := countSealed(bg, pool)
	if err != nil {
		return errors.Join(runErr, err)
	}
	left := counts.oldKeys(cfg.EncryptionKeyID)
	if err := auditRotation(bg, pool, cfg.EncryptionKeyID, r.resealed, left); err != nil {
		return errors.Join(runErr, err)
	}
	fmt.Fprintln(stdout)
	printSealed(stdout, counts, cfg.EncryptionKeyID)
	fmt.Fprintln(stdout, blindIndexNote)
	switch {
	case runErr != nil && ctx.Err() != nil:
		// Ctrl-C, a lost session, a deploy.
		return fmt.Errorf("keys rotate interrupted (%v): what was re-sealed is kept; run it again to finish", context.Cause(ctx))
	case runErr != nil:
		return runErr
	case left > 0:
		return fmt.Errorf("%d values are still under other keys (see above): a row was being written during this run, or the service still seals with an old key (give it the new SAATHI_ENCRYPTION_KEY first), or a value cannot be opened; run keys rotate again", left)
	}
	fmt.Fprintf(stdout, "Every value is sealed under key %d. Old keys can leave SAATHI_ENCRYPTION_OLD_KEYS once no inbound-*.spool file is left in SAATHI_SPOOL_DIR and no backup you may restore predates this run.\n", cfg.EncryptionKeyID)
	return nil
}

// auditRotation records a rotation run: the key, rows re-sealed per
// table, values left under other keys (counts only).
func auditRotation(ctx context.Context, pool *pgxpool.Pool, key uint32, resealed map[string]int, left int64) error {
	raw, err := json.Marshal(map[string]any{"via": "cli", "key_id": key, "rows_resealed": resealed, "values_left": left})
	if err != nil {
		return err
	}
	if err := db.New(pool).AuditLogCreate(ctx, db.AuditLogCreateParams{Action: "keys.rotate", Detail: raw}); err != nil {
		return fmt.Errorf("audit the rotation: %w", err)
	}
	return nil
}

// configuredKeyIDs lists the key IDs the settings hold (Keyring has
// already checked them).
func configuredKeyIDs(cfg Config) []uint32 {
	ids := []uint32{cfg.EncryptionKeyID}
	if cfg.EncryptionOldKeys == "" {
		return ids
	}
	for _, part := range strings.Split(cfg.EncryptionOldKeys, ",") {
		idStr, _, _ := strings.Cut(strings.TrimSpace(part), ":")
		if id, err := strconv.ParseUint(idStr, 10, 32); err == nil {
			ids = append(ids, uint32(id))
		}
	}
	return ids
}

// sealedCounts is how many values each sealed column holds under each key
// ID (-1: not a sealed value).
type sealedCounts struct {
	columns []string
	byKey   map[string]map[int64]int64
}

func countSealed(ctx context.Context, pool *pgxpool.Pool) (sealedCounts, error) {
	rows, err := db.New(pool).SealedValueCounts(ctx)
	if err != nil {
		return sealedCounts{}, fmt.Errorf("count sealed values: %w", err)
	}
	c := sealedCounts{byKey: map[string]map[int64]int64{}}
	for _, t := range sealedTables {
		for _, col := range t.columns {
			c.columns = append(c.columns, col.name)
			c.byKey[col.name] = map[int64]int64{}
		}
	}
	for _, r := range rows {
		if c.byKey[r.Col] == nil {
			return sealedCounts{}, fmt.Errorf("count sealed values: column %s is not in the rotation list", r.Col)
		}
		c.byKey[r.Col][r.KeyID] += r.N
	}
	return c, nil
}

// keys lists every key ID seen, in order.
func (c sealedCounts) keys(current uint32) []int64 {
	seen := map[int64]bool{int64(current): true}
	for _, byKey := range c.byKey {
		for k := range byKey {
			seen[k] = true
		}
	}
	keys := make([]int64, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// oldKeys counts the values under any key but the current one.
func (c sealedCounts) oldKeys(current uint32) int64 {
	var n int64
	for _, byKey := range c.byKey {
		for k, v := range byKey {
			if k != int64(current) {
				n += v
			}
		}
	}
	return n
}

func printSealed(w io.Writer, c sealedCounts, current uint32) {
	keys := c.keys(current)
	header := make([]string, len(keys))
	for i, k := range keys {
		switch {
		case k == -1:
			header[i] = "unreadable"
		case k == int64(current):
			header[i] = fmt.Sprintf("key %d (current)", k)
		default:
			header[i] = fmt.Sprintf("key %d", k)
		}
	}
	nameWidth := len("column")
	for _, col := range c.columns {
		nameWidth = max(nameWidth, len(col))
	}
	line := func(name string, cells []string) {
		fmt.Fprintf(w, "%-*s", nameWidth, name)
		for i, cell := range cells {
			fmt.Fprintf(w, "  %*s", len(header[i]), cell)
		}
		fmt.Fprintln(w)
	}
	line("column", header)
	totals := make([]int64, len(keys))
	for _, col := range c.columns {
		cells := make([]string, len(keys))
		for i, k := range keys {
			cells[i] = strconv.FormatInt(c.byKey[col][k], 10)
			totals[i] += c.byKey[col][k]
		}
		line(col, cells)
	}
	cells := make([]string, len(keys))
	for i, n := range totals {
		cells[i] = strconv.FormatInt(n, 10)
	}
	line("total", cells)
	fmt.Fprintf(w, "values under other keys than the current key %d: %d\n", current, c.oldKeys(current))
}

// keyRotation re-seals every sealed value under the current key, table by
// table, in small transactions of `batch` rows. Rows are locked with SKIP
// LOCKED (a row the service is writing is left for the next pass; the
// service never waits long on rotation) and written only if they still
// hold what was read. A run that stops keeps every finished batch; the
// next starts over and finds only what is left.
type keyRotation struct {
	pool     *pgxpool.Pool
	keyring  *crypt.Keyring
	current  uint32
	batch    int32
	progress io.Writer
	// beforeWriteFunc, when set, runs after a batch is read and before it
	// is written (tests: a concurrent writer, an interruption).
	beforeWriteFunc func(table string, batch int)
	// resealed counts the rows re-sealed, by table, as run goes.
	resealed map[string]int
}

// maxPasses bounds the passes over each table: after the first, a pass
// only finds rows that were busy or changed during the one before.
const maxPasses = 5

// check refuses to start when the database holds values under a key the
// settings lack: they could not be re-sealed, and the operator must know
// before anything changes.
func (r *keyRotation) check(ctx context.Context, have []uint32) error {
	counts, err := countSealed(ctx, r.pool)
	if err != nil {
		return err
	}
	var missing []string
	for _, k := range counts.keys(r.current) {
		if k >= 0 && !slices.Contains(have, uint32(k)) {
			var where []string
			for _, col := range counts.columns {
				if n := counts.byKey[col][k]; n > 0 {
					where = append(where, fmt.Sprintf("%s: %d", col, n))
				}
			}
			missing = append(missing, fmt.Sprintf("key %d (%s)", k, strings.Join(where, ", ")))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("values are sealed under keys these settings do not have: %s; add each as id:base64 to SAATHI_ENCRYPTION_OLD_KEYS and run again (nothing was changed)", strings.Join(missing, "; "))
	}
	return nil
}

// run re-seals every table.
func (r *keyRotation) run(ctx context.Context) error {
	fmt.Fprintf(r.progress, "re-sealing every value under key %d, %d rows per transaction\n", r.current, r.batch)
	r.resealed = map[string]int{}
	for _, t := range sealedTables {
		total, unreadable := 0, 0
		for pass := 1; pass <= maxPasses; pass++ {
			n, bad, err := r.pass(ctx, t)
			total += n
			r.resealed[t.name] = total
			unreadable = bad
			if err != nil {
				return fmt.Errorf("re-seal %s: %w", t.name, err)
			}
			if n == 0 {
				break
			}
		}
		fmt.Fprintf(r.progress, "%s: %d rows re-sealed\n", t.name, total)
		if unreadable > 0 {
			fmt.Fprintf(r.progress, "%s: %d values cannot be opened and were left as they are\n", t.name, unreadable)
		}
	}
	return nil
}

// pass goes once through a table in ID order, re-sealing the rows that
// hold a value under another key. It returns the rows re-sealed and the
// values that cannot be opened.
func (r *keyRotation) pass(ctx context.Context, t sealedTable) (resealed, unreadable int, err error) {
	var after rowID
	for batches := 1; ; batches++ {
		var rows []sealedRow
		err := pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
			q := db.New(tx)
			var err error
			if rows, err = t.batch(ctx, q, after, int64(r.current), r.batch); err != nil {
				return err
			}
			if r.beforeWriteFunc != nil && len(rows) > 0 {
				r.beforeWriteFunc(t.name, len(rows))
			}
			for _, row := range rows {
				fresh, bad := r.reseal(t, row)
				unreadable += bad
				if fresh == nil {
					continue
				}
				n, err := t.write(ctx, q, row.id, row.vals, fresh)
				if err != nil {
					return err
				}
				resealed += int(n) // 0: changed since it was read; the next pass sees it
			}
			return nil
		})
		if err != nil {
			return resealed, unreadable, err
		}
		if batches%20 == 0 {
			fmt.Fprintf(r.progress, "%s: %d rows re-sealed so far\n", t.name, resealed)
		}
		if len(rows) < int(r.batch) {
			return resealed, unreadable, nil
		}
		after = rows[len(rows)-1].id
	}
}

// reseal opens a row's values and seals them under the current key. A
// value already under it is kept as it is; one that cannot be opened is
// kept as it is and counted. It returns nil when nothing would change.
func (r *keyRotation) reseal(t sealedTable, row sealedRow) (fresh [][]byte, unreadable int) {
	fresh = make([][]byte, len(row.vals))
	changed := false
	for i, v := range row.vals {
		fresh[i] = v
		if v == nil {
			continue
		}
		if id, ok := crypt.KeyID(v); ok && id == r.current {
			continue
		}
		plain, err := r.keyring.Open(t.columns[i].purpose, v)
		if err != nil {
			unreadable++
			continue
		}
		fresh[i], changed = r.keyring.Seal(t.columns[i].purpose, plain), true
	}
	if !changed {
		return nil, unreadable
	}
	return fresh, unreadable
}

// sealedColumn is a column of sealed values and the purpose they are
// bound to.
type sealedColumn struct {
	name    string // table.column, as SealedValueCounts names it
	purpose crypt.Purpose
}

// rowID is a row's primary key: a number or a UUID, by table.
type rowID struct {
	num  int64
	uuid uuid.UUID
}

// sealedRow is one row's sealed values, in its table's column order.
type sealedRow struct {
	id   rowID
	vals [][]byte
}

// sealedTable is how to read and re-seal one table's sealed columns.
type sealedTable struct {
	name    string
	columns []sealedColumn
	// batch reads the next rows after `after` holding a value under a key
	// other than keyID, locked.
	batch func(ctx context.Context, q *db.Queries, after rowID, keyID int64, lim int32) ([]sealedRow, error)
	// write stores fresh values if the row still holds old; it reports
	// whether it did (1) or the row had changed (0).
	write func(ctx context.Context, q *db.Queries, id rowID, old, fresh [][]byte) (int64, error)
}

// sealedTables is every column Saathi seals (the Purposes of db/crypt but
// the spool's, whose files are on disk). TestKeysRotateCoversEverySealedColumn
// fails when a migration adds an *_enc column that is missing here.
var sealedTables = []sealedTable{
	{
		name: "staff",
		columns: []sealedColumn{
			{"staff.name_enc", crypt.StaffName}, {"staff.phone_enc", crypt.StaffPhone}, {"staff.username_enc", crypt.StaffUsername},
		},
		batch: func(ctx context.Context, q *db.Queries, after rowID, key int64, lim int32) ([]sealedRow, error) {
			rows, err := q.StaffSealedBatch(ctx, db.StaffSealedBatchParams{After: after.uuid, KeyID: key, Lim: lim})
			return toSealedRows(rows, err, func(r db.StaffSealedBatchRow) sealedRow {
				return sealedRow{rowID{uuid: r.ID}, [][]byte{r.NameEnc, r.PhoneEnc, r.UsernameEnc}}
			})
		},
		write: func(ctx context.Context, q *db.Queries, id rowID, old, fresh [][]byte) (int64, error) {
			return q.StaffReseal(ctx, db.StaffResealParams{ID: id.uuid,
				NameEnc: fresh[0], PhoneEnc: fresh[1], UsernameEnc: fresh[2],
				OldNameEnc: old[0], OldPhoneEnc: old[1], OldUsernameEnc: old[2]})
		},
	},
	{
		name: "survivors",
		columns: []sealedColumn{
			{"survivors.reference_enc", crypt.SurvivorReference}, {"survivors.phone_enc", crypt.SurvivorPhone},
			{"survivors.duress_enc", crypt.SurvivorDuress}, {"survivors.duress_code_enc", crypt.SurvivorDuressCode},
		},
		batch: func(ctx context.Context, q *db.Queries, after rowID, key int64, lim int32) ([]sealedRow, error) {
			rows, err := q.SurvivorSealedBatch(ctx, db.SurvivorSealedBatchParams{After: after.uuid, KeyID: key, Lim: lim})
			return toSealedRows(rows, err, func(r db.SurvivorSealedBatchRow) sealedRow {
				return sealedRow{rowID{uuid: r.ID}, [][]byte{r.ReferenceEnc, r.PhoneEnc, r.DuressEnc, r.DuressCodeEnc}}
			})
		},
		write: func(ctx context.Context, q *db.Queries, id rowID, old, fresh [][]byte) (int64, error) {
			return q.SurvivorReseal(ctx, db.SurvivorResealParams{ID: id.uuid,
				ReferenceEnc: fresh[0], PhoneEnc: fresh[1], DuressEnc: fresh[2], DuressCodeEnc: fresh[3],
				OldReferenceEnc: old[0], OldPhoneEnc: old[1], OldDuressEnc: old[2], OldDuressCodeEnc: old[3]})
		},
	},
	{
		name:    "messages",
		columns: []sealedColumn{{"messages.peer_enc", crypt.MessagePeer}, {"messages.body_enc", crypt.MessageBody}},
		batch: func(ctx context.Context, q *db.Queries, after rowID, key int64, lim int32) ([]sealedRow, error) {
			rows, err := q.MessageSealedBatch(ctx, db.MessageSealedBatchParams{After: after.num, KeyID: key, Lim: lim})
			return toSealedRows(rows, err, func(r db.MessageSealedBatchRow) sealedRow {
				return sealedRow{rowID{num: r.ID}, [][]byte{r.PeerEnc, r.BodyEnc}}
			})
		},
		write: func(ctx context.Context, q *db.Queries, id rowID, old, fresh [][]byte) (int64, error) {
			return q.MessageReseal(ctx, db.MessageResealParams{ID: id.num,
				PeerEnc: fresh[0], BodyEnc: fresh[1], OldPeerEnc: old[0], OldBodyEnc: old[1]})
		},
	},
	{
		name:    "responses",
		columns: []sealedColumn{{"responses.evidence_enc", crypt.ResponseEvidence}},
		batch: func(ctx context.Context, q *db.Queries, after rowID, key int64, lim int32) ([]sealedRow, error) {
			rows, err := q.ResponseSealedBatch(ctx, db.ResponseSealedBatchParams{After: after.num, KeyID: key, Lim: lim})
			return toSealedRows(rows, err, func(r db.ResponseSealedBatchRow) sealedRow {
				return sealedRow{rowID{num: r.ID}, [][]byte{r.EvidenceEnc}}
			})
		},
		write: func(ctx context.Context, q *db.Queries, id rowID, old, fresh [][]byte) (int64, error) {
			return q.ResponseReseal(ctx, db.ResponseResealParams{ID: id.num, EvidenceEnc: fresh[0], OldEvidenceEnc: old[0]})
		},
	},
	{
		name:    "alerts",
		columns: []sealedColumn{{"alerts.resolution_enc", crypt.AlertResolution}},
		batch: func(ctx context.Context, q *db.Queries, after rowID, key int64, lim int32) ([]sealedRow, error) {
			rows, err := q.AlertSealedBatch(ctx, db.AlertSealedBatchParams{After: after.uuid, KeyID: key, Lim: lim})
			return toSealedRows(rows, err, func(r db.AlertSealedBatchRow) sealedRow {
				return sealedRow{rowID{uuid: r.ID}, [][]byte{r.ResolutionEnc}}
			})
		},
		write: func(ctx context.Context, q *db.Queries, id rowID, old, fresh [][]byte) (int64, error) {
			return q.AlertReseal(ctx, db.AlertResealParams{ID: id.uuid, ResolutionEnc: fresh[0], OldResolutionEnc: old[0]})
		},
	},
	{
		name:    "consent_records",
		columns: []sealedColumn{{"consent_records.note_enc", crypt.ConsentNote}},
		batch: func(ctx context.Context, q *db.Queries, after rowID, key int64, lim int32) ([]sealedRow, error) {
			rows, err := q.ConsentRecordSealedBatch(ctx, db.ConsentRecordSealedBatchParams{After: after.num, KeyID: key, Lim: lim})
			return toSealedRows(rows, err, func(r db.ConsentRecordSealedBatchRow) sealedRow {
				return sealedRow{rowID{num: r.ID}, [][]byte{r.NoteEnc}}
			})
		},
		write: func(ctx context.Context, q *db.Queries, id rowID, old, fresh [][]byte) (int64, error) {
			return q.ConsentRecordReseal(ctx, db.ConsentRecordResealParams{ID: id.num, NoteEnc: fresh[0], OldNoteEnc: old[0]})
		},
	},
	{
		name:    "dev_outbox",
		columns: []sealedColumn{{"dev_outbox.to_enc", crypt.OutboxTo}, {"dev_outbox.body_enc", crypt.OutboxBody}},
		batch: func(ctx context.Context, q *db.Queries, after rowID, key int64, lim int32) ([]sealedRow, error) {
			rows, err := q.DevOutboxSealedBatch(ctx, db.DevOutboxSealedBatchParams{After: after.num, KeyID: key, Lim: lim})
			return toSealedRows(rows, err, func(r db.DevOutboxSealedBatchRow) sealedRow {
				return sealedRow{rowID{num: r.ID}, [][]byte{r.ToEnc, r.BodyEnc}}
			})
		},
		write: func(ctx context.Context, q *db.Queries, id rowID, old, fresh [][]byte) (int64, error) {
			return q.DevOutboxReseal(ctx, db.DevOutboxResealParams{ID: id.num, ToEnc: fresh[0], BodyEnc: fresh[1], OldToEnc: old[0], OldBodyEnc: old[1]})
		},
	},
}

func toSealedRows[T any](rows []T, err error, conv func(T) sealedRow) ([]sealedRow, error) {
	if err != nil {
		return nil, err
	}
	out := make([]sealedRow, len(rows))
	for i, r := range rows {
		out[i] = conv(r)
	}
	return out, nil
}
