// Package lexicon holds the word lists that jobs/reply uses to understand a
// survivor's reply, one TOML file per language (en.toml, hi.toml, pa.toml,
// gu.toml, ur.toml), embedded in the binary. A file holds the native script
// and the romanised forms of its language ("madad", "band karo" live in
// hi.toml, pa.toml and ur.toml as each language spells them).
//
// Every entry is a word or a phrase of words. Entries are compared after
// reply.Normalize (case, digits, nukta, Urdu letter variants, punctuation),
// on word boundaries, so write them in their ordinary spelling; apostrophes
// are dropped ("can't" matches "cant"). The file name is the language code.
//
//	opt_out      = [...] # whole message only: revokes consent ("stop", "band karo")
//	opt_in       = [...] # whole message only: consent again ("start", "shuru")
//	help_info    = [...] # whole message only: "what is this?" ("info", "jaankari")
//	danger       = [...] # anywhere in a message; cancelled by a nearby negation
//	safe_negated = [...] # danger phrases that contain a negation ("not safe",
//	                     # "nahi ja sakti"); never cancelled
//	clause_break = [...] # single words that end a clause for negation ("but", "lekin")
//	common       = [...] # the language's most common everyday words and phrases
//	                     # ("thank you", "theek hai", "ਧੰਨਵਾਦ"), native script and
//	                     # romanised: a duress word may not be one, nor be made only
//	                     # of them and the negation, clause-break and number words
//	                     # of any language; it would be sent by accident
//
//	[negation]
//	words  = [...] # single words that negate ("no", "nahi", "નથી")
//	before = 1     # a negation up to this many words before a danger phrase cancels it
//	after  = 3     # ... or up to this many words after it (Indian languages
//	               # put the negation after: "madad ki zarurat nahi")
//	inert  = [...] # phrases whose negation negates nothing ("nahi to" = "or else")
//
//	[numbers]
//	before = [...] # words before a lone "3" that make it a number ("at 3")
//	after  = [...] # words after a lone "3" that make it a number ("3 baje")
//
// Reply parsing (jobs/reply) rejects a lexicon with an entry that is empty
// after normalisation, a duplicate within a list, a multi-word negation, or
// an opt-out phrase that is also a danger, opt-in or info phrase. Every
// file needs opt_out, opt_in, help_info, danger, safe_negated, common and
// negation.words. Words of four letters or more matter most in common:
// shorter duress words are refused anyway.
package lexicon

import "embed"

// FS holds the lexicon files, one <lang>.toml per language.
//
//go:embed *.toml
var FS embed.FS
