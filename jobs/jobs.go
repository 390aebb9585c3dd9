// Package jobs holds Saathi's River jobs: one file per job kind, each with
// its args type and worker. Workers get their dependencies through Deps;
// they talk to the outside world only through the small interfaces defined
// here (Sender), so tests run them against fakes of those interfaces or a
// fake Twilio.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"saathi/db/crypt"
	"saathi/jobs/reply"
	"saathi/jobs/risk"
	"saathi/locales"
)

// Deps are what workers need. Every field is set by the composition root.
type Deps struct {
	Pool    *pgxpool.Pool
	Keyring *crypt.Keyring
	Catalog *locales.Catalog
	Replies *reply.Parser
	Sender  Sender
	// Caller places voice check-in calls; nil until voice is configured.
	Caller Caller
	// RingFor is how long a check-in call rings before it counts as not
	// answered; 0 means 20 s, before most voicemail picks up.
	RingFor time.Duration
	Logger  *slog.Logger
	// PublicURL is the base URL Twilio calls back (status callbacks).
	PublicURL string
	// Templates holds optional DLT template IDs per message ID (India).
	Templates map[string]string
	// Rules maps replies and silences to risk flags; nil means the
	// built-in rules.
	Rules *risk.Rules
	// NowFunc returns the current time; tests inject a clock.
	NowFunc func() time.Time
	// Metrics counts sends and alerts; nil counts nothing.
	Metrics *Metrics
	// SMSRate and CallRate pace routine check-ins to the provider: sends
	// per second for all processes together (pacing.go). 0 leaves the
	// channel unpaced; the composition root always sets a rate.
	SMSRate, CallRate Pace
}

// rate is the pace of a channel's routine check-ins.
func (d *Deps) rate(channel string) Pace {
	switch channel {
	case "sms":
		return d.SMSRate
	case "voice":
		return d.CallRate
	}
	return 0
}

var defaultRules = risk.Default()

// RiskRules returns the rules in force: Rules, or the built-in ones.
func (d *Deps) RiskRules() risk.Rules {
	if d.Rules != nil {
		return *d.Rules
	}
	return defaultRules
}

func (d *Deps) rules() risk.Rules { return d.RiskRules() }

func (d *Deps) ringFor() time.Duration {
	if d.RingFor > 0 {
		return d.RingFor
	}
	return 20 * time.Second
}

func (d *Deps) now() time.Time {
	if d.NowFunc != nil {
		return d.NowFunc()
	}
	return time.Now()
}

// SMS is one outbound text.
type SMS struct {
	To   string // E.164
	Body string
	// StatusCallback is where the provider reports delivery.
	StatusCallback string
	// TemplateID is the DLT template ID, for providers that take one.
	TemplateID string
	// ValidFor, when set, is how long the provider may hold the message in
	// its queue: a check-in that cannot reach the phone before the
	// survivor's window closes must not arrive at all.
	ValidFor time.Duration
}

// SendResult is the provider's acceptance of a message.
type SendResult struct {
	SID    string
	Status string
}

// Sender sends texts through a provider (Twilio, or the dev outbox).
type Sender interface {
	// SendSMS hands a text to the provider. A *SendError says whether a
	// retry can help; any other error (timeout, connection reset) leaves it
	// unknown whether the provider accepted the message.
	SendSMS(ctx context.Context, sms SMS) (SendResult, error)
	// FindSMS lists the texts to `to` with this body accepted since
	// `since`, newest first: after a crash between sending and recording,
	// it tells whether the provider already has the message.
	FindSMS(ctx context.Context, to, body string, since time.Time) ([]SendResult, error)
}

// Call is one outbound check-in call.
type Call struct {
	To string // E.164
	// URL is where the provider fetches the call's TwiML once it is
	// answered and machine detection has decided who answered.
	URL string
	// StatusCallback receives the call's initiated, ringing, answered and
	// completed events.
	StatusCallback string
	// RingFor is how long the phone rings before the call counts as not
	// answered: short enough to end before most voicemail picks up.
	RingFor time.Duration
	// TimeLimit ends the call after this long, whatever happens.
	TimeLimit time.Duration
}

// Caller places calls through a provider (Twilio, or the dev outbox).
// Every call it places uses synchronous answering-machine detection: the
// call's URL is fetched only once the provider knows whether a person or
// a machine answered, so a voicemail never hears a word.
type Caller interface {
	// PlaceCall asks the provider to place a call. A *SendError says
	// whether a retry can help; any other error leaves it unknown whether
	// the provider accepted the call. Errors never quote the number.
	PlaceCall(ctx context.Context, c Call) (SendResult, error)
	// FindCalls lists the calls to `to` the provider created since
	// `since`, newest first: after a crash between placing and recording,
	// it tells whether the provider already has the call.
	FindCalls(ctx context.Context, to string, since time.Time) ([]SendResult, error)
}

// Provider error codes Saathi acts on.
const (
	CodeInvalidNumber = 21211 // final: the number is not valid
	CodeUnsubscribed  = 21610 // final: the carrier blocked us, treat as opt-out
	CodeUnroutable    = 21612 // final: the number cannot be reached by SMS
	CodeNotMobile     = 21614 // final: the number is not a mobile number
	CodeUnreachable   = 21214 // final: the number cannot be called
	CodeNotCallable   = 21217 // final: the number does not look valid for a call
)

// recipientCodes are the refusals that are about the number itself: no
// retry can help, and the caseworker must fix the number. Every other
// refusal (credentials, account limits, outages) is retried, because it
// affects everyone and will be fixed at the account.
var recipientCodes = map[int]bool{CodeInvalidNumber: true, CodeUnsubscribed: true, CodeUnroutable: true, CodeNotMobile: true, CodeUnreachable: true, CodeNotCallable: true}

// SendError is a provider's definite answer that it did not accept a
// message. It holds the HTTP status and the provider's code, never the
// provider's text: Twilio's quotes the number ("The 'To' number +91… is
// not a valid phone number."), and this error ends up in log lines and in
// river_job.errors, where erasing a survivor never reaches.
type SendError struct {
	HTTPStatus int
	Code       int
}

func (e *SendError) Error() string {
	return fmt.Sprintf("provider refused: HTTP %d, code %d", e.HTTPStatus, e.Code)
}

// Retryable reports whether trying again later can succeed: everything but
// a refusal of the number itself.
func (e *SendError) Retryable() bool { return !recipientCodes[e.Code] }

// BadNumber reports whether the refusal means the number must be fixed.
func (e *SendError) BadNumber() bool {
	return e.Code == CodeInvalidNumber || e.Code == CodeUnroutable || e.Code == CodeNotMobile || e.Code == CodeUnreachable || e.Code == CodeNotCallable
}

// Register adds every worker to workers.
func Register(workers *river.Workers, d *Deps) {
	river.AddWorker(workers, &CheckinPlanWorker{Deps: d})
	river.AddWorker(workers, &CheckinSendWorker{Deps: d})
	river.AddWorker(workers, &CheckinSweepWorker{Deps: d})
	river.AddWorker(workers, &ReplyAssessWorker{Deps: d})
	river.AddWorker(workers, &ReplyAnswerWorker{Deps: d})
	river.AddWorker(workers, &SessionCleanupWorker{Deps: d})
	river.AddWorker(workers, &AlertNotifyWorker{Deps: d})
	river.AddWorker(workers, &AlertEscalateWorker{Deps: d})
}

// FetchCooldown is how long a worker process waits between fetches of
// available jobs. River fetches at most as many jobs as it has free worker
// slots, so MaxWorkers / FetchCooldown caps a process's throughput: River's
// default 100 ms would cap 50 workers at 500 jobs/s.
const FetchCooldown = 20 * time.Millisecond

// Queues besides River's default (check-ins).
const (
	QueueReplies = "replies" // assessing what a survivor said
	QueueAlerts  = "alerts"  // alert texts and escalations
)

// ClientConfig is the River configuration of a worker process (and of the
// benchmarks, so they measure what production runs). maxWorkers is how
// many jobs run at once; size the database pool above it.
func ClientConfig(workers *river.Workers, maxWorkers int, logger *slog.Logger) *river.Config {
	return &river.Config{
		Logger:       logger,
		Workers:      workers,
		ErrorHandler: ErrorHandler{Logger: logger},
		// Replies and alerts have queues of their own: a backlog of
		// thousands of check-ins must never delay a "3" or its alert text.
		Queues: map[string]river.QueueConfig{
			river.QueueDefault: {MaxWorkers: maxWorkers},
			QueueReplies:       {MaxWorkers: 10},
			QueueAlerts:        {MaxWorkers: 10},
		},
		FetchCooldown: FetchCooldown,
		// River suppresses insert notifications for a queue within one
		// FetchCooldown of the last; a job inserted then is found by the
		// next poll, so the poll bounds such a job's wait.
		FetchPollInterval: 200 * time.Millisecond,
		PeriodicJobs:      PeriodicJobs(),
		// Job rows hold IDs, never personal data; completed ones are kept a
		// day for debugging.
		CompletedJobRetentionPeriod: 24 * time.Hour,
		RescueStuckJobsAfter:        RescueAfter,
		// Paced check-ins wait for their send slot (pacing.go).
		Middleware: []rivertype.Middleware{&PaceMiddleware{}},
	}
}

// RescueAfter is how long a job may stay 'running' before River's rescuer
// (on the leader) takes its worker for dead and retries it: the jobs of a
// worker process that was killed (OOM, a lost machine) wait this long.
// River's default, an hour, would hold an urgent reply's alert for an hour.
// No job runs longer than River's default timeout of a minute (check-in
// sends 45 s) and every job honours its context, so one still running half
// a minute past that is dead.
const RescueAfter = 90 * time.Second

// PeriodicJobs are run once across all processes by River's leader.
func PeriodicJobs() []*river.PeriodicJob {
	return []*river.PeriodicJob{
		river.NewPeriodicJob(river.PeriodicInterval(PlanInterval), func() (river.JobArgs, *river.InsertOpts) {
			return CheckinPlanArgs{}, nil
		}, &river.PeriodicJobOpts{ID: "checkin_plan", RunOnStart: true}),
		river.NewPeriodicJob(river.PeriodicInterval(SweepInterval), func() (river.JobArgs, *river.InsertOpts) {
			return CheckinSweepArgs{}, nil
		}, &river.PeriodicJobOpts{ID: "checkin_sweep", RunOnStart: true}),
		river.NewPeriodicJob(river.PeriodicInterval(sessionCleanupInterval), func() (river.JobArgs, *river.InsertOpts) {
			return SessionCleanupArgs{}, nil
		}, &river.PeriodicJobOpts{ID: "session_cleanup"}),
	}
}

// ErrorHandler logs failed jobs. Job errors name rows by ID and providers'
// refusals by code (Sender implementations keep phone numbers out of their
// errors), because River logs and stores the same text itself: redacting
// here could not reach River's log line or river_job.errors.
type ErrorHandler struct{ Logger *slog.Logger }

// HandleError logs a job error.
func (h ErrorHandler) HandleError(ctx context.Context, job *rivertype.JobRow, err error) *river.ErrorHandlerResult {
	var se *SendError
	level := slog.LevelWarn
	if job.Attempt >= job.MaxAttempts && !errors.As(err, &se) {
		level = slog.LevelError
	}
	h.Logger.Log(ctx, level, "job failed", "kind", job.Kind, "job_id", job.ID, "attempt", job.Attempt, "max_attempts", job.MaxAttempts, "err", err)
	return nil
}

// HandlePanic logs a panicking job; River retries it.
func (h ErrorHandler) HandlePanic(ctx context.Context, job *rivertype.JobRow, panicVal any, trace string) *river.ErrorHandlerResult {
	h.Logger.Error("job panicked", "kind", job.Kind, "job_id", job.ID, "panic", fmt.Sprint(panicVal), "stack", trace)
	return nil
}
