package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"saathi/db"
	"saathi/db/crypt"
	"saathi/jobs/risk"
	"saathi/jobs/schedule"
	"saathi/locales"
	"saathi/locales/segment"
)

// reconcileGrace is how long a send attempt with an unknown outcome is
// given for the provider's status callback to arrive before Saathi asks the
// provider directly whether the message exists.
const reconcileGrace = 2 * time.Minute

// Message statuses Saathi sets itself, besides the provider's.
const (
	// StatusAttempting is recorded before the provider is called: if the
	// process dies mid-call, the retry knows to reconcile, not resend.
	StatusAttempting = "attempting"
	StatusFailed     = "failed"
)

// CheckinSendArgs sends one check-in. Call is 0 for a check-in's first
// send; a voice check-in called again after nobody answered gets a job of
// its own per call.
type CheckinSendArgs struct {
	CheckinID uuid.UUID `json:"checkin_id" river:"unique"`
	Call      int       `json:"call,omitempty" river:"unique"`
}

// Kind names the job.
func (CheckinSendArgs) Kind() string { return "checkin_send" }

// InsertOpts makes the check-in ID unique across every job state River
// keeps: an occurrence is never enqueued twice, by two planners, a restart
// or an edited cadence.
func (CheckinSendArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: sendMaxAttempts, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// sendMaxAttempts with River's attempt⁴-second backoff keeps retrying a
// provider outage for about four days; then the check-in is marked failed,
// never left queued with no job behind it.
const sendMaxAttempts = 20

// CheckinSendWorker sends a check-in when it is safe to: inside a contact
// window, with consent for the channel at that moment, exactly once.
type CheckinSendWorker struct {
	river.WorkerDefaults[CheckinSendArgs]
	Deps *Deps
}

// Timeout leaves room for a provider call (10 s) and a reconcile lookup.
func (w *CheckinSendWorker) Timeout(*river.Job[CheckinSendArgs]) time.Duration {
	return 45 * time.Second
}

// sendPlan is what the first transaction decided.
type sendPlan struct {
	done      bool          // nothing (more) to do
	snooze    time.Duration // not now: wait
	reconcile *db.Message   // an earlier attempt's outcome is unknown
	attempt   *db.Message   // a new attempt, recorded, to send now
	sms       SMS
	call      *Call // set instead of sms for a voice check-in
}

// Work runs the check-in's state machine.
func (w *CheckinSendWorker) Work(ctx context.Context, job *river.Job[CheckinSendArgs]) error {
	err := w.work(ctx, job)
	var snooze *river.JobSnoozeError
	var cancel *river.JobCancelError
	if err != nil && job.Attempt >= job.MaxAttempts && !errors.As(err, &snooze) && !errors.As(err, &cancel) {
		w.giveUp(context.WithoutCancel(ctx), job, err)
	}
	return err
}

// giveUp marks a check-in failed when its last attempt fails, so it shows
// on the timeline and is not mistaken for one still on its way.
func (w *CheckinSendWorker) giveUp(ctx context.Context, job *river.Job[CheckinSendArgs], cause error) {
	reason := fmt.Sprintf("gave up after %d attempts", job.Attempt)
	err := db.New(w.Deps.Pool).CheckinGiveUp(ctx, db.CheckinGiveUpParams{ID: job.Args.CheckinID, Reason: &reason, Now: w.Deps.now()})
	w.Deps.Logger.Error("check-in not sent", "checkin_id", job.Args.CheckinID, "attempts", job.Attempt, "err", cause, "record_err", err)
}

func (w *CheckinSendWorker) work(ctx context.Context, job *river.Job[CheckinSendArgs]) error {
	now := w.Deps.now()
	var plan sendPlan
	err := pgx.BeginFunc(ctx, w.Deps.Pool, func(tx pgx.Tx) error {
		var err error
		plan, err = w.decide(ctx, db.New(tx), job.Args.CheckinID, job.Args.Call, now)
		return err
	})
	if err != nil {
		if errors.Is(err, db.ErrNotFound) {
			return river.JobCancel(fmt.Errorf("check-in %s does not exist", job.Args.CheckinID))
		}
		return fmt.Errorf("check-in %s: %w", job.Args.CheckinID, err)
	}
	switch {
	case plan.done:
		return nil
	case plan.snooze > 0:
		return river.JobSnooze(plan.snooze)
	case plan.reconcile != nil:
		return w.reconcile(ctx, job.Args.CheckinID, plan, now)
	}
	var res SendResult
	var sendErr error
	if plan.call != nil {
		res, sendErr = w.Deps.Caller.PlaceCall(ctx, *plan.call)
		w.Deps.Metrics.sendOutcome("voice", sendErr)
	} else {
		res, sendErr = w.Deps.Sender.SendSMS(ctx, plan.sms)
		w.Deps.Metrics.sendOutcome("sms", sendErr)
	}
	return w.record(ctx, job.Args.CheckinID, plan.attempt, res, sendErr)
}

// decide locks the check-in and works out what to do for the job of its
// call-th call (0 for a text or a first call), recording a new attempt
// when a message is to be sent. On the common path that is three
// statements: lock-and-read, record the attempt, commit.
func (w *CheckinSendWorker) decide(ctx context.Context, q *db.Queries, id uuid.UUID, call int, now time.Time) (sendPlan, error) {
	ci, err := q.CheckinLockForSend(ctx, id)
	if err != nil {
		return sendPlan{}, db.NotFound(err)
	}
	if ci.State != "queued" && ci.State != "sending" {
		return sendPlan{done: true}, nil
	}
	skip := func(reason string) (sendPlan, error) {
		return sendPlan{done: true}, q.CheckinSetState(ctx, db.CheckinSetStateParams{ID: id, State: "skipped", Reason: &reason, Now: now})
	}
	if ci.SurvivorStatus != "active" {
		return skip("survivor erased")
	}

	// A check-in is 'sending' only while an attempt is on record: if one
	// was accepted, the check-in is sent; if one's outcome is unknown, find
	// out before sending anything. ('queued' means no attempt is open: a
	// refused attempt puts the check-in back to 'queued'.)
	if ci.State == "sending" {
		msgs, err := q.MessageListForCheckin(ctx, id)
		if err != nil {
			return sendPlan{}, err
		}
		for _, m := range msgs {
			if m.ProviderSid != nil {
				return sendPlan{done: true}, q.CheckinSetState(ctx, db.CheckinSetStateParams{ID: id, State: "sent", SentAt: &m.CreatedAt, Now: now})
			}
			if m.Status == StatusAttempting {
				return sendPlan{reconcile: &m}, nil
			}
		}
	}
	// Between calls a voice check-in is 'queued' again, for the next call's
	// own job. This job's call may have gone out already: its worker
	// recorded the call and died before River recorded the job done, and
	// River's rescuer runs the job again. Calls counts the attempts started,
	// so the record is read only when an attempt was made.
	if ci.State == "queued" && int(ci.Calls) > call {
		msgs, err := q.MessageListForCheckin(ctx, id)
		if err != nil {
			return sendPlan{}, err
		}
		placed := 0
		for _, m := range msgs {
			if m.ProviderSid != nil {
				placed++
			}
		}
		if placed > call {
			return sendPlan{done: true}, nil
		}
	}

	loc, err := time.LoadLocation(ci.Timezone)
	if err != nil {
		return sendPlan{}, fmt.Errorf("time zone: %w", err)
	}
	windows, err := decodeWindows(ci.Windows)
	if err != nil {
		return sendPlan{}, err
	}
	// A callback goes at once: the survivor asked for it by ringing, so
	// this is a moment they chose. Calling again later keeps to windows.
	asked := ci.Kind == "callback" && ci.Calls == 0
	if !asked && !schedule.Allowed(windows, loc, now) {
		next, ok := schedule.NextSafe(windows, loc, now)
		if !ok {
			return skip("no usable contact window")
		}
		return sendPlan{snooze: next.Sub(now)}, nil
	}

	channel := sendChannel(ci.Channel, ci.Channels, ci.Consented)
	if channel == "" {
		return skip("no consent")
	}
	to, err := w.Deps.Keyring.OpenString(crypt.SurvivorPhone, ci.PhoneEnc)
	if err != nil {
		return sendPlan{}, err
	}
	if channel == "voice" {
		return w.planCall(ctx, q, ci, to, now)
	}
	body, err := w.Deps.Catalog.Text(ci.Language, locales.CheckinSMS, nil)
	if err != nil {
		return sendPlan{}, err
	}
	enc, segs := segment.Count(body)
	templateID := w.Deps.Templates[locales.CheckinSMS+"."+ci.Language]
	msgID, err := q.CheckinStartAttempt(ctx, db.CheckinStartAttemptParams{
		CheckinID: &id, Channel: channel, SurvivorID: &ci.SurvivorID,
		PeerHash: w.Deps.Keyring.BlindIndex(to), PeerEnc: w.Deps.Keyring.SealString(crypt.MessagePeer, to),
		BodyEnc: w.Deps.Keyring.SealString(crypt.MessageBody, body), Template: ptr(locales.CheckinSMS),
		DltTemplateID: nonEmpty(templateID), Language: &ci.Language, Provider: providerName(w.Deps.Sender),
		Segments: ptr(int32(segs)), Encoding: ptr(string(enc)), Now: now,
	})
	if err != nil {
		return sendPlan{}, err
	}
	until, _ := schedule.OpenUntil(windows, loc, now)
	return sendPlan{attempt: &db.Message{ID: msgID, SurvivorID: &ci.SurvivorID}, sms: SMS{
		To: to, Body: body, TemplateID: templateID, ValidFor: until.Sub(now),
		StatusCallback: w.Deps.PublicURL + "/twilio/status?m=" + strconv.FormatInt(msgID, 10),
	}}, nil
}

// planCall records a call attempt and says how to place it: the call's
// TwiML and status callbacks point at the attempt's message row.
func (w *CheckinSendWorker) planCall(ctx context.Context, q *db.Queries, ci db.CheckinLockForSendRow, to string, now time.Time) (sendPlan, error) {
	if w.Deps.Caller == nil {
		return sendPlan{done: true}, q.CheckinSetState(ctx, db.CheckinSetStateParams{ID: ci.ID, State: "skipped", Reason: ptr("calls not configured"), Now: now})
	}
	msgID, err := q.CheckinStartAttempt(ctx, db.CheckinStartAttemptParams{
		CheckinID: &ci.ID, Channel: "voice", SurvivorID: &ci.SurvivorID,
		PeerHash: w.Deps.Keyring.BlindIndex(to), PeerEnc: w.Deps.Keyring.SealString(crypt.MessagePeer, to),
		Template: ptr(locales.VoiceCheckin), Language: &ci.Language, Provider: providerName(w.Deps.Caller), Now: now,
	})
	if err != nil {
		return sendPlan{}, err
	}
	m := strconv.FormatInt(msgID, 10)
	return sendPlan{attempt: &db.Message{ID: msgID, SurvivorID: &ci.SurvivorID}, call: &Call{
		To: to, URL: w.Deps.PublicURL + "/twilio/voice/answer?m=" + m,
		StatusCallback: w.Deps.PublicURL + "/twilio/voice/status?m=" + m,
		RingFor:        w.Deps.ringFor(), TimeLimit: callTimeLimit,
	}}, nil
}

// callTimeLimit ends a check-in call: the menu, a repeat and an answer
// take well under a minute.
const callTimeLimit = 3 * time.Minute

// decodeWindows reads contact windows aggregated as JSON by the database.
func decodeWindows(raw []byte) ([]schedule.ContactWindow, error) {
	var rows []struct {
		Days  []string `json:"days"`
		Start int      `json:"start"`
		End   int      `json:"end"`
	}
	if err := json.Unmarshal(raw, &rows); err != nil {
		return nil, fmt.Errorf("contact windows: %w", err)
	}
	out := make([]schedule.ContactWindow, 0, len(rows))
	for _, r := range rows {
		w, err := StoredWindow(r.Days, r.Start, r.End)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, nil
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// record stores the provider's answer.
func (w *CheckinSendWorker) record(ctx context.Context, id uuid.UUID, attempt *db.Message, res SendResult, sendErr error) error {
	now := w.Deps.now()
	var se *SendError
	if sendErr != nil && !errors.As(sendErr, &se) {
		// Unknown outcome: the attempt stays 'attempting' and the retry
		// reconciles before sending again.
		return fmt.Errorf("send check-in %s: %w", id, sendErr)
	}
	if sendErr == nil {
		// One statement: atomic without a transaction around it.
		if err := markSent(ctx, db.New(w.Deps.Pool), id, attempt.ID, res, now); err != nil {
			return fmt.Errorf("record send of check-in %s: %w", id, err)
		}
		return nil
	}
	var retry error
	err := pgx.BeginFunc(ctx, w.Deps.Pool, func(tx pgx.Tx) error {
		q := db.New(tx)
		// Twilio's error text can quote the number: only the code is kept.
		code := int32(se.Code)
		if err := q.MessageFailed(ctx, db.MessageFailedParams{ID: attempt.ID, ErrorCode: &code, Now: now}); err != nil {
			return err
		}
		switch {
		case se.Retryable():
			retry = sendErr
			return q.CheckinSetState(ctx, db.CheckinSetStateParams{ID: id, State: "queued", Now: now})
		case se.Code == CodeUnsubscribed:
			// The carrier says the survivor opted out: record it as their
			// withdrawal, so nothing else is sent until they opt in again.
			if err := withdrawByCarrier(ctx, q, *attempt.SurvivorID, now); err != nil {
				return err
			}
			return q.CheckinSetState(ctx, db.CheckinSetStateParams{ID: id, State: "skipped", Reason: ptr("unsubscribed at carrier"), Now: now})
		default: // the number itself is refused
			reason := "invalid number"
			if se.Code != CodeInvalidNumber {
				reason = "number refused (" + strconv.Itoa(se.Code) + ")"
			}
			if err := q.CheckinSetState(ctx, db.CheckinSetStateParams{ID: id, State: "failed", Reason: &reason, Now: now}); err != nil {
				return err
			}
			// The caseworker must fix the number: flag it for them.
			_, err := RaiseFlag(ctx, w.Deps, river.ClientFromContext[pgx.Tx](ctx), tx, db.RiskFlagCreateParams{
				SurvivorID: *attempt.SurvivorID, Kind: risk.KindInvalidNumber, Severity: string(w.Deps.rules().Signals.InvalidNumber), CheckinID: &id, Now: now,
			})
			return err
		}
	})
	if err != nil {
		return fmt.Errorf("record send of check-in %s: %w", id, err)
	}
	return retry
}

// reconcile settles an attempt whose outcome is unknown.
func (w *CheckinSendWorker) reconcile(ctx context.Context, id uuid.UUID, plan sendPlan, now time.Time) error {
	m := plan.reconcile
	if age := now.Sub(m.CreatedAt); age < reconcileGrace {
		return river.JobSnooze(reconcileGrace - age)
	}
	to, err := w.Deps.Keyring.OpenString(crypt.MessagePeer, m.PeerEnc)
	if err != nil {
		return err
	}
	var candidates []SendResult
	if m.Channel == "voice" {
		// A call has no body to compare: any call to the number since the
		// attempt that no other attempt has claimed is this one.
		candidates, err = w.Deps.Caller.FindCalls(ctx, to, m.CreatedAt.Add(-time.Minute))
	} else {
		var body string
		if body, err = w.Deps.Keyring.OpenString(crypt.MessageBody, m.BodyEnc); err != nil {
			return err
		}
		candidates, err = w.Deps.Sender.FindSMS(ctx, to, body, m.CreatedAt.Add(-time.Minute))
	}
	if err != nil {
		return fmt.Errorf("reconcile check-in %s: %w", id, err)
	}
	var found bool
	err = pgx.BeginFunc(ctx, w.Deps.Pool, func(tx pgx.Tx) error {
		q := db.New(tx)
		res, ok, err := unclaimed(ctx, q, candidates)
		if err != nil {
			return err
		}
		if found = ok; found {
			return markSent(ctx, q, id, m.ID, res, now)
		}
		if err := q.MessageFailed(ctx, db.MessageFailedParams{ID: m.ID, ErrorMessage: ptr("not accepted by the provider (reconciled after an interrupted send)"), Now: now}); err != nil {
			return err
		}
		// No attempt is open any more: back to 'queued' for a fresh one.
		return q.CheckinSetState(ctx, db.CheckinSetStateParams{ID: id, State: "queued", Now: now})
	})
	if err != nil {
		return err
	}
	if found {
		return nil
	}
	// Not at the provider: send afresh (the next run records a new attempt).
	return river.JobSnooze(time.Second)
}

// unclaimed picks the first message the provider reports that no attempt
// has claimed yet: every check-in text in a language is the same, so a
// message found for this number may belong to another check-in.
func unclaimed(ctx context.Context, q *db.Queries, candidates []SendResult) (SendResult, bool, error) {
	for _, c := range candidates {
		_, err := q.MessageGetBySID(ctx, c.SID)
		if errors.Is(err, pgx.ErrNoRows) {
			return c, true, nil
		}
		if err != nil {
			return SendResult{}, false, err
		}
	}
	return SendResult{}, false, nil
}

func markSent(ctx context.Context, q *db.Queries, checkinID uuid.UUID, msgID int64, res SendResult, now time.Time) error {
	status := res.Status
	if status == "" {
		status = "accepted"
	}
	return q.CheckinMarkSent(ctx, db.CheckinMarkSentParams{CheckinID: checkinID, MessageID: msgID, ProviderSid: res.SID, Status: status, Now: now})
}

// withdrawByCarrier records a carrier block (21610) as a withdrawal of SMS
// consent. The survivor's row is locked first, as every consent change
// does, so the record cannot slip in before a staff member's concurrent one.
func withdrawByCarrier(ctx context.Context, q *db.Queries, survivorID uuid.UUID, now time.Time) error {
	if _, err := q.SurvivorGetForUpdate(ctx, survivorID); err != nil {
		return err
	}
	_, err := q.ConsentRecordCreate(ctx, db.ConsentRecordCreateParams{
		SurvivorID: survivorID, Action: "withdraw", Channels: []string{"sms"}, Method: "carrier_block",
		Source: "carrier", RecordedAt: now,
	})
	return err
}

// CurrentConsent says, per channel, whether the survivor's latest consent
// record for it gives consent. A channel never mentioned is absent (false).
func CurrentConsent(ctx context.Context, q *db.Queries, id uuid.UUID) (map[string]bool, error) {
	rows, err := q.ConsentLatest(ctx, id)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, r := range rows {
		out[r.Channel] = r.Action == "give"
	}
	return out, nil
}

func providerName(s any) string {
	if n, ok := s.(interface{ Name() string }); ok {
		return n.Name()
	}
	return "twilio"
}

func ptr[T any](v T) *T { return &v }

// sendChannel is the channel a check-in goes out on: its own channel if it
// has one, or else the first of sms, voice among the survivor's channels;
// either way one they consent to now. "" means none may be used: the
// sender skips the check-in (and pacing gives it no slot).
func sendChannel(own *string, channels, consented []string) string {
	usable := func(ch string) bool { return slices.Contains(channels, ch) && slices.Contains(consented, ch) }
	if own != nil {
		if usable(*own) {
			return *own
		}
		return ""
	}
	for _, ch := range []string{"sms", "voice"} {
		if usable(ch) {
			return ch
		}
	}
	return ""
}
