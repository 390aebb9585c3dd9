package handlers_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"saathi/db/dbtest"
	"saathi/handlers"
)

// TestSpoolCollector: the spool's series count the lines waiting in every
// file of the directory (a replay's claimed files and a last line torn by
// a crash included) and the quarantined lines apart.
func TestSpoolCollector(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sp, err := handlers.NewSpool(dir, dbtest.Keyring(t))
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(handlers.NewSpoolCollector(sp, quietLogger()))
	expect := func(step string, want map[string]float64) {
		t.Helper()
		fams, err := reg.Gather()
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		got := map[string]float64{}
		for _, f := range fams {
			got[f.GetName()] = f.GetMetric()[0].GetGauge().GetValue()
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: (-want +got)\n%s", step, diff)
		}
	}
	series := func(files, lines, quarantined float64) map[string]float64 {
		return map[string]float64{"saathi_spool_files": files, "saathi_spool_lines": lines, "saathi_spool_quarantined_lines": quarantined}
	}
	expect("empty", series(0, 0, 0))

	for range 3 {
		if err := sp.Append(handlers.SpooledRequest{URL: "https://saathi.example.org/twilio/sms", Params: map[string]string{"Body": strings.Repeat("x", 5000)}, ReceivedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	write := func(name, data string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("inbound-other.1-ab.replaying", "a\nb\n")     // claimed by a replay that has not settled
	write("inbound-crashed.spool", "c\ntorn-mid-write") // a crash cut its last line
	write("quarantine-x.spool", "q1\nq2\n")             // cannot be replayed
	write("notes.txt", "not\na\nspool\n")               // not the spool's
	expect("three files and a quarantine", series(3, 7, 2))
}
