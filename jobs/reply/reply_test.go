package reply

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"saathi/locales/lexicon"
)

// loadParser builds the production parser once for all tests.
var loadParser = sync.OnceValues(func() (*Parser, error) {
	return NewParser(lexicon.FS)
})

func setup(tb testing.TB) *Parser {
	tb.Helper()
	p, err := loadParser()
	if err != nil {
		tb.Fatalf("NewParser(lexicon.FS): %v", err)
	}
	return p
}

type parseCase struct {
	name   string
	text   string
	duress string
	want   Result // Intent and Danger; Evidence is checked separately
}

// parseCases is shared with FuzzParse as its seed corpus.
var parseCases = []parseCase{
	// Codes, ASCII and every native digit set, with noise around them.
	{name: "ascii 1", text: "1", want: Result{Intent: OK}},
	{name: "ascii 2", text: "2", want: Result{Intent: CallMe}},
	{name: "ascii 3", text: "3", want: Result{Intent: HelpNow}},
	{name: "devanagari 3 with spaces", text: "  ३ ", want: Result{Intent: HelpNow}},
	{name: "3 with full stop", text: "3.", want: Result{Intent: HelpNow}},
	{name: "3 in brackets", text: "(3)", want: Result{Intent: HelpNow}},
	{name: "3 with exclamations", text: "3!!", want: Result{Intent: HelpNow}},
	{name: "urdu 3 and madad", text: "۳ مدد", want: Result{Intent: HelpNow, Danger: []string{"مدد"}}},
	{name: "devanagari 1", text: "१", want: Result{Intent: OK}},
	{name: "devanagari 2", text: "२.", want: Result{Intent: CallMe}},
	{name: "gurmukhi 1", text: "੧", want: Result{Intent: OK}},
	{name: "gurmukhi 2", text: "੨", want: Result{Intent: CallMe}},
	{name: "gurmukhi 3", text: " ੩ ", want: Result{Intent: HelpNow}},
	{name: "gujarati 1", text: "૧", want: Result{Intent: OK}},
	{name: "gujarati 2", text: "૨!", want: Result{Intent: CallMe}},
	{name: "gujarati 3", text: "(૩)", want: Result{Intent: HelpNow}},
	{name: "urdu 1", text: "۱", want: Result{Intent: OK}},
	{name: "urdu 2", text: "۲۔", want: Result{Intent: CallMe}},
	{name: "arabic-indic 1", text: "١", want: Result{Intent: OK}},
	{name: "arabic-indic 2", text: "٢", want: Result{Intent: CallMe}},
	{name: "arabic-indic 3", text: "٣", want: Result{Intent: HelpNow}},
	{name: "fullwidth 3", text: "３", want: Result{Intent: HelpNow}},
	{name: "keycap emoji 3", text: "3️⃣", want: Result{Intent: HelpNow}},
	{name: "keycap emoji 1", text: "1️⃣", want: Result{Intent: OK}},
	{name: "3 between zero-width joiners", text: "\u200d3\u200c", want: Result{Intent: HelpNow}},
	{name: "3 after emoji", text: "🙏3🙏", want: Result{Intent: HelpNow}},
	{name: "3 then emoji", text: "3🙏", want: Result{Intent: HelpNow}},
	{name: "1 with text", text: "1 all good", want: Result{Intent: OK}},
	{name: "1 with hinglish", text: "1, theek hoon", want: Result{Intent: OK}},
	{name: "2 with text", text: "2 pls call after 6", want: Result{Intent: CallMe}},
	{name: "3 with help", text: "3, I need help now", want: Result{Intent: HelpNow, Danger: []string{"need help"}}},
	{name: "3 madad chahiye", text: "3 madad chahiye", want: Result{Intent: HelpNow, Danger: []string{"madad chahiye"}}},
	{name: "devanagari 3 madad karo", text: "३ मदद करो", want: Result{Intent: HelpNow, Danger: []string{"मदद करो"}}},
	{name: "1 but locked in", text: "1 but they locked me in", want: Result{Intent: OK, Danger: []string{"locked"}}},
	{name: "1 no problem", text: "1 no problem", want: Result{Intent: OK}},
	{name: "3 3 3", text: "3 3 3", want: Result{Intent: HelpNow}},
	{name: "33 double press", text: "33", want: Result{Intent: HelpNow}},
	{name: "devanagari 333", text: "३३३", want: Result{Intent: HelpNow}},
	{name: "12 is not a code", text: "12", want: Result{Intent: FreeText}},
	{name: "300 is not a code", text: "300", want: Result{Intent: FreeText}},
	{name: "1st is not a code", text: "1st", want: Result{Intent: FreeText}},
	{name: "3rd is not a code", text: "3rd", want: Result{Intent: FreeText}},
	{name: "11 is not a code", text: "11", want: Result{Intent: FreeText}},
	{name: "leading zero", text: "०१", want: Result{Intent: FreeText}},
	{name: "first word 3 wins over baje", text: "3 बजे आना", want: Result{Intent: HelpNow}},

	// A lone 3 later in the message.
	{name: "lone 3 after ok", text: "ok 3", want: Result{Intent: HelpNow}},
	{name: "lone 3 in hinglish", text: "mujhe 3 chahiye", want: Result{Intent: HelpNow}},
	{name: "lone 3 after bhai", text: "bhai 3", want: Result{Intent: HelpNow}},
	{name: "lone 3 before people", text: "came with 3 men", want: Result{Intent: HelpNow}},
	{name: "3 baje is a time", text: "main 3 baje aaungi", want: Result{Intent: FreeText}},
	{name: "at 3 is a time", text: "call me at 3", want: Result{Intent: FreeText}},
	{name: "3 o'clock is a time", text: "come at 3 o'clock", want: Result{Intent: FreeText}},
	{name: "3:30 is a time", text: "meeting 3:30", want: Result{Intent: FreeText}},
	{name: "3 days is a duration", text: "wait 3 days", want: Result{Intent: FreeText}},
	{name: "2 or 3 is ambiguous", text: "press 2 or 3", want: Result{Intent: FreeText}},
	{name: "gurmukhi 3 vaje", text: "ਮੈਨੂੰ ੩ ਵਜੇ ਫ਼ੋਨ ਕਰੋ", want: Result{Intent: FreeText}},
	{name: "gujarati 3 vagye", text: "કાલે ૩ વાગ્યે આવજો", want: Result{Intent: FreeText}},
	{name: "urdu 3 baje", text: "کل ۳ بجے", want: Result{Intent: FreeText}},
	{name: "lone 3 and danger", text: "bhai 3 jaldi aao", want: Result{Intent: HelpNow, Danger: []string{"jaldi aao"}}},
	{name: "stop then 3", text: "stop 3", want: Result{Intent: HelpNow}},

	// Duress word.
	{name: "duress exact", text: "mango", duress: "mango", want: Result{Intent: Duress}},
	{name: "duress upper case", text: "MANGO", duress: "mango", want: Result{Intent: Duress}},
	{name: "duress with space and bang", text: " mango!", duress: "mango", want: Result{Intent: Duress}},
	{name: "duress with full stop", text: "Mango.", duress: "mango", want: Result{Intent: Duress}},
	{name: "duress in a sentence", text: "I ate a mango today", duress: "mango", want: Result{Intent: Duress}},
	{name: "duress not inside longer word", text: "mangoes are nice", duress: "mango", want: Result{Intent: FreeText}},
	{name: "duress not spelled out", text: "m a n g o", duress: "mango", want: Result{Intent: FreeText}},
	{name: "duress beats code", text: "1 mango", duress: "mango", want: Result{Intent: Duress}},
	{name: "duress beats opt-out", text: "stop", duress: "stop", want: Result{Intent: Duress}},
	{name: "duress enrolled with spaces and case", text: "mango", duress: " Mango ", want: Result{Intent: Duress}},
	{name: "duress with zero-width space", text: "man\u200bgo", duress: "mango", want: Result{Intent: Duress}},
	{name: "duress devanagari", text: "आम", duress: "आम", want: Result{Intent: Duress}},
	{name: "duress devanagari inside word", text: "आमदनी कम है", duress: "आम", want: Result{Intent: FreeText}},
	{name: "duress devanagari after code", text: "३ आम!", duress: "आम", want: Result{Intent: Duress}},
	{name: "duress devanagari nukta", text: "जमीन", duress: "ज़मीन", want: Result{Intent: Duress}},
	{name: "duress gurmukhi nukta", text: "ਸ਼ੇਰ!", duress: "ਸੇਰ", want: Result{Intent: Duress}},
	{name: "duress urdu arabic kaf", text: "كتاب", duress: "کتاب", want: Result{Intent: Duress}},
	{name: "duress two words", text: "the BLUE  sky", duress: "blue sky", want: Result{Intent: Duress}},
	{name: "duress two words partial", text: "blue skies", duress: "blue sky", want: Result{Intent: FreeText}},
	{name: "other message with duress set", text: "stop", duress: "mango", want: Result{Intent: OptOut}},
	{name: "no duress word set", text: "mango", want: Result{Intent: FreeText}},
	{name: "duress that is a danger word is not repeated as danger", text: "madad", duress: "madad", want: Result{Intent: Duress}},
	{name: "duress keeps other danger", text: "mango help me", duress: "mango", want: Result{Intent: Duress, Danger: []string{"help me"}}},
	{name: "duress of punctuation only is ignored", text: "!!!", duress: "!!!", want: Result{Intent: FreeText}},

	// Carrier keywords, whole message only.
	{name: "STOP", text: "STOP", want: Result{Intent: OptOut}},
	{name: "stop with full stop", text: "stop.", want: Result{Intent: OptOut}},
	{name: "stop padded", text: " Stop! ", want: Result{Intent: OptOut}},
	{name: "STOPALL", text: "STOPALL", want: Result{Intent: OptOut}},
	{name: "unsubscribe", text: "unsubscribe", want: Result{Intent: OptOut}},
	{name: "cancel", text: "Cancel", want: Result{Intent: OptOut}},
	{name: "END", text: "END", want: Result{Intent: OptOut}},
	{name: "quit", text: "quit", want: Result{Intent: OptOut}},
	{name: "band", text: "band", want: Result{Intent: OptOut}},
	{name: "band karo", text: "band karo", want: Result{Intent: OptOut}},
	{name: "Band Karo!", text: "Band Karo!", want: Result{Intent: OptOut}},
	{name: "bandh karo", text: "bandh karo", want: Result{Intent: OptOut}},
	{name: "mat bhejo", text: "mat bhejo", want: Result{Intent: OptOut}},
	{name: "hindi band", text: "बंद", want: Result{Intent: OptOut}},
	{name: "hindi band karo", text: "बंद करो।", want: Result{Intent: OptOut}},
	{name: "punjabi band", text: "ਬੰਦ", want: Result{Intent: OptOut}},
	{name: "punjabi band karo", text: "ਬੰਦ ਕਰੋ", want: Result{Intent: OptOut}},
	{name: "gujarati bandh", text: "બંધ", want: Result{Intent: OptOut}},
	{name: "gujarati bandh karo", text: "બંધ કરો", want: Result{Intent: OptOut}},
	{name: "urdu band", text: "بند", want: Result{Intent: OptOut}},
	{name: "urdu band karo", text: "بند کرو", want: Result{Intent: OptOut}},
	{name: "urdu band karo arabic kaf", text: "بند كرو", want: Result{Intent: OptOut}},
	{name: "stop inside a plea is danger", text: "please stop hitting me", want: Result{Intent: FreeText, Danger: []string{"hitting me"}}},
	{name: "stop it is not a keyword", text: "stop it", want: Result{Intent: FreeText}},
	{name: "START", text: "START", want: Result{Intent: OptIn}},
	{name: "unstop", text: "unstop", want: Result{Intent: OptIn}},
	{name: "shuru", text: "shuru", want: Result{Intent: OptIn}},
	{name: "hindi shuru", text: "शुरू", want: Result{Intent: OptIn}},
	{name: "punjabi shuru", text: "ਸ਼ੁਰੂ", want: Result{Intent: OptIn}},
	{name: "punjabi shuru without nukta", text: "ਸੁਰੂ", want: Result{Intent: OptIn}},
	{name: "gujarati sharu", text: "શરૂ", want: Result{Intent: OptIn}},
	{name: "urdu shuru", text: "شروع", want: Result{Intent: OptIn}},
	{name: "yes is not opt-in", text: "yes", want: Result{Intent: FreeText}},
	{name: "INFO", text: "INFO", want: Result{Intent: HelpInfo}},
	{name: "jaankari", text: "jaankari?", want: Result{Intent: HelpInfo}},
	{name: "hindi jaankari", text: "जानकारी", want: Result{Intent: HelpInfo}},
	{name: "punjabi jaankari", text: "ਜਾਣਕਾਰੀ", want: Result{Intent: HelpInfo}},
	{name: "gujarati mahiti", text: "માહિતી", want: Result{Intent: HelpInfo}},
	{name: "urdu maloomat", text: "معلومات", want: Result{Intent: HelpInfo}},
	{name: "lone HELP is info and danger", text: "HELP", want: Result{Intent: HelpInfo, Danger: []string{"help"}}},
	{name: "help with bang", text: "help!", want: Result{Intent: HelpInfo, Danger: []string{"help"}}},
	{name: "HELP ME is danger", text: "HELP ME", want: Result{Intent: FreeText, Danger: []string{"help me"}}},

	// English danger.
	{name: "en beat me", text: "they beat me", want: Result{Intent: FreeText, Danger: []string{"beat me"}}},
	{name: "en sold", text: "I was sold", want: Result{Intent: FreeText, Danger: []string{"sold"}}},
	{name: "en another city", text: "they are taking me to another city", want: Result{Intent: FreeText, Danger: []string{"taking me", "another city"}}},
	{name: "en locked in", text: "locked in a room", want: Result{Intent: FreeText, Danger: []string{"locked in"}}},
	{name: "en please help", text: "please help", want: Result{Intent: FreeText, Danger: []string{"please help"}}},
	{name: "en come fast", text: "come fast!!", want: Result{Intent: FreeText, Danger: []string{"come fast"}}},
	{name: "en kidnapped", text: "Kidnapped", want: Result{Intent: FreeText, Danger: []string{"kidnapped"}}},
	{name: "en took my phone", text: "they took my phone", want: Result{Intent: FreeText, Danger: []string{"took my phone"}}},
	{name: "en sos", text: "SOS", want: Result{Intent: FreeText, Danger: []string{"sos"}}},
	{name: "en sos emoji", text: "🆘", want: Result{Intent: FreeText, Danger: []string{"sos"}}},
	{name: "en not safe", text: "I am not safe", want: Result{Intent: FreeText, Danger: []string{"not safe"}}},
	{name: "en can't leave", text: "can't leave the house", want: Result{Intent: FreeText, Danger: []string{"can't leave"}}},
	{name: "en cant leave", text: "cant leave", want: Result{Intent: FreeText, Danger: []string{"can't leave"}}},
	{name: "en curly can't leave", text: "I can’t leave", want: Result{Intent: FreeText, Danger: []string{"can't leave"}}},
	{name: "en no money no food", text: "no money no food", want: Result{Intent: FreeText, Danger: []string{"no money", "no food"}}},
	{name: "en don't hurt me", text: "please don't hurt me", want: Result{Intent: FreeText, Danger: []string{"don't hurt me"}}},
	{name: "en repeated danger once", text: "help help help", want: Result{Intent: FreeText, Danger: []string{"help"}}},

	// Hindi danger.
	{name: "hi madad", text: "मदद", want: Result{Intent: FreeText, Danger: []string{"मदद"}}},
	{name: "hi mujhe bachao", text: "मुझे बचाओ!!", want: Result{Intent: FreeText, Danger: []string{"मुझे बचाओ"}}},
	{name: "hi madad chahiye", text: "madad chahiye", want: Result{Intent: FreeText, Danger: []string{"madad chahiye"}}},
	{name: "hi bacha lo", text: "bacha lo", want: Result{Intent: FreeText, Danger: []string{"bacha lo"}}},
	{name: "hi maarte hain", text: "wo maarte hain", want: Result{Intent: FreeText, Danger: []string{"maarte"}}},
	{name: "hi kamre mein band", text: "kamre mein band kar rakha hai", want: Result{Intent: FreeText, Danger: []string{"kamre mein band"}}},
	{name: "hi bech diya", text: "mujhe bech diya", want: Result{Intent: FreeText, Danger: []string{"bech diya"}}},
	{name: "hi doosre shahar", text: "मुझे दूसरे शहर ले जा रहे हैं", want: Result{Intent: FreeText, Danger: []string{"दूसरे शहर"}}},
	{name: "hi nahi ja sakti", text: "nahi ja sakti", want: Result{Intent: FreeText, Danger: []string{"nahi ja sakti"}}},
	{name: "hi zabardasti", text: "ज़बरदस्ती काम करवाते हैं", want: Result{Intent: FreeText, Danger: []string{"ज़बरदस्ती"}}},
	{name: "hi zabardasti without nukta", text: "जबरदस्ती", want: Result{Intent: FreeText, Danger: []string{"ज़बरदस्ती"}}},
	{name: "hi jaldi aao", text: "jaldi aao", want: Result{Intent: FreeText, Danger: []string{"jaldi aao"}}},
	{name: "hi peet", text: "peet te hain", want: Result{Intent: FreeText, Danger: []string{"peet"}}},
	{name: "hi nahi jaane dete", text: "ghar nahi jaane dete", want: Result{Intent: FreeText, Danger: []string{"nahi jaane dete"}}},
	{name: "hi khatra with chandrabindu noise", text: "ख़तरा है", want: Result{Intent: FreeText, Danger: []string{"ख़तरा"}}},

	// Punjabi danger.
	{name: "pa madad", text: "ਮਦਦ", want: Result{Intent: FreeText, Danger: []string{"ਮਦਦ"}}},
	{name: "pa mainu bachao", text: "ਮੈਨੂੰ ਬਚਾਓ", want: Result{Intent: FreeText, Danger: []string{"ਮੈਨੂੰ ਬਚਾਓ"}}},
	{name: "pa madad karo with addak", text: "ਮੱਦਦ ਕਰੋ", want: Result{Intent: FreeText, Danger: []string{"ਮਦਦ ਕਰੋ"}}},
	{name: "pa kuttde", text: "ਉਹ ਕੁੱਟਦੇ ਨੇ", want: Result{Intent: FreeText, Danger: []string{"ਕੁੱਟਦੇ"}}},
	{name: "pa romanised mainu bachao", text: "mainu bachao", want: Result{Intent: FreeText, Danger: []string{"mainu bachao"}}},
	{name: "pa vech ditta", text: "ਮੈਨੂੰ ਵੇਚ ਦਿੱਤਾ", want: Result{Intent: FreeText, Danger: []string{"ਵੇਚ ਦਿੱਤਾ"}}},
	{name: "pa nahi ja sakdi", text: "ਮੈਂ ਨਹੀਂ ਜਾ ਸਕਦੀ", want: Result{Intent: FreeText, Danger: []string{"ਨਹੀਂ ਜਾ ਸਕਦੀ"}}},

	// Gujarati danger.
	{name: "gu madad", text: "મદદ", want: Result{Intent: FreeText, Danger: []string{"મદદ"}}},
	{name: "gu mane bachavo", text: "મને બચાવો", want: Result{Intent: FreeText, Danger: []string{"મને બચાવો"}}},
	{name: "gu maryo", text: "મને માર્યો", want: Result{Intent: FreeText, Danger: []string{"માર્યો"}}},
	{name: "gu mane mare chhe", text: "એ મને મારે છે", want: Result{Intent: FreeText, Danger: []string{"મને મારે"}}},
	{name: "gu mare alone means have to", text: "મારે કામ પર જવું છે", want: Result{Intent: FreeText}},
	{name: "gu bija shaherma", text: "મને બીજા શહેરમાં લઈ જાય છે", want: Result{Intent: FreeText, Danger: []string{"બીજા શહેરમાં"}}},
	{name: "gu mara means my", text: "મારા ઘરે બધું સારું છે", want: Result{Intent: FreeText}},
	{name: "gu romanised mane bachavo", text: "mane bachavo", want: Result{Intent: FreeText, Danger: []string{"mane bachavo"}}},
	{name: "gu locked in room", text: "ઓરડામાં બંધ છું", want: Result{Intent: FreeText, Danger: []string{"ઓરડામાં બંધ"}}},
	{name: "gu thik nathi", text: "ઠીક નથી", want: Result{Intent: FreeText, Danger: []string{"ઠીક નથી"}}},

	// Urdu danger.
	{name: "ur madad", text: "مدد", want: Result{Intent: FreeText, Danger: []string{"مدد"}}},
	{name: "ur mujhe bachao", text: "مجھے بچاؤ", want: Result{Intent: FreeText, Danger: []string{"مجھے بچاؤ"}}},
	{name: "ur mujhe bachao arabic heh", text: "مجهے بچاو", want: Result{Intent: FreeText, Danger: []string{"مجھے بچاؤ"}}},
	{name: "ur maarte", text: "وہ مارتے ہیں", want: Result{Intent: FreeText, Danger: []string{"مارتے"}}},
	{name: "ur romanised qaid", text: "mujhe qaid kar rakha hai", want: Result{Intent: FreeText, Danger: []string{"qaid"}}},
	{name: "ur nahi ja sakti", text: "نہیں جا سکتی", want: Result{Intent: FreeText, Danger: []string{"نہیں جا سکتی"}}},
	{name: "ur madad with harakat", text: "مَدَد", want: Result{Intent: FreeText, Danger: []string{"مدد"}}},
	{name: "ur madad karo romanised", text: "madad karo", want: Result{Intent: FreeText, Danger: []string{"madad karo"}}},

	// Negation.
	{name: "no problem", text: "no problem", want: Result{Intent: FreeText}},
	{name: "koi dikkat nahi", text: "koi dikkat nahi", want: Result{Intent: FreeText}},
	{name: "hi koi dikkat nahin", text: "कोई दिक्कत नहीं", want: Result{Intent: FreeText}},
	{name: "pa koi samasya nahi", text: "ਕੋਈ ਸਮੱਸਿਆ ਨਹੀਂ", want: Result{Intent: FreeText}},
	{name: "gu koi taklif nathi", text: "કોઈ તકલીફ નથી", want: Result{Intent: FreeText}},
	{name: "ur koi masla nahi", text: "کوئی مسئلہ نہیں", want: Result{Intent: FreeText}},
	{name: "hi koi pareshani nahi", text: "कोई परेशानी नहीं", want: Result{Intent: FreeText}},
	{name: "no help needed", text: "no help needed", want: Result{Intent: FreeText}},
	{name: "madad ki zarurat nahi", text: "madad ki zarurat nahi", want: Result{Intent: FreeText}},
	{name: "hi madad ki zarurat nahi", text: "मदद की ज़रूरत नहीं", want: Result{Intent: FreeText}},
	{name: "help not needed", text: "help not needed", want: Result{Intent: FreeText}},
	{name: "not hurt", text: "not hurt", want: Result{Intent: FreeText}},
	{name: "don't need help", text: "I don't need help", want: Result{Intent: FreeText}},
	{name: "not in danger", text: "i am not in danger", want: Result{Intent: FreeText}},
	{name: "nobody hit me", text: "nobody hit me", want: Result{Intent: FreeText}},
	{name: "no problem no danger", text: "no problem, no danger", want: Result{Intent: FreeText}},
	{name: "hi nobody beats me", text: "मुझे कोई नहीं मारता", want: Result{Intent: FreeText}},
	{name: "negation too far stays danger", text: "I dont need any help", want: Result{Intent: FreeText, Danger: []string{"help"}}},
	{name: "no then danger without comma", text: "no they beat me", want: Result{Intent: FreeText, Danger: []string{"beat me"}}},
	{name: "negation stops at full stop", text: "no. help me", want: Result{Intent: FreeText, Danger: []string{"help me"}}},
	{name: "negation stops at but", text: "no problem but they hit me", want: Result{Intent: FreeText, Danger: []string{"hit me"}}},
	{name: "nahi to negates nothing", text: "bachao nahi to maar denge", want: Result{Intent: FreeText, Danger: []string{"bachao", "maar denge"}}},
	{name: "negation stops at lekin", text: "koi pareshani nahi lekin paise nahi", want: Result{Intent: FreeText, Danger: []string{"paise nahi"}}},
	{name: "negation cancels one phrase", text: "maar peet nahi", want: Result{Intent: FreeText}},
	{name: "safe negated not cancelled by outer negation", text: "not safe, no", want: Result{Intent: FreeText, Danger: []string{"not safe"}}},

	// Mixed script.
	{name: "mixed 3 and hindi", text: "3 मदद please", want: Result{Intent: HelpNow, Danger: []string{"मदद"}}},
	{name: "mixed roman and devanagari", text: "mujhe बचाओ", want: Result{Intent: FreeText, Danger: []string{"बचाओ"}}},
	{name: "mixed english and gurmukhi", text: "help me ਮਦਦ", want: Result{Intent: FreeText, Danger: []string{"help me", "ਮਦਦ"}}},
	{name: "mixed hinglish", text: "Bhai मुझे maar रहे hain", want: Result{Intent: FreeText, Danger: []string{"maar"}}},
	{name: "mixed roman and urdu", text: "madad مدد", want: Result{Intent: FreeText, Danger: []string{"madad", "مدد"}}},

	// Nothing to understand.
	{name: "empty", text: "", want: Result{Intent: FreeText}},
	{name: "whitespace", text: " \t\n ", want: Result{Intent: FreeText}},
	{name: "emoji only", text: "🙂🙂", want: Result{Intent: FreeText}},
	{name: "thumbs up", text: "👍", want: Result{Intent: FreeText}},
	{name: "garbage bytes", text: "\xff\xfe\x00", want: Result{Intent: FreeText}},
	{name: "punctuation only", text: "?!?!", want: Result{Intent: FreeText}},
	{name: "keyboard mash", text: "asdfgh", want: Result{Intent: FreeText}},
	{name: "ok emoji", text: "ok 👍", want: Result{Intent: FreeText}},
	{name: "theek hoon", text: "thik hu", want: Result{Intent: FreeText}},
	{name: "lone combining marks", text: "\u0301\u093c\u0a3c", want: Result{Intent: FreeText}},
	{name: "very long fine text", text: strings.Repeat("all fine here ", 5000), want: Result{Intent: FreeText}},
	{name: "very long text ending in 3", text: strings.Repeat("all fine here ", 5000) + "3", want: Result{Intent: HelpNow}},
	{name: "very long text with madad", text: strings.Repeat("सब ठीक है ", 3000) + "madad karo", want: Result{Intent: FreeText, Danger: []string{"madad karo"}}},
}

func TestParse(t *testing.T) {
	t.Parallel()
	p := setup(t)
	if len(parseCases) < 150 {
		t.Errorf("%d table cases, want at least 150", len(parseCases))
	}
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := p.Parse(tc.text, tc.duress)
			if diff := cmp.Diff(tc.want, Result{Intent: got.Intent, Danger: got.Danger}); diff != "" {
				t.Errorf("Parse(%q, %q) mismatch (-want +got):\n%s\nevidence: %q", tc.text, tc.duress, diff, got.Evidence)
			}
			if (got.Intent != FreeText || len(got.Danger) > 0) && len(got.Evidence) == 0 {
				t.Errorf("Parse(%q) = %s with no evidence", tc.text, got.Intent)
			}
			checkNoDuressInEvidence(t, got, tc.duress)
		})
	}
}

func checkNoDuressInEvidence(t *testing.T, got Result, duress string) {
	t.Helper()
	if utf8.RuneCountInString(duress) <= 2 {
		return
	}
	for _, e := range got.Evidence {
		if strings.Contains(e, duress) || strings.Contains(e, strings.TrimSpace(duress)) {
			t.Errorf("evidence %q contains the duress word", e)
		}
	}
}

func TestParseEvidence(t *testing.T) {
	t.Parallel()
	p := setup(t)
	tests := []struct {
		name   string
		text   string
		duress string
		want   []string
	}{
		{name: "native code digit quoted as typed", text: "  ३ ", want: []string{`code "३" = 3`}},
		{name: "urdu code and danger", text: "۳ مدد", want: []string{`code "۳" = 3`, `danger "مدد" (ur)`}},
		{name: "repeated code", text: "33", want: []string{`code "33" = 3 (repeated)`}},
		{name: "opt-out with languages", text: "band karo", want: []string{`opt-out phrase "band karo" (gu, hi, pa, ur)`}},
		{name: "opt-in", text: "START", want: []string{`opt-in phrase "start" (en)`}},
		{name: "lone help", text: "HELP", want: []string{`info keyword "help" (en)`, `danger "help" (en)`}},
		{name: "danger in hindi", text: "मदद", want: []string{`danger "मदद" (hi)`}},
		{name: "romanised danger in three languages", text: "bachao", want: []string{`danger "bachao" (hi, pa, ur)`}},
		{name: "negation", text: "no problem", want: []string{`negated "problem" (en) by "no"`}},
		{name: "lone 3", text: "ok 3", want: []string{`lone "3" = 3 (read as a request for help)`}},
		{name: "number phrase", text: "main 3 baje aaungi", want: []string{`"3 baje" is a number, not a code`}},
		{name: "duress", text: "Mango!", duress: "mango", want: []string{"duress word"}},
		{name: "duress with other danger", text: "madad, मदद", duress: "madad", want: []string{"duress word", `danger "मदद" (hi)`}},
		{name: "duress word inside evidence wording is redacted", text: "word", duress: "word", want: []string{redacted}},
		{name: "duress word inside a danger word is redacted", text: "danger ger", duress: "ger", want: []string{"duress word", redacted}},
		{name: "duress word equal to redacted", text: "redacted", duress: "redacted", want: []string{"duress word"}},
		{name: "free text has no evidence", text: "thik hu", want: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := p.Parse(tc.text, tc.duress)
			if diff := cmp.Diff(tc.want, got.Evidence); diff != "" {
				t.Errorf("Parse(%q, %q).Evidence mismatch (-want +got):\n%s", tc.text, tc.duress, diff)
			}
		})
	}
}

func TestParseNilParser(t *testing.T) {
	t.Parallel()
	var p *Parser
	tests := []struct {
		name, text, duress string
		want               Result
	}{
		{name: "code", text: "३", want: Result{Intent: HelpNow, Evidence: []string{`code "३" = 3`}}},
		{name: "duress", text: "mango", duress: "mango", want: Result{Intent: Duress, Evidence: []string{"duress word"}}},
		{name: "no lexicon, no danger", text: "madad", want: Result{Intent: FreeText}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tc.want, p.Parse(tc.text, tc.duress)); diff != "" {
				t.Errorf("nil Parser Parse(%q) mismatch (-want +got):\n%s", tc.text, diff)
			}
		})
	}
}

func TestIntentValid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   Intent
		want bool
	}{
		{OK, true}, {CallMe, true}, {HelpNow, true}, {Duress, true},
		{OptOut, true}, {OptIn, true}, {HelpInfo, true}, {FreeText, true},
		{"", false}, {"OK", false}, {"help", false},
	}
	for _, tc := range tests {
		t.Run(string(tc.in), func(t *testing.T) {
			t.Parallel()
			if got := tc.in.Valid(); got != tc.want {
				t.Errorf("Intent(%q).Valid() = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func TestValidateDuressWord(t *testing.T) {
	t.Parallel()
	p := setup(t)
	tests := []struct {
		name string
		word string
		want error // the reason; nil to accept
	}{
		// Acceptable: uncommon words of 4 letters or more, in any script.
		{name: "demo word", word: "mango"},
		{name: "padded and capitalised", word: " Mango "},
		{name: "two words", word: "blue sky"},
		{name: "romanised hindi", word: "patang"},
		{name: "devanagari", word: "किताब"},
		{name: "devanagari with anusvara", word: "पतंग"},
		{name: "gurmukhi with tippi", word: "ਪਤੰਗ"},
		{name: "gujarati", word: "પતંગ"},
		{name: "urdu", word: "کتاب"},
		{name: "urdu arabic kaf", word: "كتاب"},
		{name: "common word with an uncommon one", word: "meri patang"},
		{name: "four letters", word: "kiwi"},
		{name: "devanagari inherent vowels count", word: "कमल"},
		{name: "devanagari inherent vowels count twice", word: "नमक"},
		{name: "gujarati inherent vowels count", word: "કમળ"},
		{name: "gurmukhi inherent vowels count", word: "ਕਮਲ"},

		// No letters.
		{name: "empty", word: "", want: errDuressEmpty},
		{name: "punctuation only", word: "!!!", want: errDuressEmpty},
		{name: "emoji only", word: "🙂🙂", want: errDuressEmpty},

		// Numbers: a reply code in any script's digits.
		{name: "a code", word: "3", want: errDuressNumber},
		{name: "devanagari code", word: "३", want: errDuressNumber},
		{name: "urdu code", word: "۲", want: errDuressNumber},
		{name: "gurmukhi digits", word: "੧੨੩੪", want: errDuressNumber},
		{name: "contains a number", word: "mango3", want: errDuressNumber},

		// Reply keywords of every language.
		{name: "STOP", word: "STOP", want: errDuressKeyword},
		{name: "stop with punctuation", word: "Stop!", want: errDuressKeyword},
		{name: "START", word: "start", want: errDuressKeyword},
		{name: "HELP", word: "HELP", want: errDuressKeyword},
		{name: "INFO", word: "info", want: errDuressKeyword},
		{name: "short keyword", word: "end", want: errDuressKeyword},
		{name: "unsubscribe", word: "unsubscribe", want: errDuressKeyword},
		{name: "romanised opt-out", word: "band karo", want: errDuressKeyword},
		{name: "devanagari opt-out", word: "बंद करो", want: errDuressKeyword},
		{name: "gurmukhi opt-in", word: "ਸ਼ੁਰੂ", want: errDuressKeyword},
		{name: "gujarati opt-in", word: "શરૂ કરો", want: errDuressKeyword},
		{name: "urdu info", word: "معلومات", want: errDuressKeyword},
		{name: "romanised info", word: "jaankari", want: errDuressKeyword},

		// Danger and negation.
		{name: "danger word", word: "madad", want: errDuressDanger},
		{name: "danger phrase", word: "help me", want: errDuressDanger},
		{name: "devanagari danger", word: "मदद", want: errDuressDanger},
		{name: "urdu danger", word: "خطرہ", want: errDuressDanger},
		{name: "safe-negated phrase", word: "not safe", want: errDuressDanger},
		{name: "negation word", word: "nahi", want: errDuressDanger},
		{name: "devanagari negation", word: "नहीं", want: errDuressDanger},

		// Fewer than 4 letters (viramas do not count).
		{name: "two latin letters", word: "ab", want: errDuressShort},
		{name: "three latin letters", word: "sky", want: errDuressShort},
		{name: "two letters spaced", word: "a b", want: errDuressShort},
		{name: "devanagari two letters", word: "आम", want: errDuressShort},
		{name: "one devanagari letter", word: "आ", want: errDuressShort},
		{name: "devanagari virama does not count", word: "क्या", want: errDuressShort},
		{name: "devanagari final consonant is silent", word: "जल", want: errDuressShort},
		{name: "devanagari vowel sign", word: "मोर", want: errDuressShort},
		{name: "urdu short vowels unwritten", word: "قلم", want: errDuressShort},
		{name: "gurmukhi nukta removed", word: "ਸ਼ੇਰ", want: errDuressShort},
		{name: "gujarati three", word: "મોર", want: errDuressShort},
		{name: "urdu three", word: "شیر", want: errDuressShort},

		// The marker's own words.
		{name: "marker word", word: "duress", want: errDuressMarker},
		{name: "marker phrase", word: "Duress Word!", want: errDuressMarker},

		// Common everyday words and phrases made only of them.
		{name: "common: english greeting", word: "hello", want: errDuressCommon},
		{name: "common: english phrase", word: "thank you", want: errDuressCommon},
		{name: "common: english phrase hyphenated", word: "Thank-you", want: errDuressCommon},
		{name: "common: english made of common words", word: "my home", want: errDuressCommon},
		{name: "common: romanised hindi", word: "namaste", want: errDuressCommon},
		{name: "common: romanised phrase", word: "theek hai", want: errDuressCommon},
		{name: "common: devanagari", word: "नमस्ते", want: errDuressCommon},
		{name: "common: devanagari with nukta", word: "बढ़िया", want: errDuressCommon},
		{name: "common: devanagari made of common words", word: "सब ठीक है", want: errDuressCommon},
		{name: "common: romanised made of common words", word: "mera ghar", want: errDuressCommon},
		{name: "common: gurmukhi", word: "ਧੰਨਵਾਦ", want: errDuressCommon},
		{name: "common: romanised punjabi", word: "sat sri akal", want: errDuressCommon},
		{name: "common: gujarati", word: "આભાર", want: errDuressCommon},
		{name: "common: romanised gujarati", word: "kem cho", want: errDuressCommon},
		{name: "common: urdu", word: "شکریہ", want: errDuressCommon},
		{name: "common: urdu arabic letters", word: "شكريه", want: errDuressCommon},
		{name: "common: romanised urdu", word: "khuda hafiz", want: errDuressCommon},
		{name: "common: clause-break word", word: "lekin", want: errDuressCommon},
		{name: "common: number word", word: "baje", want: errDuressCommon},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := p.ValidateDuressWord(tc.word)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("ValidateDuressWord(%q) = %v, want nil", tc.word, err)
				}
				return
			}
			if !errors.Is(err, ErrDuressWord) || !errors.Is(err, tc.want) {
				t.Fatalf("ValidateDuressWord(%q) = %v, want %v", tc.word, err, tc.want)
			}
			// The message is fixed text: it cannot quote the word.
			if want := ErrDuressWord.Error() + ": " + tc.want.Error(); err.Error() != want {
				t.Errorf("ValidateDuressWord(%q) error %q, want exactly %q", tc.word, err, want)
			}
		})
	}
}

// TestDuressLetters: letters counted as spoken, close to the romanised
// spelling of the word.
func TestDuressLetters(t *testing.T) {
	t.Parallel()
	tests := map[string]int{
		"mango":    5,
		"blue sky": 7,
		"कमल":      5, // ka-ma-l: kamal
		"पानी":     4, // vowel signs count: pani
		"पतंग":     6, // inherent vowel before the anusvara: patang
		"आम":       2, // aam: the final consonant is silent
		"क्या":     3, // the virama does not count: kya
		"ਕਮਲ":      5,
		"ਮੱਦਦ":     5, // addak removed by Normalize: madad
		"પતંગ":     6,
		"کتاب":     4, // Urdu: as written
	}
	for word, want := range tests {
		if got := duressLetters(strings.Fields(Normalize(word))); got != want {
			t.Errorf("duressLetters(%q) = %d, want %d", word, got, want)
		}
	}
}

// TestValidateDuressWordNilParser: without a lexicon, codes, length and the
// marker are still checked.
func TestValidateDuressWordNilParser(t *testing.T) {
	t.Parallel()
	var p *Parser
	for word, want := range map[string]error{"mango": nil, "3": errDuressNumber, "ab": errDuressShort, "word": errDuressMarker, "stop": nil} {
		if err := p.ValidateDuressWord(word); !errors.Is(err, want) || (want == nil) != (err == nil) {
			t.Errorf("nil Parser ValidateDuressWord(%q) = %v, want %v", word, err, want)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	p := setup(b)
	replies := []string{
		"1", "३", "2 pls call", "STOP", "band karo", "koi dikkat nahi", "मुझे बचाओ",
		"3, I need help now", "ਮੈਨੂੰ ਬਚਾਓ", "કોઈ તકલીફ નથી", "مجھے بچاؤ", "🙂🙂",
		"main 3 baje aaungi", "1 but they locked me in", "mango",
		"all good here, work is fine and the children are at school today",
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		p.Parse(replies[i%len(replies)], "mango")
	}
}
