package segment

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// gsmBasic is the GSM 03.38 default alphabet in code order, 0x00 to 0x7F,
// without the escape at 0x1B (Unicode's GSM0338.TXT mapping).
const gsmBasic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ" +
	" !\"#¤%&'()*+,-./0123456789:;<=>?" +
	"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§" +
	"¿abcdefghijklmnopqrstuvwxyzäöñüà"

// gsmExtension is the GSM 03.38 extension table: each costs escape + code.
const gsmExtension = "\f^{}\\[~]|€"

func TestCount(t *testing.T) {
	t.Parallel()

	const (
		emoji = "😀"      // U+1F600: a surrogate pair in UTF-16
		deva  = "अ"      // one BMP code unit
		urdu  = "ب"      // one BMP code unit
		euro  = "€"      // GSM extension table
		a     = "a"      // GSM basic set
		rupee = "₹"      // not in GSM 03.38
		ccedl = "ç"      // GSM has only the capital Ç at 0x09
		ecapl = "É"      // GSM basic set 0x1F
		tick  = "`"      // printable ASCII, but not GSM
		rsq   = "\u2019" // typographic apostrophe: a common accidental UCS-2
	)
	rep := strings.Repeat

	tests := []struct {
		name     string
		body     string
		wantEnc  Encoding
		wantSegs int
	}{
		{"empty body is zero segments", "", GSM7, 0},
		{"one char", a, GSM7, 1},
		{"GSM 160 fits one", rep(a, 160), GSM7, 1},
		{"GSM 161 needs two", rep(a, 161), GSM7, 2},
		{"GSM 306 fits two", rep(a, 306), GSM7, 2},
		{"GSM 307 needs three", rep(a, 307), GSM7, 3},
		{"GSM 459 fits three", rep(a, 459), GSM7, 3},
		{"GSM 460 needs four", rep(a, 460), GSM7, 4},
		{"whole basic set is GSM", gsmBasic, GSM7, 1},
		{"extension char costs two: 158+€ = 160", rep(a, 158) + euro, GSM7, 1},
		{"extension char costs two: 159+€ = 161", rep(a, 159) + euro, GSM7, 2},
		{"all extension chars", gsmExtension, GSM7, 1},
		{"80 braces are 160 septets", rep("{", 80), GSM7, 1},
		{"81 braces are 162 septets", rep("{", 81), GSM7, 2},
		{"escape sequence ends segment one exactly: 151+€ then 153", rep(a, 151) + euro + rep(a, 153), GSM7, 2},
		{"escape sequence not split: 152+€+152 is 306 septets but three segments", rep(a, 152) + euro + rep(a, 152), GSM7, 3},
		{"single é is GSM", "é", GSM7, 1},
		{"single É is GSM", ecapl, GSM7, 1},
		{"Ç is GSM", "Ç", GSM7, 1},
		{"lowercase ç is not GSM", ccedl, UCS2, 1},
		{"á is not GSM", "á", UCS2, 1},
		{"backtick is not GSM", tick, UCS2, 1},
		{"typographic apostrophe forces UCS-2", "It" + rsq + "s fine", UCS2, 1},
		{"rupee sign forces UCS-2", "Pay ₹100", UCS2, 1},
		{"rupee sign with 160 GSM chars", rep(a, 160) + rupee, UCS2, 3},
		{"UCS-2 70 fits one", rep(deva, 70), UCS2, 1},
		{"UCS-2 71 needs two", rep(deva, 71), UCS2, 2},
		{"UCS-2 134 fits two", rep(deva, 134), UCS2, 2},
		{"UCS-2 135 needs three", rep(deva, 135), UCS2, 3},
		{"UCS-2 201 needs three", rep(deva, 201), UCS2, 3},
		{"UCS-2 202 needs four", rep(deva, 202), UCS2, 4},
		{"Latin letters count as UCS-2 units once mixed: 69 a + अ", rep(a, 69) + deva, UCS2, 1},
		{"Urdu 70 fits one", rep(urdu, 70), UCS2, 1},
		{"Urdu 71 needs two", rep(urdu, 71), UCS2, 2},
		{"emoji alone is two units", emoji, UCS2, 1},
		{"35 emoji are 70 units", rep(emoji, 35), UCS2, 1},
		{"36 emoji are 72 units", rep(emoji, 36), UCS2, 2},
		{"68 units then emoji: 70 units, one segment", rep(deva, 68) + emoji, UCS2, 1},
		{"69 units then emoji: 71 units, two segments", rep(deva, 69) + emoji, UCS2, 2},
		{"emoji ends segment one exactly: 65+😀 then 67", rep(deva, 65) + emoji + rep(deva, 67), UCS2, 2},
		{"surrogate pair not split: 66+😀+66 is 134 units but three segments", rep(deva, 66) + emoji + rep(deva, 66), UCS2, 3},
		{"66 emoji are 132 units: two segments of 33", rep(emoji, 66), UCS2, 2},
		{"67 emoji are 134 units but pairs cannot fill 67: three segments", rep(emoji, 67), UCS2, 3},
		{"invalid UTF-8 counts as U+FFFD", "\xff", UCS2, 1},
		{"Hindi check-in", "नमस्ते, साथी की ओर से। सब ठीक है तो 1 भेजें, कॉल के लिए 2, मदद के लिए 3।", UCS2, 2},
		{"Punjabi short", "ਧੰਨਵਾਦ। ਆਪਣਾ ਧਿਆਨ ਰੱਖਣਾ।", UCS2, 1},
		{"Gujarati short", "આભાર. તમારું ધ્યાન રાખજો.", UCS2, 1},
		{"Urdu short", "شکریہ۔ اپنا خیال رکھیں۔", UCS2, 1},
		{"English check-in", "Hello from Saathi. Reply 1 if all is well, 2 for a call, 3 for help.", GSM7, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			gotEnc, gotSegs := Count(tt.body)
			if diff := cmp.Diff(tt.wantEnc, gotEnc); diff != "" {
				t.Errorf("Count() encoding mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantSegs, gotSegs); diff != "" {
				t.Errorf("Count() segments mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestGSMTable pins the alphabet itself, so a typo in the lookup cannot hide
// behind the boundary cases.
func TestGSMTable(t *testing.T) {
	t.Parallel()

	if got := len([]rune(gsmBasic)); got != 127 {
		t.Fatalf("gsmBasic has %d runes, want 127 (128 codes minus escape)", got)
	}
	for _, r := range gsmBasic {
		if got := gsmSeptets(r); got != 1 {
			t.Errorf("gsmSeptets(%q) = %d, want 1", r, got)
		}
	}
	for _, r := range gsmExtension {
		if got := gsmSeptets(r); got != 2 {
			t.Errorf("gsmSeptets(%q) = %d, want 2", r, got)
		}
	}
	// Every other rune below U+0400 and a few common strays are not GSM.
	known := map[rune]bool{}
	for _, r := range gsmBasic + gsmExtension {
		known[r] = true
	}
	for r := rune(0); r < 0x400; r++ {
		if !known[r] && gsmSeptets(r) != 0 {
			t.Errorf("gsmSeptets(%q U+%04X) = %d, want 0", r, r, gsmSeptets(r))
		}
	}
	for _, r := range "₹’“”…–—•ç" {
		if got := gsmSeptets(r); got != 0 {
			t.Errorf("gsmSeptets(%q) = %d, want 0", r, got)
		}
	}
}

func BenchmarkCount(b *testing.B) {
	bodies := []struct{ name, body string }{
		{"gsm_short", "Hello from Saathi. Reply 1 if all is well, 2 for a call, 3 for help."},
		{"gsm_long", strings.Repeat("Saathi {check-in} ", 30)},
		{"hindi", "नमस्ते, साथी की ओर से। सब ठीक है तो 1 भेजें, कॉल के लिए 2, मदद के लिए 3।"},
		{"urdu_long", strings.Repeat("سلام، ساتھی کی طرف سے۔ ", 10)},
		{"emoji_long", strings.Repeat("ok 😀 ", 40)},
	}
	for _, bb := range bodies {
		b.Run(bb.name, func(b *testing.B) {
			b.SetBytes(int64(len(bb.body)))
			for b.Loop() {
				Count(bb.body)
			}
		})
	}
}
