package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"saathi/db"
	"saathi/jobs/schedule"
)

// Sending is paced to the provider. Twilio takes a fixed rate per sender
// (about one text a second on a long code, more on a short code or a
// Messaging Service) and queues the rest: a text waiting in Twilio's queue
// eats the check-in's validity period, and calls beyond the account's
// calls-per-second fail. So the planner gives each routine check-in a send
// time (a slot) no sooner than the rate allows, per channel, across all
// processes and ticks, and still inside the survivor's contact window.
//
// Slots come from time buckets (whole seconds, aligned on the Unix epoch)
// that each hold at most `capacity` sends; send_pacing counts what each
// bucket already holds, and the planner updates it in the transaction that
// queues the sends. Urgent traffic (alert texts, answers to replies,
// callbacks, follow-ups, staff's ad-hoc check-ins) takes no slot: it is
// never held behind routine check-ins.

// Pace is a send rate per second for all processes together; 0 means
// unpaced.
type Pace float64

// paceLead is how long before its slot a paced send job becomes available.
// River's scheduler makes scheduled jobs available every 5 s (not
// configurable), so a job scheduled at its slot could start up to 5 s late,
// with the jobs of five seconds at once. Made available this much earlier,
// the job waits in paceWait until its slot instead.
const paceLead = 7 * time.Second

// paceHorizon bounds the search for a free slot: a backlog longer than this
// is an operational problem (a rate set far too low), not something to
// hide by queueing sends for weeks.
const paceHorizon = 14 * 24 * time.Hour

// paceChunk is how many buckets are read from send_pacing at a time.
const paceChunk = 3600

// metaSendAt is the job metadata key holding a paced job's slot.
const metaSendAt = "saathi_send_at"

// buckets returns the bucket width and how many sends a bucket holds for
// a rate: whole seconds, so no calendar second ever holds more than the
// rate. Below 1/s a bucket spans several seconds and holds one send; above,
// a fractional rate is rounded down (2.5/s holds 2 a second).
func (p Pace) buckets() (width time.Duration, capacity int) {
	if p >= 1 {
		return time.Second, int(math.Floor(float64(p)))
	}
	return time.Duration(math.Ceil(1/float64(p))) * time.Second, 1
}

// slotter hands out one channel's slots inside a planner transaction,
// holding the channel's advisory lock until the transaction ends.
type slotter struct {
	q        *db.Queries
	channel  string
	width    time.Duration
	capacity int
	taken    map[int64]int   // bucket index → sends it holds
	loaded   map[int64]bool  // chunk index → read from send_pacing
	dirty    map[int64]bool  // buckets to write back
	skip     map[int64]int64 // full bucket → a later bucket to look at next
}

func newSlotter(ctx context.Context, q *db.Queries, channel string, rate Pace) (*slotter, error) {
	if err := q.PacingLock(ctx, channel); err != nil {
		return nil, fmt.Errorf("lock %s pacing: %w", channel, err)
	}
	width, capacity := rate.buckets()
	return &slotter{q: q, channel: channel, width: width, capacity: capacity,
		taken: map[int64]int{}, loaded: map[int64]bool{}, dirty: map[int64]bool{}, skip: map[int64]int64{}}, nil
}

// bucketOf is the bucket holding t (times are after 1970: integer
// division floors).
func (s *slotter) bucketOf(t time.Time) int64 { return t.UnixNano() / int64(s.width) }

func (s *slotter) start(b int64) time.Time { return time.Unix(0, b*int64(s.width)) }

// load reads the chunk of buckets holding b, once.
func (s *slotter) load(ctx context.Context, b int64) error {
	c := b / paceChunk
	if s.loaded[c] {
		return nil
	}
	rows, err := s.q.PacingTaken(ctx, db.PacingTakenParams{Channel: s.channel,
		Since: s.start(c * paceChunk), Until: s.start((c + 1) * paceChunk)})
	if err != nil {
		return fmt.Errorf("read %s pacing: %w", s.channel, err)
	}
	for _, r := range rows {
		s.taken[s.bucketOf(r.StartsAt)] = int(r.Taken)
	}
	s.loaded[c] = true
	return nil
}

// take returns the first free slot at or after at that is inside the
// survivor's contact windows (none: any time is), and counts it. A bucket's
// sends are spaced over the first half of it, so a send that starts a
// little late still lands in its own second. ok is false when there is no
// free slot within paceHorizon (or no safe moment at all): the caller
// sends unpaced rather than stall every later check-in behind this one.
func (s *slotter) take(ctx context.Context, at time.Time, sc survivorSchedule) (slot time.Time, ok bool, err error) {
	step := s.width / time.Duration(2*s.capacity)
	limit := at.Add(paceHorizon)
	t := at
	for {
		b, err := s.free(ctx, s.bucketOf(t))
		if err != nil {
			return time.Time{}, false, err
		}
		slot := s.start(b).Add(time.Duration(s.taken[b]) * step)
		if slot.Before(t) {
			slot = t
		}
		if slot.Sub(s.start(b)) >= s.width/2 {
			// Late in its bucket (at fell there): a late start could
			// carry it into the next second, with that second's own.
			t = s.start(b + 1)
			continue
		}
		if slot.After(limit) {
			return time.Time{}, false, nil
		}
		if len(sc.windows) > 0 {
			next, ok := s.inside(sc, slot)
			if !ok {
				return time.Time{}, false, nil
			}
			if !next.Equal(slot) {
				t = next
				continue
			}
		}
		s.taken[b]++
		s.dirty[b] = true
		return slot, true, nil
	}
}

// paceSlack is how long before a window's last start no slot is given: a
// send that starts a little after its slot must still find the window open
// (the sender checks again, and would put it off to the next window).
const paceSlack = time.Minute

// inside returns slot if a send may start then and paceSlack later, or else
// the next safe moment after it: never a moment outside the windows.
func (s *slotter) inside(sc survivorSchedule, slot time.Time) (time.Time, bool) {
	if !schedule.Allowed(sc.windows, sc.loc, slot) {
		return schedule.NextSafe(sc.windows, sc.loc, slot)
	}
	if schedule.Allowed(sc.windows, sc.loc, slot.Add(paceSlack)) {
		return slot, true
	}
	// Too close to the window's last start: the next window's opening.
	until, _ := schedule.OpenUntil(sc.windows, sc.loc, slot)
	return schedule.NextSafe(sc.windows, sc.loc, until)
}

// free returns the first bucket at or after b with room. Full buckets
// remember where the search went on (path compression), so a long backlog
// is walked once per transaction, not once per check-in.
func (s *slotter) free(ctx context.Context, b int64) (int64, error) {
	var path []int64
	for {
		if err := s.load(ctx, b); err != nil {
			return 0, err
		}
		if s.taken[b] < s.capacity {
			break
		}
		path = append(path, b)
		if next, ok := s.skip[b]; ok {
			b = next
		} else {
			b++
		}
	}
	for _, p := range path {
		s.skip[p] = b
	}
	return b, nil
}

// save writes the buckets this transaction filled.
func (s *slotter) save(ctx context.Context) error {
	if len(s.dirty) == 0 {
		return nil
	}
	p := db.PacingSaveParams{Channel: s.channel}
	for b := range s.dirty {
		p.StartsAt = append(p.StartsAt, s.start(b))
		p.Taken = append(p.Taken, int32(s.taken[b]))
	}
	if err := s.q.PacingSave(ctx, p); err != nil {
		return fmt.Errorf("save %s pacing: %w", s.channel, err)
	}
	return nil
}

// pacedOpts are the insert options of a send paced to slot: available
// paceLead early (River's scheduler is coarse), with the slot in the
// metadata for paceWait.
func pacedOpts(slot, now time.Time) *river.InsertOpts {
	meta, _ := json.Marshal(map[string]time.Time{metaSendAt: slot.UTC()})
	opts := &river.InsertOpts{Metadata: meta}
	if early := slot.Add(-paceLead); early.After(now) {
		opts.ScheduledAt = early
	}
	return opts
}

// PaceMiddleware holds a paced send job until its slot: River made it
// available up to paceLead early. Jobs without a slot (urgent ones, and
// every job of any other kind) pass straight through, and so does a job
// whose slot has passed (a retry, a snoozed send). Install it in every
// worker process (ClientConfig does).
type PaceMiddleware struct {
	river.MiddlewareDefaults
}

// Work waits for the job's slot, then works it.
func (PaceMiddleware) Work(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) error {
	if wait := paceWait(job, time.Now()); wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return doInner(ctx)
}

// paceWait is how long a job must wait for its slot. Never longer than the
// lead: a slot further away means the clock moved (or a test's clock is
// not the real one), and the sender's own window check still applies.
func paceWait(job *rivertype.JobRow, now time.Time) time.Duration {
	if job.Kind != (CheckinSendArgs{}).Kind() || len(job.Metadata) == 0 {
		return 0
	}
	var meta map[string]json.RawMessage
	if json.Unmarshal(job.Metadata, &meta) != nil {
		return 0
	}
	raw, ok := meta[metaSendAt]
	if !ok {
		return 0
	}
	var slot time.Time
	if json.Unmarshal(raw, &slot) != nil {
		return 0
	}
	return min(slot.Sub(now), paceLead+time.Second)
}
