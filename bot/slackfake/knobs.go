package slackfake

import (
	"math"
	"net/http"
	"time"
)

// knob makes the next `remaining` calls of a method fail: with a 429 and
// retryAfter seconds when set through RateLimit, with err when set through
// FailNext.
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
	secs := int(math.Ceil(retryAfter.Seconds()))
	s.rateLimits[method] = knob{remaining: times, retryAfter: max(secs, 1), err: errRatelimited}
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
