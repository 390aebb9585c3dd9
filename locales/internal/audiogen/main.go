// Command audiogen makes machine-spoken stand-ins for the recorded voice
// prompts of one language with espeak-ng: one 8 kHz 16-bit mono WAV file
// per prompt (<MessageID>.wav) and script.toml, the text each one says.
// Run it through locales/audio/generate.sh.
//
// The stand-ins let every language work before a native speaker has
// recorded it; they are robotic, and an NGO replaces them (README). With
// -name they say a deployment's cover name, for a recordings directory
// whose voice.toml then says that name.
package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/BurntSushi/toml"

	"saathi/locales"
)

// rate is the sample rate of a phone call: anything higher is lost on the
// line and only makes the files bigger.
const rate = 8000

func main() {
	lang := flag.String("lang", "ur", "language of the prompts (one of locales.Supported)")
	out := flag.String("out", "", "output directory (default locales/audio/<lang>)")
	name := flag.String("name", "", "the service's name in the greeting (default: the language's SenderName)")
	voice := flag.String("voice", "", "espeak-ng voice (default: -lang)")
	speed := flag.Int("speed", 140, "espeak-ng words per minute")
	flag.Parse()
	if *out == "" {
		*out = filepath.Join("locales", "audio", *lang)
	}
	if *voice == "" {
		*voice = *lang
	}
	if err := run(*lang, *out, *name, *voice, *speed); err != nil {
		fmt.Fprintln(os.Stderr, "audiogen:", err)
		os.Exit(1)
	}
}

// script is script.toml: what each recording says.
type script struct {
	Language string            `toml:"language"`
	Name     string            `toml:"name"`
	Prompts  map[string]prompt `toml:"prompts"`
}

type prompt struct {
	Text string `toml:"text"`
}

func run(lang, out, name, voice string, speed int) error {
	c, err := locales.NewCatalog()
	if err != nil {
		return err
	}
	if name != "" {
		if c, err = c.WithSenderName(name); err != nil {
			return fmt.Errorf("-name: %w", err)
		}
	}
	if name, err = c.Text(lang, locales.SenderName, nil); err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "audiogen")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	sc := script{Language: lang, Name: name, Prompts: map[string]prompt{}}
	total := 0
	for _, id := range locales.VoicePromptIDs() {
		text, err := c.Text(lang, id, nil)
		if err != nil {
			return err
		}
		raw := filepath.Join(tmp, id+".wav")
		cmd := exec.Command("espeak-ng", "-v", voice, "-s", fmt.Sprint(speed), "-w", raw, "--", text)
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("espeak-ng %s: %w", id, err)
		}
		samples, from, err := readPCM16(raw)
		if err != nil {
			return fmt.Errorf("%s: %w", id, err)
		}
		wav := encodeWAV(normalize(trimSilence(resample(samples, from, rate), rate)), rate)
		if err := os.WriteFile(filepath.Join(out, id+".wav"), wav, 0o644); err != nil {
			return err
		}
		total += len(wav)
		sc.Prompts[id] = prompt{Text: text}
		fmt.Printf("%s/%s.wav %6d bytes  %s\n", out, id, len(wav), text)
	}
	var buf bytes.Buffer
	buf.WriteString("# What each recording in this directory says, generated with the\n# recordings by locales/audio/generate.sh. A speaker recording the\n# prompts reads these lines; the locales tests check that the built-in\n# recordings still say what active.*.toml says.\n\n")
	if err := toml.NewEncoder(&buf).Encode(sc); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "script.toml"), buf.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Printf("%d bytes in all\n", total)
	return nil
}

// readPCM16 reads a mono 16-bit PCM WAV file as written by espeak-ng.
func readPCM16(name string) ([]float64, int, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, 0, err
	}
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return nil, 0, errors.New("espeak-ng wrote no WAV file")
	}
	var sampleRate int
	for off := 12; off+8 <= len(b); {
		id, size := string(b[off:off+4]), int(binary.LittleEndian.Uint32(b[off+4:]))
		body := off + 8
		size = min(size, len(b)-body)
		switch id {
		case "fmt ":
			format, channels := binary.LittleEndian.Uint16(b[body:]), binary.LittleEndian.Uint16(b[body+2:])
			bits := binary.LittleEndian.Uint16(b[body+14:])
			if format != 1 || channels != 1 || bits != 16 {
				return nil, 0, fmt.Errorf("espeak-ng wrote format %d, %d channels, %d bits; want 16-bit PCM mono", format, channels, bits)
			}
			sampleRate = int(binary.LittleEndian.Uint32(b[body+4:]))
		case "data":
			if sampleRate == 0 {
				return nil, 0, errors.New("data before fmt")
			}
			out := make([]float64, size/2)
			for i := range out {
				out[i] = float64(int16(binary.LittleEndian.Uint16(b[body+2*i:]))) / 32768
			}
			return out, sampleRate, nil
		}
		off = body + size + size%2
	}
	return nil, 0, errors.New("no data chunk")
}

// resample converts in from one sample rate to another by windowed-sinc
// interpolation, low-passed below the new Nyquist frequency.
func resample(in []float64, from, to int) []float64 {
	const half = 32 // taps on each side
	step := float64(from) / float64(to)
	cutoff := 0.45 * math.Min(1, float64(to)/float64(from)) // cycles per input sample
	out := make([]float64, int(float64(len(in))/step))
	for i := range out {
		t := float64(i) * step
		centre := int(t)
		var sum float64
		for k := centre - half + 1; k <= centre+half; k++ {
			if k < 0 || k >= len(in) {
				continue
			}
			x := t - float64(k)
			window := 0.5 + 0.5*math.Cos(math.Pi*x/half)
			sum += in[k] * 2 * cutoff * sinc(2*cutoff*x) * window
		}
		out[i] = sum
	}
	return out
}

func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	return math.Sin(math.Pi*x) / (math.Pi * x)
}

// trimSilence drops the silence before and after the speech, keeping a
// tenth of a second on each side.
func trimSilence(s []float64, rate int) []float64 {
	const threshold = 0.01
	first, last := -1, -1
	for i, v := range s {
		if math.Abs(v) > threshold {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 0 {
		return s
	}
	pad := rate / 10
	return s[max(0, first-pad):min(len(s), last+pad+1)]
}

// normalize scales the loudest sample to 70% of full scale: loud enough
// on a phone line, with room against clipping.
func normalize(s []float64) []float64 {
	peak := 0.0
	for _, v := range s {
		peak = math.Max(peak, math.Abs(v))
	}
	if peak == 0 {
		return s
	}
	for i := range s {
		s[i] *= 0.7 / peak
	}
	return s
}

// encodeWAV writes µ-law mono WAV: the telephone network's own encoding
// (G.711), so nothing is lost that a call would keep, at half the size of
// 16-bit PCM.
func encodeWAV(s []float64, rate int) []byte {
	data := make([]byte, len(s))
	for i, v := range s {
		data[i] = ulaw(int16(math.Round(math.Max(-1, math.Min(1, v)) * 32767)))
	}
	var b bytes.Buffer
	le := func(v any) { _ = binary.Write(&b, binary.LittleEndian, v) }
	b.WriteString("RIFF")
	le(uint32(4 + 8 + 18 + 8 + 4 + 8 + len(data) + len(data)%2))
	b.WriteString("WAVEfmt ")
	le(uint32(18))
	le(uint16(7)) // WAVE_FORMAT_MULAW
	le(uint16(1)) // mono
	le(uint32(rate))
	le(uint32(rate)) // bytes per second
	le(uint16(1))    // block align
	le(uint16(8))    // bits per sample
	le(uint16(0))    // no extension
	b.WriteString("fact")
	le(uint32(4))
	le(uint32(len(data))) // samples
	b.WriteString("data")
	le(uint32(len(data)))
	b.Write(data)
	if len(data)%2 == 1 {
		b.WriteByte(0) // chunks are padded to an even length
	}
	return b.Bytes()
}

// ulaw encodes one sample in G.711 µ-law.
func ulaw(sample int16) byte {
	const bias, clip = 0x84, 32635
	s, sign := int(sample), 0
	if s < 0 {
		s, sign = -s, 0x80
	}
	s = min(s, clip) + bias
	exponent := 7
	for mask := 0x4000; s&mask == 0 && exponent > 0; mask >>= 1 {
		exponent--
	}
	mantissa := (s >> (exponent + 3)) & 0x0F
	return ^byte(sign | exponent<<4 | mantissa)
}
