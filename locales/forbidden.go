package locales

import (
	"slices"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// forbiddenWords would tell whoever reads the phone what Saathi is for, who
// works for it or who the person is. No text in any file, and no sender
// name, may contain one, in any language or script.
//
// Latin-script entries match at the start of a word, and only as a whole
// word unless they end in "*" (a prefix: "rescu*" also catches "rescued").
// Entries in other scripts match anywhere: Indic and Urdu words take
// attached endings and postpositions. Both sides are folded first (see
// fold), so one spelling per entry covers its nukta, chandrabindu, addak
// and Arabic-keyboard variants.
//
// "fir" is also romanised Hindi for "again" ("fir se"): the list is matched
// only against Saathi's own texts, which are in native script, and against
// sender names, where refusing "Fir" costs nothing.
var forbiddenWords = map[string][]string{
	"en": {
		"traffick*", "human trade*", "smuggl*", "rescu*", "police*", "policewom*", "cop", "cops",
		"victim*", "survivor*", "ngo", "ngos", "non-governmental*", "non governmental*", "charity", "charities",
		"shelter*", "safe house*", "safehouse*", "refuge*", "abus*", "danger*", "emergenc*",
		"caseworker*", "case worker*", "case-worker*", "social worker*",
		"case manager*", "case-manager*", "casemanager*", "case officer*", "officer*",
		"counsel*", "exploit*", "brothel*", "pimp*", "prostitut*", "sex work*",
		"rehab*", "raid", "raids", "helpline*", "help line*", "help-line*", "hotline*", "childline*",
		"complain*", "fir", "firs", "f.i.r", "f. i. r", "first information report*",
	},
	// Romanised Hindi, Punjabi, Gujarati and Urdu, as typed on phones.
	"romanised": {
		"taskar*", "taskri*", "tashkar*", "pulis*", "puleas*", "polis", "police wal*",
		"thana*", "thane", "thaana*", "thanay", "thanedar*", "thanedaar*", "thanon", "kotwali",
		"bachao", "bachav", "bachaav", "bachaw", "peedit*", "pidit*", "peerat", "pirat", "peedat",
		"ashray*", "aashray*", "aasra", "ashram", "shoshan*", "sosan", "dushkarm*", "durvyavahar*",
		"khatra", "khatre", "khatrah", "khatara", "khatro", "jokham", "aapat*", "apatkal*", "katokati",
		"emergency", "dalal", "dallal", "kotha", "kothe", "vaishya*", "veshya*", "deh vyapar", "jism faroshi",
		"jismfaroshi", "istehsal", "istahsal", "panahgah", "panah gah", "darul aman", "dar-ul-aman",
		"mutasir*", "mutassir*", "mutasira", "shikar", "salahkar", "paramarsh*", "punarvas*", "punarvasan",
		"bahali", "chhapa", "chapa", "darod*", "smagl*", "ismagl*",
		"afsar*", "afasar*", "adhikari*", "amaldar*", "ahalkar*", "ahlkar*", "ohdedar*",
		"kaunsalar*", "kaunslar*", "kaunselar*", "kaunsilar*", "kaunsling*",
		"shikayat*", "shikaayat*", "shikayet*", "sikayat*", "shikait*", "shakayat*",
		"fariyad*", "fariad*", "faryad*", "ef ai ar", "eff ai ar",
	},
	"hi": {
		"तस्कर", "मानव व्यापार", "पुलिस", "पुलीस", "थाना", "थाने", "थानों", "कोतवाल",
		"बचाव", "रेस्क्यू", "छुड़ा", "छापा",
		"पीड़ित", "पीडित", "विक्टिम", "सर्वाइवर", "आश्रय", "शेल्टर", "शोषण", "दुर्व्यवहार", "उत्पीड़न",
		"ख़तर", "खतर", "आपात", "इमरजेंसी", "इमर्जेंसी", "एनजीओ", "गैर सरकारी", "गैर-सरकारी",
		"स्वयंसेवी", "केसवर्कर", "केस वर्कर", "केस मैनेजर", "केस मेनेजर", "केसमैनेजर",
		"अधिकारी", "ऑफ़िसर", "ऑफ़ीसर", "आफ़िसर", "आफ़ीसर", "ओफ़िसर", "अफ़सर", "अफ़्सर",
		"काउंसलर", "काउन्सलर", "काउंसेलर", "काउन्सेलर", "कौंसलर", "काउंसलिंग", "काउन्सलिंग",
		"परामर्श", "सलाहकार",
		"हेल्पलाइन", "हेल्पलाईन", "हेल्प लाइन", "हेल्प लाईन", "हेल्प-लाइन",
		"शिकायत", "कंप्लेंट", "कम्प्लेंट", "कंप्लेन", "कम्प्लेन", "फ़रियाद",
		"एफ़आईआर", "एफ़आइआर", "एफ़.आई.आर", "एफ़ आई आर", "एफ़-आई-आर", "प्राथमिकी",
		"वेश्या", "कोठा", "कोठे", "देह व्यापार", "जिस्मफ़रोशी", "दलाल", "पुनर्वास",
	},
	"pa": {
		"ਤਸਕਰ", "ਮਨੁੱਖੀ ਵਪਾਰ", "ਪੁਲਿਸ", "ਪੁਲੀਸ", "ਪੁਲਸ", "ਥਾਣਾ", "ਥਾਣੇ", "ਥਾਣਿਆਂ", "ਥਾਨਾ", "ਥਾਨੇ",
		"ਬਚਾਅ", "ਬਚਾਓ", "ਰੈਸਕਿਊ", "ਛਾਪਾ",
		"ਪੀੜਤ", "ਪੀੜਿਤ", "ਆਸਰਾ", "ਸ਼ੈਲਟਰ", "ਸ਼ੋਸ਼ਣ", "ਦੁਰਵਿਹਾਰ", "ਖ਼ਤਰ", "ਐਮਰਜੈਂਸੀ", "ਐਮਰਜੰਸੀ",
		"ਐਨਜੀਓ", "ਐਨ.ਜੀ.ਓ", "ਕੇਸ ਵਰਕਰ", "ਕੇਸਵਰਕਰ", "ਕੇਸ ਮੈਨੇਜਰ", "ਕੇਸ ਮਨੇਜਰ",
		"ਅਫ਼ਸਰ", "ਅਧਿਕਾਰੀ", "ਆਫ਼ਿਸਰ", "ਆਫ਼ੀਸਰ", "ਔਫ਼ਿਸਰ", "ਔਫ਼ੀਸਰ",
		"ਕਾਉਂਸਲਰ", "ਕਾਊਂਸਲਰ", "ਕੌਂਸਲਰ", "ਕਾਉਂਸਲਿੰਗ", "ਕਾਊਂਸਲਿੰਗ", "ਸਲਾਹਕਾਰ",
		"ਹੈਲਪਲਾਈਨ", "ਹੈਲਪ ਲਾਈਨ", "ਹੈਲਪਲਾਇਨ", "ਹੈਲਪ ਲਾਇਨ",
		"ਸ਼ਿਕਾਇਤ", "ਸ਼ਕਾਇਤ", "ਸ਼ਿਕਾਯਤ", "ਕੰਪਲੇਂਟ", "ਕੰਪਲੇਨ",
		"ਐਫ਼ਆਈਆਰ", "ਐਫ਼.ਆਈ.ਆਰ", "ਐਫ਼ ਆਈ ਆਰ",
		"ਵੇਸਵਾ", "ਕੋਠਾ", "ਕੋਠੇ", "ਦਲਾਲ", "ਮੁੜ ਵਸੇਬ", "ਮੁੜ-ਵਸੇਬ",
	},
	"gu": {
		"તસ્કર", "માનવ હેરફેર", "પોલીસ", "પોલિસ", "થાણ", "થાના", "બચાવ", "રેસ્ક્યુ", "દરોડ", "પીડિત",
		"આશ્રય", "શેલ્ટર", "શોષણ", "દુર્વ્યવહાર", "જોખમ", "ખતર", "કટોકટી", "ઇમરજન્સી", "ઈમરજન્સી",
		"એનજીઓ", "કેસ વર્કર", "કેસવર્કર", "કેસ મેનેજર", "કેસ મૅનેજર",
		"અધિકારી", "ઓફિસર", "ઑફિસર", "ઓફીસર", "ઑફીસર", "અફસર", "અમલદાર",
		"કાઉન્સેલર", "કાઉન્સિલર", "કાઉન્સલર", "કાઉન્સેલિંગ", "કાઉન્સલિંગ", "સલાહકાર", "પરામર્શ",
		"હેલ્પલાઇન", "હેલ્પલાઈન", "હેલ્પ લાઇન", "હેલ્પ લાઈન",
		"ફરિયાદ", "શિકાયત", "કમ્પ્લેન", "કંપ્લેન", "કમ્પ્લેઇન", "કમ્પ્લેંટ", "કંપ્લેંટ",
		"એફઆઈઆર", "એફઆઇઆર", "એફ.આઈ.આર", "એફ આઈ આર", "એફ આઇ આર",
		"વેશ્યા", "કોઠો", "કોઠા", "દલાલ", "પુનર્વસન",
	},
	"ur": {
		"اسمگل", "سمگل", "انسانی تجارت", "پولیس", "پولس", "تھانہ", "تھانے", "تھانوں", "تھانیدار",
		"بچاؤ", "ریسکیو", "چھاپہ",
		"متاثرہ", "متاثرین", "شکار", "شیلٹر", "پناہ", "دارالامان", "استحصال", "زیادتی", "بدسلوکی",
		"خطرہ", "خطرے", "خطرناک", "ایمرجنسی", "ہنگامی", "این جی او", "غیر سرکاری", "کیس ورکر",
		"کیس مینیجر", "کیس منیجر", "کیس مینجر",
		"افسر", "آفیسر", "آفسر", "عہدیدار", "عہدے دار", "اہلکار",
		"کونسلر", "کاؤنسلر", "کونسلنگ", "کاؤنسلنگ", "مشیر",
		"ہیلپ لائن", "ہیلپلائن", "ہیلپ لاین",
		"شکایت", "شکایات", "کمپلینٹ", "کمپلین", "فریاد",
		"ایف آئی آر", "ایف آئ آر", "ایف۔آئی۔آر", "ایف.آئی.آر",
		"جسم فروشی", "کوٹھا", "کوٹھے", "دلال", "بحالی",
	},
}

// foldedForbidden are the entries of forbiddenWords, folded once.
var foldedForbidden = func() []forbiddenEntry {
	var out []forbiddenEntry
	for _, words := range forbiddenWords {
		for _, w := range words {
			prefix := strings.HasSuffix(w, "*")
			f := fold(strings.TrimSuffix(w, "*"))
			out = append(out, forbiddenEntry{written: w, folded: f, prefix: prefix, latin: f[0] < 0x80})
		}
	}
	return out
}()

type forbiddenEntry struct {
	written string // as in forbiddenWords, for messages
	folded  string
	prefix  bool // "*": matches the start of a longer word (Latin only)
	latin   bool // matched on word boundaries
}

// Forbidden returns the forbidden words text contains, as listed (with
// their "*" if any), sorted and without duplicates; nil if none. Saathi's
// texts are scanned with it by the tests, and a deployment's sender name by
// CheckSenderName.
func Forbidden(text string) []string {
	text = fold(text)
	var hits []string
	for _, e := range foldedForbidden {
		if e.matches(text) {
			hits = append(hits, e.written)
		}
	}
	slices.Sort(hits)
	return slices.Compact(hits)
}

// fold makes the scanner blind to spellings that look alike on a screen:
// NFC, lower case, no invisible format characters (ZWJ, ZWNJ, soft hyphen,
// bidi marks), no nukta (so ड़ and ड, ख़ and ख match), chandrabindu as
// anusvara, no Gurmukhi addak and tippi as bindi (typists use them
// loosely), and Arabic-keyboard letters, tatweel and harakat folded the way
// reply.Normalize folds them for Urdu. Folding only ever merges spellings,
// so it can make the scanner stricter, never blinder.
func fold(s string) string {
	s = norm.NFC.String(strings.ToLower(s))
	return strings.Map(func(r rune) rune {
		if f, ok := foldRunes[r]; ok {
			return f
		}
		if unicode.Is(unicode.Cf, r) || (r >= '\u064B' && r <= '\u065F') || r == '\u0670' {
			return -1
		}
		return r
	}, s)
}

// foldRunes maps a rune to the one it folds to (-1: removed).
var foldRunes = map[rune]rune{
	'\u093C': -1, '\u0A3C': -1, '\u0ABC': -1, // nukta
	'\u0901': '\u0902', '\u0A81': '\u0A82', // chandrabindu → anusvara
	'\u0A71': -1, '\u0A70': '\u0A02', // Gurmukhi addak, tippi → bindi
	'\u0640': -1, // tatweel
	'ك':      'ک', 'ڪ': 'ک',
	'ي': 'ی', 'ى': 'ی', 'ئ': 'ی', 'ے': 'ی', 'ۓ': 'ی',
	'ه': 'ہ', 'ھ': 'ہ', 'ۀ': 'ہ', 'ۂ': 'ہ', 'ۃ': 'ہ', 'ة': 'ہ', 'ە': 'ہ',
	'آ': 'ا', 'أ': 'ا', 'إ': 'ا', 'ٱ': 'ا',
	'ؤ': 'و', 'ں': 'ن',
}

func (e forbiddenEntry) matches(text string) bool {
	if !e.latin {
		return strings.Contains(text, e.folded)
	}
	for i := 0; ; {
		j := strings.Index(text[i:], e.folded)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(e.folded)
		i = start + 1
		before := start == 0 || !isWordByte(text[start-1])
		after := e.prefix || end == len(text) || !isWordByte(text[end])
		if before && after {
			return true
		}
	}
}

// isWordByte reports whether b continues a Latin word (a letter, a digit,
// or any byte of a non-ASCII rune such as é).
func isWordByte(b byte) bool {
	return b >= 0x80 || b == '_' || ('a' <= b && b <= 'z') || ('0' <= b && b <= '9')
}
