package callflow

import (
	"encoding/xml"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/twilio/twilio-go/twiml"

	"saathi/jobs/reply"
	"saathi/locales"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const audioBase = "https://saathi.example.org/twilio/voice/audio"

// next has the & that query strings carry: it must reach Twilio escaped.
var next = Next{
	Action:  "https://saathi.example.org/twilio/voice/keys?call=42&step=menu",
	NoInput: "https://saathi.example.org/twilio/voice/silence?call=42&n=1",
}

const gateAction = "https://saathi.example.org/twilio/voice/gate?call=42&step=gate"

type fixture struct {
	flow    *Flow
	voice   *locales.Voice
	catalog *locales.Catalog
}

func setup(t *testing.T) fixture {
	t.Helper()
	c, err := locales.NewCatalog()
	if err != nil {
		t.Fatal(err)
	}
	v, err := locales.NewVoice(c, "")
	if err != nil {
		t.Fatal(err)
	}
	f, err := New(v, audioBase+"/")
	if err != nil {
		t.Fatalf("New() error = %v", err)
	}
	return fixture{flow: f, voice: v, catalog: c}
}

// node is any TwiML element, as Twilio's parser sees it.
type node struct {
	XMLName  xml.Name
	Attrs    []xml.Attr `xml:",any,attr"`
	Text     string     `xml:",chardata"`
	Children []node     `xml:",any"`
}

func (n node) attr(name string) (string, bool) {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value, true
		}
	}
	return "", false
}

func (n node) attrs() map[string]string {
	out := map[string]string{}
	for _, a := range n.Attrs {
		out[a.Name.Local] = a.Value
	}
	return out
}

// shape is the verbs in order, nested verbs in brackets:
// "Gather[Say Say] Redirect".
func (n node) shape() string {
	var parts []string
	for _, c := range n.Children {
		s := c.XMLName.Local
		if len(c.Children) > 0 {
			s += "[" + c.shape() + "]"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

// all is n and every element inside it.
func (n node) all() []node {
	out := []node{n}
	for _, c := range n.Children {
		out = append(out, c.all()...)
	}
	return out
}

func parse(t *testing.T, doc string) node {
	t.Helper()
	if !strings.HasPrefix(doc, `<?xml version="1.0" encoding="UTF-8"?>`) {
		t.Errorf("TwiML does not start with the XML declaration: %q", doc)
	}
	var root node
	if err := xml.Unmarshal([]byte(doc), &root); err != nil {
		t.Fatalf("TwiML does not parse: %v\n%s", err, doc)
	}
	if root.XMLName.Local != "Response" {
		t.Fatalf("root element %s, want Response", root.XMLName.Local)
	}
	return root
}

// golden compares doc with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, doc string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(doc+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./jobs/callflow -update to write it)", err)
	}
	if diff := cmp.Diff(strings.TrimSuffix(string(want), "\n"), doc); diff != "" {
		t.Errorf("%s mismatch (-golden +rendered; go test ./jobs/callflow -update if intended):\n%s", path, diff)
	}
}

// step is one branch of the call.
type step struct {
	name    string
	render  func(f *Flow, lang string) (string, error)
	prompts []string // in the order heard
	gather  string   // "menu", "gate" or "" (none)
	after   string   // the verb after the prompts: Redirect or Hangup
}

var steps = []step{
	{"human", func(f *Flow, lang string) (string, error) { return f.Menu(lang, next) },
		[]string{locales.VoiceGreeting, locales.VoiceCheckin}, "menu", "Redirect"},
	{"unknown", func(f *Flow, lang string) (string, error) { return f.Gate(lang, gateAction) },
		[]string{locales.VoiceGate}, "gate", "Hangup"},
	{"repeat", func(f *Flow, lang string) (string, error) { return f.Repeat(lang, next) },
		[]string{locales.VoiceCheckin}, "menu", "Redirect"},
	{"no-input", func(f *Flow, lang string) (string, error) { return f.NoInput(lang, next) },
		[]string{locales.VoiceNoInput, locales.VoiceCheckin}, "menu", "Redirect"},
	{"goodbye", func(f *Flow, lang string) (string, error) { return f.Goodbye(lang) },
		[]string{locales.VoiceGoodbye}, "", "Hangup"},
	{"answer-1", func(f *Flow, lang string) (string, error) { return f.Answer(lang, Answers()[reply.OK]) },
		[]string{locales.VoiceThanks}, "", "Hangup"},
	{"answer-2", func(f *Flow, lang string) (string, error) { return f.Answer(lang, Answers()[reply.CallMe]) },
		[]string{locales.VoiceCallMe}, "", "Hangup"},
	{"answer-3", func(f *Flow, lang string) (string, error) { return f.Answer(lang, Answers()[reply.HelpNow]) },
		[]string{locales.VoiceHelpNow}, "", "Hangup"},
	{"answer-duress", func(f *Flow, lang string) (string, error) { return f.Answer(lang, Answers()[reply.Duress]) },
		[]string{locales.VoiceThanks}, "", "Hangup"},
}

// TestSteps renders every step in every language, compares it with its
// golden file, and checks what Twilio will do with it: the verbs in order,
// each prompt said in the language's voice or played from its recording,
// the Gather's attributes and URLs.
func TestSteps(t *testing.T) {
	t.Parallel()
	fx := setup(t)

	for _, lang := range locales.Supported {
		spec, _ := fx.voice.Spec(lang)
		for _, st := range steps {
			t.Run(lang+"/"+st.name, func(t *testing.T) {
				t.Parallel()
				doc, err := st.render(fx.flow, lang)
				if err != nil {
					t.Fatalf("render error = %v", err)
				}
				golden(t, filepath.Join(lang, st.name+".xml"), doc)
				root := parse(t, doc)

				verb := "Say"
				if spec.Recorded {
					verb = "Play"
				}
				prompts := strings.TrimSpace(strings.Repeat(verb+" ", len(st.prompts)))
				want := prompts + " " + st.after
				if st.gather != "" {
					want = "Gather[" + prompts + "] " + st.after
				}
				if got := root.shape(); got != want {
					t.Fatalf("verbs = %s, want %s\n%s", got, want, doc)
				}

				heard := root.Children
				if st.gather != "" {
					checkGather(t, root.Children[0], st.gather)
					heard = root.Children[0].Children
				}
				for i, id := range st.prompts {
					checkPrompt(t, fx, lang, id, heard[i])
				}
				last := root.Children[len(root.Children)-1]
				if st.after == "Redirect" {
					if last.Text != next.NoInput || last.attrs()["method"] != "POST" {
						t.Errorf("Redirect = %q %v, want %q by POST", last.Text, last.attrs(), next.NoInput)
					}
				} else if len(last.Attrs) > 0 || last.Text != "" {
					t.Errorf("Hangup has attributes or text: %+v", last)
				}
			})
		}
	}
}

func checkGather(t *testing.T, g node, kind string) {
	t.Helper()
	want := map[string]string{"input": "dtmf", "method": "POST"}
	switch kind {
	case "menu":
		// One key goes after 3 s of quiet; a longer code ends with #. No
		// numDigits: it would cut the duress code off.
		want["action"], want["finishOnKey"], want["timeout"] = next.Action, "#", "3"
	case "gate":
		// Any single key, # included.
		want["action"], want["finishOnKey"], want["timeout"], want["numDigits"] = gateAction, "", "5", "1"
	}
	if diff := cmp.Diff(want, g.attrs()); diff != "" {
		t.Errorf("Gather attributes mismatch (-want +got):\n%s", diff)
	}
}

func checkPrompt(t *testing.T, fx fixture, lang, id string, n node) {
	t.Helper()
	p, err := fx.voice.Prompt(lang, id)
	if err != nil {
		t.Fatal(err)
	}
	spec, _ := fx.voice.Spec(lang)
	switch n.XMLName.Local {
	case "Say":
		text, _ := fx.catalog.Text(lang, id, nil)
		got := n.attrs()
		want := map[string]string{"language": spec.Language, "voice": spec.Voice}
		if diff := cmp.Diff(want, got); diff != "" || n.Text != text || spec.Recorded {
			t.Errorf("%s: <Say %v>%q</Say>, want %v and %q (-want +got):\n%s", id, got, n.Text, want, text, diff)
		}
	case "Play":
		file, _, _ := strings.Cut(strings.TrimPrefix(p.Audio, lang+"/"), "?")
		_, ok := fx.voice.Recording(lang, file)
		if n.Text != audioBase+"/"+p.Audio || !ok || !spec.Recorded || len(n.Attrs) > 0 {
			t.Errorf("%s: <Play %v>%s</Play>, want %s/%s (a recording of %s: %v)", id, n.attrs(), n.Text, audioBase, p.Audio, lang, ok)
		}
	default:
		t.Errorf("%s: <%s>, want Say or Play", id, n.XMLName.Local)
	}
}

// TestMachineSaysNothing: a machine or fax gets a hang-up and not a
// sound, in every language: nothing to record on a voicemail.
func TestMachineSaysNothing(t *testing.T) {
	t.Parallel()

	doc := Machine()
	golden(t, "machine.xml", doc)
	root := parse(t, doc)
	if got := root.shape(); got != "Hangup" {
		t.Errorf("Machine() verbs = %s, want Hangup", got)
	}
	for _, n := range root.all() {
		if name := n.XMLName.Local; name == "Say" || name == "Play" || name == "Gather" || name == "Pause" {
			t.Errorf("Machine() contains <%s>", name)
		}
	}
	if Hangup() != doc {
		t.Errorf("Hangup() = %q, want Machine() %q", Hangup(), doc)
	}
}

func TestReject(t *testing.T) {
	t.Parallel()

	doc := Reject()
	golden(t, "reject.xml", doc)
	root := parse(t, doc)
	if got := root.shape(); got != "Reject" || root.Children[0].attrs()["reason"] != "busy" {
		t.Errorf("Reject() = %s, want a busy Reject alone", doc)
	}
}

// TestFixedDocuments: the literal documents are what twilio-go renders.
func TestFixedDocuments(t *testing.T) {
	t.Parallel()

	for name, tc := range map[string]struct {
		got  string
		verb twiml.Element
	}{
		"Machine": {Machine(), twiml.VoiceHangup{}},
		"Hangup":  {Hangup(), twiml.VoiceHangup{}},
		"Reject":  {Reject(), twiml.VoiceReject{Reason: "busy"}},
	} {
		want, err := twiml.Voice([]twiml.Element{tc.verb})
		if err != nil {
			t.Fatal(err)
		}
		if tc.got != want {
			t.Errorf("%s() = %q, twiml renders %q", name, tc.got, want)
		}
	}
}

// TestDuressAnswerIsTheAnswerToOne: whoever hears the call, or reads
// Twilio's logs, cannot tell the duress code from 1. The rendering is
// also the same every time (twilio-go alone writes attributes in random
// order).
func TestDuressAnswerIsTheAnswerToOne(t *testing.T) {
	t.Parallel()
	fx := setup(t)

	a := Answers()
	if a[reply.Duress] != a[reply.OK] || a[reply.OK] != locales.VoiceThanks {
		t.Fatalf("Answers() = %v: the duress code must get the answer to 1", a)
	}
	for _, lang := range locales.Supported {
		one, err := fx.flow.Answer(lang, a[reply.OK])
		if err != nil {
			t.Fatal(err)
		}
		for range 50 {
			duress, err := fx.flow.Answer(lang, a[reply.Duress])
			if err != nil {
				t.Fatal(err)
			}
			if duress != one {
				t.Fatalf("%s: answer to the duress code\n%q\ndiffers from the answer to 1\n%q", lang, duress, one)
			}
		}
		// Every other step renders the same way every time too.
		menu, _ := fx.flow.Menu(lang, next)
		gate, _ := fx.flow.Gate(lang, gateAction)
		for range 20 {
			if m, _ := fx.flow.Menu(lang, next); m != menu {
				t.Fatalf("%s: Menu renders differently from one call to the next:\n%s\n%s", lang, menu, m)
			}
			if g, _ := fx.flow.Gate(lang, gateAction); g != gate {
				t.Fatalf("%s: Gate renders differently from one call to the next:\n%s\n%s", lang, gate, g)
			}
		}
	}
}

// TestURLsAreEscaped: a query string's & reaches Twilio as &amp; and
// parses back to the URL; text that looks like markup stays text.
func TestURLsAreEscaped(t *testing.T) {
	t.Parallel()
	fx := setup(t)

	tricky := Next{
		Action:  `https://saathi.example.org/k?a=1&b="2"&c=<3>`,
		NoInput: "https://saathi.example.org/n?x=1&y=2'",
	}
	doc, err := fx.flow.Menu("hi", tricky)
	if err != nil {
		t.Fatal(err)
	}
	for _, raw := range []string{"a=1&b", "&y=2", `"2"`, "<3>"} {
		if strings.Contains(doc, raw) {
			t.Errorf("TwiML contains %q unescaped:\n%s", raw, doc)
		}
	}
	root := parse(t, doc)
	if got, _ := root.Children[0].attr("action"); got != tricky.Action {
		t.Errorf("action parses back as %q, want %q", got, tricky.Action)
	}
	if got := root.Children[1].Text; got != tricky.NoInput {
		t.Errorf("Redirect parses back as %q, want %q", got, tricky.NoInput)
	}
}

// TestCoverName: a deployment's name is said in the greeting, and
// recorded languages play the deployment's recordings.
func TestCoverName(t *testing.T) {
	t.Parallel()

	c, err := locales.NewCatalog()
	if err != nil {
		t.Fatal(err)
	}
	c, err = c.WithSenderName("Asha")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := locales.NewVoice(c, ""); err == nil {
		t.Fatal("NewVoice(cover name, built-in recordings) = nil error: the Urdu greeting would say another name")
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "ur"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, id := range locales.VoicePromptIDs() {
		data, err := os.ReadFile(filepath.Join("..", "..", "locales", "audio", "ur", id+".wav"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "ur", id+".wav"), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	config, err := os.ReadFile(filepath.Join("..", "..", "locales", "voice.toml"))
	if err != nil {
		t.Fatal(err)
	}
	config = []byte(strings.Replace(string(config), `name = "ساتھی"`, `name = "Asha"`, 1))
	if err := os.WriteFile(filepath.Join(dir, "voice.toml"), config, 0o644); err != nil {
		t.Fatal(err)
	}
	v, err := locales.NewVoice(c, dir)
	if err != nil {
		t.Fatalf("NewVoice(cover name, its recordings) error = %v", err)
	}
	f, err := New(v, audioBase)
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range []string{"en", "hi", "pa", "gu"} {
		doc, err := f.Menu(lang, next)
		if err != nil {
			t.Fatal(err)
		}
		if greeting := parse(t, doc).Children[0].Children[0].Text; !strings.Contains(greeting, "Asha") {
			t.Errorf("%s greeting %q lacks the cover name", lang, greeting)
		}
	}
	doc, err := f.Menu("ur", next)
	if err != nil {
		t.Fatal(err)
	}
	if play := parse(t, doc).Children[0].Children[0]; play.XMLName.Local != "Play" || !strings.HasPrefix(play.Text, audioBase+"/ur/VoiceGreeting.wav?v=") {
		t.Errorf("ur greeting = <%s>%s, want the recording played", play.XMLName.Local, play.Text)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	fx := setup(t)

	for _, base := range []string{"", "/twilio/voice/audio", "saathi.example.org/audio", "ftp://saathi.example.org/a", "https://saathi.example.org/a?x=1", "https://saathi.example.org/a#f"} {
		if f, err := New(fx.voice, base); err == nil {
			t.Errorf("New(%q) = %v, nil; want an error", base, f)
		}
	}
	if _, err := New(nil, audioBase); err == nil {
		t.Error("New(nil voice) = nil error")
	}

	bad := []Next{
		{Action: "", NoInput: next.NoInput},
		{Action: next.Action, NoInput: ""},
		{Action: "/twilio/voice/keys", NoInput: next.NoInput},
		{Action: next.Action, NoInput: "javascript:alert(1)"},
	}
	for _, n := range bad {
		for name, render := range map[string]func(string, Next) (string, error){"Menu": fx.flow.Menu, "Repeat": fx.flow.Repeat, "NoInput": fx.flow.NoInput} {
			if doc, err := render("hi", n); err == nil || doc != "" {
				t.Errorf("%s(hi, %+v) = %q, %v; want no TwiML and an error", name, n, doc, err)
			}
		}
	}
	if doc, err := fx.flow.Gate("hi", ""); err == nil || doc != "" {
		t.Errorf(`Gate(hi, "") = %q, %v; want an error`, doc, err)
	}

	for _, id := range []string{locales.VoiceGate, locales.VoiceGreeting, locales.ReplyThanks, ""} {
		if _, err := fx.flow.Answer("hi", id); !errors.Is(err, ErrNoAnswer) {
			t.Errorf("Answer(hi, %q) error = %v, want ErrNoAnswer", id, err)
		}
	}
	for name, render := range map[string]func() (string, error){
		"Menu":    func() (string, error) { return fx.flow.Menu("mr", next) },
		"Gate":    func() (string, error) { return fx.flow.Gate("mr", gateAction) },
		"Answer":  func() (string, error) { return fx.flow.Answer("mr", locales.VoiceThanks) },
		"Goodbye": func() (string, error) { return fx.flow.Goodbye("") },
	} {
		if doc, err := render(); !errors.Is(err, locales.ErrUnsupportedLanguage) || doc != "" {
			t.Errorf("%s in an unsupported language = %q, %v; want ErrUnsupportedLanguage", name, doc, err)
		}
	}
}

func TestAnswers(t *testing.T) {
	t.Parallel()

	want := map[reply.Intent]string{
		reply.OK: locales.VoiceThanks, reply.Duress: locales.VoiceThanks,
		reply.CallMe: locales.VoiceCallMe, reply.HelpNow: locales.VoiceHelpNow,
	}
	got := Answers()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Answers() mismatch (-want +got):\n%s", diff)
	}
	// Free text (9, a mistyped code), STOP and the like get the question
	// again, not an answer.
	for _, i := range []reply.Intent{reply.FreeText, reply.OptOut, reply.OptIn, reply.HelpInfo} {
		if _, ok := got[i]; ok {
			t.Errorf("Answers()[%s] is set", i)
		}
	}
	got[reply.OK] = locales.VoiceHelpNow
	if Answers()[reply.OK] != locales.VoiceThanks {
		t.Error("Answers() shares its map with callers")
	}
	if !slices.Contains(locales.VoicePromptIDs(), want[reply.CallMe]) {
		t.Error("answers are not voice prompts")
	}
}
