package handlers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Group commit for inbound texts. Each text on its own would be a
// transaction of its own: begin, look up the sender, store, insert the
// assessment job, commit, each a round trip, and a durable commit each.
// Texts that arrive while others are being stored wait and then go
// together, in one transaction (Server.receiveTexts): the same round trips
// for all of them, and one commit. No text waits for a timer: a text that
// arrives when fewer than textLeaders transactions are in flight starts
// one at once, alone if it is alone.
const (
	textLeaders  = 2  // transactions of texts in flight at once
	maxTextGroup = 64 // texts in one transaction at most
)

// textGroup gathers the texts waiting to be stored. Its zero value is
// ready.
type textGroup struct {
	mu      sync.Mutex
	waiting []*waitingText
	leaders int // goroutines running (or about to run) a transaction
	inside  int // texts received and not yet answered
}

// textGroupsMu guards each Server's texts field, made on first use: a
// Server is a struct literal, and its first text may come from the spool
// replayer while the router is still being built.
var textGroupsMu sync.Mutex

func (s *Server) groupOfTexts() *textGroup {
	textGroupsMu.Lock()
	defer textGroupsMu.Unlock()
	if s.texts == nil {
		s.texts = new(textGroup)
	}
	return s.texts
}

type waitingText struct {
	in       InboundSMS
	deadline time.Time
	done     chan struct{}
	answer   string
	err      error
}

// receive stores one text with whatever else is waiting and returns its
// answer once their transaction has committed (or failed).
func (g *textGroup) receive(s *Server, in InboundSMS, deadline time.Time) (string, error) {
	w := &waitingText{in: in, deadline: deadline, done: make(chan struct{})}
	g.mu.Lock()
	g.waiting = append(g.waiting, w)
	g.inside++
	lead := g.leaders < textLeaders
	if lead {
		g.leaders++
	}
	g.mu.Unlock()
	if lead {
		g.lead(s)
	}
	<-w.done
	g.mu.Lock()
	g.inside--
	g.mu.Unlock()
	return w.answer, w.err
}

// lead stores the texts waiting now (up to maxTextGroup), then hands the
// lead to a new goroutine if more are waiting: its own caller's answer
// must not wait for other texts' transactions.
func (g *textGroup) lead(s *Server) {
	g.mu.Lock()
	n := min(len(g.waiting), maxTextGroup)
	group := slices.Clone(g.waiting[:n])
	g.waiting = slices.Delete(g.waiting, 0, n)
	g.mu.Unlock()

	if len(group) > 0 {
		s.storeTexts(group)
	}

	g.mu.Lock()
	more := len(g.waiting) > 0
	if !more {
		g.leaders--
	}
	g.mu.Unlock()
	if more {
		go g.lead(s)
	}
}

// storeTexts stores a group in one transaction, by the soonest of their
// deadlines. If that fails and the group is more than one text, each is
// tried alone in the time it has left, so one text that cannot be stored
// (or a deadlock with another group) fails only itself. Every text is
// answered, a panic included: its caller then spools it.
func (s *Server) storeTexts(group []*waitingText) {
	defer func() {
		if r := recover(); r != nil {
			s.Logger.Error("storing inbound texts panicked", "panic", r)
			for _, w := range group {
				select {
				case <-w.done:
				default:
					w.answer, w.err = "", fmt.Errorf("receive SMS: panic: %v", r)
					close(w.done)
				}
			}
		}
	}()
	// The same order in every group: two groups holding the same
	// redelivered texts do not wait on each other.
	slices.SortFunc(group, func(a, b *waitingText) int { return strings.Compare(a.in.SID, b.in.SID) })
	deadline := group[0].deadline
	texts := make([]InboundSMS, len(group))
	for i, w := range group {
		texts[i] = w.in
		if w.deadline.Before(deadline) {
			deadline = w.deadline
		}
	}
	answers, err := s.receiveTextsBy(deadline, texts)
	if err != nil && len(group) > 1 {
		for _, w := range group {
			one, err := s.receiveTextsBy(w.deadline, []InboundSMS{w.in})
			if err == nil {
				w.answer = one[0]
			}
			w.err = err
			close(w.done)
		}
		return
	}
	for i, w := range group {
		if err == nil {
			w.answer = answers[i]
		}
		w.err = err
		close(w.done)
	}
}

func (s *Server) receiveTextsBy(deadline time.Time, texts []InboundSMS) ([]string, error) {
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	return s.receiveTexts(ctx, texts)
}
