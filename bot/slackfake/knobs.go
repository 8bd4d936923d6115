package slackfake

import (
	"context"
	"math"
	"net/http"
	"sync"
	"time"
)

// errRateLimitedBody is the error chat.postMessage puts in a 200 answer
// when an app posts too much; the 429 answer says errRatelimited instead.
const errRateLimitedBody = "rate_limited"

// knob makes the next `remaining` calls of a method fail: with a 429 and
// retryAfter seconds when set through RateLimit, with err in a 200 answer
// when set through FailNext or RateLimitInBody.
type knob struct {
	remaining  int
	retryAfter int
	err        string
}

// RateLimit makes the next `times` calls of method (a Web API method name,
// or "response_url") answer HTTP 429 with a Retry-After header of
// retryAfter rounded up to whole seconds (at least 1, as Slack never says 0)
// and {"ok":false,"error":"ratelimited"}. times ≤ 0 clears the knob.
func (s *Server) RateLimit(method string, times int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if times <= 0 {
		delete(s.rateLimits, method)
		return
	}
	s.rateLimits[method] = knob{remaining: times, retryAfter: retrySeconds(retryAfter), err: errRatelimited}
}

// RateLimitInBody makes the next `times` calls of method answer HTTP 200
// with {"ok":false,"error":"rate_limited"} and no Retry-After, the other
// way Slack refuses an app that posts too many messages. times ≤ 0 clears
// the knob.
func (s *Server) RateLimitInBody(method string, times int) {
	s.FailNext(method, times, errRateLimitedBody)
}

// retrySeconds is d as Slack's Retry-After: whole seconds, rounded up, at
// least 1.
func retrySeconds(d time.Duration) int {
	return max(int(math.Ceil(d.Seconds())), 1)
}

// FailNext makes the next `times` calls of method (a Web API method name, or
// "response_url") answer {"ok":false,"error":slackErr} with HTTP 200, before
// any other check. times ≤ 0 or an empty slackErr clears the knob. A method
// with both knobs set is rate limited first.
func (s *Server) FailNext(method string, times int, slackErr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if times <= 0 || slackErr == "" {
		delete(s.failures, method)
		return
	}
	s.failures[method] = knob{remaining: times, err: slackErr}
}

// LostReply is how the answer to a call that Slack carried out fails to
// reach the app. It models the duplicate-post hazard: the message is in
// the channel, but the app cannot know, and a retry posts it again.
type LostReply int

// The ways a reply can be lost.
const (
	// LostNone is a reply that arrives.
	LostNone LostReply = iota
	// Lost500 answers HTTP 500 with {"ok":false,"error":"internal_error"}.
	Lost500
	// LostInternalError answers HTTP 200 with
	// {"ok":false,"error":"internal_error"}, which Slack documents as
	// possibly having partly succeeded.
	LostInternalError
	// LostCut closes the connection without any answer.
	LostCut
)

// String names the way a reply was lost ("" for LostNone).
func (l LostReply) String() string {
	switch l {
	case Lost500:
		return "http_500"
	case LostInternalError:
		return "internal_error"
	case LostCut:
		return "connection_cut"
	}
	return ""
}

// LoseReplies makes the next `times` successful calls of method (a Web API
// method name, or "response_url") take effect — the message is posted,
// updated or answered and recorded as usual — and then fail for the client
// as how says. Calls that fail anyway do not use the knob up. times ≤ 0 or
// LostNone clears it.
func (s *Server) LoseReplies(method string, times int, how LostReply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if times <= 0 || how == LostNone {
		delete(s.lost, method)
		return
	}
	s.lost[method] = lostKnob{remaining: times, how: how}
}

// lostKnob is what LoseReplies set for one method.
type lostKnob struct {
	remaining int
	how       LostReply
}

// takeLostLocked uses up one lost reply for method, if any is set.
func (s *Server) takeLostLocked(method string) LostReply {
	k, found := s.lost[method]
	if !found {
		return LostNone
	}
	k.remaining--
	if k.remaining <= 0 {
		delete(s.lost, method)
	} else {
		s.lost[method] = k
	}
	return k.how
}

// Hold is a reply HoldReply keeps back.
type Hold struct {
	arrived, released chan struct{}
	once              sync.Once
}

// Arrived is closed once the call was carried out and its reply is held.
func (h *Hold) Arrived() <-chan struct{} { return h.arrived }

// Release lets the reply go. It may be called more than once.
func (h *Hold) Release() { h.once.Do(func() { close(h.released) }) }

// HoldReply makes the next call of method (a Web API method name) take
// effect as usual — the message is posted and the call recorded — and then
// keeps its reply back until Release, as a slow network does. It models
// the moment between Slack doing a thing and the app learning it did.
func (s *Server) HoldReply(method string) *Hold {
	h := &Hold{arrived: make(chan struct{}), released: make(chan struct{})}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.holds[method] = h
	return h
}

// holdReply waits for the release of a hold on method, if one is set, or
// for the client to go away.
func (s *Server) holdReply(ctx context.Context, method string) {
	s.mu.Lock()
	h := s.holds[method]
	delete(s.holds, method)
	s.mu.Unlock()
	if h == nil {
		return
	}
	close(h.arrived)
	select {
	case <-h.released:
	case <-ctx.Done():
	}
}

// SetAppTokenError makes apps.connections.open answer slackErr whatever
// token it gets (for example "invalid_auth", which slack-go treats as fatal,
// or "not_allowed_token_type", which it retries forever). "" restores normal
// token checking.
func (s *Server) SetAppTokenError(slackErr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.appTokenErr = slackErr
}

// knobLocked consumes one use of a knob set on method, if any, and returns
// the answer it forces.
func (s *Server) knobLocked(method string) (apiResult, bool) {
	if k, found := takeKnob(s.rateLimits, method); found {
		return apiResult{status: http.StatusTooManyRequests, retryAfter: k.retryAfter, err: k.err}, true
	}
	if k, found := takeKnob(s.failures, method); found {
		return fail(k.err), true
	}
	return apiResult{}, false
}

// takeKnob uses up one call of the knob on method, dropping it when spent.
func takeKnob(knobs map[string]knob, method string) (knob, bool) {
	k, found := knobs[method]
	if !found {
		return knob{}, false
	}
	k.remaining--
	if k.remaining <= 0 {
		delete(knobs, method)
	} else {
		knobs[method] = k
	}
	return k, true
}
