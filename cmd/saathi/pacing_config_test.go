package main

import (
	"strings"
	"testing"

	"saathi/jobs"
)

// TestPacingConfig: SAATHI_SMS_RATE and SAATHI_CALL_RATE default to what
// any Twilio account takes (1/s), take fractions, and refuse anything else
// with a message naming the setting.
func TestPacingConfig(t *testing.T) {
	cfg, err := LoadConfig(getenvFrom(map[string]string{}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SMSRate != 1 || cfg.CallRate != 1 {
		t.Errorf("defaults: sms %v, calls %v; want 1 and 1", cfg.SMSRate, cfg.CallRate)
	}
	cfg, err = LoadConfig(getenvFrom(map[string]string{"SAATHI_SMS_RATE": "30", "SAATHI_CALL_RATE": "0.5"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SMSRate != jobs.Pace(30) || cfg.CallRate != jobs.Pace(0.5) {
		t.Errorf("set: sms %v, calls %v; want 30 and 0.5", cfg.SMSRate, cfg.CallRate)
	}
	for _, name := range []string{"SAATHI_SMS_RATE", "SAATHI_CALL_RATE"} {
		for _, bad := range []string{"0", "-1", "fast", "1/s", "NaN", "Inf", "0.001", "20000"} {
			_, err := LoadConfig(getenvFrom(map[string]string{name: bad}))
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("%s=%q: err = %v, want one naming %s", name, bad, err, name)
			}
		}
	}
}
