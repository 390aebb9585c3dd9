package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"saathi/db"
	"saathi/db/crypt"
	"saathi/db/dbtest"
)

// keyPair is the settings before and after a rotation: key 1, then key 2
// with key 1 kept as old. The blind index stays on key 1 throughout.
type keyPair struct {
	key1, key2 string
}

func newKeyPair() keyPair { return keyPair{crypt.NewKey(), crypt.NewKey()} }

func (k keyPair) before(env map[string]string) map[string]string {
	out := map[string]string{}
	for n, v := range env {
		out[n] = v
	}
	out["SAATHI_ENCRYPTION_KEY"] = k.key1
	return out
}

func (k keyPair) after(env map[string]string) map[string]string {
	out := k.before(env)
	out["SAATHI_ENCRYPTION_KEY"], out["SAATHI_ENCRYPTION_KEY_ID"] = k.key2, "2"
	out["SAATHI_ENCRYPTION_OLD_KEYS"] = "1:" + k.key1
	out["SAATHI_BLIND_INDEX_KEY"] = k.key1
	return out
}

// keyring builds a keyring holding only the given key, with key 1's blind
// index.
func (k keyPair) keyring(t *testing.T, id uint32) *crypt.Keyring {
	t.Helper()
	key, index := k.key1, k.key1
	if id == 2 {
		key = k.key2
	}
	raw, err := crypt.ParseKey(key)
	if err != nil {
		t.Fatal(err)
	}
	idx, _ := crypt.ParseKey(index)
	kr, err := crypt.NewKeyring(id, map[uint32][]byte{id: raw}, idx)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// sealedValue is what one sealed cell must open to.
type sealedValue struct {
	column, id string
}

// sealEverything fills every sealed column with values sealed by kr,
// messages many times over (more rows than a batch), and returns what
// each cell holds in the clear.
func sealEverything(t *testing.T, pool *pgxpool.Pool, kr *crypt.Keyring, messages int) map[sealedValue]string {
	t.Helper()
	ctx := context.Background()
	want := map[sealedValue]string{}
	row := func(sql string, args ...any) string {
		t.Helper()
		var id string
		if err := pool.QueryRow(ctx, sql, args...).Scan(&id); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return id
	}

	staff := row(`INSERT INTO staff (name_enc, role, phone_enc, phone_hash, token_hash, username_enc, username_hash)
		VALUES ($1, 'caseworker', $2, $3, $4, $5, $6) RETURNING id::text`,
		kr.SealString(crypt.StaffName, "Kiran Rao"), kr.SealString(crypt.StaffPhone, "+919000000001"), kr.BlindIndex("+919000000001"),
		[]byte(uuid.NewString()), kr.SealString(crypt.StaffUsername, "kiran"), []byte("kiran-index"))
	want[sealedValue{"staff.name_enc", staff}] = "Kiran Rao"
	want[sealedValue{"staff.phone_enc", staff}] = "+919000000001"
	want[sealedValue{"staff.username_enc", staff}] = "kiran"

	survivor := row(`INSERT INTO survivors (case_code, reference_enc, phone_enc, phone_hash, duress_enc, duress_code_enc, language, channels, timezone, caseworker_id)
		VALUES ('SA-4821', $1, $2, $3, $4, $5, 'hi', '{sms}', 'Asia/Kolkata', $6) RETURNING id::text`,
		kr.SealString(crypt.SurvivorReference, "DEMO-0001"), kr.SealString(crypt.SurvivorPhone, "+919876543210"), kr.BlindIndex("+919876543210"),
		kr.SealString(crypt.SurvivorDuress, "mango"), kr.SealString(crypt.SurvivorDuressCode, "4821"), staff)
	want[sealedValue{"survivors.reference_enc", survivor}] = "DEMO-0001"
	want[sealedValue{"survivors.phone_enc", survivor}] = "+919876543210"
	want[sealedValue{"survivors.duress_enc", survivor}] = "mango"
	want[sealedValue{"survivors.duress_code_enc", survivor}] = "4821"

	consent := row(`INSERT INTO consent_records (survivor_id, action, channels, method, source, recorded_at, note_enc)
		VALUES ($1, 'give', '{sms}', 'in_person', 'staff', now(), $2) RETURNING id::text`, survivor, kr.SealString(crypt.ConsentNote, "asked in person"))
	want[sealedValue{"consent_records.note_enc", consent}] = "asked in person"

	var first string
	for i := range messages {
		body := fmt.Sprintf("reply %d", i)
		id := row(`INSERT INTO messages (direction, channel, survivor_id, purpose, peer_hash, peer_enc, body_enc, provider, status)
			VALUES ('in', 'sms', $1, 'reply', $2, $3, $4, 'twilio', 'received') RETURNING id::text`,
			survivor, kr.BlindIndex("+919876543210"), kr.SealString(crypt.MessagePeer, "+919876543210"), kr.SealString(crypt.MessageBody, body))
		want[sealedValue{"messages.peer_enc", id}] = "+919876543210"
		want[sealedValue{"messages.body_enc", id}] = body
		if i == 0 {
			first = id
		}
	}
	resp := row(`INSERT INTO responses (message_id, survivor_id, intent, evidence_enc) VALUES ($1, $2, 'help_now', $3) RETURNING id::text`,
		first, survivor, kr.SealString(crypt.ResponseEvidence, `{"evidence":"3"}`))
	want[sealedValue{"responses.evidence_enc", resp}] = `{"evidence":"3"}`
	flag := row(`INSERT INTO risk_flags (survivor_id, kind, severity) VALUES ($1, 'help_now', 'urgent') RETURNING id::text`, survivor)
	alert := row(`INSERT INTO alerts (flag_id, survivor_id, severity, status, ack_code, resolution_enc) VALUES ($1, $2, 'urgent', 'resolved', '123456', $3) RETURNING id::text`,
		flag, survivor, kr.SealString(crypt.AlertResolution, "called her, safe"))
	want[sealedValue{"alerts.resolution_enc", alert}] = "called her, safe"
	outbox := row(`INSERT INTO dev_outbox (sid, channel, to_enc, body_enc) VALUES ('SMdev1', 'sms', $1, $2) RETURNING id::text`,
		kr.SealString(crypt.OutboxTo, "+919876543210"), kr.SealString(crypt.OutboxBody, "Namaste"))
	want[sealedValue{"dev_outbox.to_enc", outbox}] = "+919876543210"
	want[sealedValue{"dev_outbox.body_enc", outbox}] = "Namaste"
	return want
}

// openEverything opens every sealed cell with kr; a cell that does not
// open is reported as such.
func openEverything(t *testing.T, pool *pgxpool.Pool, kr *crypt.Keyring) map[sealedValue]string {
	t.Helper()
	got := map[sealedValue]string{}
	for _, table := range sealedTables {
		for _, col := range table.columns {
			tbl, column, _ := strings.Cut(col.name, ".")
			rows, err := pool.Query(context.Background(), fmt.Sprintf("SELECT id::text, %s FROM %s WHERE %s IS NOT NULL", column, tbl, column))
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var id string
				var v []byte
				if err := rows.Scan(&id, &v); err != nil {
					t.Fatal(err)
				}
				plain, err := kr.OpenString(col.purpose, v)
				if err != nil {
					plain = "(does not open)"
				}
				got[sealedValue{col.name, id}] = plain
			}
			rows.Close()
		}
	}
	return got
}

func phoneHash(t *testing.T, pool *pgxpool.Pool) []byte {
	t.Helper()
	var h []byte
	if err := pool.QueryRow(context.Background(), "SELECT phone_hash FROM survivors").Scan(&h); err != nil {
		t.Fatal(err)
	}
	return h
}

// TestKeysRotate: an NGO whose key may have leaked puts a new key in
// place, keeps the old one as old, and rotates: afterwards every value
// opens with the new key alone, the old key opens nothing, and phone
// lookups still match.
func TestKeysRotate(t *testing.T) {
	t.Parallel()
	url := dbtest.NewURL(t)
	keys := newKeyPair()
	env := testEnv(t, url)
	pool, err := db.Connect(context.Background(), url, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	want := sealEverything(t, pool, keys.keyring(t, 1), 23)
	hash := phoneHash(t, pool)

	code, out, errOut := runCLI(t, keys.before(env), "keys", "status")
	if code != 0 || !strings.Contains(out, "values under other keys than the current key 1: 0") || !strings.Contains(out, "blind index") {
		t.Fatalf("status before: exit %d\n%s%s", code, out, errOut)
	}

	code, out, errOut = runCLI(t, keys.after(env), "keys", "rotate", "--batch", "5")
	if code != 0 {
		t.Fatalf("rotate: exit %d\n%s%s", code, out, errOut)
	}
	for _, line := range []string{
		"messages: 23 rows re-sealed", "survivors: 1 rows re-sealed", "staff: 1 rows re-sealed", "dev_outbox: 1 rows re-sealed",
		"values under other keys than the current key 2: 0", "Every value is sealed under key 2", "SAATHI_BLIND_INDEX_KEY) is not re-keyed",
	} {
		if !strings.Contains(out, line) {
			t.Errorf("rotate output lacks %q:\n%s", line, out)
		}
	}
	if diff := cmp.Diff(want, openEverything(t, pool, keys.keyring(t, 2))); diff != "" {
		t.Errorf("with key 2 alone (-want +got):\n%s", diff)
	}
	for cell, plain := range openEverything(t, pool, keys.keyring(t, 1)) {
		if plain != "(does not open)" {
			t.Errorf("%v still opens with key 1", cell)
		}
	}
	if !bytes.Equal(hash, phoneHash(t, pool)) {
		t.Error("the phone blind index changed: replies would no longer match their survivor")
	}

	var audited string
	if err := pool.QueryRow(context.Background(), `SELECT detail::text FROM audit_log WHERE action = 'keys.rotate' AND staff_id IS NULL`).Scan(&audited); err != nil {
		t.Fatalf("rotation not audited: %v", err)
	}
	for _, part := range []string{`"via": "cli"`, `"key_id": 2`, `"messages": 23`, `"values_left": 0`} {
		if !strings.Contains(audited, part) {
			t.Errorf("audit detail %s lacks %s", audited, part)
		}
	}

	// A second run finds nothing to do.
	code, out, errOut = runCLI(t, keys.after(env), "keys", "rotate")
	if code != 0 || !strings.Contains(out, "messages: 0 rows re-sealed") {
		t.Errorf("second rotate: exit %d\n%s%s", code, out, errOut)
	}
}

// TestKeysRotateResumes: a rotation cut off half-way (Ctrl-C, a deploy)
// keeps the batches it finished, loses nothing, and the next run finishes.
func TestKeysRotateResumes(t *testing.T) {
	t.Parallel()
	url := dbtest.NewURL(t)
	keys := newKeyPair()
	env := testEnv(t, url)
	pool, err := db.Connect(context.Background(), url, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	want := sealEverything(t, pool, keys.keyring(t, 1), 20)

	cfg, err := LoadConfig(getenvFrom(keys.after(env)))
	if err != nil {
		t.Fatal(err)
	}
	kr, err := cfg.Keyring()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	batches := 0
	r := &keyRotation{pool: pool, keyring: kr, current: 2, batch: 5, progress: io.Discard,
		beforeWriteFunc: func(table string, _ int) {
			if table == "messages" {
				if batches++; batches == 3 {
					cancel() // killed while writing the third batch of messages
				}
			}
		}}
	if err := r.run(ctx); err == nil {
		t.Fatal("an interrupted rotation reported success")
	}
	counts, err := countSealed(context.Background(), pool)
	if err != nil {
		t.Fatal(err)
	}
	if got := counts.byKey["messages.body_enc"]; got[2] != 10 || got[1] != 10 {
		t.Errorf("after two of four batches: messages.body_enc by key %v, want 10 under each", got)
	}

	code, out, errOut := runCLI(t, keys.after(env), "keys", "rotate", "--batch", "5")
	if code != 0 || !strings.Contains(out, "messages: 10 rows re-sealed") {
		t.Fatalf("resumed rotate: exit %d\n%s%s", code, out, errOut)
	}
	if diff := cmp.Diff(want, openEverything(t, pool, keys.keyring(t, 2))); diff != "" {
		t.Errorf("after resuming, with key 2 alone (-want +got):\n%s", diff)
	}
}

// TestKeysRotateKeepsConcurrentWrites: the service keeps writing while the
// rotation runs. A row it is writing when the rotation reaches it is left
// for a later pass; a write that comes while the rotation holds the row
// waits and lands after it. Neither is overwritten with the stale value.
func TestKeysRotateKeepsConcurrentWrites(t *testing.T) {
	t.Parallel()
	url := dbtest.NewURL(t)
	keys := newKeyPair()
	pool, err := db.Connect(context.Background(), url, 8)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	kr1, kr2 := keys.keyring(t, 1), keys.keyring(t, 2)
	ctx := context.Background()
	var ids []uuid.UUID
	for i := range 4 {
		var id uuid.UUID
		phone := fmt.Sprintf("+9198765432%02d", i)
		if err := pool.QueryRow(ctx, `INSERT INTO survivors (case_code, reference_enc, phone_enc, phone_hash, language, channels, timezone)
			VALUES ($1, $2, $3, $4, 'hi', '{sms}', 'Asia/Kolkata') RETURNING id`, fmt.Sprintf("SA-%d", 1000+i),
			kr1.SealString(crypt.SurvivorReference, "OLD-REF"), kr1.SealString(crypt.SurvivorPhone, phone), kr1.BlindIndex(phone)).Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	busy, late := ids[1], ids[2]

	// The service is in the middle of changing one survivor's reference
	// (sealed with the new key, as the service runs with it).
	svc, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Rollback(ctx)
	if _, err := svc.Exec(ctx, "UPDATE survivors SET reference_enc = $1 WHERE id = $2", kr2.SealString(crypt.SurvivorReference, "BUSY-NEW"), busy); err != nil {
		t.Fatal(err)
	}

	allKeys, err := LoadConfig(getenvFrom(keys.after(testEnv(t, url))))
	if err != nil {
		t.Fatal(err)
	}
	kr, err := allKeys.Keyring()
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	lateErr := make(chan error, 1)
	r := &keyRotation{pool: pool, keyring: kr, current: 2, batch: 10, progress: io.Discard,
		beforeWriteFunc: func(table string, n int) {
			if table != "survivors" || n != 3 {
				return
			}
			// First pass, the busy row skipped: the service commits its
			// change, and another write arrives for a row rotation holds.
			if err := svc.Commit(ctx); err != nil {
				t.Error(err)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := pool.Exec(ctx, "UPDATE survivors SET reference_enc = $1 WHERE id = $2", kr2.SealString(crypt.SurvivorReference, "LATE-NEW"), late)
				lateErr <- err
			}()
		}}
	if err := r.run(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if err := <-lateErr; err != nil {
		t.Fatal(err)
	}

	want := map[uuid.UUID]string{ids[0]: "OLD-REF", busy: "BUSY-NEW", late: "LATE-NEW", ids[3]: "OLD-REF"}
	for id, ref := range want {
		var refEnc, phoneEnc []byte
		if err := pool.QueryRow(ctx, "SELECT reference_enc, phone_enc FROM survivors WHERE id = $1", id).Scan(&refEnc, &phoneEnc); err != nil {
			t.Fatal(err)
		}
		got, err := kr2.OpenString(crypt.SurvivorReference, refEnc)
		if err != nil || got != ref {
			t.Errorf("survivor %s reference: %q, %v; want %q under key 2", id, got, err, ref)
		}
		if _, err := kr2.OpenString(crypt.SurvivorPhone, phoneEnc); err != nil {
			t.Errorf("survivor %s phone not under key 2: %v", id, err)
		}
	}
}

// TestKeysUsage: mistakes name the problem and exit 2; settings that lack
// a key the data needs stop the rotation before it changes anything.
func TestKeysUsage(t *testing.T) {
	t.Parallel()
	url := dbtest.NewURL(t)
	keys := newKeyPair()
	env := keys.before(testEnv(t, url))
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"keys"}, "keys: give a subcommand: status or rotate"},
		{[]string{"keys", "spin"}, `keys: unknown subcommand "spin"`},
		{[]string{"keys", "status", "now"}, `keys status: unexpected argument "now"`},
		{[]string{"keys", "rotate", "now"}, `keys rotate: unexpected argument "now"`},
		{[]string{"keys", "rotate", "--batch", "0"}, "--batch must be 1 to 10000"},
		{[]string{"keys", "rotate", "--batch", "many"}, "keys rotate: invalid value"},
	} {
		code, _, errOut := runCLI(t, env, tt.args...)
		if code != 2 || !strings.Contains(errOut, tt.want) || !strings.Contains(errOut, "usage:") {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and %q", tt.args, code, errOut, tt.want)
		}
	}

	pool, err := db.Connect(context.Background(), url, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	want := sealEverything(t, pool, keys.keyring(t, 1), 3)
	// Key 2 without key 1 among the old keys.
	noOld := keys.after(testEnv(t, url))
	noOld["SAATHI_ENCRYPTION_OLD_KEYS"] = ""
	code, _, errOut := runCLI(t, noOld, "keys", "rotate")
	if code != 1 || !strings.Contains(errOut, "key 1 (") || !strings.Contains(errOut, "SAATHI_ENCRYPTION_OLD_KEYS") || !strings.Contains(errOut, "nothing was changed") {
		t.Errorf("rotate without the old key: exit %d, %q", code, errOut)
	}
	if diff := cmp.Diff(want, openEverything(t, pool, keys.keyring(t, 1))); diff != "" {
		t.Errorf("a refused rotation changed values (-want +got):\n%s", diff)
	}
	// After a rotation the blind-index key must be given explicitly.
	noIndex := keys.after(testEnv(t, url))
	noIndex["SAATHI_BLIND_INDEX_KEY"] = ""
	if code, _, errOut := runCLI(t, noIndex, "keys", "rotate"); code != 1 || !strings.Contains(errOut, "SAATHI_BLIND_INDEX_KEY is required") {
		t.Errorf("rotate without the blind-index key: exit %d, %q", code, errOut)
	}
}

// TestKeysRotateCoversEverySealedColumn: every *_enc column in the schema
// is rotated; a migration adding one must add it to sealedTables too.
func TestKeysRotateCoversEverySealedColumn(t *testing.T) {
	t.Parallel()
	pool, err := db.Connect(context.Background(), dbtest.NewURL(t), 2)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	rows, err := pool.Query(context.Background(), `SELECT table_name || '.' || column_name FROM information_schema.columns
		WHERE table_schema = 'public' AND data_type = 'bytea' AND column_name LIKE '%\_enc' ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	inSchema, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	var rotated []string
	for _, table := range sealedTables {
		for _, col := range table.columns {
			rotated = append(rotated, col.name)
		}
	}
	slices.Sort(rotated)
	if diff := cmp.Diff(inSchema, rotated); diff != "" {
		t.Errorf("sealed columns (-schema +rotated):\n%s", diff)
	}
}
