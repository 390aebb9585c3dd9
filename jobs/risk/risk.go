// Package risk turns understood replies and silences into risk flags with
// a severity, and says how alerts for them are delivered and escalated.
// The mapping is data (rules.toml, replaceable by configuration), not code.
package risk

import (
	_ "embed"
	"fmt"
	"slices"
	"time"

	"github.com/BurntSushi/toml"

	"saathi/jobs/reply"
)

// Severity of a flag, from most to least serious.
type Severity string

// Severities.
const (
	Urgent Severity = "urgent"
	High   Severity = "high"
	Medium Severity = "medium"
	Low    Severity = "low"
	None   Severity = ""
)

// Rank orders severities: urgent 4 … low 1, none 0.
func (s Severity) Rank() int {
	switch s {
	case Urgent:
		return 4
	case High:
		return 3
	case Medium:
		return 2
	case Low:
		return 1
	}
	return 0
}

// Flag kinds that are not reply intents.
const (
	KindDanger        = "danger_words"
	KindUnreachable   = "unreachable"
	KindInvalidNumber = "invalid_number"
	// KindConsentRestored: staff gave consent back after the survivor
	// withdrew it themselves.
	KindConsentRestored = "consent_restored"
	// KindContactRequested: the survivor gave a missed call, asking to be
	// called back.
	KindContactRequested = "contact_requested"
)

//go:embed rules.toml
var defaultRules []byte

// Rules is the mapping.
type Rules struct {
	Intents map[string]Severity `toml:"intents"`
	Signals struct {
		Danger        Severity `toml:"danger"`
		Unreachable   Severity `toml:"unreachable"`
		InvalidNumber Severity `toml:"invalid_number"`
		// ConsentRestored is raised when staff give consent back after the
		// survivor's own STOP, for a supervisor to see.
		ConsentRestored Severity `toml:"consent_restored"`
		// ContactRequested is raised by a missed call from the survivor.
		ContactRequested Severity `toml:"contact_requested"`
	} `toml:"signals"`
	SLA    map[Severity]duration `toml:"sla"`
	Notify struct {
		SMS []Severity `toml:"sms"`
	} `toml:"notify"`
}

type duration struct{ time.Duration }

func (d *duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	if v <= 0 {
		return fmt.Errorf("duration %q must be positive", b)
	}
	d.Duration = v
	return nil
}

// Default returns the built-in rules.
func Default() Rules {
	r, err := Parse(defaultRules)
	if err != nil {
		panic("risk: built-in rules: " + err.Error())
	}
	return r
}

// Parse reads rules from TOML and checks them: every intent mapped, every
// severity known.
func Parse(data []byte) (Rules, error) {
	var r Rules
	md, err := toml.Decode(string(data), &r)
	if err != nil {
		return Rules{}, fmt.Errorf("risk rules: %w", err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return Rules{}, fmt.Errorf("risk rules: unknown key %s", und[0])
	}
	known := func(s Severity) bool { return s == None || s.Rank() > 0 }
	for _, in := range []reply.Intent{reply.OK, reply.CallMe, reply.HelpNow, reply.Duress, reply.OptOut, reply.OptIn, reply.HelpInfo, reply.FreeText} {
		sev, ok := r.Intents[string(in)]
		if !ok {
			return Rules{}, fmt.Errorf("risk rules: intent %q has no severity", in)
		}
		if !known(sev) {
			return Rules{}, fmt.Errorf("risk rules: intent %q: unknown severity %q", in, sev)
		}
	}
	for name, sev := range map[string]Severity{
		"danger": r.Signals.Danger, "unreachable": r.Signals.Unreachable, "invalid_number": r.Signals.InvalidNumber,
		"consent_restored": r.Signals.ConsentRestored, "contact_requested": r.Signals.ContactRequested,
	} {
		if sev == None || !known(sev) {
			return Rules{}, fmt.Errorf("risk rules: signal %q needs a severity", name)
		}
	}
	for sev := range r.SLA {
		if sev.Rank() == 0 {
			return Rules{}, fmt.Errorf("risk rules: sla for unknown severity %q", sev)
		}
	}
	for _, sev := range r.Notify.SMS {
		if sev.Rank() == 0 {
			return Rules{}, fmt.Errorf("risk rules: notify.sms: unknown severity %q", sev)
		}
	}
	return r, nil
}

// Flag is a risk signal to raise.
type Flag struct {
	Kind     string
	Severity Severity
}

// Assess maps an understood reply to at most one flag: the reply's intent,
// raised to the danger severity when danger words were found.
func (r Rules) Assess(res reply.Result) (Flag, bool) {
	f := Flag{Kind: string(res.Intent), Severity: r.Intents[string(res.Intent)]}
	if len(res.Danger) > 0 && r.Signals.Danger.Rank() > f.Severity.Rank() {
		f.Severity = r.Signals.Danger
		if res.Intent == reply.FreeText || res.Intent == reply.OK || res.Intent == reply.HelpInfo || res.Intent == reply.OptIn {
			f.Kind = KindDanger
		}
	}
	return f, f.Severity != None
}

// SLAFor is how long an alert may stay unacknowledged before escalating;
// ok is false when it never escalates.
func (r Rules) SLAFor(s Severity) (time.Duration, bool) {
	d, ok := r.SLA[s]
	return d.Duration, ok
}

// SendsSMS reports whether alerts of this severity are texted.
func (r Rules) SendsSMS(s Severity) bool { return slices.Contains(r.Notify.SMS, s) }
