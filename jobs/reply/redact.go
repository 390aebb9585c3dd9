package reply

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// DuressMarker is what staff see in place of a survivor's duress word in
// message bodies (RedactDuress).
const DuressMarker = "[duress word]"

// fallbackMarker replaces the duress word when the duress word is itself
// made of DuressMarker's words ("word", "duress word"): it normalises to
// nothing, so it can never read as a duress word.
const fallbackMarker = "[***]"

// RedactDuress returns text with every occurrence of duressWord replaced
// by DuressMarker, for showing a survivor's message to staff: evidence and
// timeline bodies. An occurrence is what Parse reads as the duress word:
// the same normalisation (case, digits, nukta, Urdu letter variants,
// invisible characters), whole words only ("mangoes" is not "mango"),
// punctuation ignored, a multi-word duress phrase matched across any
// spaces and punctuation between its words, which are replaced with it.
// Everything else stays exactly as written, byte for byte, including
// invalid UTF-8. An empty duress word (or one with no letters) leaves
// text unchanged, and so does a text in which Parse would not find it.
//
// Replacement works word by word on the text as written. Should some
// exotic Unicode normalise differently word by word than as a whole, so
// that Parse could still find the duress word afterwards, the whole text
// is replaced: staff then see only the marker, never the word.
func RedactDuress(text, duressWord string) string {
	words := strings.Fields(Normalize(duressWord))
	if len(words) == 0 || !containsDuress(text, words) {
		return text
	}
	marker := DuressMarker
	if containsDuress(marker, words) {
		marker = fallbackMarker
	}
	out := replaceDuress(text, words, marker)
	if containsDuress(out, words) {
		return marker
	}
	return out
}

// containsDuress reports whether Parse would find the duress word sequence
// in text.
func containsDuress(text string, duress []string) bool {
	return len(duressOccurrences(wordTokens(Normalize(text)), duress)) > 0
}

// rawWord is a run of text between separators, as written, with the
// normalised words it reads as (usually one; several when a compatibility
// character such as ½ expands to a number and a symbol).
type rawWord struct {
	start, end int // byte offsets into the text
	words      []string
}

// replaceDuress replaces the raw words making up each occurrence of the
// duress sequence, and what lies between them, with marker. Overlapping
// occurrences ("la la la" for "la la") become one marker; adjacent ones
// keep the separator between them.
func replaceDuress(text string, duress []string, marker string) string {
	raws := splitRaw(text)
	var toks []token
	var owner []int // raw word of each token
	for i, rw := range raws {
		for _, w := range rw.words {
			toks = append(toks, token{text: w})
			owner = append(owner, i)
		}
	}
	var spans [][2]int // raw word ranges, inclusive, merged where they overlap
	for _, occ := range duressOccurrences(toks, duress) {
		first, last := owner[occ[0]], owner[occ[1]]
		if n := len(spans); n > 0 && first <= spans[n-1][1] {
			spans[n-1][1] = max(spans[n-1][1], last)
			continue
		}
		spans = append(spans, [2]int{first, last})
	}
	var b strings.Builder
	b.Grow(len(text))
	done := 0
	for _, sp := range spans {
		start, end := raws[sp[0]].start, raws[sp[1]].end
		b.WriteString(text[done:start])
		b.WriteString(marker)
		done = end
	}
	b.WriteString(text[done:])
	return b.String()
}

// splitRaw cuts text into raw words at the characters Normalize turns
// into separators (spaces, punctuation, symbols, emoji, invalid bytes).
// Characters it drops (zero-width joiners, apostrophes, keycaps) stay
// inside the word, as they do for Parse: "man\u200bgo" is one word.
func splitRaw(text string) []rawWord {
	var out []rawWord
	start := -1
	flush := func(end int) {
		if start < 0 {
			return
		}
		if words := strings.Fields(Normalize(text[start:end])); len(words) > 0 {
			out = append(out, rawWord{start: start, end: end, words: words})
		}
		start = -1
	}
	for i, r := range text {
		switch {
		case r == sosEmoji:
			flush(i)
			out = append(out, rawWord{start: i, end: i + utf8.RuneLen(r), words: []string{"sos"}})
		case isSeparator(r):
			flush(i)
		case start < 0:
			start = i
		}
	}
	flush(len(text))
	return out
}

// isSeparator reports whether Normalize turns r, on its own, into a word
// separator. Letters, marks and numbers never are; neither are the
// characters it drops. Invalid bytes (utf8.RuneError) are.
func isSeparator(r rune) bool {
	if r < utf8.RuneSelf {
		m := mapRune(r)
		return m == wordSep || m == clauseSep
	}
	if unicode.IsLetter(r) || unicode.IsMark(r) || unicode.IsNumber(r) || r == sosEmoji {
		return false
	}
	s := string(r)
	if Normalize(s) != "" {
		return false // a symbol that normalises to letters: ™ is "tm"
	}
	folded := norm.NFKC.String(cases.Fold().String(norm.NFKC.String(s)))
	first, _ := utf8.DecodeRuneInString(folded)
	m := mapRune(first)
	return m == wordSep || m == clauseSep
}
