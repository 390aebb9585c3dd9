package reply

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
)

// lexiconFile is one <lang>.toml file; locales/lexicon documents the format.
type lexiconFile struct {
	OptOut      []string `toml:"opt_out"`
	OptIn       []string `toml:"opt_in"`
	HelpInfo    []string `toml:"help_info"`
	Danger      []string `toml:"danger"`
	SafeNegated []string `toml:"safe_negated"`
	ClauseBreak []string `toml:"clause_break"`
	Common      []string `toml:"common"`
	Negation    struct {
		Words  []string `toml:"words"`
		Before int      `toml:"before"`
		After  int      `toml:"after"`
		Inert  []string `toml:"inert"`
	} `toml:"negation"`
	Numbers struct {
		Before []string `toml:"before"`
		After  []string `toml:"after"`
	} `toml:"numbers"`
}

// maxWindow bounds negation windows: wider ones would cancel real danger
// words in ordinary sentences.
const maxWindow = 5

// lists names each list of a file, for validation and error messages.
func (f *lexiconFile) lists() []namedList {
	return []namedList{
		{"opt_out", f.OptOut, false},
		{"opt_in", f.OptIn, false},
		{"help_info", f.HelpInfo, false},
		{"danger", f.Danger, false},
		{"safe_negated", f.SafeNegated, false},
		{"clause_break", f.ClauseBreak, true},
		{"common", f.Common, false},
		{"negation.words", f.Negation.Words, true},
		{"negation.inert", f.Negation.Inert, false},
		{"numbers.before", f.Numbers.Before, true},
		{"numbers.after", f.Numbers.After, true},
	}
}

type namedList struct {
	name       string
	entries    []string
	singleWord bool
}

// readLexicon decodes and checks one file on its own: unknown keys, entries
// empty after Normalize, duplicates within a list, multi-word entries where
// words are expected, windows out of range.
func readLexicon(fsys fs.FS, name string) (*lexiconFile, error) {
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, fmt.Errorf("read lexicon %s: %w", name, err)
	}
	var f lexiconFile
	md, err := toml.Decode(string(data), &f)
	if err != nil {
		return nil, fmt.Errorf("parse lexicon %s: %w", name, err)
	}
	if undecoded := md.Undecoded(); len(undecoded) > 0 {
		return nil, fmt.Errorf("lexicon %s: unknown key %q", name, undecoded[0].String())
	}
	var errs []error
	for _, l := range f.lists() {
		seen := make(map[string]string, len(l.entries))
		for _, e := range l.entries {
			key := Normalize(e)
			switch {
			case key == "":
				errs = append(errs, fmt.Errorf("%s: entry %q is empty after normalisation", l.name, e))
			case l.singleWord && strings.Contains(key, " "):
				errs = append(errs, fmt.Errorf("%s: entry %q must be a single word", l.name, e))
			case seen[key] != "":
				errs = append(errs, fmt.Errorf("%s: entry %q duplicates %q", l.name, e, seen[key]))
			default:
				seen[key] = e
			}
		}
	}
	for _, w := range []struct {
		name string
		n    int
	}{{"negation.before", f.Negation.Before}, {"negation.after", f.Negation.After}} {
		if w.n < 0 || w.n > maxWindow {
			errs = append(errs, fmt.Errorf("%s = %d, want 0 to %d", w.name, w.n, maxWindow))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("lexicon %s: %w", name, err)
	}
	return &f, nil
}

// lexiconNames lists the *.toml files of fsys, sorted, with the language
// code each one holds.
func lexiconNames(fsys fs.FS) ([]string, error) {
	names, err := fs.Glob(fsys, "*.toml")
	if err != nil {
		return nil, fmt.Errorf("list lexicon files: %w", err)
	}
	if len(names) == 0 {
		return nil, errors.New("no lexicon files (*.toml)")
	}
	return names, nil
}

func languageOf(name string) string {
	return strings.TrimSuffix(path.Base(name), ".toml")
}

// NewParser loads every *.toml lexicon file at the root of fsys (lexicon.FS
// in production; tests may pass their own). It fails on a file that does
// not parse, an unknown key, an entry that is empty after Normalize, a
// duplicate within a list, or a phrase that means two things: an opt-out
// phrase that is also an opt-in, info or danger phrase in any language, an
// opt-in that is also an info phrase, or an inert negation phrase that is
// also a danger phrase.
func NewParser(fsys fs.FS) (*Parser, error) {
	names, err := lexiconNames(fsys)
	if err != nil {
		return nil, err
	}
	p := &Parser{
		keywords:     make(map[string]*keyword),
		phrases:      &trieNode{},
		negation:     make(map[string]negator),
		clauseBreak:  make(map[string]bool),
		numberBefore: make(map[string]bool),
		numberAfter:  make(map[string]bool),
		common:       make(map[string]bool),
	}
	var errs []error
	for _, name := range names {
		f, err := readLexicon(fsys, name)
		if err != nil {
			return nil, err
		}
		lang := languageOf(name)
		for _, kw := range []struct {
			intent  Intent
			entries []string
		}{{OptOut, f.OptOut}, {OptIn, f.OptIn}, {HelpInfo, f.HelpInfo}} {
			for _, e := range kw.entries {
				errs = append(errs, p.addKeyword(kw.intent, e, lang))
			}
		}
		for _, e := range f.Danger {
			errs = append(errs, p.addPhrase(kindDanger, e, lang))
		}
		for _, e := range f.SafeNegated {
			errs = append(errs, p.addPhrase(kindSafeNegated, e, lang))
		}
		for _, e := range f.Negation.Inert {
			errs = append(errs, p.addPhrase(kindInert, e, lang))
		}
		for _, e := range f.Negation.Words {
			key := Normalize(e)
			n, ok := p.negation[key]
			if !ok {
				n.written = e
			}
			// A word several languages share reaches as far as the widest.
			n.before, n.after = max(n.before, f.Negation.Before), max(n.after, f.Negation.After)
			p.negation[key] = n
		}
		for _, set := range []struct {
			m       map[string]bool
			entries []string
		}{{p.clauseBreak, f.ClauseBreak}, {p.numberBefore, f.Numbers.Before}, {p.numberAfter, f.Numbers.After}, {p.common, f.Common}} {
			for _, e := range set.entries {
				set.m[Normalize(e)] = true
			}
		}
	}
	for key, kw := range p.keywords {
		if kw.intent == OptOut && p.phrases.lookup(key) != nil && p.phrases.lookup(key).kind != kindInert {
			errs = append(errs, fmt.Errorf("opt-out phrase %q (%s) is also a danger phrase", kw.written, strings.Join(kw.langs, ", ")))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("load lexicon: %w", err)
	}
	return p, nil
}

func (p *Parser) addKeyword(intent Intent, entry, lang string) error {
	key := Normalize(entry)
	kw, ok := p.keywords[key]
	if !ok {
		p.keywords[key] = &keyword{intent: intent, written: entry, langs: []string{lang}}
		return nil
	}
	if kw.intent != intent {
		return fmt.Errorf("%s: %q is both %s (%s) and %s", lang, entry, kw.intent, strings.Join(kw.langs, ", "), intent)
	}
	if !slices.Contains(kw.langs, lang) {
		kw.langs = append(kw.langs, lang)
	}
	return nil
}

func (p *Parser) addPhrase(kind phraseKind, entry, lang string) error {
	key := Normalize(entry)
	ph := p.phrases.insert(strings.Fields(key))
	switch {
	case ph.written == "":
		ph.written, ph.kind, ph.langs = entry, kind, []string{lang}
		return nil
	case (ph.kind == kindInert) != (kind == kindInert):
		return fmt.Errorf("%s: %q is both a danger phrase and an inert negation", lang, entry)
	case kind == kindSafeNegated:
		// Dangerous negated in one language means dangerous negated.
		ph.kind = kindSafeNegated
	}
	if !slices.Contains(ph.langs, lang) {
		ph.langs = append(ph.langs, lang)
	}
	return nil
}

// trieNode indexes phrases word by word, so finding the longest phrase at a
// position costs one map lookup per word and no allocation.
type trieNode struct {
	next   map[string]*trieNode
	phrase *phrase // non-nil where a phrase ends
}

func (n *trieNode) insert(words []string) *phrase {
	for _, w := range words {
		if n.next == nil {
			n.next = make(map[string]*trieNode)
		}
		child, ok := n.next[w]
		if !ok {
			child = &trieNode{}
			n.next[w] = child
		}
		n = child
	}
	if n.phrase == nil {
		n.phrase = &phrase{}
	}
	return n.phrase
}

// lookup returns the phrase whose normalised form is exactly key, or nil.
func (n *trieNode) lookup(key string) *phrase {
	for _, w := range strings.Fields(key) {
		n = n.next[w]
		if n == nil {
			return nil
		}
	}
	return n.phrase
}

// longest returns the longest phrase starting at words[0] and its length in
// words, or nil.
func (n *trieNode) longest(words []token) (*phrase, int) {
	var best *phrase
	bestLen := 0
	for i, w := range words {
		n = n.next[w.text]
		if n == nil {
			break
		}
		if n.phrase != nil {
			best, bestLen = n.phrase, i+1
		}
	}
	return best, bestLen
}
