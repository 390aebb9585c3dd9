package reply

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Intent is what a reply means.
type Intent string

// Intents. Codes 1, 2 and 3 are the ones the check-in text asks for.
const (
	OK       Intent = "ok"        // code 1
	CallMe   Intent = "call_me"   // code 2
	HelpNow  Intent = "help_now"  // code 3
	Duress   Intent = "duress"    // the survivor's secret duress word
	OptOut   Intent = "opt_out"   // STOP and equivalents
	OptIn    Intent = "opt_in"    // START and equivalents
	HelpInfo Intent = "help_info" // INFO-style keyword asking what this is
	FreeText Intent = "free_text" // anything else
)

// Valid reports whether i is one of the Intent constants.
func (i Intent) Valid() bool {
	switch i {
	case OK, CallMe, HelpNow, Duress, OptOut, OptIn, HelpInfo, FreeText:
		return true
	}
	return false
}

// Result is the understanding of one reply.
type Result struct {
	Intent Intent
	// Danger lists the danger words and phrases found, as written in the
	// lexicon, in order of appearance, nil if none. It is independent of
	// Intent: "1 but they locked me in" is OK with Danger ["locked"].
	Danger []string
	// Evidence explains the result for a caseworker's dashboard, e.g.
	// `code "३" = 3`, `opt-out phrase "band karo" (hi, pa, ur)`,
	// `danger "मदद" (hi)`. It never quotes the duress word.
	Evidence []string
}

// Parser understands replies using a lexicon. It is safe for concurrent use.
type Parser struct {
	// keywords are whole-message phrases (opt-out, opt-in, help-info) by
	// normalised text.
	keywords map[string]*keyword
	// phrases holds danger, safe-negated and inert phrases.
	phrases      *trieNode
	negation     map[string]negator
	clauseBreak  map[string]bool
	numberBefore map[string]bool
	numberAfter  map[string]bool
	// common are everyday words and phrases a duress word must not be.
	common map[string]bool
}

type keyword struct {
	intent  Intent
	written string   // as in the first lexicon file that has it
	langs   []string // every language that has it
}

type phraseKind uint8

const (
	kindDanger      phraseKind = iota // danger, cancelled by a nearby negation
	kindSafeNegated                   // danger containing a negation; never cancelled
	kindInert                         // contains a negation that negates nothing
)

type phrase struct {
	written string
	langs   []string
	kind    phraseKind
}

// negator is a negation word: how many words before and after a danger
// phrase it reaches, and how the lexicon writes it (for evidence).
type negator struct {
	before, after int
	written       string
}

// token is one normalised word and the clause it belongs to.
type token struct {
	text   string
	clause int
}

// match is a phrase found at words start..end (inclusive).
type match struct {
	start, end int
	phrase     *phrase
	negatedBy  string // the negation word that cancelled it, as written in the lexicon
}

// emptyParser stands in for a nil *Parser: codes and duress still work.
var emptyParser = Parser{phrases: &trieNode{}}

// Parse understands text. duressWord is the survivor's duress word ("" if
// none). The package documentation gives the rules.
func (p *Parser) Parse(text, duressWord string) Result {
	if p == nil {
		p = &emptyParser
	}
	toks := p.tokenize(text)
	inDuress := duressSpans(toks, strings.Fields(Normalize(duressWord)))

	var res Result
	var evidence []string
	switch {
	case inDuress != nil:
		res.Intent = Duress
		evidence = append(evidence, "duress word")
	default:
		res.Intent, evidence = p.intent(text, toks)
	}

	matches := p.findPhrases(toks, inDuress)
	p.applyNegation(toks, matches, inDuress)
	// Each phrase is reported once as danger, and once as negated however
	// often it was: a negated occurrence does not hide a later plain one.
	reported := make(map[*phrase]bool)
	negated := make(map[string]bool)
	for _, m := range matches {
		ph := m.phrase
		if ph.kind == kindInert || reported[ph] {
			continue
		}
		langs := strings.Join(ph.langs, ", ")
		if m.negatedBy != "" {
			if e := fmt.Sprintf("negated %q (%s) by %q", ph.written, langs, m.negatedBy); !negated[e] {
				negated[e] = true
				evidence = append(evidence, e)
			}
			continue
		}
		reported[ph] = true
		res.Danger = append(res.Danger, ph.written)
		evidence = append(evidence, fmt.Sprintf("danger %q (%s)", ph.written, langs))
	}
	res.Evidence = redact(evidence, duressWord)
	return res
}

// intent applies rules 2 to 5 (keywords, first-word code, lone 3, free text).
func (p *Parser) intent(text string, toks []token) (Intent, []string) {
	if len(toks) == 0 {
		return FreeText, nil
	}
	words := make([]string, len(toks))
	for i, t := range toks {
		words[i] = t.text
	}
	if kw := p.keywords[strings.Join(words, " ")]; kw != nil {
		return kw.intent, []string{fmt.Sprintf("%s %q (%s)", keywordLabels[kw.intent], kw.written, strings.Join(kw.langs, ", "))}
	}
	if intent, digit, repeated := code(words[0]); intent != "" {
		if repeated {
			return intent, []string{fmt.Sprintf("code %q = %c (repeated)", words[0], digit)}
		}
		return intent, []string{fmt.Sprintf("code %q = %c", rawDigit(text, digit), digit)}
	}
	lone, number := p.loneThree(words)
	switch {
	case lone:
		return HelpNow, []string{fmt.Sprintf("lone %q = 3 (read as a request for help)", rawDigit(text, '3'))}
	case number != "":
		return FreeText, []string{fmt.Sprintf("%q is a number, not a code", number)}
	}
	return FreeText, nil
}

// keywordLabels name the keyword kinds in evidence.
var keywordLabels = map[Intent]string{OptOut: "opt-out phrase", OptIn: "opt-in phrase", HelpInfo: "info keyword"}

// code reads a first word as a reply code. "33" and "333" are a panicked
// double press of 3; repeated 1s and 2s are more likely numbers.
func code(word string) (intent Intent, digit byte, repeated bool) {
	switch word {
	case "1":
		return OK, '1', false
	case "2":
		return CallMe, '2', false
	case "3":
		return HelpNow, '3', false
	case "33", "333":
		return HelpNow, '3', true
	}
	return "", 0, false
}

// loneThree applies rule 4. It reports whether a lone "3" asks for help,
// or else the number phrase a "3" was part of, for evidence.
func (p *Parser) loneThree(words []string) (lone bool, number string) {
	for _, w := range words {
		if w == "1" || w == "2" {
			return false, ""
		}
	}
	for k, w := range words {
		if w != "3" {
			continue
		}
		if k > 0 && (isNumber(words[k-1]) || p.numberBefore[words[k-1]]) {
			number = words[k-1] + " 3"
			continue
		}
		if k+1 < len(words) && (isNumber(words[k+1]) || p.numberAfter[words[k+1]]) {
			number = "3 " + words[k+1]
			continue
		}
		return true, ""
	}
	return false, number
}

func isNumber(w string) bool {
	for i := 0; i < len(w); i++ {
		if w[i] < '0' || w[i] > '9' {
			return false
		}
	}
	return w != ""
}

// rawDigit returns the digit as the survivor typed it (३, ੩, ۳, ３ ...), so
// evidence shows what arrived.
func rawDigit(text string, digit byte) string {
	for _, r := range text {
		if r == rune(digit) {
			return string(r)
		}
		if v, ok := digitValue(r); ok && byte('0'+v) == digit {
			return string(r)
		}
		if r > utf8.RuneSelf && norm.NFKC.String(string(r)) == string(rune(digit)) {
			return string(r)
		}
	}
	return string(rune(digit))
}

// tokenize normalises text into words, numbering clauses: sentence
// punctuation and clause-break words ("but", "lekin") start a new one.
func (p *Parser) tokenize(text string) []token {
	s := normalize(text, true)
	if s == "" {
		return nil
	}
	var toks []token
	clause := 0
	for i, part := range strings.Split(s, string(clauseSep)) {
		if i > 0 {
			clause++
		}
		for _, w := range strings.Split(part, string(wordSep)) {
			if w == "" {
				continue
			}
			if p.clauseBreak[w] {
				clause++
			}
			toks = append(toks, token{text: w, clause: clause})
		}
	}
	return toks
}

// duressSpans marks the words that belong to an occurrence of the duress
// word sequence, or returns nil if it does not occur.
func duressSpans(toks []token, duress []string) []bool {
	var in []bool
	for _, occ := range duressOccurrences(toks, duress) {
		if in == nil {
			in = make([]bool, len(toks))
		}
		for k := occ[0]; k <= occ[1]; k++ {
			in[k] = true
		}
	}
	return in
}

// duressOccurrences returns the first and last token of every occurrence
// of the duress word sequence, in order; occurrences may overlap ("la la"
// occurs twice in "la la la"). This is the one definition of where the
// duress word is: Parse and RedactDuress both use it.
func duressOccurrences(toks []token, duress []string) [][2]int {
	if len(duress) == 0 || len(duress) > len(toks) {
		return nil
	}
	var out [][2]int
	for i := 0; i+len(duress) <= len(toks); i++ {
		found := true
		for j, w := range duress {
			if toks[i+j].text != w {
				found = false
				break
			}
		}
		if found {
			out = append(out, [2]int{i, i + len(duress) - 1})
		}
	}
	return out
}

// findPhrases finds lexicon phrases left to right, longest first, without
// overlap. Phrases touching the duress word are dropped: they would reveal
// it on the dashboard, and the duress intent already says more.
func (p *Parser) findPhrases(toks []token, inDuress []bool) []match {
	var matches []match
	for i := 0; i < len(toks); {
		ph, n := p.phrases.longest(toks[i:])
		if ph == nil {
			i++
			continue
		}
		m := match{start: i, end: i + n - 1, phrase: ph}
		i += n
		if inDuress != nil && overlaps(inDuress, m.start, m.end) {
			continue
		}
		matches = append(matches, m)
	}
	return matches
}

func overlaps(in []bool, start, end int) bool {
	for k := start; k <= end; k++ {
		if in[k] {
			return true
		}
	}
	return false
}

// applyNegation lets each free negation word cancel the nearest cancellable
// danger phrase within its window and clause. Words inside a phrase (such
// as the "not" of "not safe") or inside the duress word negate nothing.
// Matches do not overlap, so looking only at the window's words keeps this
// linear in the length of the reply.
func (p *Parser) applyNegation(toks []token, matches []match, inDuress []bool) {
	if len(matches) == 0 {
		return
	}
	matchAt := make([]int, len(toks)) // index into matches + 1; 0 for none
	for mi, m := range matches {
		for k := m.start; k <= m.end; k++ {
			matchAt[k] = mi + 1
		}
	}
	cancellable := func(j int) *match {
		if j < 0 || j >= len(toks) || matchAt[j] == 0 {
			return nil
		}
		m := &matches[matchAt[j]-1]
		if m.phrase.kind != kindDanger || m.negatedBy != "" {
			return nil
		}
		return m
	}
	for k, t := range toks {
		neg, ok := p.negation[t.text]
		if !ok || matchAt[k] != 0 || (inDuress != nil && inDuress[k]) {
			continue
		}
		// Nearest first; at equal distance the phrase before the negation
		// wins, since four of the five languages negate after the verb.
		for dist := 1; dist <= max(neg.before, neg.after); dist++ {
			if m := cancellable(k - dist); dist <= neg.after && m != nil && m.end == k-dist && toks[m.end].clause == t.clause {
				m.negatedBy = neg.written
				break
			}
			if m := cancellable(k + dist); dist <= neg.before && m != nil && m.start == k+dist && toks[m.start].clause == t.clause {
				m.negatedBy = neg.written
				break
			}
		}
	}
}

// redacted replaces an evidence line that would reveal the duress word.
const redacted = "(redacted)"

// redact replaces every evidence line that contains the duress word, as
// typed or normalised, or as whole words. Substrings count only for words
// longer than two letters; shorter ones would redact everything and should
// be refused at enrolment (ValidateDuressWord).
func redact(evidence []string, duressWord string) []string {
	if len(evidence) == 0 || strings.TrimSpace(duressWord) == "" {
		return evidence
	}
	normWord := Normalize(duressWord)
	words := strings.Fields(normWord)
	leaks := func(e string) bool {
		for _, w := range []string{duressWord, strings.TrimSpace(duressWord), normWord} {
			if utf8.RuneCountInString(w) > 2 && (strings.Contains(e, w) ||
				strings.Contains(strings.ToLower(e), strings.ToLower(w)) ||
				strings.Contains(Normalize(e), Normalize(w))) {
				return true
			}
		}
		return len(words) > 0 && duressSpans(wordTokens(Normalize(e)), words) != nil
	}
	for i, e := range evidence {
		if !leaks(e) {
			continue
		}
		evidence[i] = redacted
		if leaks(redacted) {
			evidence[i] = "-"
		}
	}
	return evidence
}

func wordTokens(s string) []token {
	fields := strings.Fields(s)
	toks := make([]token, len(fields))
	for i, f := range fields {
		toks[i] = token{text: f}
	}
	return toks
}

// ErrDuressWord is wrapped by ValidateDuressWord's errors.
var ErrDuressWord = errors.New("unsuitable duress word")

// Reasons a duress word is refused; each error wraps ErrDuressWord and one
// of these. Their texts are shown to the admin who enrols the survivor, so
// they say what to change and never quote the word.
var (
	errDuressEmpty   = errors.New("it has no letters")
	errDuressNumber  = errors.New("it contains a number, which could be read as a reply code")
	errDuressKeyword = errors.New("it is a reply keyword in one of the languages")
	errDuressDanger  = errors.New("it is a danger or negation word the dashboard already reports")
	errDuressShort   = fmt.Errorf("it is too short: at least %d letters", minDuressLetters)
	errDuressMarker  = errors.New("the dashboard shows " + DuressMarker + " in its place")
	errDuressCommon  = errors.New("it is one of the most common everyday words in one of the languages, so it would be sent by accident")
)

// minDuressLetters is the shortest duress word accepted, in letters (see
// duressLetters): shorter words turn up by chance, inside ordinary replies.
const minDuressLetters = 4

// ValidateDuressWord reports why word would make a poor duress word, for
// enrolment. A duress word fires an urgent alert wherever it appears in a
// reply, as whole words, in any language, so it must be one a survivor
// would never send by accident. After Normalize it must:
//
//   - contain no number (it could be read as a reply code 1, 2 or 3);
//   - not be a reply keyword of any language (STOP, START, HELP, INFO and
//     every opt-out, opt-in and help-info phrase of every lexicon);
//   - not be a danger or negation phrase (its meaning would be ambiguous,
//     and the dashboard reports danger words);
//   - have at least 4 letters (see duressLetters);
//   - not be a word of DuressMarker (redaction would show it);
//   - not be one of the common everyday words of any language, nor a
//     phrase made only of such words ("theek hai", "thank you"); the
//     lexicons' negation, clause-break and number words count as common.
//
// Survivors mix languages, so every check covers all of them. Errors wrap
// ErrDuressWord and never quote the word.
func (p *Parser) ValidateDuressWord(word string) error {
	if p == nil {
		p = &emptyParser
	}
	if reason := p.duressRefusal(Normalize(word)); reason != nil {
		return fmt.Errorf("%w: %w", ErrDuressWord, reason)
	}
	return nil
}

// duressRefusal returns the first reason the normalised word n is refused,
// in the order ValidateDuressWord lists them, or nil.
func (p *Parser) duressRefusal(n string) error {
	words := strings.Fields(n)
	switch {
	case n == "":
		return errDuressEmpty
	case strings.ContainsAny(n, "0123456789"):
		return errDuressNumber
	case p.keywords[n] != nil:
		return errDuressKeyword
	case p.phrases.lookup(n) != nil || p.negation[n].written != "":
		return errDuressDanger
	case duressLetters(words) < minDuressLetters:
		return errDuressShort
	case containsDuress(DuressMarker, words):
		return errDuressMarker
	case p.common[n] || p.allCommon(words):
		return errDuressCommon
	}
	return nil
}

// allCommon reports whether every word is an everyday word of some
// language: a common word, or a negation, clause-break or number word.
func (p *Parser) allCommon(words []string) bool {
	for _, w := range words {
		if !p.common[w] && p.negation[w].written == "" && !p.clauseBreak[w] && !p.numberBefore[w] && !p.numberAfter[w] {
			return false
		}
	}
	return true
}

// duressLetters counts the letters of a normalised duress word the way
// it sounds, close to its romanised spelling, so that "कमल" and "kamal"
// both count 5.
//
// Code points are the base, not grapheme clusters: in Indian scripts a
// vowel sign is a sound just as a Latin vowel letter is ("पानी", "pani":
// 4), where grapheme clusters would count "पानी" 2 and refuse most
// everyday Hindi, Punjabi and Gujarati words. The virama (्, ੍, ્) only
// joins two consonants and does not count. A Devanagari, Gurmukhi or
// Gujarati consonant followed by another letter or by an anusvara or
// visarga carries the unwritten vowel "a" and counts 2 ("कमल" is
// ka-ma-l); at the end of a word it is silent, as in speech. Urdu writes
// no short vowels and has no such rule to recover them, so its words count
// as written ("کتاب" 4, "قلم" 3).
func duressLetters(words []string) int {
	n := 0
	for _, w := range words {
		runes := []rune(w)
		for i, r := range runes {
			if isVirama(r) {
				continue
			}
			n++
			if i+1 < len(runes) && isIndicConsonant(r) && (unicode.IsLetter(runes[i+1]) || isNasalOrVisarga(runes[i+1])) {
				n++ // the inherent vowel
			}
		}
	}
	return n
}

func isVirama(r rune) bool {
	return r == '\u094D' || r == '\u0A4D' || r == '\u0ACD'
}

// isIndicConsonant reports whether r is a Devanagari, Gurmukhi or Gujarati
// consonant (the letters with an inherent vowel).
func isIndicConsonant(r rune) bool {
	return (r >= '\u0915' && r <= '\u0939') || (r >= '\u0958' && r <= '\u095F') || (r >= '\u0979' && r <= '\u097F') ||
		(r >= '\u0A15' && r <= '\u0A39') || (r >= '\u0A59' && r <= '\u0A5E') ||
		(r >= '\u0A95' && r <= '\u0AB9')
}

// isNasalOrVisarga reports whether r is an anusvara (or Gurmukhi bindi)
// or a visarga: signs that follow a vowel, here the inherent one ("पतंग").
func isNasalOrVisarga(r rune) bool {
	switch r {
	case '\u0902', '\u0903', '\u0A02', '\u0A03', '\u0A82', '\u0A83':
		return true
	}
	return false
}
