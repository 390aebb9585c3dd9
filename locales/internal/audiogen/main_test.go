package main

import (
	"encoding/binary"
	"math"
	"testing"
)

// TestULaw checks the encoder against G.711 reference values (as Python's
// audioop.lin2ulaw gives them).
func TestULaw(t *testing.T) {
	t.Parallel()

	tests := []struct {
		in   int16
		want byte
	}{
		{0, 0xff}, {32767, 0x80}, {-32768, 0x00}, {16, 0xfd}, {-16, 0x7d}, {0x1234, 0xad},
	}
	for _, tt := range tests {
		if got := ulaw(tt.in); got != tt.want {
			t.Errorf("ulaw(%d) = %#x, want %#x", tt.in, got, tt.want)
		}
	}
}

// TestResample: speech frequencies pass at their level, and what the
// telephone rate cannot carry is filtered out rather than folded back.
func TestResample(t *testing.T) {
	t.Parallel()

	tone := func(hz float64) []float64 {
		s := make([]float64, 22050)
		for i := range s {
			s[i] = 0.5 * math.Sin(2*math.Pi*hz*float64(i)/22050)
		}
		return s
	}
	peak := func(s []float64) float64 {
		p := 0.0
		for _, v := range s[len(s)/4 : 3*len(s)/4] { // away from the edges
			p = math.Max(p, math.Abs(v))
		}
		return p
	}
	if got := resample(tone(1000), 22050, 8000); len(got) != 8000 || math.Abs(peak(got)-0.5) > 0.03 {
		t.Errorf("1 kHz: %d samples, peak %.3f; want 8000 samples, peak 0.5", len(got), peak(got))
	}
	if got := peak(resample(tone(6000), 22050, 8000)); got > 0.02 {
		t.Errorf("6 kHz (above the 4 kHz Nyquist limit): peak %.3f after resampling, want it filtered out", got)
	}
}

func TestEncodeWAV(t *testing.T) {
	t.Parallel()

	b := encodeWAV([]float64{0, 0.5, -0.5}, 8000)
	if string(b[:4]) != "RIFF" || string(b[8:16]) != "WAVEfmt " || int(binary.LittleEndian.Uint32(b[4:])) != len(b)-8 {
		t.Fatalf("bad RIFF header: % x", b[:16])
	}
	if format, rate := binary.LittleEndian.Uint16(b[20:]), binary.LittleEndian.Uint32(b[24:]); format != 7 || rate != 8000 {
		t.Errorf("format %d at %d Hz, want µ-law (7) at 8000", format, rate)
	}
	if len(b)%2 != 0 {
		t.Errorf("%d bytes: the odd data chunk is not padded", len(b))
	}
}
