package locales

import (
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"unicode/utf8"

	"github.com/BurntSushi/toml"
	"github.com/google/go-cmp/cmp"
)

// setupVoice returns the built-in Voice of the default catalog.
func setupVoice(t *testing.T) *Voice {
	t.Helper()
	v, err := NewVoice(setup(t), "")
	if err != nil {
		t.Fatalf("NewVoice(built-in) error = %v", err)
	}
	return v
}

// checkSpoken fails the test for any voice prompt of any language that has
// neither a voice nor a recording to play.
func checkSpoken(t *testing.T, v *Voice, name string) {
	t.Helper()
	for _, lang := range Supported {
		spec, ok := v.Spec(lang)
		if !ok {
			t.Errorf("name %q: Spec(%q) missing", name, lang)
			continue
		}
		for _, id := range voicePrompts {
			p, err := v.Prompt(lang, id)
			if err != nil {
				t.Errorf("name %q: Prompt(%q, %q) error = %v", name, lang, id, err)
				continue
			}
			if strings.TrimSpace(p.Text) == "" || p.ID != id {
				t.Errorf("name %q: Prompt(%q, %q) = %+v: no text", name, lang, id, p)
			}
			switch {
			case spec.Recorded:
				file, version, _ := strings.Cut(strings.TrimPrefix(p.Audio, lang+"/"), "?v=")
				rec, ok := v.Recording(lang, file)
				if !ok || p.Language != "" || p.Voice != "" || version != rec.Version || rec.Size() == 0 {
					t.Errorf("name %q: Prompt(%q, %q) = %+v: want a recording to play and no voice (found %v)", name, lang, id, p, ok)
				}
			case p.Language == "" || p.Voice == "" || p.Audio != "":
				t.Errorf("name %q: Prompt(%q, %q) = %+v: want a language and voice to say it with", name, lang, id, p)
			}
		}
	}
}

// TestEveryVoicePromptIsSpoken: with the built-in voice.toml and
// recordings, and with a cover name and recordings that say it, every
// language has every voice prompt, to say or to play.
func TestEveryVoicePromptIsSpoken(t *testing.T) {
	t.Parallel()

	checkSpoken(t, setupVoice(t), "")
	for _, nc := range setupNamed(t)[1:] {
		dir := recordingsDir(t, "[ur]\nrecorded = true\nname = \""+nc.name+"\"\n")
		v, err := NewVoice(nc.Catalog, dir)
		if err != nil {
			t.Fatalf("name %q: NewVoice(dir) error = %v", nc.name, err)
		}
		checkSpoken(t, v, nc.name)
	}
}

func TestVoiceSpecs(t *testing.T) {
	t.Parallel()
	v := setupVoice(t)

	want := map[string]VoiceSpec{
		"en": {Language: "en-IN", Voice: "Polly.Raveena"},
		"hi": {Language: "hi-IN", Voice: "Polly.Aditi"},
		"pa": {Language: "pa-IN", Voice: "Google.pa-IN-Standard-A"},
		"gu": {Language: "gu-IN", Voice: "Google.gu-IN-Standard-C"},
		"ur": {Recorded: true, Name: "ساتھی"},
	}
	for _, lang := range Supported {
		got, ok := v.Spec(lang)
		if diff := cmp.Diff(want[lang], got); !ok || diff != "" {
			t.Errorf("Spec(%q) mismatch (-want +got):\n%s", lang, diff)
		}
	}
	if got, want := v.String(), "voice (en: en-IN Polly.Raveena, hi: hi-IN Polly.Aditi, pa: pa-IN Google.pa-IN-Standard-A, gu: gu-IN Google.gu-IN-Standard-C, ur: 8 recordings)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if _, ok := v.Spec("mr"); ok {
		t.Error(`Spec("mr") found a spec for an unsupported language`)
	}
}

// TestVoicePromptsAreListed: every Voice* text is a voice prompt (so a
// recorded language must record it), and every voice prompt is a text.
func TestVoicePromptsAreListed(t *testing.T) {
	t.Parallel()
	c := setup(t)

	var texts []string
	for _, id := range c.IDs() {
		if strings.HasPrefix(id, "Voice") {
			texts = append(texts, id)
		}
	}
	if diff := cmp.Diff(slices.Sorted(slices.Values(voicePrompts)), texts); diff != "" {
		t.Errorf("Voice* texts and voice prompts differ (-prompts +texts):\n%s", diff)
	}
	if diff := cmp.Diff(voicePrompts, VoicePromptIDs()); diff != "" {
		t.Errorf("VoicePromptIDs() mismatch (-want +got):\n%s", diff)
	}
}

// TestVoiceTexts: the question offers 1, 2, 3 and 9; no prompt runs long
// (the survivor listens on a phone that may be overheard); only the
// greeting names the service, with any name.
func TestVoiceTexts(t *testing.T) {
	t.Parallel()

	const maxChars = 120
	for _, nc := range setupNamed(t) {
		for _, lang := range Supported {
			for _, id := range voicePrompts {
				got, err := nc.Text(lang, id, nil)
				if err != nil {
					t.Fatalf("Text(%q, %q) error = %v", lang, id, err)
				}
				if n := utf8.RuneCountInString(got); n > maxChars {
					t.Errorf("name %q: Text(%q, %q) has %d characters, want at most %d: %q", nc.name, lang, id, n, maxChars, got)
				}
				name, _ := nc.Text(lang, SenderName, nil)
				if named := strings.Contains(got, name); named != (id == VoiceGreeting) {
					t.Errorf("name %q: Text(%q, %q) = %q: names the service = %v, want only %s to", nc.name, lang, id, got, named, VoiceGreeting)
				}
			}
			question, _ := nc.Text(lang, VoiceCheckin, nil)
			for _, d := range []string{"1", "2", "3", "9"} {
				if !strings.Contains(question, d) {
					t.Errorf("Text(%q, VoiceCheckin) = %q lacks the key %s", lang, question, d)
				}
			}
		}
	}
}

// TestBuiltInRecordings checks the committed stand-ins: valid 8 kHz mono
// WAV files, one per prompt and nothing else, small, and saying what the
// texts say now (script.toml, written by audio/generate.sh with them).
func TestBuiltInRecordings(t *testing.T) {
	t.Parallel()
	c := setup(t)
	v := setupVoice(t)

	total := 0
	for _, lang := range Supported {
		spec, _ := v.Spec(lang)
		entries, err := fs.ReadDir(voiceFiles, "audio/"+lang)
		if !spec.Recorded {
			if err == nil || len(entries) > 0 {
				t.Errorf("audio/%s: recordings for a language voice.toml does not mark recorded", lang)
			}
			continue
		}
		var files []string
		for _, e := range entries {
			files = append(files, e.Name())
			data, err := fs.ReadFile(voiceFiles, "audio/"+lang+"/"+e.Name())
			if err != nil {
				t.Fatal(err)
			}
			total += len(data)
			if err := checkWAV(data); err != nil {
				t.Errorf("audio/%s/%s: %v", lang, e.Name(), err)
			}
			if ch, rate := wavFormat(t, data); ch != 1 || rate != 8000 {
				t.Errorf("audio/%s/%s: %d channels at %d Hz, want mono at 8000 Hz", lang, e.Name(), ch, rate)
			}
		}
		var want []string
		for _, id := range voicePrompts {
			want = append(want, id+".wav")
		}
		if diff := cmp.Diff(slices.Sorted(slices.Values(want)), files); diff != "" {
			t.Errorf("audio/%s mismatch (-want +got):\n%s", lang, diff)
		}

		var script struct {
			Language string
			Name     string
			Prompts  map[string]struct{ Text string }
		}
		if _, err := toml.DecodeFile(filepath.Join("audio", lang, "script.toml"), &script); err != nil {
			t.Fatalf("audio/%s/script.toml: %v", lang, err)
		}
		if script.Language != lang || script.Name != spec.Name {
			t.Errorf("audio/%s/script.toml: language %q, name %q; want %q, %q (voice.toml)", lang, script.Language, script.Name, lang, spec.Name)
		}
		for _, id := range voicePrompts {
			text, err := c.Text(lang, id, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := script.Prompts[id].Text; got != text {
				t.Errorf("audio/%s/%s.wav says %q, but the text is now %q: run locales/audio/generate.sh", lang, id, got, text)
			}
		}
		if len(script.Prompts) != len(voicePrompts) {
			t.Errorf("audio/%s/script.toml has %d prompts, want %d", lang, len(script.Prompts), len(voicePrompts))
		}
	}
	// Embedded in the binary and fetched by Twilio on first play.
	if total == 0 || total > 512<<10 {
		t.Errorf("built-in recordings total %d bytes, want 1 to %d", total, 512<<10)
	}
	t.Logf("built-in recordings: %d bytes", total)
}

// wavFormat returns the channels and sample rate of a WAV file checkWAV
// accepted.
func wavFormat(t *testing.T, b []byte) (channels uint16, rate uint32) {
	t.Helper()
	i := strings.Index(string(b), "fmt ")
	if i < 0 {
		t.Fatal("no fmt chunk")
	}
	return binary.LittleEndian.Uint16(b[i+10:]), binary.LittleEndian.Uint32(b[i+12:])
}

// TestVoiceRefusesRecordingsOfAnotherName: recordings cannot follow a
// cover name. The built-in ones say the default name, so a catalog with a
// cover name has no Voice until recordings that say it are given.
func TestVoiceRefusesRecordingsOfAnotherName(t *testing.T) {
	t.Parallel()

	for _, nc := range setupNamed(t)[1:] {
		v, err := NewVoice(nc.Catalog, "")
		if err == nil || !strings.Contains(err.Error(), `the texts use "`+nc.name+`"`) {
			t.Errorf("name %q: NewVoice(built-in) = %v, %v; want an error naming the cover name", nc.name, v, err)
		}
		// Recordings given, but saying another name (an old cover name).
		dir := recordingsDir(t, "[ur]\nrecorded = true\nname = \"Kiran\"\n")
		if v, err := NewVoice(nc.Catalog, dir); err == nil {
			t.Errorf("name %q: NewVoice(recordings of Kiran) = %v, nil; want an error", nc.name, v)
		}
	}
	// The name is compared as SAATHI_SENDER_NAME is: spaces tidied.
	c, err := setup(t).WithSenderName("Kiran Tailors")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewVoice(c, recordingsDir(t, "[ur]\nrecorded = true\nname = \" Kiran  Tailors \"\n")); err != nil {
		t.Errorf("NewVoice(recordings of Kiran Tailors) error = %v", err)
	}
}

// recordingsDir makes a deployment's recordings directory: a copy of the
// built-in Urdu recordings, and voice.toml with the built-in tables for
// en, hi, pa and gu plus urTable.
func recordingsDir(t *testing.T, urTable string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "ur"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, id := range voicePrompts {
		data, err := fs.ReadFile(voiceFiles, "audio/ur/"+id+".wav")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "ur", id+".wav"), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, voiceConfig), []byte(spokenTables+urTable), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

const spokenTables = `
[en]
language = "en-IN"
voice = "Polly.Raveena"
[hi]
language = "hi-IN"
voice = "Polly.Aditi"
[pa]
language = "pa-IN"
voice = "Google.pa-IN-Standard-A"
[gu]
language = "gu-IN"
voice = "Google.gu-IN-Standard-C"
`

// TestNewVoiceDirectory loads a deployment's directory from disk: its own
// recordings replace the built-in ones; without a voice.toml of its own,
// the built-in one applies; any language may switch to recordings, WAV or
// MP3.
func TestNewVoiceDirectory(t *testing.T) {
	t.Parallel()
	c := setup(t)
	builtIn := setupVoice(t)

	t.Run("own recordings, built-in voice.toml", func(t *testing.T) {
		t.Parallel()
		dir := recordingsDir(t, "")
		if err := os.Remove(filepath.Join(dir, voiceConfig)); err != nil {
			t.Fatal(err)
		}
		native := testWAV(4000)
		if err := os.WriteFile(filepath.Join(dir, "ur", "VoiceThanks.wav"), native, 0o644); err != nil {
			t.Fatal(err)
		}
		v, err := NewVoice(c, dir)
		if err != nil {
			t.Fatalf("NewVoice(dir) error = %v", err)
		}
		rec, ok := v.Recording("ur", "VoiceThanks.wav")
		if !ok {
			t.Fatal(`Recording("ur", "VoiceThanks.wav") missing`)
		}
		if got, _ := io.ReadAll(rec.Open()); string(got) != string(native) || rec.ContentType != "audio/wav" {
			t.Errorf("Recording(ur, VoiceThanks.wav) = %d bytes of %s, want the directory's %d bytes of audio/wav", len(got), rec.ContentType, len(native))
		}
		// A new recording is a new URL: Twilio caches what it plays.
		p, _ := v.Prompt("ur", VoiceThanks)
		old, _ := builtIn.Prompt("ur", VoiceThanks)
		if p.Audio == old.Audio || !strings.HasPrefix(p.Audio, "ur/VoiceThanks.wav?v=") {
			t.Errorf("Prompt(ur, VoiceThanks).Audio = %q (built-in %q), want a new version", p.Audio, old.Audio)
		}
		same, _ := v.Prompt("ur", VoiceGate)
		oldSame, _ := builtIn.Prompt("ur", VoiceGate)
		if same.Audio != oldSame.Audio {
			t.Errorf("Prompt(ur, VoiceGate).Audio = %q, built-in %q: the same recording should keep its URL", same.Audio, oldSame.Audio)
		}
		checkSpoken(t, v, "")
	})

	t.Run("Hindi switched to recordings", func(t *testing.T) {
		t.Parallel()
		dir := recordingsDir(t, "[ur]\nrecorded = true\nname = \"ساتھی\"\n")
		config := strings.Replace(spokenTables+"[ur]\nrecorded = true\nname = \"ساتھی\"\n",
			"[hi]\nlanguage = \"hi-IN\"\nvoice = \"Polly.Aditi\"", "[hi]\nrecorded = true\nname = \"साथी\"", 1)
		if err := os.WriteFile(filepath.Join(dir, voiceConfig), []byte(config), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dir, "hi"), 0o755); err != nil {
			t.Fatal(err)
		}
		for i, id := range voicePrompts {
			name, data := id+".wav", testWAV(800)
			if i%2 == 0 {
				name, data = id+".mp3", testMP3
			}
			if err := os.WriteFile(filepath.Join(dir, "hi", name), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		// Notes beside the recordings are ignored.
		if err := os.WriteFile(filepath.Join(dir, "hi", "README.txt"), []byte("read slowly"), 0o644); err != nil {
			t.Fatal(err)
		}
		v, err := NewVoice(c, dir)
		if err != nil {
			t.Fatalf("NewVoice(dir) error = %v", err)
		}
		p, _ := v.Prompt("hi", VoiceGate)
		rec, ok := v.Recording("hi", "VoiceGate.mp3")
		if !strings.HasPrefix(p.Audio, "hi/VoiceGate.mp3?v=") || p.Voice != "" || !ok || rec.ContentType != "audio/mpeg" {
			t.Errorf("Prompt(hi, VoiceGate) = %+v, recording %+v %v; want the MP3 played", p, rec, ok)
		}
		checkSpoken(t, v, "")
	})

	for name, dir := range map[string]string{
		"missing":  filepath.Join(t.TempDir(), "nothing-here"),
		"a file":   filepath.Join(recordingsDir(t, ""), voiceConfig),
		"no audio": t.TempDir(), // the built-in voice.toml needs ur/
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if v, err := NewVoice(c, dir); err == nil {
				t.Errorf("NewVoice(%s) = %v, nil; want an error", dir, v)
			}
		})
	}
}

func TestVoicePromptErrors(t *testing.T) {
	t.Parallel()
	v := setupVoice(t)

	if _, err := v.Prompt("mr", VoiceGate); !errors.Is(err, ErrUnsupportedLanguage) {
		t.Errorf("Prompt(mr, VoiceGate) error = %v, want ErrUnsupportedLanguage", err)
	}
	for _, id := range []string{CheckinSMS, "VoiceNothing", ""} {
		if _, err := v.Prompt("hi", id); !errors.Is(err, ErrMissingMessage) {
			t.Errorf("Prompt(hi, %q) error = %v, want ErrMissingMessage", id, err)
		}
	}
	for _, file := range []string{"VoiceGate", "VoiceGate.mp3", "../ur/VoiceGate.wav", "VoiceGate.wav?v=1"} {
		if _, ok := v.Recording("ur", file); ok {
			t.Errorf("Recording(ur, %q) found a recording", file)
		}
	}
	if _, ok := v.Recording("hi", "VoiceGate.wav"); ok {
		t.Error("Recording(hi, VoiceGate.wav) found a recording of a spoken language")
	}
}

// TestNewVoiceRejects edits a copy of the built-in voice.toml and
// recordings, one fault at a time.
func TestNewVoiceRejects(t *testing.T) {
	t.Parallel()
	c := setup(t)

	replace := func(old, new string) func(t *testing.T, config, audio fstest.MapFS) {
		return func(t *testing.T, config, audio fstest.MapFS) {
			t.Helper()
			// The tables, not the comment above them, which shows examples.
			s := string(config[voiceConfig].Data)
			i := strings.Index(s, "\n[en]")
			if i < 0 || !strings.Contains(s[i:], old) {
				t.Fatalf("voice.toml tables lack %q", old)
			}
			config[voiceConfig] = &fstest.MapFile{Data: []byte(s[:i] + strings.Replace(s[i:], old, new, 1))}
		}
	}
	tests := []struct {
		name    string
		edit    func(t *testing.T, config, audio fstest.MapFS)
		wantErr string
	}{
		{"a recording is missing", func(t *testing.T, _, audio fstest.MapFS) { delete(audio, "ur/VoiceHelpNow.wav") }, "lacks a recording of VoiceHelpNow"},
		{"a recording of no prompt", func(t *testing.T, _, audio fstest.MapFS) {
			audio["ur/VoiceHelp.wav"] = &fstest.MapFile{Data: testWAV(100)}
		}, "VoiceHelp is not a voice prompt"},
		{"a prompt twice", func(t *testing.T, _, audio fstest.MapFS) {
			audio["ur/VoiceGate.mp3"] = &fstest.MapFile{Data: testMP3}
		}, "are both VoiceGate"},
		{"recordings of a spoken language", func(t *testing.T, _, audio fstest.MapFS) {
			audio["pa/VoiceGate.wav"] = &fstest.MapFile{Data: testWAV(100)}
		}, "pa is spoken by Google.pa-IN-Standard-A, not recorded"},
		{"not a WAV file", func(t *testing.T, _, audio fstest.MapFS) {
			audio["ur/VoiceGate.wav"] = &fstest.MapFile{Data: []byte("<html>not found</html>")}
		}, "no RIFF/WAVE header"},
		{"a truncated WAV file", func(t *testing.T, _, audio fstest.MapFS) {
			audio["ur/VoiceGate.wav"] = &fstest.MapFile{Data: testWAV(1000)[:600]}
		}, "runs past the end"},
		{"an MP3 named .wav", func(t *testing.T, _, audio fstest.MapFS) {
			audio["ur/VoiceGate.wav"] = &fstest.MapFile{Data: testMP3}
		}, "no RIFF/WAVE header"},
		{"not an MP3 file", func(t *testing.T, _, audio fstest.MapFS) {
			delete(audio, "ur/VoiceGate.wav")
			audio["ur/VoiceGate.mp3"] = &fstest.MapFile{Data: testWAV(100)}
		}, "no MPEG audio frame header"},
		{"a recording too big", func(t *testing.T, _, audio fstest.MapFS) {
			audio["ur/VoiceGate.wav"] = &fstest.MapFile{Data: testWAV(maxRecording)}
		}, "more than"},
		{"a language without a table", replace("[gu]\nlanguage = \"gu-IN\"\nvoice = \"Google.gu-IN-Standard-C\"\n", ""), "no [gu] table"},
		{"a table for an unsupported language", replace("[en]", "[mr]\nlanguage = \"mr-IN\"\nvoice = \"Google.mr-IN-Standard-A\"\n\n[en]"), `unsupported language "mr"`},
		{"an unknown key", replace(`voice = "Polly.Aditi"`, "voice = \"Polly.Aditi\"\nrate = \"slow\""), "unknown keys"},
		{"not TOML", replace("[hi]", "[hi"), "voice.toml"},
		{"a recorded language with a voice", replace("recorded = true", "recorded = true\nvoice = \"Polly.Aditi\""), "takes no language or voice"},
		{"a recorded language without a name", replace("name = \"ساتھی\"", ""), "needs name"},
		{"a spoken language with a name", replace(`voice = "Polly.Aditi"`, "voice = \"Polly.Aditi\"\nname = \"साथी\""), "recorded languages only"},
		{"a spoken language without a voice", replace(`voice = "Polly.Aditi"`, ""), `voice ""`},
		{"another language's <Say> language", replace(`language = "hi-IN"`, `language = "gu-IN"`), `language "gu-IN"`},
		{"a Google voice of another language", replace("Google.pa-IN-Standard-A", "Google.hi-IN-Standard-A"), "does not speak pa-IN"},
		{"a voice that is not a voice", replace("Polly.Raveena", "Raveena <3"), "want a Twilio <Say> voice"},
		{"no voice.toml", func(t *testing.T, config, _ fstest.MapFS) { delete(config, voiceConfig) }, "read voice.toml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			config, audio := builtInVoiceCopy(t)
			if _, err := newVoice(c, config, audio); err != nil {
				t.Fatalf("newVoice(unchanged copy) error = %v", err)
			}
			tt.edit(t, config, audio)
			_, err := newVoice(c, config, audio)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("newVoice() error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func builtInVoiceCopy(t *testing.T) (config, audio fstest.MapFS) {
	t.Helper()
	buf, err := fs.ReadFile(voiceFiles, voiceConfig)
	if err != nil {
		t.Fatal(err)
	}
	config = fstest.MapFS{voiceConfig: {Data: buf}}
	audio = fstest.MapFS{}
	err = fs.WalkDir(voiceFiles, "audio", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(voiceFiles, name)
		audio[strings.TrimPrefix(name, "audio/")] = &fstest.MapFile{Data: data}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return config, audio
}

func TestCheckAudio(t *testing.T) {
	t.Parallel()

	wav := testWAV(400)
	withFormat := func(format uint16, channels uint16, rate uint32) []byte {
		b := slices.Clone(wav)
		binary.LittleEndian.PutUint16(b[20:], format)
		binary.LittleEndian.PutUint16(b[22:], channels)
		binary.LittleEndian.PutUint32(b[24:], rate)
		return b
	}
	id3 := append([]byte("ID3\x04\x00\x00\x00\x00\x00\x05xxxxx"), testMP3...)
	tests := []struct {
		name  string
		check func([]byte) error
		in    []byte
		ok    bool
	}{
		{"PCM WAV", checkWAV, wav, true},
		{"µ-law WAV", checkWAV, withFormat(7, 1, 8000), true},
		{"stereo 44.1 kHz WAV", checkWAV, withFormat(1, 2, 44100), true},
		{"the built-in µ-law WAV", checkWAV, mustRead(t, "audio/ur/VoiceGate.wav"), true},
		{"empty", checkWAV, nil, false},
		{"RIFF but not WAVE", checkWAV, append([]byte("RIFF\x04\x00\x00\x00AVI "), wav[12:]...), false},
		{"MP3-in-WAV encoding", checkWAV, withFormat(0x55, 1, 8000), false},
		{"six channels", checkWAV, withFormat(1, 6, 8000), false},
		{"4 kHz", checkWAV, withFormat(1, 1, 4000), false},
		{"no data chunk", checkWAV, wav[:36], false},
		{"empty data chunk", checkWAV, testWAV(0), false},
		{"truncated", checkWAV, wav[:len(wav)-10], false},
		{"MP3 frame", checkMP3, testMP3, true},
		{"MP3 with ID3 tag", checkMP3, id3, true},
		{"ID3 tag alone", checkMP3, id3[:15], false},
		{"WAV as MP3", checkMP3, wav, false},
		{"reserved MPEG version", checkMP3, []byte{0xFF, 0xEB, 0x90, 0x00}, false},
		{"free-format bad bitrate", checkMP3, []byte{0xFF, 0xFB, 0xF0, 0x00}, false},
		{"HTML error page", checkMP3, []byte("<html>"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if err := tt.check(tt.in); (err == nil) != tt.ok {
				t.Errorf("check() = %v, want ok = %v", err, tt.ok)
			}
		})
	}
}

// TestForbiddenWordsInVoiceFiles scans voice.toml and the recordings'
// scripts, which speakers and translators read.
func TestForbiddenWordsInVoiceFiles(t *testing.T) {
	t.Parallel()

	for _, name := range []string{voiceConfig, "audio/ur/script.toml", "audio/generate.sh"} {
		buf, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if hits := Forbidden(string(buf)); len(hits) > 0 {
			t.Errorf("%s contains forbidden %q", name, hits)
		}
	}
}

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	b, err := fs.ReadFile(voiceFiles, name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testWAV is a 16-bit PCM 8 kHz mono WAV file of n bytes of audio.
func testWAV(n int) []byte {
	b := make([]byte, 44+n)
	copy(b, "RIFF")
	binary.LittleEndian.PutUint32(b[4:], uint32(36+n))
	copy(b[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(b[16:], 16)
	binary.LittleEndian.PutUint16(b[20:], 1)
	binary.LittleEndian.PutUint16(b[22:], 1)
	binary.LittleEndian.PutUint32(b[24:], 8000)
	binary.LittleEndian.PutUint32(b[28:], 16000)
	binary.LittleEndian.PutUint16(b[32:], 2)
	binary.LittleEndian.PutUint16(b[34:], 16)
	copy(b[36:], "data")
	binary.LittleEndian.PutUint32(b[40:], uint32(n))
	for i := 44; i < len(b); i++ {
		b[i] = byte(i * 7)
	}
	return b
}

// testMP3 starts with an MPEG-1 Layer III frame header (128 kbit/s,
// 44.1 kHz).
var testMP3 = append([]byte{0xFF, 0xFB, 0x90, 0x64}, make([]byte, 413)...)
