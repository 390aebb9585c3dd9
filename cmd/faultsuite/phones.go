package main

import (
	"encoding/hex"
	"encoding/xml"
	"errors"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"saathi/jobs/telephony/twiliofake"
)

// survivor is one enrolled survivor and what their phone will do.
type survivor struct {
	idx          int
	id           string // Saathi's ID, once enrolled
	phone, lang  string
	channels     []string
	consent      []string
	withdrawn    bool   // consent withdrawn after enrolment: nothing may reach them
	channel      string // the channel their check-in goes by; "" for none
	reply        *plannedReply
	caseworkerIx int
}

// plannedReply is what a survivor answers their check-in with: a text, or
// a key pressed on the check-in call.
type plannedReply struct {
	body   string
	urgent bool // "3" in any script: must become an urgent alert
	replay bool // delivered twice, as Twilio may
	// together: the second delivery races the first, rather than
	// following it a moment later.
	together bool
	// held: the text is sent while PostgreSQL is down (it must be
	// spooled, then replayed).
	held bool
}

// replyRecord is one reply as the suite sent it.
type replyRecord struct {
	id       string // MessageSid, or CallSid + "/" + step as Saathi stores keys
	channel  string // sms or voice
	survivor *survivor
	urgent   bool
	// sent counts deliveries (2 for a replayed one); taken is true once
	// Saathi answered one of them as Twilio needs (200 with TwiML; for
	// keys, an answer that speaks).
	sent, taken  int
	duringOutage bool
}

// phones plays the survivors' phones and Twilio's callbacks: each text
// the fake accepts gets a delivery callback, each call rings, is answered
// and (for some) gets a key; survivors who planned to reply text back.
// Every webhook is signed as Twilio signs it and posted to the public URL.
type phones struct {
	fake          *twiliofake.Server
	public        string // SAATHI_PUBLIC_URL: where Twilio posts inbound texts
	client        *http.Client
	byPhone       map[string]*survivor
	staff         map[string]bool
	lostCallbacks float64

	rngMu sync.Mutex
	rng   *mrand.Rand

	sem    chan struct{} // webhooks in flight at once
	active sync.WaitGroup
	busy   atomic.Int64

	mu       sync.Mutex
	replies  map[string]*replyRecord
	texts    map[string]int // texts received, by phone
	covered  map[string]bool
	held     []func()
	webhooks map[string]*webhookCount // by kind

	coveredN atomic.Int64
	outage   atomic.Bool
	// crashed: the outage has begun (and maybe ended); held replies are
	// no longer held.
	crashed atomic.Bool
}

type webhookCount struct{ sent, failed int }

func newPhones(fake *twiliofake.Server, public string, survivors []*survivor, staffPhones []string, lostCallbacks float64, seed uint64) *phones {
	p := &phones{
		fake: fake, public: public, lostCallbacks: lostCallbacks,
		client: &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}},
		// Twilio waits 15 s for a webhook; so does the suite.
		byPhone: map[string]*survivor{}, staff: map[string]bool{},
		rng: mrand.New(mrand.NewPCG(seed, seed^0x5eed)), sem: make(chan struct{}, 48),
		replies: map[string]*replyRecord{}, texts: map[string]int{}, covered: map[string]bool{},
		webhooks: map[string]*webhookCount{},
	}
	for _, s := range survivors {
		p.byPhone[s.phone] = s
	}
	for _, ph := range staffPhones {
		p.staff[ph] = true
	}
	fake.OnMessage = p.onMessage
	fake.OnCall = p.onCall
	return p
}

func (p *phones) float() float64 {
	p.rngMu.Lock()
	defer p.rngMu.Unlock()
	return p.rng.Float64()
}

// between is a random duration from lo to hi.
func (p *phones) between(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(p.float()*float64(hi-lo))
}

func (p *phones) sid(prefix string) string {
	p.rngMu.Lock()
	defer p.rngMu.Unlock()
	b := make([]byte, 16)
	for i := range b {
		b[i] = byte(p.rng.Uint32())
	}
	return prefix + hex.EncodeToString(b)
}

// goPhone runs f as a phone's doing, counted until it ends: the suite
// settles only once every phone is idle.
func (p *phones) goPhone(f func()) {
	p.active.Add(1)
	p.busy.Add(1)
	go func() {
		defer p.active.Done()
		defer p.busy.Add(-1)
		f()
	}()
}

// Idle reports whether no phone is doing anything.
func (p *phones) Idle() bool { return p.busy.Load() == 0 }

// Covered is how many survivors the provider has accepted a check-in for.
func (p *phones) Covered() int { return int(p.coveredN.Load()) }

func (p *phones) cover(phone string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.covered[phone] {
		p.covered[phone] = true
		p.coveredN.Add(1)
	}
}

// post signs form as Twilio does over fullURL and posts it; it returns
// the status and body ("" and an error when nothing came back).
func (p *phones) post(kind, fullURL string, form url.Values) (int, string, error) {
	form.Set("AccountSid", twiliofake.AccountSID)
	req, err := http.NewRequest(http.MethodPost, fullURL, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", twiliofake.Signature(twiliofake.AuthToken, fullURL, form))
	p.sem <- struct{}{}
	resp, err := p.client.Do(req)
	<-p.sem
	status, body := 0, ""
	if err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		status, body = resp.StatusCode, string(b)
	}
	p.mu.Lock()
	c := p.webhooks[kind]
	if c == nil {
		c = &webhookCount{}
		p.webhooks[kind] = c
	}
	c.sent++
	if err != nil || status >= 300 {
		c.failed++
	}
	p.mu.Unlock()
	return status, body, err
}

// callback posts a status callback, unless the network loses it (a share
// lostCallbacks of them): then only reconciliation can tell Saathi.
func (p *phones) callback(kind, fullURL string, form url.Values) {
	if fullURL == "" || p.float() < p.lostCallbacks {
		return
	}
	_, _, _ = p.post(kind, fullURL, form)
}

// onMessage is the fake's hook for every text it accepts.
func (p *phones) onMessage(m twiliofake.Message) {
	sv := p.byPhone[m.To]
	p.mu.Lock()
	p.texts[m.To]++
	first := p.texts[m.To] == 1
	p.mu.Unlock()
	p.goPhone(func() {
		time.Sleep(p.between(500*time.Millisecond, 2*time.Second))
		p.callback("sms status", m.StatusCallback, url.Values{
			"MessageSid": {m.SID}, "SmsSid": {m.SID}, "MessageStatus": {"delivered"}, "SmsStatus": {"delivered"},
			"From": {saathiNumber}, "To": {m.To},
		})
	})
	if sv == nil || !first {
		return // a staff member's alert text, or an answer to a reply
	}
	p.cover(m.To)
	if sv.reply == nil || sv.channel != "sms" {
		return
	}
	send := func() { p.text(sv) }
	if sv.reply.held {
		p.mu.Lock()
		hold := !p.crashed.Load()
		if hold {
			p.held = append(p.held, send)
		}
		p.mu.Unlock()
		if hold {
			return
		}
	}
	p.goPhone(func() {
		time.Sleep(p.between(time.Second, 5*time.Second)) // reading and typing
		send()
	})
}

// text sends a survivor's planned reply by SMS (twice if replayed).
func (p *phones) text(sv *survivor) {
	r := sv.reply
	sid := p.sid("SM")
	form := url.Values{
		"MessageSid": {sid}, "SmsSid": {sid}, "SmsMessageSid": {sid}, "From": {sv.phone}, "To": {saathiNumber},
		"Body": {r.body}, "NumMedia": {"0"}, "NumSegments": {"1"},
	}
	rec := p.record(sid, "sms", sv)
	deliver := func() {
		status, _, err := p.post("sms reply", p.public+"/twilio/sms", cloneForm(form))
		p.taken(rec, err == nil && status == http.StatusOK)
	}
	p.deliver(r, deliver)
}

// deliver sends a reply once, or twice for a replayed one: racing the
// first delivery, or a moment after it.
func (p *phones) deliver(r *plannedReply, once func()) {
	if !r.replay {
		once()
		return
	}
	if r.together {
		var wg sync.WaitGroup
		wg.Add(2)
		for range 2 {
			go func() { defer wg.Done(); once() }()
		}
		wg.Wait()
		return
	}
	once()
	time.Sleep(p.between(200*time.Millisecond, 3*time.Second))
	once()
}

func (p *phones) record(id, channel string, sv *survivor) *replyRecord {
	p.mu.Lock()
	defer p.mu.Unlock()
	rec := &replyRecord{id: id, channel: channel, survivor: sv, urgent: sv.reply.urgent, duringOutage: p.outage.Load()}
	p.replies[id] = rec
	return rec
}

func (p *phones) taken(rec *replyRecord, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	rec.sent++
	if p.outage.Load() {
		rec.duringOutage = true
	}
	if ok {
		rec.taken++
	}
}

// OutageBegins sends the held replies, spread over the outage.
func (p *phones) OutageBegins(down time.Duration) {
	p.mu.Lock()
	p.outage.Store(true)
	p.crashed.Store(true)
	held := p.held
	p.held = nil
	p.mu.Unlock()
	for i, send := range held {
		at := time.Duration(float64(down) * 0.8 * float64(i) / float64(max(len(held), 1)))
		p.goPhone(func() {
			time.Sleep(at)
			send()
		})
	}
}

// OutageEnds: replies are sent as they come again.
func (p *phones) OutageEnds() {
	p.outage.Store(false)
	p.mu.Lock()
	held := p.held
	p.held = nil
	p.mu.Unlock()
	for _, send := range held {
		p.goPhone(send)
	}
}

// onCall is the fake's hook for every call it accepts: the survivor's
// phone rings a moment later.
func (p *phones) onCall(c twiliofake.Call) {
	sv := p.byPhone[c.To]
	if sv == nil {
		return
	}
	p.cover(c.To)
	p.goPhone(func() { p.playCall(c, sv) })
}

// playCall is a check-in call as Twilio and the survivor play it: it
// rings; a person answers (or nobody, or a voicemail); Twilio fetches the
// call's TwiML (AnsweredBy, from synchronous machine detection); the
// survivor listens and, if they planned to, presses their key at the
// question; the call ends. Status callbacks report ringing and the end.
func (p *phones) playCall(c twiliofake.Call, sv *survivor) {
	status := func(st string, extra ...string) {
		form := url.Values{"CallSid": {c.SID}, "CallStatus": {st}, "From": {saathiNumber}, "To": {c.To}}
		for i := 0; i+1 < len(extra); i += 2 {
			form.Set(extra[i], extra[i+1])
		}
		p.callback("call status", c.StatusCallback, form)
	}
	time.Sleep(p.between(300*time.Millisecond, time.Second))
	p.fake.SetCallStatus(c.SID, "ringing")
	status("ringing")

	answeredBy := "human"
	if sv.reply == nil {
		switch x := p.float(); {
		case x < 0.1:
			time.Sleep(p.between(time.Second, 3*time.Second))
			p.fake.SetCallStatus(c.SID, "no-answer")
			status("no-answer")
			return
		case x < 0.2:
			answeredBy = "machine_start"
		}
	}
	time.Sleep(p.between(500*time.Millisecond, 1500*time.Millisecond))
	p.fake.SetCallStatus(c.SID, "in-progress")
	_, doc, err := p.post("call answer", c.URL, url.Values{
		"CallSid": {c.SID}, "CallStatus": {"in-progress"}, "AnsweredBy": {answeredBy}, "From": {saathiNumber}, "To": {c.To},
		"Direction": {"outbound-api"},
	})
	action := gatherAction(doc)
	if err == nil && action != "" && sv.reply != nil {
		time.Sleep(p.between(time.Second, 3*time.Second)) // the greeting and the question
		p.press(c, sv, action)
	}
	time.Sleep(p.between(200*time.Millisecond, 500*time.Millisecond))
	p.fake.SetCallStatus(c.SID, "completed")
	status("completed", "CallDuration", "9", "AnsweredBy", answeredBy)
	if sv.reply != nil && (err != nil || action == "") {
		// The call hung up on them before the question (Saathi could not
		// answer it: the database was down). They text their answer
		// instead, as a survivor can at any time.
		time.Sleep(p.between(time.Second, 5*time.Second))
		p.text(sv)
	}
}

// press sends the survivor's key to the Gather's action (twice if
// replayed: Twilio retried).
func (p *phones) press(c twiliofake.Call, sv *survivor, action string) {
	u, err := url.Parse(action)
	if err != nil {
		return
	}
	rec := p.record(c.SID+"/"+u.Query().Get("step"), "voice", sv)
	form := url.Values{"CallSid": {c.SID}, "Digits": {sv.reply.body}, "CallStatus": {"in-progress"}, "From": {saathiNumber}, "To": {c.To}}
	p.deliver(sv.reply, func() {
		status, doc, err := p.post("key press", action, cloneForm(form))
		// A key taken is answered with words; a bare hang-up means it was
		// neither stored nor spooled.
		p.taken(rec, err == nil && status == http.StatusOK && (strings.Contains(doc, "<Say") || strings.Contains(doc, "<Play")))
	})
}

// gatherAction finds the action URL of the first <Gather> in TwiML.
func gatherAction(doc string) string {
	d := xml.NewDecoder(strings.NewReader(doc))
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) || err != nil {
			return ""
		}
		if el, ok := tok.(xml.StartElement); ok && el.Name.Local == "Gather" {
			for _, a := range el.Attr {
				if a.Name.Local == "action" {
					return a.Value
				}
			}
		}
	}
}

func cloneForm(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// Replies returns the replies sent, once every phone is idle.
func (p *phones) Replies() []*replyRecord {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*replyRecord, 0, len(p.replies))
	for _, r := range p.replies {
		out = append(out, r)
	}
	return out
}

// Webhooks returns the webhooks sent and refused, by kind.
func (p *phones) Webhooks() map[string]webhookCount {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]webhookCount{}
	for k, v := range p.webhooks {
		out[k] = *v
	}
	return out
}
