// Package twiliofake is a local stand-in for Twilio's REST API, for tests
// and benchmarks: it speaks the 2010-04-01 Messages and Calls APIs (paths,
// basic auth, form fields, JSON answers, Twilio's error body) so the real
// twilio-go client can be pointed at it through TWILIO_API_BASE_URL.
// Failures are scriptable: HTTP errors with Twilio codes, slow answers, and
// "accepted but the answer was lost", for sends and calls (per destination
// or in order) and for the lookups that reconciliation uses. For load and
// fault runs the fake can also answer with Twilio's latency (LatencyFunc)
// and fail a share of requests at random (SetRandomFaults).
//
// Error answers quote the 'To' number the way Twilio's do (21211: "The 'To'
// number +91… is not a valid phone number."), so a test notices when that
// text reaches a log line or a database row.
//
// Calls behave as Twilio's do for reconciliation: a new call is "queued"
// with no start time until it is dialled (SetCallStatus), so a StartTime>
// filter does not find it. And the fake holds Saathi to its own promise
// about calls: a call created without synchronous machine detection, a
// status callback or a ring timeout is refused, and fails the test.
package twiliofake

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Default credentials (Twilio accepts only letters and digits).
const (
	AccountSID = "AC00000000000000000000000000000001"
	AuthToken  = "fa4e0000000000000000000000000001"
)

// Message is one message the fake accepted.
type Message struct {
	SID                 string
	To, From, Body      string
	MessagingServiceSID string
	StatusCallback      string
	ValidityPeriod      string
	Status              string
	Created             time.Time
}

// Call is one call the fake accepted, with the request's fields as sent.
type Call struct {
	SID      string
	To, From string
	// URL and Method: where Twilio fetches the call's TwiML.
	URL, Method                          string
	StatusCallback, StatusCallbackMethod string
	// StatusCallbackEvent holds every value sent, in order.
	StatusCallbackEvent []string
	// MachineDetection, MachineDetectionTimeout, AsyncAmd, Timeout (ring
	// seconds) and TimeLimit, as sent ("" when absent).
	MachineDetection, MachineDetectionTimeout, AsyncAmd string
	Timeout, TimeLimit                                  string
	// Form is the whole request form, for fields not named above.
	Form url.Values

	// Status is "queued" until SetCallStatus changes it.
	Status string
	// Created is when the fake accepted the call; Started is when it was
	// dialled (zero while queued), Ended when it ended.
	Created, Started, Ended time.Time
}

// CodeUnsafeCall is the fake's own error code (not Twilio's) for a call
// request missing a safeguard Saathi promises on every call.
const CodeUnsafeCall = 90001

// Fault is a scripted misbehaviour for the next request it applies to.
type Fault struct {
	// Status and Code: answer with Twilio's error body (e.g. 429/20429,
	// 500/20500, 400/21211, 400/21610), whose message quotes the 'To'
	// number as Twilio's do.
	Status, Code int
	// Delay before answering (a client timeout shorter than this sees an
	// unknown outcome). With no Status, the request then succeeds: a send
	// is accepted however late (Twilio took it), a lookup answers. With a
	// Status, the answer is that error: a client that timed out never
	// learns that Twilio did not take the message.
	Delay time.Duration
	// Accept stores the message or call before failing: Twilio took it,
	// but the answer never reached the client. Creates only.
	Accept bool
	// RawBody, when set, replaces the JSON error body (e.g. an HTML 502
	// from a proxy).
	RawBody string
}

// Hang is a Fault.Delay longer than any client waits: the request times out
// at the client, whose connection closing ends the wait.
const Hang = 5 * time.Minute

// String names the fault for counts and reports: "429", "500", "timeout",
// "timeout, accepted", "accepted, answer lost".
func (f Fault) String() string {
	switch {
	case f.Delay >= Hang && f.Status == 0:
		return "timeout, accepted"
	case f.Delay >= Hang:
		return "timeout"
	case f.Status != 0:
		return strconv.Itoa(f.Status)
	case f.Accept:
		return "accepted, answer lost"
	case f.Delay > 0:
		return "slow (" + f.Delay.String() + ")"
	}
	return "none"
}

// BadDay is what SetRandomFaults draws from when given no faults: a
// provider rate-limiting (429) and failing (500), requests that hang until
// the client gives up (Twilio took the message all the same, or did not),
// and answers lost after Twilio took the message or call.
func BadDay() []Fault {
	return []Fault{
		{Status: http.StatusTooManyRequests, Code: 20429},
		{Status: http.StatusInternalServerError, Code: 20500},
		{Delay: Hang},
		{Delay: Hang, Status: http.StatusGatewayTimeout, Code: 20504},
		{Accept: true},
	}
}

// FixedLatency is a LatencyFunc that always takes d.
func FixedLatency(d time.Duration) func() time.Duration {
	return func() time.Duration { return d }
}

// UniformLatency is a LatencyFunc that takes from lo to hi, uniformly
// distributed (Twilio's API answers in about 100 to 300 ms).
func UniformLatency(lo, hi time.Duration) func() time.Duration {
	if hi <= lo {
		return FixedLatency(lo)
	}
	return func() time.Duration { return lo + mrand.N(hi-lo) }
}

// Server is the fake.
type Server struct {
	*httptest.Server
	AccountSID, AuthToken string

	// OnMessage, when set, is called for every accepted message (a load
	// generator times deliveries with it). Set it before use.
	OnMessage func(Message)
	// OnCall, when set, is called for every accepted call (a load
	// generator answers them). Set it before use.
	OnCall func(Call)
	// Discard keeps no messages or calls in memory (long load runs).
	Discard bool
	// NowFunc, when set, is the fake's clock for the times it records
	// (date_created, start_time); set it before use.
	NowFunc func() time.Time
	// LatencyFunc, when set, is how long the fake works on each API
	// request before it answers (see FixedLatency, UniformLatency); set it
	// before use. The form is read first, and the work is done even if the
	// client gives up or dies meanwhile, as Twilio does: a message whose
	// sender was killed mid-request may still be accepted.
	LatencyFunc func() time.Duration

	tb         testing.TB // nil for NewServer
	unusedOK   atomic.Bool
	mux        *http.ServeMux
	mu         sync.Mutex
	messages   []Message
	calls      []Call
	faults     []Fault            // for the next creates, in order
	faultsTo   map[string][]Fault // for the next creates to one number
	listFaults []Fault            // for the next lookups, in order
	requests   int
	// randomRate and randomFaults: see SetRandomFaults.
	randomRate   float64
	randomFaults []Fault
	played       map[string]int // faults played, by Fault.String
	inFlight     atomic.Int64
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{7,14}$`)

// New starts a fake Twilio. The test fails if the fake is never called,
// unless AllowUnused is called: a fake nobody talks to proves nothing. It
// also fails if a call is created without synchronous machine detection, a
// status callback or a ring timeout.
func New(tb testing.TB) *Server {
	tb.Helper()
	s := NewServer()
	s.tb = tb
	tb.Cleanup(func() {
		s.Close()
		if s.Requests() == 0 && !tb.Failed() && s.mustBeUsed() {
			tb.Errorf("twiliofake: never called")
		}
	})
	return s
}

// NewServer starts a fake without test hooks (for load generators); Close it.
func NewServer() *Server {
	s := newServer()
	s.Server = httptest.NewServer(s.handler())
	return s
}

// NewServerAt starts a fake listening on addr (host:port), for a load
// generator whose Saathi is configured with that address.
func NewServerAt(addr string) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := newServer()
	s.Server = httptest.NewUnstartedServer(s.handler())
	s.Server.Listener.Close()
	s.Server.Listener = ln
	s.Server.Start()
	return s, nil
}

func newServer() *Server {
	s := &Server{AccountSID: AccountSID, AuthToken: AuthToken}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /2010-04-01/Accounts/{sid}/Messages.json", s.createMessage)
	mux.HandleFunc("GET /2010-04-01/Accounts/{sid}/Messages.json", s.listMessages)
	mux.HandleFunc("POST /2010-04-01/Accounts/{sid}/Calls.json", s.createCall)
	mux.HandleFunc("GET /2010-04-01/Accounts/{sid}/Calls.json", s.listCalls)
	mux.HandleFunc("GET /2010-04-01/Accounts/{sid}/Calls/{file}", s.fetchCall)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, 20404, "The requested resource "+r.URL.Path+" was not found")
	})
	s.mux = mux
	return s
}

// handler counts requests in flight and applies LatencyFunc around the
// API's routes.
func (s *Server) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.inFlight.Add(1)
		defer s.inFlight.Add(-1)
		if s.LatencyFunc != nil {
			// Read the whole request first: what Twilio received, it
			// processes, whether or not the client is still there.
			_ = r.ParseForm()
			time.Sleep(s.LatencyFunc())
		}
		s.mux.ServeHTTP(w, r)
	})
}

// InFlight is how many requests the fake is working on now.
func (s *Server) InFlight() int { return int(s.inFlight.Load()) }

// SetRandomFaults makes a share of the requests no scripted fault covers
// (rate, from 0 to 1) meet one of faults, drawn uniformly: creates and
// lookups alike, except that a lookup never draws an Accept fault. With no
// faults given it draws from BadDay(); rate 0 turns it off. It may be
// called while requests are being served.
func (s *Server) SetRandomFaults(rate float64, faults ...Fault) {
	if len(faults) == 0 {
		faults = BadDay()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.randomRate, s.randomFaults = min(max(rate, 0), 1), append([]Fault(nil), faults...)
}

// FaultsPlayed counts the faults played so far, scripted and random, by
// Fault.String.
func (s *Server) FaultsPlayed() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.played))
	for k, v := range s.played {
		out[k] = v
	}
	return out
}

// randomFault draws a fault for a request, or nil; the caller holds s.mu.
func (s *Server) randomFault(create bool) *Fault {
	if s.randomRate == 0 || mrand.Float64() >= s.randomRate {
		return nil
	}
	var pool []Fault
	for _, f := range s.randomFaults {
		if create || !f.Accept {
			pool = append(pool, f)
		}
	}
	if len(pool) == 0 {
		return nil
	}
	f := pool[mrand.IntN(len(pool))]
	return &f
}

// play counts a fault about to be played; the caller holds s.mu.
func (s *Server) play(f *Fault) *Fault {
	if f != nil {
		if s.played == nil {
			s.played = map[string]int{}
		}
		s.played[f.String()]++
	}
	return f
}

// AllowUnused lets a test pass without calling the fake.
func (s *Server) AllowUnused() { s.unusedOK.Store(true) }

func (s *Server) mustBeUsed() bool { return !s.unusedOK.Load() }

// Script queues faults for the next create requests (messages and calls),
// in order.
func (s *Server) Script(faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, faults...)
}

// ScriptTo queues faults for the next create requests to one number, in
// order. They are used before the queue Script fills, so jobs sending to
// different numbers at once each meet their own faults.
func (s *Server) ScriptTo(to string, faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.faultsTo == nil {
		s.faultsTo = map[string][]Fault{}
	}
	s.faultsTo[to] = append(s.faultsTo[to], faults...)
}

// ScriptList queues faults for the next lookups (GET Messages.json,
// Calls.json or one call: what reconciliation asks), in order: Delay for a
// timeout, Status and Code for an error answer quoting the To parameter.
func (s *Server) ScriptList(faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.listFaults = append(s.listFaults, faults...)
}

// nextFault takes the fault for a create request to `to`: that number's
// own first, then the shared queue's.
func (s *Server) nextFault(to string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	if q := s.faultsTo[to]; len(q) > 0 {
		s.faultsTo[to] = q[1:]
		return s.play(&q[0])
	}
	if len(s.faults) > 0 {
		f := s.faults[0]
		s.faults = s.faults[1:]
		return s.play(&f)
	}
	return s.play(s.randomFault(true))
}

func (s *Server) nextListFault() *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.listFaults) == 0 {
		return s.play(s.randomFault(false))
	}
	f := s.listFaults[0]
	s.listFaults = s.listFaults[1:]
	return s.play(&f)
}

// wait sleeps for the fault's delay, or until the client gives up.
func (f *Fault) wait(r *http.Request) {
	if f.Delay > 0 {
		select {
		case <-time.After(f.Delay):
		case <-r.Context().Done():
		}
	}
}

// answerError writes the fault's error answer, if it has one; to is the
// number Twilio's text would quote.
func (f *Fault) answerError(w http.ResponseWriter, to string) bool {
	if f.Status == 0 {
		return false
	}
	if f.RawBody != "" {
		w.WriteHeader(f.Status)
		_, _ = w.Write([]byte(f.RawBody))
		return true
	}
	writeError(w, f.Status, f.Code, errorText(f.Code, to))
	return true
}

// errorText is Twilio's message for a code, quoting the number where
// Twilio does (and, to make leaks visible, where it might).
func errorText(code int, to string) string {
	switch code {
	case 21211:
		return "The 'To' number " + to + " is not a valid phone number."
	case 21214:
		return "'To' phone number " + to + " cannot be reached"
	case 21215:
		return "Account not authorized to call " + to + ". Perhaps you need to enable some international permissions: https://www.twilio.com/console/voice/calls/geo-permissions/low-risk"
	case 21217:
		return "Phone number " + to + " does not appear to be valid"
	case 21408:
		return "Permission to send an SMS has not been enabled for the region indicated by the 'To' number: " + to
	case 21610:
		return "Attempt to send to unsubscribed recipient " + to
	case 21612:
		return "The 'To' phone number: " + to + ", is not currently reachable using the 'From' phone number via SMS."
	case 21614:
		return "'To' number " + to + " is not a valid mobile number"
	case 20429:
		return "Too Many Requests: too many messages queued for " + to
	case 20500:
		return "Internal server error while handling the request for " + to
	}
	return "Scripted failure (code " + strconv.Itoa(code) + ") for the 'To' number " + to
}

// Messages returns a copy of every accepted message, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Requests counts every request received.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

func (s *Server) authorised(w http.ResponseWriter, r *http.Request) bool {
	s.mu.Lock()
	s.requests++
	s.mu.Unlock()
	user, pass, ok := r.BasicAuth()
	if !ok || user != s.AccountSID || pass != s.AuthToken || r.PathValue("sid") != s.AccountSID {
		writeError(w, http.StatusUnauthorized, 20003, "Authenticate")
		return false
	}
	return true
}

func (s *Server) createMessage(w http.ResponseWriter, r *http.Request) {
	if !s.authorised(w, r) {
		return
	}
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, 20001, "Invalid form body")
		return
	}
	f := r.PostForm
	msg := Message{
		SID: newSID("SM"), To: f.Get("To"), From: f.Get("From"), Body: f.Get("Body"),
		MessagingServiceSID: f.Get("MessagingServiceSid"), StatusCallback: f.Get("StatusCallback"), ValidityPeriod: f.Get("ValidityPeriod"),
		Status: "queued", Created: s.now(),
	}
	if msg.MessagingServiceSID != "" {
		msg.Status = "accepted"
	}

	if s.createFault(w, r, msg.To, func() { s.store(msg) }) {
		return
	}

	switch {
	case msg.To == "" || !e164.MatchString(msg.To):
		writeError(w, http.StatusBadRequest, 21211, errorText(21211, msg.To))
		return
	case msg.Body == "":
		writeError(w, http.StatusBadRequest, 21602, "Message body is required.")
		return
	case msg.From == "" && msg.MessagingServiceSID == "":
		writeError(w, http.StatusBadRequest, 21603, "A 'From' phone number is required.")
		return
	}
	s.store(msg)
	writeJSON(w, http.StatusCreated, s.resource(msg))
}

// createFault plays the next scripted fault for a create request to `to`;
// store keeps what was created when the fault says Twilio took it. It
// reports whether the request has been answered (an error, or a cut
// connection); if not, the request goes on as usual.
func (s *Server) createFault(w http.ResponseWriter, r *http.Request, to string, store func()) bool {
	fault := s.nextFault(to)
	if fault == nil {
		return false
	}
	fault.wait(r)
	if fault.Accept {
		store()
	}
	if fault.answerError(w, to) {
		return true
	}
	if fault.Accept {
		// Accepted, but the answer is lost: cut the connection.
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return true
			}
		}
	}
	return false
}

func (s *Server) store(m Message) {
	if s.OnMessage != nil {
		s.OnMessage(m)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.Discard {
		s.messages = append(s.messages, m)
	}
}

// listMessages answers Twilio's message list, newest first, filtered by
// To, a page at a time (PageSize, default 50, and Page).
func (s *Server) listMessages(w http.ResponseWriter, r *http.Request) {
	if !s.authorised(w, r) {
		return
	}
	to := r.URL.Query().Get("To")
	if fault := s.nextListFault(); fault != nil {
		fault.wait(r)
		if fault.answerError(w, to) {
			return
		}
	}
	size, page, ok := paging(w, r.URL.Query())
	if !ok {
		return
	}
	s.mu.Lock()
	var all []map[string]any
	for i := len(s.messages) - 1; i >= 0; i-- { // newest first, like Twilio
		if to == "" || s.messages[i].To == to {
			all = append(all, s.resource(s.messages[i]))
		}
	}
	s.mu.Unlock()
	writePage(w, r, "messages", all, size, page)
}

// paging reads PageSize (default 50, as Twilio's) and Page, or answers
// Twilio's error.
func paging(w http.ResponseWriter, q url.Values) (size, page int, ok bool) {
	size = 50
	if v := q.Get("PageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, http.StatusBadRequest, 20001, "Invalid PageSize")
			return 0, 0, false
		}
		size = n
	}
	if v := q.Get("Page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, 20001, "Invalid Page")
			return 0, 0, false
		}
		page = n
	}
	return size, page, true
}

// writePage answers one page of a list, with Twilio's paging links.
func writePage(w http.ResponseWriter, r *http.Request, key string, all []map[string]any, size, page int) {
	q := r.URL.Query()
	start := min(page*size, len(all))
	end := min(start+size, len(all))
	out := all[start:end]
	if out == nil {
		out = []map[string]any{}
	}
	pageURI := func(p int) string {
		v := cloneValues(q)
		v.Set("PageSize", strconv.Itoa(size))
		v.Set("Page", strconv.Itoa(p))
		return r.URL.Path + "?" + v.Encode()
	}
	var next, prev any
	if end < len(all) {
		next = pageURI(page + 1)
	}
	if page > 0 {
		prev = pageURI(page - 1)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		key: out, "page": page, "page_size": size, "start": start, "end": max(end-1, start),
		"uri": r.URL.RequestURI(), "first_page_uri": pageURI(0), "next_page_uri": next, "previous_page_uri": prev,
	})
}

func (s *Server) resource(m Message) map[string]any {
	return map[string]any{
		"sid": m.SID, "account_sid": s.AccountSID, "to": m.To, "from": m.From, "body": m.Body,
		"messaging_service_sid": nullable(m.MessagingServiceSID), "status": m.Status,
		"num_segments": "1", "direction": "outbound-api", "api_version": "2010-04-01",
		"date_created": m.Created.Format(time.RFC1123Z), "date_updated": m.Created.Format(time.RFC1123Z),
		"date_sent": nil, "error_code": nil, "error_message": nil,
		"uri": "/2010-04-01/Accounts/" + s.AccountSID + "/Messages/" + m.SID + ".json",
	}
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers with Twilio's error body shape.
func writeError(w http.ResponseWriter, status, code int, message string) {
	writeJSON(w, status, map[string]any{
		"code": code, "message": message, "status": status,
		"more_info": "https://www.twilio.com/docs/errors/" + strconv.Itoa(code),
	})
}

func newSID(prefix string) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// Signature computes X-Twilio-Signature the way Twilio does: base64 of
// HMAC-SHA1 over the full URL followed by every POST parameter's name and
// value, sorted by name.
func Signature(authToken, fullURL string, params url.Values) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var sb strings.Builder
	sb.WriteString(fullURL)
	for _, k := range keys {
		for _, v := range params[k] {
			sb.WriteString(k + v)
		}
	}
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(sb.String()))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func (s *Server) now() time.Time {
	if s.NowFunc != nil {
		return s.NowFunc().UTC()
	}
	return time.Now().UTC()
}

// Calls returns a copy of every accepted call, oldest first.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// SetCallStatus moves a call on, as Twilio does when it dials, connects
// and ends it: leaving "queued" sets its start time (now, by NowFunc)
// unless it was never dialled ("canceled", "failed"), and an end status
// sets its end time. The test fails on an unknown SID.
func (s *Server) SetCallStatus(sid, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.calls {
		c := &s.calls[i]
		if c.SID != sid {
			continue
		}
		now := s.now()
		c.Status = status
		if c.Started.IsZero() && status != "queued" && status != "canceled" && status != "failed" {
			c.Started = now
		}
		switch status {
		case "completed", "busy", "no-answer", "failed", "canceled":
			if !c.Started.IsZero() {
				c.Ended = now
			}
		}
		return
	}
	if s.tb == nil {
		panic("twiliofake: SetCallStatus: no call " + sid)
	}
	s.tb.Errorf("twiliofake: SetCallStatus: no call %s", sid)
}

// unsafeCall names what a call request lacks of what Saathi promises on
// every call: machine detection, synchronous ("Enable": Twilio fetches the
// call's URL only after detection, so a voicemail never hears a word;
// "DetectMessageEnd" waits for the beep to leave a message, which Saathi
// never does), a status callback (without it nobody learns that the call
// rang out), and a ring timeout (Twilio's default of 60 s rings into
// voicemail).
func unsafeCall(f url.Values) []string {
	var lacks []string
	if f.Get("MachineDetection") != "Enable" {
		lacks = append(lacks, "MachineDetection=Enable")
	}
	if strings.EqualFold(f.Get("AsyncAmd"), "true") {
		lacks = append(lacks, "synchronous machine detection (AsyncAmd=true)")
	}
	if f.Get("StatusCallback") == "" {
		lacks = append(lacks, "StatusCallback")
	}
	if n, err := strconv.Atoi(f.Get("Timeout")); err != nil || n < 1 || n > 600 {
		lacks = append(lacks, "a ring Timeout")
	}
	return lacks
}

func (s *Server) createCall(w http.ResponseWriter, r *http.Request) {
	if !s.authorised(w, r) {
		return
	}
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, 20001, "Invalid form body")
		return
	}
	f := r.PostForm
	if lacks := unsafeCall(f); len(lacks) > 0 {
		what := strings.Join(lacks, ", ")
		if s.tb != nil {
			s.tb.Errorf("twiliofake: CreateCall without %s", what)
		}
		writeError(w, http.StatusBadRequest, CodeUnsafeCall, "twiliofake: a Saathi call needs "+what)
		return
	}
	call := Call{
		SID: newSID("CA"), To: f.Get("To"), From: f.Get("From"),
		URL: f.Get("Url"), Method: f.Get("Method"),
		StatusCallback: f.Get("StatusCallback"), StatusCallbackMethod: f.Get("StatusCallbackMethod"),
		StatusCallbackEvent: append([]string(nil), f["StatusCallbackEvent"]...),
		MachineDetection:    f.Get("MachineDetection"), MachineDetectionTimeout: f.Get("MachineDetectionTimeout"),
		AsyncAmd: f.Get("AsyncAmd"), Timeout: f.Get("Timeout"), TimeLimit: f.Get("TimeLimit"),
		Form:   cloneValues(f),
		Status: "queued", Created: s.now(),
	}
	if s.createFault(w, r, call.To, func() { s.storeCall(call) }) {
		return
	}
	switch {
	case call.To == "":
		writeError(w, http.StatusBadRequest, 21201, "No 'To' number is specified")
		return
	case !e164.MatchString(call.To):
		writeError(w, http.StatusBadRequest, 21211, errorText(21211, call.To))
		return
	case call.From == "":
		writeError(w, http.StatusBadRequest, 21213, "Caller phone number is required")
		return
	case call.URL == "" && f.Get("Twiml") == "" && f.Get("ApplicationSid") == "":
		writeError(w, http.StatusBadRequest, 21205, "Url parameter is required")
		return
	}
	s.storeCall(call)
	writeJSON(w, http.StatusCreated, s.callResource(call))
}

func (s *Server) storeCall(c Call) {
	if s.OnCall != nil {
		s.OnCall(c)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.Discard {
		s.calls = append(s.calls, c)
	}
}

// listCalls answers Twilio's call list, newest first, with its filters To,
// Status and StartTime> ("on or after": a date, YYYY-MM-DD, as Twilio
// documents, or the RFC 3339 time twilio-go sends). A call that has not
// been dialled has no start time, so StartTime> never matches it, as on
// Twilio. PageSize (default 50) and Page page through the result.
func (s *Server) listCalls(w http.ResponseWriter, r *http.Request) {
	if !s.authorised(w, r) {
		return
	}
	q := r.URL.Query()
	to, status := q.Get("To"), q.Get("Status")
	if fault := s.nextListFault(); fault != nil {
		fault.wait(r)
		if fault.answerError(w, to) {
			return
		}
	}
	var after time.Time
	if v := q.Get("StartTime>"); v != "" {
		t, err := parseDate(v)
		if err != nil {
			writeError(w, http.StatusBadRequest, 20001, "Invalid value for StartTime>")
			return
		}
		after = t
	}
	size, page, ok := paging(w, q)
	if !ok {
		return
	}

	s.mu.Lock()
	var all []map[string]any
	for i := len(s.calls) - 1; i >= 0; i-- { // newest first
		c := s.calls[i]
		switch {
		case to != "" && c.To != to:
		case status != "" && c.Status != status:
		case !after.IsZero() && (c.Started.IsZero() || c.Started.Before(after)):
		default:
			all = append(all, s.callResource(c))
		}
	}
	s.mu.Unlock()
	writePage(w, r, "calls", all, size, page)
}

// fetchCall answers GET Calls/{CallSid}.json.
func (s *Server) fetchCall(w http.ResponseWriter, r *http.Request) {
	if !s.authorised(w, r) {
		return
	}
	sid, ok := strings.CutSuffix(r.PathValue("file"), ".json")
	if fault := s.nextListFault(); fault != nil {
		fault.wait(r)
		if fault.answerError(w, "") {
			return
		}
	}
	s.mu.Lock()
	var found *Call
	for i := range s.calls {
		if ok && s.calls[i].SID == sid {
			c := s.calls[i]
			found = &c
			break
		}
	}
	s.mu.Unlock()
	if found == nil {
		writeError(w, http.StatusNotFound, 20404, "The requested resource "+r.URL.Path+" was not found")
		return
	}
	writeJSON(w, http.StatusOK, s.callResource(*found))
}

// callResource is a call as Twilio's JSON shows it.
func (s *Server) callResource(c Call) map[string]any {
	uri := "/2010-04-01/Accounts/" + s.AccountSID + "/Calls/" + c.SID
	var duration any
	if !c.Ended.IsZero() && c.Status == "completed" {
		duration = strconv.Itoa(int(c.Ended.Sub(c.Started) / time.Second))
	}
	updated := c.Created
	for _, t := range []time.Time{c.Started, c.Ended} {
		if t.After(updated) {
			updated = t
		}
	}
	return map[string]any{
		"sid": c.SID, "account_sid": s.AccountSID, "parent_call_sid": nil,
		"to": c.To, "to_formatted": c.To, "from": c.From, "from_formatted": c.From,
		"phone_number_sid": nil, "status": c.Status,
		"start_time": rfc2822(c.Started), "end_time": rfc2822(c.Ended), "duration": duration,
		"price": nil, "price_unit": "USD", "direction": "outbound-api", "answered_by": nil,
		"api_version": "2010-04-01", "forwarded_from": nil, "group_sid": nil, "caller_name": nil,
		"queue_time": "0", "trunk_sid": nil,
		"date_created": c.Created.Format(time.RFC1123Z), "date_updated": updated.Format(time.RFC1123Z),
		"uri": uri + ".json",
		"subresource_uris": map[string]any{
			"notifications": uri + "/Notifications.json", "recordings": uri + "/Recordings.json",
			"events": uri + "/Events.json", "payments": uri + "/Payments.json",
		},
	}
}

// rfc2822 is t as Twilio writes times, or null when unset.
func rfc2822(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.Format(time.RFC1123Z)
}

// parseDate reads a date filter: YYYY-MM-DD (midnight UTC) or RFC 3339.
func parseDate(v string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	return time.Parse(time.RFC3339, v)
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}
