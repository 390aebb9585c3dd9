// Package twiliofake is a local stand-in for Twilio's REST API, for tests
// and benchmarks: it speaks the 2010-04-01 Messages API (paths, basic auth,
// form fields, JSON answers, Twilio's error body) so the real twilio-go
// client can be pointed at it through TWILIO_API_BASE_URL. Failures are
// scriptable: HTTP errors with Twilio codes, slow answers, and "accepted
// but the answer was lost", for sends (per destination or in order) and
// for the message lookup that reconciliation uses.
//
// Error answers quote the 'To' number the way Twilio's do (21211: "The 'To'
// number +91… is not a valid phone number."), so a test notices when that
// text reaches a log line or a database row.
package twiliofake

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
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
	// Accept stores the message before failing: Twilio took it, but the
	// answer never reached the client. Sends only.
	Accept bool
	// RawBody, when set, replaces the JSON error body (e.g. an HTML 502
	// from a proxy).
	RawBody string
}

// Server is the fake.
type Server struct {
	*httptest.Server
	AccountSID, AuthToken string

	// OnMessage, when set, is called for every accepted message (a load
	// generator times deliveries with it). Set it before use.
	OnMessage func(Message)
	// Discard keeps no messages in memory (long load runs).
	Discard bool

	unusedOK   atomic.Bool
	mux        *http.ServeMux
	mu         sync.Mutex
	messages   []Message
	faults     []Fault            // for the next sends, in order
	faultsTo   map[string][]Fault // for the next sends to one number
	listFaults []Fault            // for the next lookups, in order
	requests   int
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{7,14}$`)

// New starts a fake Twilio. The test fails if the fake is never called,
// unless AllowUnused is called: a fake nobody talks to proves nothing.
func New(tb testing.TB) *Server {
	tb.Helper()
	s := NewServer()
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
	s.Server = httptest.NewServer(s.mux)
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
	s.Server = httptest.NewUnstartedServer(s.mux)
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
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, 20404, "The requested resource "+r.URL.Path+" was not found")
	})
	s.mux = mux
	return s
}

// AllowUnused lets a test pass without calling the fake.
func (s *Server) AllowUnused() { s.unusedOK.Store(true) }

func (s *Server) mustBeUsed() bool { return !s.unusedOK.Load() }

// Script queues faults for the next create requests, in order.
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

// ScriptList queues faults for the next message lookups (GET
// Messages.json, what reconciliation asks), in order: Delay for a timeout,
// Status and Code for an error answer quoting the To parameter.
func (s *Server) ScriptList(faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.listFaults = append(s.listFaults, faults...)
}

// nextFault takes the fault for a send to `to`: that number's own first,
// then the shared queue's.
func (s *Server) nextFault(to string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	if q := s.faultsTo[to]; len(q) > 0 {
		s.faultsTo[to] = q[1:]
		return &q[0]
	}
	if len(s.faults) > 0 {
		f := s.faults[0]
		s.faults = s.faults[1:]
		return &f
	}
	return nil
}

func (s *Server) nextListFault() *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.listFaults) == 0 {
		return nil
	}
	f := s.listFaults[0]
	s.listFaults = s.listFaults[1:]
	return &f
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
		Status: "queued", Created: time.Now().UTC(),
	}
	if msg.MessagingServiceSID != "" {
		msg.Status = "accepted"
	}

	if fault := s.nextFault(msg.To); fault != nil {
		fault.wait(r)
		if fault.Accept {
			s.store(msg)
		}
		if fault.answerError(w, msg.To) {
			return
		}
		if fault.Accept {
			// Accepted, but the answer is lost: cut the connection.
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					conn.Close()
					return
				}
			}
		}
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
	s.mu.Lock()
	var out []map[string]any
	for i := len(s.messages) - 1; i >= 0; i-- { // newest first, like Twilio
		if to == "" || s.messages[i].To == to {
			out = append(out, s.resource(s.messages[i]))
		}
	}
	s.mu.Unlock()
	if out == nil {
		out = []map[string]any{}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"messages": out, "page": 0, "page_size": len(out), "start": 0, "end": len(out),
		"uri": r.URL.RequestURI(), "first_page_uri": r.URL.RequestURI(), "next_page_uri": nil, "previous_page_uri": nil,
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
