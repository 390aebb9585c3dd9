package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is the suite's accounting: what was due and what became of it,
// from Saathi's database, the fake Twilio's record of what it accepted,
// and the suite's record of what the survivors' phones sent.
type Report struct {
	Options Options

	Due                int
	Sent               map[string]int // by channel: check-ins the provider accepted, on Saathi's record
	Failed             map[string]int // "skipped: no consent" and the like: state and reason
	NotSettled         int            // due check-ins with no final state and nothing accepted: lost
	NotSettledExamples []string

	AtProvider int // check-ins with a text or call at the fake
	// Unrecorded: check-ins the fake accepted something for that Saathi's
	// record says never went out. Phantom: check-ins Saathi calls sent with
	// a SID the fake never issued. Both must be 0.
	Unrecorded, Phantom int
	// Duplicates at the provider: a second text or call for one check-in
	// (or one alert text, one answer) that the fake accepted.
	Duplicates        map[string]int // by what was duplicated
	DuplicateDetails  []string
	UnknownAtProvider int // accepted messages whose callback names no message of Saathi's

	RepliesSent, RepliesReplayed, RepliesDuringOutage int // unique replies; of them delivered twice; sent while PostgreSQL was down
	RepliesSMS, RepliesKeys                           int
	RepliesRefused                                    int // no delivery got Saathi's answer
	RepliesStored, RepliesAssessed                    int
	RepliesMissing                                    []string // sent, not stored
	StoredTwice                                       int      // rows per SID beyond the first (the unique key forbids it)
	UrgentReplies, UrgentAlerts, UrgentTexted         int
	UrgentMissing                                     []string
	AlertsBySeverity                                  map[string]int

	Spooled, SpoolReplayed, SpoolLeft, Quarantined int
	JobsRescued                                    map[string]int
	Faults                                         map[string]int
	Webhooks                                       map[string]webhookCount
	LogErrors, LogPhoneLines                       int
	LogPhoneExample                                string
	Chaos                                          *chaosLog
	Elapsed                                        time.Duration
}

func (s *suite) account(ctx context.Context) (*Report, error) {
	r := &Report{Options: s.o, Sent: map[string]int{}, Failed: map[string]int{}, Duplicates: map[string]int{},
		AlertsBySeverity: map[string]int{}, JobsRescued: map[string]int{}, Chaos: &s.chaos}
	if err := s.accountCheckins(ctx, r); err != nil {
		return nil, err
	}
	if err := s.accountReplies(ctx, r); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT severity, count(*) FROM alerts GROUP BY severity`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var sev string
		var n int
		if err := rows.Scan(&sev, &n); err != nil {
			return nil, err
		}
		r.AlertsBySeverity[sev] = n
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// A job River's rescuer took from a dead worker carries its mark.
	rows, err = s.pool.Query(ctx, `SELECT kind, count(*) FROM river_job
		WHERE EXISTS (SELECT 1 FROM unnest(errors) e WHERE e->>'error' LIKE 'Stuck job rescued%') GROUP BY kind`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var kind string
		var n int
		if err := rows.Scan(&kind, &n); err != nil {
			return nil, err
		}
		r.JobsRescued[kind] = n
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}

	procs := append(append([]*proc{}, s.webs...), s.workers...)
	var phones []string
	for _, sv := range s.survivors {
		phones = append(phones, sv.phone)
	}
	logs, err := readLogs(procs, append(phones, s.staffPhones...))
	if err != nil {
		return nil, err
	}
	r.Spooled, r.SpoolReplayed = logs.spooledSMS+logs.spooledKeys, logs.replayed
	r.LogErrors, r.LogPhoneLines, r.LogPhoneExample = logs.errors, logs.phoneLines, logs.phoneExample
	if r.SpoolLeft, r.Quarantined, err = spoolLeft(s.webs); err != nil {
		return nil, err
	}
	r.Faults = s.fake.FaultsPlayed()
	r.Webhooks = s.phones.Webhooks()
	r.Elapsed = time.Since(s.start)
	return r, nil
}

// outbound is one of Saathi's outbound message rows.
type outbound struct {
	id                   int64
	sid                  string
	checkin, alert       string
	staff, purpose       string
	replyTo              int64
	channel              string
	status, errorMessage string
}

// sentAt is one text or call the fake accepted, traced back to the row of
// Saathi's that asked for it (the ?m= of its status callback).
type sentAt struct {
	sid     string
	created time.Time
	row     *outbound
}

func (s *suite) accountCheckins(ctx context.Context, r *Report) error {
	out := map[int64]*outbound{}
	bySID := map[string]*outbound{}
	rows, err := s.pool.Query(ctx, `SELECT id, coalesce(provider_sid, ''), coalesce(checkin_id::text, ''), coalesce(alert_id::text, ''),
		coalesce(staff_id::text, ''), purpose, coalesce(reply_to, 0), channel, status, coalesce(error_message, '')
		FROM messages WHERE direction = 'out'`)
	if err != nil {
		return err
	}
	for rows.Next() {
		o := &outbound{}
		if err := rows.Scan(&o.id, &o.sid, &o.checkin, &o.alert, &o.staff, &o.purpose, &o.replyTo, &o.channel, &o.status, &o.errorMessage); err != nil {
			return err
		}
		out[o.id] = o
		if o.sid != "" {
			bySID[o.sid] = o
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}

	// What the fake accepted, grouped by what it was for.
	groups := map[string][]sentAt{}
	atFake := map[string]bool{}
	add := func(sid, callback string, created time.Time) {
		atFake[sid] = true
		u, err := url.Parse(callback)
		id, _ := strconv.ParseInt(u.Query().Get("m"), 10, 64)
		row := out[id]
		if err != nil || row == nil {
			r.UnknownAtProvider++
			return
		}
		var key string
		switch {
		case row.checkin != "":
			key = "check-in " + row.checkin
		case row.alert != "":
			key = "alert text " + row.alert + " " + row.purpose + " " + row.staff
		case row.replyTo != 0:
			key = "answer " + strconv.FormatInt(row.replyTo, 10)
		default:
			key = "other " + strconv.FormatInt(row.id, 10)
		}
		groups[key] = append(groups[key], sentAt{sid: sid, created: created, row: row})
	}
	for _, m := range s.fake.Messages() {
		add(m.SID, m.StatusCallback, m.Created)
	}
	for _, c := range s.fake.Calls() {
		add(c.SID, c.StatusCallback, c.Created)
	}
	for key, sent := range groups {
		sort.Slice(sent, func(i, j int) bool { return sent[i].created.Before(sent[j].created) })
		extra := 0
		for i := 1; i < len(sent); i++ {
			// A check-in call nobody answered is called again half an
			// hour later: that is a new call, not a duplicate.
			if sent[i].row.channel == "voice" && sent[i].created.Sub(sent[i-1].created) >= 25*time.Minute {
				continue
			}
			extra++
		}
		if extra == 0 {
			continue
		}
		what, _, _ := strings.Cut(key, " ")
		if what == "alert" {
			what = "alert text"
		}
		r.Duplicates[what] += extra
		var d []string
		for _, x := range sent {
			d = append(d, fmt.Sprintf("%s at %s by message %d (%s%s)", x.sid, x.created.Format("15:04:05.000"), x.row.id, x.row.status, suffix(x.row.errorMessage)))
		}
		r.DuplicateDetails = append(r.DuplicateDetails, key+": "+strings.Join(d, "; "))
	}

	rows, err = s.pool.Query(ctx, `SELECT c.id::text, c.state, coalesce(c.reason, ''), coalesce(c.channel, ''),
		(SELECT min(m.provider_sid) FROM messages m WHERE m.checkin_id = c.id AND m.direction = 'out' AND m.provider_sid IS NOT NULL)
		FROM checkins c WHERE c.kind = 'cadence'`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var id, state, reason, channel string
		var sid *string
		if err := rows.Scan(&id, &state, &reason, &channel, &sid); err != nil {
			return err
		}
		r.Due++
		atProvider := len(groups["check-in "+id]) > 0
		if atProvider {
			r.AtProvider++
		}
		switch {
		case sid != nil:
			r.Sent[channel]++
			if !atFake[*sid] {
				r.Phantom++
			}
		case state == "skipped" || state == "failed" || state == "cancelled":
			r.Failed[state+": "+reason]++
			if atProvider {
				r.Unrecorded++
			}
		default:
			r.NotSettled++
			if atProvider {
				r.Unrecorded++
			}
			if len(r.NotSettledExamples) < 5 {
				r.NotSettledExamples = append(r.NotSettledExamples, id+" ("+state+")")
			}
		}
	}
	return rows.Err()
}

func suffix(s string) string {
	if s == "" {
		return ""
	}
	return ": " + s
}

func (s *suite) accountReplies(ctx context.Context, r *Report) error {
	type stored struct {
		rows             int
		assessed, urgent bool
		alert, texted    bool
		intent           string
	}
	db := map[string]*stored{}
	rows, err := s.pool.Query(ctx, `
		SELECT m.provider_sid, r.id IS NOT NULL, coalesce(r.intent, ''),
		  EXISTS (SELECT 1 FROM risk_flags f JOIN alerts a ON a.flag_id = f.id WHERE f.response_id = r.id AND a.severity = 'urgent'),
		  EXISTS (SELECT 1 FROM risk_flags f JOIN alerts a ON a.flag_id = f.id JOIN messages t ON t.alert_id = a.id
		          WHERE f.response_id = r.id AND t.direction = 'out' AND t.purpose = 'alert_l0' AND t.provider_sid IS NOT NULL)
		FROM messages m LEFT JOIN responses r ON r.message_id = m.id
		WHERE m.direction = 'in' AND m.purpose = 'reply'`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var sid, intent string
		var assessed, alert, texted bool
		if err := rows.Scan(&sid, &assessed, &intent, &alert, &texted); err != nil {
			return err
		}
		st := db[sid]
		if st == nil {
			st = &stored{}
			db[sid] = st
		}
		st.rows++
		st.assessed, st.intent, st.alert, st.texted = assessed, intent, alert, texted
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, st := range db {
		r.StoredTwice += st.rows - 1
	}
	for _, rec := range s.phones.Replies() {
		r.RepliesSent++
		if rec.channel == "sms" {
			r.RepliesSMS++
		} else {
			r.RepliesKeys++
		}
		if rec.sent > 1 {
			r.RepliesReplayed++
		}
		if rec.duringOutage {
			r.RepliesDuringOutage++
		}
		if rec.taken == 0 {
			r.RepliesRefused++
		}
		st := db[rec.id]
		if st == nil {
			r.RepliesMissing = append(r.RepliesMissing, fmt.Sprintf("%s reply %s from survivor %d", rec.channel, rec.id, rec.survivor.idx))
			if rec.urgent {
				r.UrgentReplies++
				r.UrgentMissing = append(r.UrgentMissing, rec.id+" (not stored)")
			}
			continue
		}
		r.RepliesStored++
		if st.assessed {
			r.RepliesAssessed++
		}
		if !rec.urgent {
			continue
		}
		r.UrgentReplies++
		switch {
		case st.alert && st.texted:
			r.UrgentAlerts++
			r.UrgentTexted++
		case st.alert:
			r.UrgentAlerts++
			r.UrgentMissing = append(r.UrgentMissing, rec.id+" (alert not texted)")
		default:
			r.UrgentMissing = append(r.UrgentMissing, fmt.Sprintf("%s (no urgent alert; understood as %q)", rec.id, st.intent))
		}
	}
	return nil
}

// Problems lists every broken promise: a loss, a duplicate, an urgent
// reply without its alert, a reply left in the spool, a phone number in a
// log line. None means the run passed.
func (r *Report) Problems() []string {
	var p []string
	add := func(bad bool, format string, args ...any) {
		if bad {
			p = append(p, fmt.Sprintf(format, args...))
		}
	}
	sent := 0
	for _, n := range r.Sent {
		sent += n
	}
	dups := 0
	for _, n := range r.Duplicates {
		dups += n
	}
	add(!r.Chaos.settled, "did not settle within %s", r.Options.Settle)
	add(r.NotSettled > 0, "%d due check-ins neither sent nor settled (lost): e.g. %s", r.NotSettled, strings.Join(r.NotSettledExamples, ", "))
	add(r.Unrecorded > 0, "%d check-ins reached the provider but Saathi's record says they did not", r.Unrecorded)
	add(r.Phantom > 0, "%d check-ins marked sent with a SID the provider never issued", r.Phantom)
	add(r.AtProvider != sent, "%d check-ins at the provider, %d sent on Saathi's record", r.AtProvider, sent)
	add(dups > 0, "%d duplicates at the provider: %s", dups, strings.Join(r.DuplicateDetails, " | "))
	add(r.UnknownAtProvider > 0, "%d messages at the provider that name no message of Saathi's", r.UnknownAtProvider)
	add(len(r.RepliesMissing) > 0, "%d replies sent but not stored: %s", len(r.RepliesMissing), strings.Join(first(r.RepliesMissing, 5), ", "))
	add(r.RepliesRefused > 0, "%d replies that Saathi answered with neither a 200 nor a spoken answer", r.RepliesRefused)
	add(r.StoredTwice > 0, "%d replies stored twice", r.StoredTwice)
	add(r.RepliesAssessed != r.RepliesStored, "%d replies stored, %d assessed", r.RepliesStored, r.RepliesAssessed)
	add(len(r.UrgentMissing) > 0, "%d urgent replies without an urgent alert texted to the caseworker: %s", len(r.UrgentMissing), strings.Join(first(r.UrgentMissing, 5), ", "))
	add(r.SpoolLeft > 0, "%d replies left in the spool", r.SpoolLeft)
	add(r.Quarantined > 0, "%d spooled replies quarantined", r.Quarantined)
	add(r.Spooled == 0, "no reply was spooled: the PostgreSQL crash proved nothing about the spool")
	add(r.JobsRescued == nil || sum(r.JobsRescued) == 0, "no job was rescued from the killed worker: the kill proved nothing about River's rescuer")
	add(r.LogPhoneLines > 0, "%d log lines quote a phone number (first: %s)", r.LogPhoneLines, r.LogPhoneExample)
	return p
}

func first(s []string, n int) []string { return s[:min(n, len(s))] }

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// byCount renders a map as "a 3, b 2" (largest first).
func byCount(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if m[a] != m[b] {
			return m[b] - m[a]
		}
		return strings.Compare(a, b)
	})
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// Print writes the report's table.
func (r *Report) Print(w io.Writer) {
	o, c := r.Options, r.Chaos
	fmt.Fprintf(w, "Saathi fault suite: %d survivors, %d replies (%.0f%% replayed), provider latency %s-%s, %.0f%% provider faults during dispatch, %.0f%% of status callbacks lost, seed %d\n",
		o.Survivors, o.Replies, o.Replay*100, o.LatencyLo, o.LatencyHi, o.FaultRate*100, o.LostCallbacks*100, o.Seed)
	fmt.Fprintf(w, "worker-2 SIGKILLed at t+%s (%d check-ins out; %d jobs running on both workers, %d provider requests in flight); PostgreSQL crashed at t+%s (%d out), up at t+%s; faults off at t+%s; %s at t+%s; whole run %s\n\n",
		c.killedAt, c.killCovered, c.killRunning, c.killInFlight, c.crashedAt, c.crashCovered, c.upAt, c.faultsAt,
		map[bool]string{true: "settled", false: "NOT settled"}[c.settled], c.settledAt, r.Elapsed.Round(time.Second))

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(name string, n any, note string) { fmt.Fprintf(tw, "%s\t%v\t%s\n", name, n, note) }
	sent := sum(r.Sent)
	row("check-ins due", r.Due, "")
	row("  sent (accepted by the provider)", sent, byCount(r.Sent))
	for _, k := range sortedKeys(r.Failed) {
		row("  "+k, r.Failed[k], "")
	}
	row("  lost (no final state)", r.NotSettled, "")
	row("check-ins at the provider", r.AtProvider, fmt.Sprintf("unrecorded %d, phantom %d", r.Unrecorded, r.Phantom))
	row("duplicates at the provider", sum(r.Duplicates), "check-ins "+strconv.Itoa(r.Duplicates["check-in"])+", alert texts "+strconv.Itoa(r.Duplicates["alert text"])+", answers "+strconv.Itoa(r.Duplicates["answer"]))
	row("replies in (unique)", r.RepliesSent, fmt.Sprintf("texts %d, keys %d; %d delivered twice; %d sent while PostgreSQL was down", r.RepliesSMS, r.RepliesKeys, r.RepliesReplayed, r.RepliesDuringOutage))
	row("  refused by Saathi", r.RepliesRefused, "")
	row("replies stored", r.RepliesStored, fmt.Sprintf("assessed %d, stored twice %d, missing %d", r.RepliesAssessed, r.StoredTwice, len(r.RepliesMissing)))
	row("urgent replies", r.UrgentReplies, "")
	row("urgent alerts", r.UrgentAlerts, fmt.Sprintf("texted to the caseworker %d; all alerts: %s", r.UrgentTexted, byCount(r.AlertsBySeverity)))
	row("spooled during the crash", r.Spooled, fmt.Sprintf("replayed %d", r.SpoolReplayed))
	row("spool left", r.SpoolLeft, fmt.Sprintf("quarantined %d", r.Quarantined))
	row("jobs rescued from the killed worker", sum(r.JobsRescued), byCount(r.JobsRescued))
	row("provider faults injected", sum(r.Faults), byCount(r.Faults))
	refused := map[string]int{}
	total := 0
	for k, v := range r.Webhooks {
		total += v.sent
		if v.failed > 0 {
			refused[k] = v.failed
		}
	}
	row("webhooks posted", total, "not 2xx: "+byCount(refused))
	row("log lines with a phone number", r.LogPhoneLines, fmt.Sprintf("error lines %d", r.LogErrors))
	tw.Flush()
	if len(r.DuplicateDetails) > 0 {
		fmt.Fprintln(w, "\nduplicates:")
		for _, d := range r.DuplicateDetails {
			fmt.Fprintln(w, "  "+d)
		}
	}
	if p := r.Problems(); len(p) > 0 {
		fmt.Fprintln(w, "\nFAILED:")
		for _, x := range p {
			fmt.Fprintln(w, "  - "+x)
		}
	} else {
		fmt.Fprintln(w, "\nPASSED: nothing lost, nothing duplicated, every urgent reply alerted")
	}
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
