package risk_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"saathi/jobs/reply"
	"saathi/jobs/risk"
)

func TestAssess(t *testing.T) {
	t.Parallel()
	r := risk.Default()
	tests := []struct {
		name   string
		in     reply.Result
		want   risk.Flag
		raised bool
	}{
		{"all well", reply.Result{Intent: reply.OK}, risk.Flag{}, false},
		{"all well but danger words", reply.Result{Intent: reply.OK, Danger: []string{"locked"}}, risk.Flag{Kind: risk.KindDanger, Severity: risk.High}, true},
		{"call me", reply.Result{Intent: reply.CallMe}, risk.Flag{Kind: "call_me", Severity: risk.High}, true},
		{"help now", reply.Result{Intent: reply.HelpNow, Danger: []string{"help"}}, risk.Flag{Kind: "help_now", Severity: risk.Urgent}, true},
		{"duress", reply.Result{Intent: reply.Duress}, risk.Flag{Kind: "duress", Severity: risk.Urgent}, true},
		{"free text", reply.Result{Intent: reply.FreeText}, risk.Flag{Kind: "free_text", Severity: risk.Low}, true},
		{"free text with danger", reply.Result{Intent: reply.FreeText, Danger: []string{"madad"}}, risk.Flag{Kind: risk.KindDanger, Severity: risk.High}, true},
		{"lone HELP", reply.Result{Intent: reply.HelpInfo, Danger: []string{"help"}}, risk.Flag{Kind: risk.KindDanger, Severity: risk.High}, true},
		{"info", reply.Result{Intent: reply.HelpInfo}, risk.Flag{}, false},
		{"opt out", reply.Result{Intent: reply.OptOut}, risk.Flag{Kind: "opt_out", Severity: risk.Medium}, true},
		{"opt in", reply.Result{Intent: reply.OptIn}, risk.Flag{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, raised := r.Assess(tt.in)
			if raised != tt.raised {
				t.Fatalf("raised = %v, want %v", raised, tt.raised)
			}
			if raised {
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestDefaultSLAAndNotify(t *testing.T) {
	t.Parallel()
	r := risk.Default()
	for sev, want := range map[risk.Severity]time.Duration{risk.Urgent: 15 * time.Minute, risk.High: 4 * time.Hour, risk.Medium: 24 * time.Hour} {
		if got, ok := r.SLAFor(sev); !ok || got != want {
			t.Errorf("SLA %s = %v %v, want %v", sev, got, ok, want)
		}
	}
	if _, ok := r.SLAFor(risk.Low); ok {
		t.Error("low alerts should not escalate")
	}
	if !r.SendsSMS(risk.Urgent) || r.SendsSMS(risk.Low) {
		t.Error("SMS for urgent but not low")
	}
}

func TestParseRejects(t *testing.T) {
	t.Parallel()
	base := `[intents]
duress = "urgent"
help_now = "urgent"
call_me = "high"
opt_out = "medium"
free_text = "low"
ok = ""
opt_in = ""
help_info = ""
[signals]
danger = "high"
unreachable = "medium"
invalid_number = "medium"
consent_restored = "low"
contact_requested = "high"
[sla]
urgent = "15m"
[notify]
sms = ["urgent"]
`
	if _, err := risk.Parse([]byte(base)); err != nil {
		t.Fatalf("base rules rejected: %v", err)
	}
	tests := map[string]string{
		"unknown severity":  strings.Replace(base, `call_me = "high"`, `call_me = "severe"`, 1),
		"missing intent":    strings.Replace(base, "duress = \"urgent\"\n", "", 1),
		"bad duration":      strings.Replace(base, `urgent = "15m"`, `urgent = "soon"`, 1),
		"negative duration": strings.Replace(base, `urgent = "15m"`, `urgent = "-1m"`, 1),
		"unknown key":       base + "\n[extra]\nx = 1\n",
		"signal without":    strings.Replace(base, `unreachable = "medium"`, `unreachable = ""`, 1),
		"notify unknown":    strings.Replace(base, `sms = ["urgent"]`, `sms = ["loud"]`, 1),
	}
	for name, data := range tests {
		if _, err := risk.Parse([]byte(data)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
