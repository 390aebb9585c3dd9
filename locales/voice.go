package locales

import (
	"crypto/sha256"
	"embed"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
)

// voicePrompts are the texts spoken on a check-in call, in the order a
// call may use them. A recorded language has one recording of each.
var voicePrompts = []string{
	VoiceGate, VoiceGreeting, VoiceCheckin, VoiceNoInput,
	VoiceThanks, VoiceCallMe, VoiceHelpNow, VoiceGoodbye,
}

// VoicePromptIDs lists the voice prompts (the Voice* message IDs).
func VoicePromptIDs() []string { return slices.Clone(voicePrompts) }

// voiceFiles are the built-in voice.toml and the recordings of the
// languages it marks recorded (audio/<lang>/<MessageID>.wav).
//
//go:embed voice.toml audio/*/*.wav
var voiceFiles embed.FS

// voiceConfig is the file that says how each language is spoken, in the
// package and in a deployment's recordings directory.
const voiceConfig = "voice.toml"

// maxRecording bounds one recording, in bytes. A prompt lasts seconds:
// 8 kHz 16-bit mono is 16 KB a second, and even CD-quality WAV stays
// under this for half a minute. All recordings are held in memory.
const maxRecording = 4 << 20

// VoiceSpec says how one language's voice prompts are spoken: by a Twilio
// <Say> voice (Language and Voice), or from recordings played with <Play>
// (Recorded).
type VoiceSpec struct {
	// Language is the <Say> language, e.g. "hi-IN".
	Language string `toml:"language"`
	// Voice is the <Say> voice, e.g. "Polly.Aditi".
	Voice string `toml:"voice"`
	// Recorded means every prompt is a recording.
	Recorded bool `toml:"recorded"`
	// Name is, for a recorded language, the service's name as the
	// VoiceGreeting recording says it. A recording cannot follow a change
	// of name, so NewVoice refuses recordings whose Name is not the one
	// the texts use.
	Name string `toml:"name"`
}

// Prompt is one voice prompt in one language, ready for TwiML: a <Say> of
// Text with Language and Voice, or, when Audio is set, a <Play> of the
// recording.
type Prompt struct {
	ID string
	// Text is what is said. For a recorded language it is the script the
	// recording was read from (for logs and the dev pages).
	Text     string
	Language string
	Voice    string
	// Audio is the recording's path relative to where Recording is served:
	// "<lang>/<file>?v=<version>". The version changes with the content,
	// so Twilio, which caches what it plays by URL, never plays an old
	// recording after a new one is deployed.
	Audio string
}

// Recording is one recorded prompt, as Saathi serves it to Twilio.
type Recording struct {
	// ContentType is "audio/wav" or "audio/mpeg".
	ContentType string
	// Version is the start of the content's SHA-256, in hex (for the URL,
	// and an ETag).
	Version string
	data    string
}

// Open returns the recording's bytes, for http.ServeContent.
func (r Recording) Open() *strings.Reader { return strings.NewReader(r.data) }

// Size is the recording's length in bytes.
func (r Recording) Size() int { return len(r.data) }

// String describes the recording without its bytes (for logs and test
// failures).
func (r Recording) String() string {
	return fmt.Sprintf("%s, %d bytes, version %s", r.ContentType, len(r.data), r.Version)
}

// Voice is how every voice prompt sounds in every language: the texts of a
// Catalog, each language's VoiceSpec, and the recordings of the recorded
// languages, all checked when it is made. It is safe for concurrent use.
type Voice struct {
	specs      map[string]VoiceSpec
	prompts    map[string]map[string]Prompt    // lang → message ID
	recordings map[string]map[string]Recording // lang → file name
}

// NewVoice makes the Voice of c's texts (with its sender name). With dir
// "" it uses the built-in voice.toml and recordings. Otherwise dir
// (SAATHI_VOICE_AUDIO_DIR) holds a deployment's recordings, and may hold
// its own voice.toml, which then replaces the built-in one: for every
// language marked recorded, <dir>/<lang>/<MessageID>.wav or .mp3 for
// every voice prompt (VoicePromptIDs), each a valid WAV or MP3 file.
// Other files are ignored; a recording of a language that voice.toml does
// not mark recorded, or of no voice prompt, is an error, as is a recorded
// language whose name (VoiceSpec.Name) is not the one c's texts use.
func NewVoice(c *Catalog, dir string) (*Voice, error) {
	if dir == "" {
		audio, err := fs.Sub(voiceFiles, "audio")
		if err != nil {
			return nil, fmt.Errorf("built-in recordings: %w", err)
		}
		v, err := newVoice(c, voiceFiles, audio)
		if err != nil {
			return nil, fmt.Errorf("built-in voice: %w", err)
		}
		return v, nil
	}
	info, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("recordings directory: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("recordings directory %s: not a directory", dir)
	}
	fsys := os.DirFS(dir)
	config := fs.FS(voiceFiles)
	if _, err := fs.Stat(fsys, voiceConfig); err == nil {
		config = fsys
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("recordings directory %s: %w", dir, err)
	}
	v, err := newVoice(c, config, fsys)
	if err != nil {
		return nil, fmt.Errorf("recordings directory %s: %w", dir, err)
	}
	return v, nil
}

// newVoice reads voice.toml from config and the recordings from audio
// (<lang>/<file>).
func newVoice(c *Catalog, config, audio fs.FS) (*Voice, error) {
	specs, err := loadVoiceSpecs(config)
	if err != nil {
		return nil, err
	}
	recordings, err := loadRecordings(audio, specs)
	if err != nil {
		return nil, err
	}
	v := &Voice{specs: specs, recordings: recordings, prompts: make(map[string]map[string]Prompt, len(Supported))}
	for _, lang := range Supported {
		spec := specs[lang]
		if spec.Recorded && spec.Name != c.names[lang] {
			return nil, fmt.Errorf("the %s recordings say the name %q (%s), but the texts use %q: record VoiceGreeting saying %q into a recordings directory (SAATHI_VOICE_AUDIO_DIR) whose %s says name = %q",
				lang, spec.Name, voiceConfig, c.names[lang], c.names[lang], voiceConfig, c.names[lang])
		}
		byFile := make(map[string]string, len(recordings[lang]))
		for file := range recordings[lang] {
			byFile[strings.TrimSuffix(file, path.Ext(file))] = file
		}
		v.prompts[lang] = make(map[string]Prompt, len(voicePrompts))
		for _, id := range voicePrompts {
			text, err := c.Text(lang, id, nil)
			if err != nil {
				return nil, err
			}
			p := Prompt{ID: id, Text: text}
			if spec.Recorded {
				file := byFile[id]
				p.Audio = lang + "/" + file + "?v=" + recordings[lang][file].Version
			} else {
				p.Language, p.Voice = spec.Language, spec.Voice
			}
			v.prompts[lang][id] = p
		}
	}
	return v, nil
}

// String says how each language is spoken, without the recordings'
// bytes (for logs and test failures).
func (v *Voice) String() string {
	parts := make([]string, 0, len(Supported))
	for _, lang := range Supported {
		spec := v.specs[lang]
		if spec.Recorded {
			parts = append(parts, fmt.Sprintf("%s: %d recordings", lang, len(v.recordings[lang])))
		} else {
			parts = append(parts, fmt.Sprintf("%s: %s %s", lang, spec.Language, spec.Voice))
		}
	}
	return "voice (" + strings.Join(parts, ", ") + ")"
}

// Spec says how lang is spoken.
func (v *Voice) Spec(lang string) (VoiceSpec, bool) {
	s, ok := v.specs[lang]
	return s, ok
}

// Prompt is voice prompt id (one of VoicePromptIDs) in lang.
func (v *Voice) Prompt(lang, id string) (Prompt, error) {
	byID, ok := v.prompts[lang]
	if !ok {
		return Prompt{}, fmt.Errorf("voice prompt %s: %w %q", id, ErrUnsupportedLanguage, lang)
	}
	p, ok := byID[id]
	if !ok {
		return Prompt{}, fmt.Errorf("voice prompt %s in %s: %w: not a voice prompt", id, lang, ErrMissingMessage)
	}
	return p, nil
}

// Recording is the recording served as <lang>/<file> (file as in
// Prompt.Audio, without the query); false if there is none. The names
// come from a fixed list, so a request path can be looked up as it is.
func (v *Voice) Recording(lang, file string) (Recording, bool) {
	r, ok := v.recordings[lang][file]
	return r, ok
}

var (
	sayLanguagePattern = regexp.MustCompile(`^[a-z]{2,3}-[A-Z]{2}$`)
	sayVoicePattern    = regexp.MustCompile(`^(Polly|Google)\.[A-Za-z0-9-]+$`)
)

// loadVoiceSpecs reads voice.toml: one table per supported language, no
// other table or key.
func loadVoiceSpecs(fsys fs.FS) (map[string]VoiceSpec, error) {
	buf, err := fs.ReadFile(fsys, voiceConfig)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", voiceConfig, err)
	}
	var specs map[string]VoiceSpec
	md, err := toml.Decode(string(buf), &specs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", voiceConfig, err)
	}
	if keys := md.Undecoded(); len(keys) > 0 {
		return nil, fmt.Errorf("%s: unknown keys %v", voiceConfig, keys)
	}
	for lang := range specs {
		if !IsSupported(lang) {
			return nil, fmt.Errorf("%s: %w %q", voiceConfig, ErrUnsupportedLanguage, lang)
		}
	}
	for _, lang := range Supported {
		spec, ok := specs[lang]
		if !ok {
			return nil, fmt.Errorf("%s: no [%s] table: every language must say how it is spoken", voiceConfig, lang)
		}
		if spec, err = checkVoiceSpec(lang, spec); err != nil {
			return nil, fmt.Errorf("%s [%s]: %w", voiceConfig, lang, err)
		}
		specs[lang] = spec
	}
	return specs, nil
}

// checkVoiceSpec returns spec with its name cleaned, or why it cannot say
// lang's prompts. Twilio's voice list is not at hand, so a voice is checked
// for its shape and, for a Google voice, its language; Twilio falls back
// to another voice (or fails the call) on one it does not know.
func checkVoiceSpec(lang string, spec VoiceSpec) (VoiceSpec, error) {
	if spec.Recorded {
		if spec.Language != "" || spec.Voice != "" {
			return spec, errors.New("recorded = true takes no language or voice")
		}
		spec.Name = cleanSenderName(spec.Name)
		if spec.Name == "" {
			return spec, errors.New("recorded = true needs name: the service's name as the VoiceGreeting recording says it")
		}
		return spec, nil
	}
	if spec.Name != "" {
		return spec, errors.New("name is for recorded languages only: a text-to-speech voice says the texts' own name")
	}
	if !sayLanguagePattern.MatchString(spec.Language) || !strings.HasPrefix(spec.Language, lang+"-") {
		return spec, fmt.Errorf("language %q: want a <Say> language of %s such as %s-IN (or recorded = true)", spec.Language, lang, lang)
	}
	if !sayVoicePattern.MatchString(spec.Voice) {
		return spec, fmt.Errorf("voice %q: want a Twilio <Say> voice such as Polly.Aditi or Google.%s-Standard-A", spec.Voice, spec.Language)
	}
	if strings.HasPrefix(spec.Voice, "Google.") && !strings.HasPrefix(spec.Voice, "Google."+spec.Language+"-") {
		return spec, fmt.Errorf("voice %q does not speak %s", spec.Voice, spec.Language)
	}
	return spec, nil
}

// audioTypes are the recording formats Twilio's <Play> takes that Saathi
// accepts, by file extension.
var audioTypes = map[string]string{".wav": "audio/wav", ".mp3": "audio/mpeg"}

// loadRecordings reads <lang>/<MessageID>.wav|.mp3 for every language, and
// checks that every recorded language has every voice prompt, once, and
// that no other language has any.
func loadRecordings(audio fs.FS, specs map[string]VoiceSpec) (map[string]map[string]Recording, error) {
	out := make(map[string]map[string]Recording, len(Supported))
	for _, lang := range Supported {
		entries, err := fs.ReadDir(audio, lang)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("recordings %s: %w", lang, err)
		}
		recorded := specs[lang].Recorded
		files := map[string]string{} // message ID → file name
		for _, e := range entries {
			name := e.Name()
			ext := strings.ToLower(path.Ext(name))
			if _, ok := audioTypes[ext]; !ok || e.IsDir() {
				continue // a script, notes, a directory: not a recording
			}
			if !recorded {
				return nil, fmt.Errorf("%s/%s: %s is spoken by %s, not recorded: set recorded = true for it in %s, or remove its recordings", lang, name, lang, specs[lang].Voice, voiceConfig)
			}
			id := strings.TrimSuffix(name, path.Ext(name))
			if !slices.Contains(voicePrompts, id) {
				return nil, fmt.Errorf("%s/%s: %s is not a voice prompt (%s)", lang, name, id, strings.Join(voicePrompts, ", "))
			}
			if other, dup := files[id]; dup {
				return nil, fmt.Errorf("%s: %s and %s are both %s: keep one", lang, other, name, id)
			}
			files[id] = name
		}
		if !recorded {
			continue
		}
		var missing []string
		for _, id := range voicePrompts {
			if files[id] == "" {
				missing = append(missing, id)
			}
		}
		if len(missing) > 0 {
			return nil, fmt.Errorf("%s is recorded, but %s/ lacks a recording of %s (each <MessageID>.wav or .mp3)", lang, lang, strings.Join(missing, ", "))
		}
		out[lang] = make(map[string]Recording, len(files))
		for _, id := range voicePrompts {
			rec, err := readRecording(audio, lang+"/"+files[id])
			if err != nil {
				return nil, err
			}
			out[lang][files[id]] = rec
		}
	}
	return out, nil
}

func readRecording(audio fs.FS, name string) (Recording, error) {
	info, err := fs.Stat(audio, name)
	if err != nil {
		return Recording{}, fmt.Errorf("recording %s: %w", name, err)
	}
	if info.Size() > maxRecording {
		return Recording{}, fmt.Errorf("recording %s: %d bytes, more than %d: a prompt needs no more than 8 kHz mono", name, info.Size(), maxRecording)
	}
	data, err := fs.ReadFile(audio, name)
	if err != nil {
		return Recording{}, fmt.Errorf("recording %s: %w", name, err)
	}
	ext := strings.ToLower(path.Ext(name))
	check := checkWAV
	if ext == ".mp3" {
		check = checkMP3
	}
	if err := check(data); err != nil {
		return Recording{}, fmt.Errorf("recording %s: %w", name, err)
	}
	sum := sha256.Sum256(data)
	return Recording{ContentType: audioTypes[ext], Version: hex.EncodeToString(sum[:6]), data: string(data)}, nil
}

// WAVE format codes Twilio plays: PCM, A-law, µ-law, and the extensible
// header some editors write for PCM.
var wavFormats = map[uint16]bool{1: true, 6: true, 7: true, 0xFFFE: true}

// checkWAV checks the RIFF structure of a WAV file: a WAVE header, a fmt
// chunk of a playable encoding, a non-empty data chunk after it, and no
// chunk running past the end (a truncated copy).
func checkWAV(b []byte) error {
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return errors.New("not a WAV file (no RIFF/WAVE header)")
	}
	var haveFmt, haveData bool
	for off := 12; off+8 <= len(b); {
		id, size := string(b[off:off+4]), int(binary.LittleEndian.Uint32(b[off+4:off+8]))
		body := off + 8
		if size > len(b)-body {
			return fmt.Errorf("WAV chunk %q runs past the end of the file (truncated?)", id)
		}
		switch id {
		case "fmt ":
			if size < 16 {
				return errors.New("WAV fmt chunk too short")
			}
			format := binary.LittleEndian.Uint16(b[body:])
			channels := binary.LittleEndian.Uint16(b[body+2:])
			rate := binary.LittleEndian.Uint32(b[body+4:])
			if !wavFormats[format] {
				return fmt.Errorf("WAV encoding %#x: use PCM, A-law or µ-law", format)
			}
			if channels < 1 || channels > 2 || rate < 8000 || rate > 48000 {
				return fmt.Errorf("WAV with %d channels at %d Hz: use mono, 8 to 48 kHz", channels, rate)
			}
			haveFmt = true
		case "data":
			if !haveFmt {
				return errors.New("WAV data chunk before its fmt chunk")
			}
			if size == 0 {
				return errors.New("WAV file holds no audio")
			}
			haveData = true
		}
		off = body + size + size%2
	}
	if !haveFmt || !haveData {
		return errors.New("WAV file lacks its fmt or data chunk")
	}
	return nil
}

// checkMP3 checks that an MP3 file starts, after any ID3v2 tag, with an
// MPEG audio frame header with no reserved values.
func checkMP3(b []byte) error {
	off := 0
	if len(b) >= 10 && string(b[:3]) == "ID3" {
		off = 10 + (int(b[6]&0x7f)<<21 | int(b[7]&0x7f)<<14 | int(b[8]&0x7f)<<7 | int(b[9]&0x7f))
		if b[5]&0x10 != 0 {
			off += 10 // footer
		}
	}
	if off+4 > len(b) {
		return errors.New("not an MP3 file (no audio frame)")
	}
	h := b[off : off+4]
	version, layer := (h[1]>>3)&3, (h[1]>>1)&3
	bitrate, rate := h[2]>>4, (h[2]>>2)&3
	if h[0] != 0xFF || h[1]&0xE0 != 0xE0 || version == 1 || layer == 0 || bitrate == 15 || rate == 3 {
		return errors.New("not an MP3 file (no MPEG audio frame header)")
	}
	return nil
}
