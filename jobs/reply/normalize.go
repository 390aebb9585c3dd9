package reply

import (
	"strings"
	"unicode"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Normalize is the normalisation used for matching replies, lexicon entries
// and duress words (see the package documentation for what it folds). It
// is exported so that enrolment can validate a duress word the same way a
// reply will be read.
func Normalize(s string) string {
	return normalize(s, false)
}

// Separators written by normalize: clauseSep ends a clause (sentence
// punctuation), so negation does not reach across "no. they beat me".
const (
	wordSep   = ' '
	clauseSep = '\n'
	dropRune  = -1
)

// sosEmoji (🆘) is the one emoji that is a word: Normalize reads it as
// "sos", since a survivor may send it alone.
const sosEmoji = '\U0001F198'

// maxPasses bounds the fixed-point loop: one pass almost always suffices,
// a second catches what removing a character lets NFKC compose.
const maxPasses = 4

// normalize implements Normalize. With keepClauses, clause punctuation
// becomes clauseSep instead of wordSep; the words are the same either way.
func normalize(s string, keepClauses bool) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, string(sosEmoji), " sos ")
	for range maxPasses {
		next := normalizePass(s, keepClauses)
		if next == s {
			break
		}
		s = next
	}
	return s
}

func normalizePass(s string, keepClauses bool) string {
	s = norm.NFKC.String(s)
	// A Caser keeps state, so each call gets its own.
	s = cases.Fold().String(s)
	// Folding can undo NFKC ("ẞ" → "ss" is fine, but some folds decompose).
	s = norm.NFKC.String(s)

	var b strings.Builder
	b.Grow(len(s))
	var pending rune // separator owed before the next written rune
	wrote := false
	for _, r := range s {
		m := mapRune(r)
		switch {
		case m == dropRune:
			continue
		case m == clauseSep && keepClauses:
			pending = clauseSep
			continue
		case m == clauseSep || m == wordSep:
			if pending == 0 {
				pending = wordSep
			}
			continue
		case unicode.IsMark(m) && (!wrote || pending != 0):
			// A vowel sign or nukta after an emoji or a space attaches to
			// nothing; keeping it would make a one-mark "word".
			continue
		}
		if pending != 0 && wrote {
			b.WriteRune(pending)
		}
		pending = 0
		b.WriteRune(m)
		wrote = true
	}
	return b.String()
}

// mapRune returns what r becomes: itself, another rune, a separator or
// dropRune.
func mapRune(r rune) rune {
	switch r {
	case '\n', '\r', '\u0085', '\u2028', '\u2029',
		'.', ',', ';', ':', '!', '?', '|', '…', '—', '–',
		'।', '॥', '۔', '،', '؛', '؟':
		return clauseSep
	case '\'', '`', '\u2018', '\u2019', '\u02BC':
		// Dropped, not spaced: "can't" and "cant" are one word.
		return dropRune
	}
	if d, ok := digitValue(r); ok {
		return '0' + d
	}
	if f, ok := scriptFold[r]; ok {
		return f
	}
	switch {
	case unicode.In(r, unicode.Cf, unicode.Me, unicode.Variation_Selector):
		return dropRune
	case unicode.IsLetter(r), unicode.IsMark(r), unicode.IsNumber(r):
		return r
	}
	return wordSep
}

// digitZeros are the zero digits of the decimal digit sets used in South
// Asia and in Urdu; NFKC already maps full-width and mathematical digits.
var digitZeros = []rune{
	0x0660, // Arabic-Indic ٠
	0x06F0, // Extended Arabic-Indic ۰ (Urdu, Persian)
	0x0966, // Devanagari ०
	0x09E6, // Bengali ০
	0x0A66, // Gurmukhi ੦
	0x0AE6, // Gujarati ૦
	0x0B66, // Oriya ୦
	0x0BE6, // Tamil ௦
	0x0C66, // Telugu ౦
	0x0CE6, // Kannada ೦
	0x0D66, // Malayalam ൦
}

func digitValue(r rune) (rune, bool) {
	if r < 0x0660 || r > 0x0D6F {
		return 0, false
	}
	for _, z := range digitZeros {
		if r >= z && r <= z+9 {
			return r - z, true
		}
	}
	return 0, false
}

// scriptFold maps spelling variants to one form (dropRune removes). NFKC
// leaves the nukta letters (क़ ज़ ਸ਼ ...) decomposed, so dropping the nukta
// sign folds them; the precomposed forms are listed for clarity.
var scriptFold = map[rune]rune{
	// Devanagari
	'\u093C': dropRune, // nukta
	'\u0901': '\u0902', // chandrabindu → anusvara
	'\u0929': '\u0928', // ऩ → न
	'\u0931': '\u0930', // ऱ → र
	'\u0934': '\u0933', // ऴ → ळ
	'\u0958': '\u0915', // क़ → क
	'\u0959': '\u0916', // ख़ → ख
	'\u095A': '\u0917', // ग़ → ग
	'\u095B': '\u091C', // ज़ → ज
	'\u095C': '\u0921', // ड़ → ड
	'\u095D': '\u0922', // ढ़ → ढ
	'\u095E': '\u092B', // फ़ → फ
	'\u095F': '\u092F', // य़ → य

	// Gurmukhi
	'\u0A3C': dropRune, // nukta
	'\u0A70': '\u0A02', // tippi → bindi
	'\u0A71': dropRune, // addak (gemination), often left out
	'\u0A33': '\u0A32', // ਲ਼ → ਲ
	'\u0A36': '\u0A38', // ਸ਼ → ਸ
	'\u0A59': '\u0A16', // ਖ਼ → ਖ
	'\u0A5A': '\u0A17', // ਗ਼ → ਗ
	'\u0A5B': '\u0A1C', // ਜ਼ → ਜ
	'\u0A5E': '\u0A2B', // ਫ਼ → ਫ

	// Gujarati
	'\u0ABC': dropRune, // nukta
	'\u0A81': '\u0A82', // chandrabindu → anusvara

	// Urdu and Arabic: what Arabic and Persian keyboards type for Urdu
	// letters, plus the vowel marks most Urdu text leaves out.
	'\u064A': '\u06CC', // ي Arabic yeh → ی
	'\u0649': '\u06CC', // ى alef maksura → ی
	'\u0626': '\u06CC', // ئ yeh with hamza → ی
	'\u06D2': '\u06CC', // ے yeh barree → ی
	'\u06D3': '\u06CC', // ۓ → ی
	'\u0643': '\u06A9', // ك Arabic kaf → ک
	'\u06AA': '\u06A9', // ڪ swash kaf → ک
	'\u0647': '\u06C1', // ه Arabic heh → ہ
	'\u06BE': '\u06C1', // ھ do-chashmi heh → ہ
	'\u06C0': '\u06C1', // ۀ → ہ
	'\u06C2': '\u06C1', // ۂ → ہ
	'\u06C3': '\u06C1', // ۃ → ہ
	'\u0629': '\u06C1', // ة teh marbuta → ہ
	'\u06D5': '\u06C1', // ە ae → ہ
	'\u0622': '\u0627', // آ → ا
	'\u0623': '\u0627', // أ → ا
	'\u0625': '\u0627', // إ → ا
	'\u0671': '\u0627', // ٱ → ا
	'\u0624': '\u0648', // ؤ → و
	'\u06BA': '\u0646', // ں noon ghunna → ن
	'\u0640': dropRune, // tatweel
	'\u064B': dropRune, '\u064C': dropRune, '\u064D': dropRune, '\u064E': dropRune,
	'\u064F': dropRune, '\u0650': dropRune, '\u0651': dropRune, '\u0652': dropRune,
	'\u0653': dropRune, '\u0654': dropRune, '\u0655': dropRune, '\u0656': dropRune,
	'\u0657': dropRune, '\u0658': dropRune, '\u0659': dropRune, '\u065A': dropRune,
	'\u065B': dropRune, '\u065C': dropRune, '\u065D': dropRune, '\u065E': dropRune,
	'\u065F': dropRune, '\u0670': dropRune,
}
