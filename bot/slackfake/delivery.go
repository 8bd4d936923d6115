package slackfake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// defaultAckTimeout is how long Slack waits for the ack of an envelope on
// the connection it was sent on.
const defaultAckTimeout = 3 * time.Second

// ErrNoAck is returned (wrapped) by SlashCommand, Click, Resend and
// SendEvent when the app did not ack an envelope on the connection that
// received it within the ack timeout. Slack then shows the user an error
// (slash commands, clicks) or redelivers (events).
var ErrNoAck = errors.New("slackfake: envelope not acknowledged in time")

// DeliveryState is where one delivery of an envelope stands.
type DeliveryState string

// The states of a delivery.
const (
	// DeliveryPending is written and waiting for its ack.
	DeliveryPending DeliveryState = "pending"
	// DeliveryAcked got its ack on the connection it was sent on.
	DeliveryAcked DeliveryState = "acked"
	// DeliveryFailed got no ack on its connection within the ack timeout
	// (or the caller gave up first): Slack counts it as not delivered.
	DeliveryFailed DeliveryState = "failed"
)

// Delivery is one write of an envelope to one connection.
type Delivery struct {
	// EnvelopeID and Type ("slash_commands", "interactive", "events_api")
	// identify the envelope; a redelivery has the same EnvelopeID.
	EnvelopeID, Type string
	// Conn is the connection it was written to (see OpenConnections).
	Conn int
	// RetryAttempt and RetryReason are what the frame said: 0 and "" the
	// first time, then 1, 2, … and "timeout".
	RetryAttempt int
	RetryReason  string
	// State is pending, acked or failed.
	State DeliveryState
	// SentAt is when it was written, on the fake's clock.
	SentAt time.Time
}

// StrayAck is an ack Slack would ignore, recorded so tests can see it.
type StrayAck struct {
	// EnvelopeID is the acked envelope.
	EnvelopeID string
	// Conn is the connection the ack came in on.
	Conn int
	// Reason is "wrong_connection" (the envelope is waiting on another
	// connection, for example an ack queued across a reconnect), "late"
	// (its deliveries already failed), "duplicate" (already acked) or
	// "unknown_envelope".
	Reason string
	// At is when it arrived, on the fake's clock.
	At time.Time
}

// Reasons for a stray ack.
const (
	strayWrongConn = "wrong_connection"
	strayLate      = "late"
	strayDuplicate = "duplicate"
	strayUnknown   = "unknown_envelope"
)

// WithAckTimeout changes how long an envelope may go unacked on the
// connection that received it before it counts as failed (Slack: 3 s).
// d ≤ 0 means never: the sender then waits as long as its context allows.
func WithAckTimeout(d time.Duration) Option {
	return func(s *Server) { s.ackTimeout = d }
}

// Deliveries returns every envelope write so far, oldest first.
func (s *Server) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return cloneAll(s.deliveries, func(d Delivery) Delivery { return d })
}

// StrayAcks returns every ack Slack would have ignored, oldest first.
func (s *Server) StrayAcks() []StrayAck {
	s.mu.Lock()
	defer s.mu.Unlock()
	return cloneAll(s.strays, func(a StrayAck) StrayAck { return a })
}

// WaitDelivery returns the first delivery, past or future, for which match
// is true (in its state at the time it is looked at). It blocks until one
// exists, ctx is done, or the server is closed.
func (s *Server) WaitDelivery(ctx context.Context, match func(Delivery) bool) (Delivery, error) {
	var found Delivery
	err := s.waitUntil(ctx, func() bool {
		for _, d := range s.deliveries {
			if match(d) {
				found = d
				return true
			}
		}
		return false
	})
	return found, err
}

// ackWaiter is one delivery waiting for its ack.
type ackWaiter struct {
	ch       chan Ack // buffered 1; receives at most one ack
	conn     *socketConn
	delivery int // index in Server.deliveries
	sent     time.Time
}

// envelopeRec is an envelope the fake sent, kept for redelivery.
type envelopeRec struct {
	id, typ  string
	accepts  bool
	payload  json.RawMessage
	attempts int // deliveries started so far; guarded by Server.mu
}

// frame encodes the envelope for one delivery.
func (e *envelopeRec) frame(attempt int, reason string) ([]byte, error) {
	return json.Marshal(envelope{
		EnvelopeID: e.id, Type: e.typ, AcceptsResponsePayload: e.accepts,
		Payload: e.payload, RetryAttempt: attempt, RetryReason: reason,
	})
}

// deliver writes the envelope to one of the open connections, chosen at
// random (waiting for one if none is open, and moving on to another if the
// write fails), and waits for the ack on that connection. Every delivery
// after the first is marked as a retry after a timeout.
func (s *Server) deliver(ctx context.Context, e *envelopeRec) (Ack, error) {
	w := &ackWaiter{ch: make(chan Ack, 1), delivery: -1}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return Ack{}, ErrClosed
	}
	attempt, reason := e.attempts, ""
	if attempt > 0 {
		reason = retryReasonTimeout
	}
	e.attempts++
	s.waiters[e.id] = append(s.waiters[e.id], w)
	s.mu.Unlock()
	defer s.removeWaiter(e.id, w)
	frame, err := e.frame(attempt, reason)
	if err != nil {
		return Ack{}, fmt.Errorf("slackfake: encoding %s envelope: %w", e.typ, err)
	}

	for {
		c, err := s.pickConn(ctx, w, e, attempt, reason)
		if err != nil {
			return Ack{}, fmt.Errorf("slackfake: envelope %s: no connected client: %w", e.id, err)
		}
		if err := c.write(frame); err == nil {
			break
		}
		s.endDelivery(w, DeliveryFailed)
		c.close()
		s.dropConn(c)
	}
	var timeout <-chan time.Time
	if s.ackTimeout > 0 {
		t := time.NewTimer(s.ackTimeout)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case a := <-w.ch:
		return a, nil
	case <-timeout:
		if !s.endDelivery(w, DeliveryFailed) {
			return <-w.ch, nil // the ack won the race with the deadline
		}
		return Ack{EnvelopeID: e.id}, fmt.Errorf("slackfake: envelope %s on connection %d: %w", e.id, w.conn.id, ErrNoAck)
	case <-ctx.Done():
		if !s.endDelivery(w, DeliveryFailed) {
			return <-w.ch, nil
		}
		return Ack{}, fmt.Errorf("slackfake: waiting for the ack of envelope %s: %w", e.id, ctx.Err())
	case <-s.done:
		return Ack{}, ErrClosed
	}
}

// pickConn chooses the connection for w's delivery and records the
// delivery, waiting within ctx for a connection if none is open.
func (s *Server) pickConn(ctx context.Context, w *ackWaiter, e *envelopeRec, attempt int, reason string) (*socketConn, error) {
	var c *socketConn
	err := s.waitUntil(ctx, func() bool {
		conns := s.readyConnsLocked()
		if len(conns) == 0 {
			return false
		}
		c = conns[s.rng.IntN(len(conns))]
		w.conn, w.sent = c, time.Now()
		w.delivery = len(s.deliveries)
		s.deliveries = append(s.deliveries, Delivery{
			EnvelopeID: e.id, Type: e.typ, Conn: c.id, RetryAttempt: attempt, RetryReason: reason,
			State: DeliveryPending, SentAt: s.clock.Now(),
		})
		s.notifyLocked()
		return true
	})
	return c, err
}

// endDelivery settles w's delivery record; false when its ack already
// did (and is then waiting in w.ch).
func (s *Server) endDelivery(w *ackWaiter, state DeliveryState) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if w.delivery < 0 || s.deliveries[w.delivery].State != DeliveryPending {
		return w.delivery < 0
	}
	s.deliveries[w.delivery].State = state
	s.notifyLocked()
	return true
}

// routeAck hands an ack to the oldest delivery of that envelope waiting on
// the connection it came in on. Slack ignores an ack anywhere else; the
// fake records it as a StrayAck.
func (s *Server) routeAck(c *socketConn, a ackFrame) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ws := s.waiters[a.EnvelopeID]
	for i, w := range ws {
		if w.conn != c || w.delivery < 0 || s.deliveries[w.delivery].State != DeliveryPending {
			continue
		}
		s.waiters[a.EnvelopeID] = append(ws[:i:i], ws[i+1:]...)
		s.deliveries[w.delivery].State = DeliveryAcked
		s.notifyLocked()
		w.ch <- Ack{EnvelopeID: a.EnvelopeID, Payload: a.Payload, Elapsed: time.Since(w.sent), Conn: c.id}
		return
	}
	reason := strayUnknown
	if s.envelopes[a.EnvelopeID] != nil {
		reason = strayWrongConn
		for _, d := range s.deliveries {
			if d.EnvelopeID != a.EnvelopeID || d.Conn != c.id {
				continue
			}
			if d.State == DeliveryAcked {
				reason = strayDuplicate
			} else if reason != strayDuplicate {
				reason = strayLate
			}
		}
		for _, w := range ws {
			if w.conn != c && w.delivery >= 0 && s.deliveries[w.delivery].State == DeliveryPending {
				reason = strayWrongConn
			}
		}
	}
	s.log.Debug("slackfake: ignoring ack", "envelope_id", a.EnvelopeID, "reason", reason)
	s.strays = append(s.strays, StrayAck{EnvelopeID: a.EnvelopeID, Conn: c.id, Reason: reason, At: s.clock.Now()})
	s.notifyLocked()
}

// removeWaiter forgets w once its delivery is over.
func (s *Server) removeWaiter(id string, w *ackWaiter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ws := s.waiters[id]
	for i, x := range ws {
		if x == w {
			ws = append(ws[:i:i], ws[i+1:]...)
			break
		}
	}
	if len(ws) == 0 {
		delete(s.waiters, id)
	} else {
		s.waiters[id] = ws
	}
}

// waitUntil calls check with Server.mu held until it is true, sleeping on
// the change signal in between; ErrClosed once the server is closed.
func (s *Server) waitUntil(ctx context.Context, check func() bool) error {
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return ErrClosed
		}
		if check() {
			s.mu.Unlock()
			return nil
		}
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
