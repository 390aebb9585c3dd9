// Package reply understands a survivor's reply to a check-in ("Reply 1 if
// all is well, 2 for a call, 3 for help"): a code, the survivor's duress word,
// a carrier keyword such as STOP, and danger words, in English, Hindi,
// Punjabi, Gujarati and Urdu, in native script or romanised, mixed with emoji
// and noise. It does no I/O: the word lists come from an fs.FS (lexicon.FS in
// production, see locales/lexicon for the file format).
//
// The survivor's phone may be read by the people who trafficked them, so a
// missed cry for help costs far more than a caseworker's needless call.
// Where a reply is ambiguous the parser leans to danger, but it does not
// turn ordinary messages ("no problem", "3 baje aaunga") into alerts.
//
// # Rules, in order
//
//  1. Duress. If the duress word is set and Normalize(duressWord) occurs in
//     Normalize(text) as whole words ("mango" matches "MANGO!" and "I ate a
//     mango", not "mangoes"), the intent is Duress. Danger words overlapping
//     the duress word are dropped, and no Evidence ever quotes it: evidence
//     says "duress word", and any evidence line that would contain the word
//     is replaced by "(redacted)". RedactDuress hides it the same way in
//     message bodies shown to staff ("[duress word]"), and
//     ValidateDuressWord refuses, at enrolment, words a survivor could send
//     by accident: codes, keywords, danger words, words under 4 letters
//     and the lexicons' common everyday words.
//  2. Keywords. Opt-out (STOP, "band karo", بند ...), opt-in (START,
//     "shuru" ...) and help-info (INFO, "jaankari" ...) count only when the
//     whole normalised message is one of the lexicon's phrases, the way
//     carriers treat them: "please stop hitting me" is not an opt-out. "yes"
//     is not an opt-in: survivors answer check-ins with it. A lone "HELP" is
//     HelpInfo and also the danger word "help", so the risk layer can still
//     raise a flag.
//  3. Codes. If the first word is "1", "2" or "3" (native digits count:
//     १२३ ੧੨੩ ૧૨૩ ۱۲۳ ١٢٣; so do "3." "(3)" and the keypad emoji 3️⃣) the
//     intent is OK, CallMe or HelpNow, and the rest is still scanned for
//     danger. "33" and "333" as the first word are HelpNow too (a panicked
//     double press); "12", "300", "1st" are not codes.
//  4. A lone 3. With no code first, a word "3" anywhere makes the reply
//     HelpNow, unless a "1" or "2" also stands alone in the message (the
//     survivor's intent is then unclear) or the 3 is part of a number: next
//     to another number ("3:30") or to a lexicon number word ("3 baje",
//     "3 o'clock", "at 3", "3 din"). Words for people ("3 men came") are
//     deliberately not number words.
//  5. Otherwise FreeText, including empty, emoji-only and garbage replies.
//
// Danger is filled independently of the intent ("1 but they locked me in" is
// OK with Danger ["locked"]): every lexicon danger phrase found on word
// boundaries, longest phrase first, as written in the lexicon, in order of
// appearance, without duplicates. Parse never panics and always returns a
// valid Intent.
//
// # Negation
//
// A negation word ("no", "not", "nahi", "ਨਹੀਂ", "નથી", "نہیں") cancels the
// nearest danger phrase within its language's window, inside the same
// clause: English looks 1 word ahead ("no problem", "not hurt") and 1 back
// ("help not needed"); Hindi, Punjabi, Gujarati and Urdu put the negation
// after the word and look up to 3 words back ("madad ki zarurat nahi",
// "کوئی مسئلہ نہیں") and 1 ahead ("nahi maara"). A clause ends at sentence
// punctuation (. , ! ? ; : । ۔ ، ؟ | newline) and at words such as "but",
// "lekin", "ਪਰ", "પણ", "مگر". One negation cancels one phrase. Phrases that
// are dangerous even negated ("not safe", "can't leave", "no money",
// "nahi ja sakti", "don't hurt me") are safe_negated lexicon entries: they
// are danger themselves, and the negation inside them negates nothing else.
// So are "inert" phrases such as "nahi to" ("or else"). Evidence records
// every cancellation.
//
// # Normalisation
//
// Normalize is applied to both the reply and every lexicon entry, and is
// repeated until stable so that Normalize(Normalize(s)) == Normalize(s):
//
//   - invalid UTF-8 becomes a space; Unicode NFKC; full case folding;
//   - native digits become ASCII: Devanagari, Bengali, Gurmukhi, Gujarati,
//     Oriya, Tamil, Telugu, Kannada, Malayalam, Arabic-Indic, Extended
//     Arabic-Indic (Urdu);
//   - format characters (ZWJ, ZWNJ, bidi marks, BOM, soft hyphen),
//     variation selectors and enclosing marks (the keycap in 3️⃣) are
//     removed, and apostrophes are dropped ("can't" → "cant");
//   - Devanagari: nukta removed (ज़ → ज, फ़ → फ, ड़ → ड), chandrabindu →
//     anusvara (ँ → ं);
//   - Gurmukhi: nukta removed (ਸ਼ → ਸ, ਜ਼ → ਜ), tippi → bindi (ੰ → ਂ), addak
//     removed (ੱ), since typists use them loosely;
//   - Gujarati: nukta removed, chandrabindu → anusvara;
//   - Urdu/Arabic: ي ى ئ ے ۓ → ی; ك ڪ → ک; ه ھ ۀ ۂ ۃ ة ە → ہ; آ أ إ ٱ → ا;
//     ؤ → و; ں → ن; tatweel and harakat (zabar, zer, pesh, shadda, hamza and
//     madda marks) removed. These are the spellings Arabic and Persian
//     keyboards produce; conflating ھ with ہ or ے with ی costs nothing for
//     matching;
//   - the emoji 🆘 becomes the word "sos";
//   - every other character that is not a letter, mark or number
//     (punctuation, symbols, emoji) becomes a space; marks with no letter
//     before them are dropped; spaces are collapsed and trimmed.
package reply
