// Package segment counts the SMS segments a message body needs, the way
// carriers and Twilio bill it. It is pure: no I/O, no configuration.
package segment

import "unicode/utf16"

// Encoding is the character encoding a carrier uses for an SMS body.
type Encoding string

// The two encodings an SMS body can travel in.
const (
	// GSM7 is the GSM 03.38 7-bit default alphabet (with its extension table).
	GSM7 Encoding = "GSM-7"
	// UCS2 is 16-bit Unicode (in practice UTF-16: runes outside the Basic
	// Multilingual Plane take two code units). Any rune outside GSM 03.38
	// forces it for the whole body, so every Hindi, Punjabi, Gujarati or
	// Urdu text is UCS-2.
	UCS2 Encoding = "UCS-2"
)

// Segment sizes. A concatenated message spends 6 bytes per segment on the
// user data header, hence 153 septets (GSM-7) or 67 code units (UCS-2)
// instead of 160 or 70.
const (
	gsmSingle  = 160
	gsmMulti   = 153
	ucs2Single = 70
	ucs2Multi  = 67
)

// Count returns the encoding and the number of SMS segments body needs.
//
// The body is GSM-7 when every rune is in the GSM 03.38 basic set or its
// extension table; an extension character (^ { } \ [ ~ ] | € and form feed)
// costs two septets (escape + code). Otherwise it is UCS-2.
//
// A body that fits one segment (160 septets, 70 code units) is 1. A longer
// body is packed greedily into 153-septet or 67-unit segments without ever
// splitting an escape sequence or a UTF-16 surrogate pair across two
// segments, as careful senders (Twilio among them) do; this can need one
// segment more than a plain division of the length.
//
// An empty body is GSM-7 with 0 segments, as Twilio counts it; Saathi never
// sends one. Invalid UTF-8 bytes count as U+FFFD (UCS-2, one unit each).
func Count(body string) (Encoding, int) {
	if body == "" {
		return GSM7, 0
	}
	septets, units := 0, 0
	gsm := true
	for _, r := range body {
		if gsm {
			s := gsmSeptets(r)
			if s == 0 {
				gsm = false
			}
			septets += s
		}
		units += ucs2Units(r)
	}
	if gsm {
		if septets <= gsmSingle {
			return GSM7, 1
		}
		return GSM7, pack(body, gsmMulti, gsmSeptets)
	}
	if units <= ucs2Single {
		return UCS2, 1
	}
	return UCS2, pack(body, ucs2Multi, ucs2Units)
}

// pack counts the segments of at most per units each, never splitting one
// rune's units (an escape sequence, a surrogate pair) across two segments.
func pack(body string, per int, cost func(rune) int) int {
	segments, used := 1, 0
	for _, r := range body {
		c := cost(r)
		if used+c > per {
			segments++
			used = 0
		}
		used += c
	}
	return segments
}

// ucs2Units is the number of UTF-16 code units r needs.
func ucs2Units(r rune) int {
	if n := utf16.RuneLen(r); n > 0 {
		return n
	}
	return 1 // not reached for runes from ranging over a string
}

// gsmSeptets is the number of septets r costs in GSM 03.38: 1 in the basic
// set, 2 in the extension table, 0 when r cannot be sent in GSM-7.
func gsmSeptets(r rune) int {
	if r < 0x80 {
		return int(asciiSeptets[r])
	}
	switch r {
	case '£', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', 'Ø', 'ø', 'Å', 'å',
		'Δ', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ',
		'Æ', 'æ', 'ß', 'É', '¤', '¡', 'Ä', 'Ö', 'Ñ', 'Ü', '§', '¿',
		'ä', 'ö', 'ñ', 'ü', 'à':
		return 1
	case '€':
		return 2
	}
	return 0
}

// asciiSeptets maps each ASCII rune to its GSM-7 cost. GSM 03.38 holds
// every printable ASCII character except the backtick, eight of them only
// in the extension table; of the controls it has LF and CR (basic) and form
// feed (extension).
var asciiSeptets = func() (t [0x80]uint8) {
	for r := ' '; r <= '~'; r++ {
		t[r] = 1
	}
	t['`'] = 0
	for _, r := range "^{}\\[~]|" {
		t[r] = 2
	}
	t['\n'], t['\r'] = 1, 1
	t['\f'] = 2
	return t
}()
