package jobs_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"saathi/db"
	"saathi/db/crypt"
	"saathi/db/dbtest"
	"saathi/jobs"
	"saathi/jobs/reply"
	"saathi/jobs/schedule"
	"saathi/jobs/telephony"
	"saathi/jobs/telephony/twiliofake"
	"saathi/locales"
	"saathi/locales/lexicon"
)

// clock is an injectable, settable time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *clock) Add(d time.Duration) { c.Set(c.Now().Add(d)) }

type fixture struct {
	t          testing.TB
	pool       *pgxpool.Pool
	keyring    *crypt.Keyring
	fake       *twiliofake.Server
	deps       *jobs.Deps
	clock      *clock
	driver     *riverpgxv5.Driver
	caseworker uuid.UUID
}

var kolkata = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Kolkata")
	if err != nil {
		panic(err)
	}
	return loc
}()

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func setup(t testing.TB) *fixture {
	t.Helper()
	pool := dbtest.NewPool(t)
	kr := dbtest.Keyring(t)
	catalog, err := locales.NewCatalog()
	if err != nil {
		t.Fatal(err)
	}
	parser, err := reply.NewParser(lexicon.FS)
	if err != nil {
		t.Fatal(err)
	}
	fake := twiliofake.New(t)
	sender, err := telephony.NewTwilio(telephony.TwilioConfig{
		AccountSID: fake.AccountSID, AuthToken: fake.AuthToken, From: "+15005550006",
		BaseURL: fake.URL, Timeout: 2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	// Wednesday 25 November 2026, 11:00 in India.
	clk := &clock{t: time.Date(2026, 11, 25, 11, 0, 0, 0, kolkata)}
	f := &fixture{
		t: t, pool: pool, keyring: kr, fake: fake, clock: clk, driver: riverpgxv5.New(pool),
		deps: &jobs.Deps{
			Pool: pool, Keyring: kr, Catalog: catalog, Replies: parser, Sender: sender, Caller: sender, Logger: quiet(),
			PublicURL: "https://saathi.example.org", NowFunc: clk.Now,
		},
	}
	var id uuid.UUID
	if err := pool.QueryRow(context.Background(),
		`INSERT INTO staff (name_enc, role, token_hash) VALUES ('\x00', 'caseworker', convert_to(gen_random_uuid()::text, 'UTF8')) RETURNING id`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	f.caseworker = id
	return f
}

// survivorSpec describes a survivor to insert directly.
type survivorSpec struct {
	phone    string
	language string
	channels []string
	consent  []string
	tz       *time.Location
	windows  []schedule.ContactWindow
}

var weekdays = []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}

func (f *fixture) defaultSpec(phone string) survivorSpec {
	return survivorSpec{
		phone: phone, language: "hi", channels: []string{"sms"}, consent: []string{"sms"}, tz: kolkata,
		windows: []schedule.ContactWindow{{Days: weekdays, Start: 10 * 60, End: 17 * 60}},
	}
}

// addSurvivor inserts a survivor with windows and consent, bypassing the API.
func (f *fixture) addSurvivor(sp survivorSpec) uuid.UUID {
	f.t.Helper()
	ctx := context.Background()
	var id uuid.UUID
	err := pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
		q := db.New(tx)
		sv, err := q.SurvivorCreate(ctx, db.SurvivorCreateParams{
			CaseCode:     jobs.NewCaseCode(9), // six digits: no collision in tests
			ReferenceEnc: f.keyring.SealString(crypt.SurvivorReference, "REF"),
			PhoneEnc:     f.keyring.SealString(crypt.SurvivorPhone, sp.phone),
			PhoneHash:    f.keyring.BlindIndex(sp.phone),
			Language:     sp.language, Channels: sp.channels, Timezone: sp.tz.String(),
			CaseworkerID: &f.caseworker, Now: f.clock.Now(),
		})
		if err != nil {
			return err
		}
		id = sv.ID
		for i, w := range sp.windows {
			days := make([]string, len(w.Days))
			for j, d := range w.Days {
				days[j] = schedule.DayName(d)
			}
			if err := q.ContactWindowCreate(ctx, db.ContactWindowCreateParams{SurvivorID: id, Position: int32(i), Days: days, StartMinute: int32(w.Start), EndMinute: int32(w.End)}); err != nil {
				return err
			}
		}
		if len(sp.consent) > 0 {
			_, err = q.ConsentRecordCreate(ctx, db.ConsentRecordCreateParams{SurvivorID: id, Action: "give", Channels: sp.consent, Method: "verbal", Source: "staff", RecordedAt: f.clock.Now()})
		}
		return err
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return id
}

// addCheckin inserts a check-in in the given state.
func (f *fixture) addCheckin(survivor uuid.UUID, due time.Time, state string, channel *string) uuid.UUID {
	f.t.Helper()
	ci, err := db.New(f.pool).CheckinCreate(context.Background(), db.CheckinCreateParams{
		SurvivorID: survivor, Kind: "adhoc", Channel: channel, DueAt: due, State: state,
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return ci.ID
}

func (f *fixture) checkin(id uuid.UUID) db.Checkin {
	f.t.Helper()
	ci, err := db.New(f.pool).CheckinGet(context.Background(), id)
	if err != nil {
		f.t.Fatal(err)
	}
	return ci
}

func (f *fixture) count(sql string, args ...any) int {
	f.t.Helper()
	var n int
	if err := f.pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		f.t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// riverConfig is a client config with Saathi's workers.
func (f *fixture) riverConfig() *river.Config {
	workers := river.NewWorkers()
	jobs.Register(workers, f.deps)
	return &river.Config{Workers: workers, Logger: quiet()}
}

// NowOrNil makes clock a River TimeGenerator, so River's own scheduling
// (snoozes, retries, inserts) follows the test's clock too.
func (c *clock) NowOrNil() *time.Time {
	t := c.Now()
	return &t
}
