package slackfake

import (
	"context"
	"fmt"
	"sync"
)

// subscriber is one live feed from Subscribe.
type subscriber struct {
	ch   chan Message
	once sync.Once
}

// closeLocked closes the feed; it is called with Server.mu held, which also
// orders it after every send.
func (sub *subscriber) closeLocked() { sub.once.Do(func() { close(sub.ch) }) }

// sendLocked delivers m without ever blocking the server: when the buffer is
// full the oldest undelivered message is dropped to make room. Only the
// server sends (under Server.mu), so the second send always finds room.
func (sub *subscriber) sendLocked(m Message) {
	select {
	case sub.ch <- m:
		return
	default:
	}
	select {
	case <-sub.ch:
	default:
	}
	select {
	case sub.ch <- m:
	default:
	}
}

// recordMessageLocked stores a message the app sent, tracks the latest state
// of posted messages, feeds subscribers and wakes waiters.
func (s *Server) recordMessageLocked(m Message) {
	m.At = s.clock.Now()
	s.messages = append(s.messages, m)
	switch m.Kind {
	case KindPost, KindUpdate:
		s.current[messageKey(m.Channel, m.TS)] = m
	}
	for sub := range s.subs {
		sub.sendLocked(m.clone())
	}
	s.notifyLocked()
}

// Calls returns every Web API and response_url call so far, oldest first.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return cloneAll(s.calls, Call.clone)
}

// Messages returns every post, update, ephemeral and response_url message so
// far, in the order the fake received them.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return cloneAll(s.messages, Message.clone)
}

// cloneAll deep-copies a recording so callers cannot change it.
func cloneAll[T any](xs []T, clone func(T) T) []T {
	out := make([]T, len(xs))
	for i, x := range xs {
		out[i] = clone(x)
	}
	return out
}

// Current returns the latest state of the message posted at channel/ts,
// after any chat.update or response_url replace_original; false when no such
// message was posted or a response_url deleted it.
func (s *Server) Current(channel, ts string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, found := s.current[messageKey(channel, ts)]
	return m.clone(), found
}

// WaitMessage returns the first recorded message, past or future, for which
// match is true. It blocks until one arrives, ctx is done, or the server is
// closed. match runs without the server's lock, so it may call the Server.
func (s *Server) WaitMessage(ctx context.Context, match func(Message) bool) (Message, error) {
	next := 0
	for {
		s.mu.Lock()
		batch := s.messages[next:len(s.messages):len(s.messages)]
		closed, changed := s.closed, s.changed
		s.mu.Unlock()
		for _, m := range batch {
			if match(m) {
				return m.clone(), nil
			}
		}
		next += len(batch)
		if closed {
			return Message{}, ErrClosed
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return Message{}, fmt.Errorf("slackfake: waiting for a message: %w", ctx.Err())
		}
	}
}

// Subscribe returns a live feed of messages recorded from now on, and a
// function that ends the subscription and closes the feed. The feed holds at
// most buf messages (at least 1); when the reader falls further behind, the
// oldest undelivered messages are dropped, so a slow reader never stalls the
// server. Close also closes every feed.
func (s *Server) Subscribe(buf int) (<-chan Message, func()) {
	sub := &subscriber{ch: make(chan Message, max(buf, 1))}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		sub.closeLocked()
		return sub.ch, func() {}
	}
	s.subs[sub] = true
	return sub.ch, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.subs, sub)
		sub.closeLocked()
	}
}
