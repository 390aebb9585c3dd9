package handlers

import (
	"io/fs"
	"maps"
	"regexp"
	"slices"
	"testing"

	"saathi/locales"
)

// literalWord finds a word a template asks for by name: {{t .Lang "ID"}}.
var literalWord = regexp.MustCompile(`\bt \$?\.?Lang "([A-Za-z0-9_]+)"`)

// TestEveryPageWordExists: every word the pages ask for, by name in a
// template or made up in code (kinds, states, days, methods, events), is
// in the English UI files; a missing one would show its ID on the page.
func TestEveryPageWordExists(t *testing.T) {
	t.Parallel()
	ui, err := locales.NewUI()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{} // ID → where it is asked for
	names, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		raw, err := fs.ReadFile(templateFiles, name)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range literalWord.FindAllStringSubmatch(string(raw), -1) {
			want[m[1]] = name
		}
	}
	if len(want) < 50 {
		t.Fatalf("found only %d words in the templates: is the pattern still right?", len(want))
	}
	from := func(where string, ids ...string) {
		for _, id := range ids {
			want[id] = where
		}
	}
	from("kindText", slices.Collect(maps.Values(kindText))...)
	from("intentText", slices.Collect(maps.Values(intentText))...)
	from("escalatedText", slices.Collect(maps.Values(escalatedText))...)
	from("survivorFlash", slices.Collect(maps.Values(survivorFlash))...)
	for _, n := range simFlash {
		from("simFlash", n.ID)
	}
	for _, d := range weekdays {
		from("day names", "Day"+title(d))
	}
	for _, m := range consentMethods {
		from("consent methods", "Method_"+m)
	}
	for _, s := range []string{"scheduled", "queued", "sending", "sent", "answered", "missed", "skipped", "failed", "cancelled"} {
		from("check-in states", "State_"+s)
	}
	for _, k := range []string{"created", "notified", "not_notified", "escalated", "acknowledged", "resolved", "reassigned"} {
		from("alert events", "Event_"+k)
	}
	for _, s := range []string{"urgent", "high", "medium", "low", "open", "acknowledged", "resolved"} {
		from("severities and statuses", title(s))
	}
	for _, s := range []string{"staff", "survivor", "carrier", "system"} {
		from("consent sources", "By"+title(s))
	}
	for _, id := range slices.Sorted(maps.Keys(want)) {
		if !ui.Has(id) {
			t.Errorf("%s asks for %q: not in any ui*.en.toml", want[id], id)
		}
	}
}
