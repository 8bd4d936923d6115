package kandjitest

import (
	"time"

	"golang.org/x/time/rate"
)

// SetLatency delays every answer by d (0 turns it off).
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = max(d, 0)
}

// SetFailureRate answers fraction p (0 to 1) of requests, picked at random (see WithSeed), with
// status, e.g. 500 or 503. p <= 0 turns it off.
func (s *Server) SetFailureRate(p float64, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failRate, s.failStatus = min(max(p, 0), 1), status
}

// FailNext answers the next n requests with status, with a Retry-After header (whole seconds,
// rounded up) when retryAfter > 0.
func (s *Server) FailNext(n int, status int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext, s.nextStatus, s.nextAfter = max(n, 0), status, retryAfter
}

// SetRateCap answers requests beyond perSecond (token bucket of size burst) with 429 and
// Retry-After: 1, as a tenant whose budget is spent would. perSecond <= 0 removes the cap.
func (s *Server) SetRateCap(perSecond float64, burst int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if perSecond <= 0 {
		s.rateCap = nil
		return
	}
	s.rateCap = rate.NewLimiter(rate.Limit(perSecond), max(burst, 1))
}

// Throttled counts the 429s sent because of the rate cap.
func (s *Server) Throttled() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.throttled
}

// SetLockAnswerDelay holds back the answer to every lock POST by d (0 turns it off), after the
// lock has been queued: a Kandji that does the work but answers later than the client waits. A
// client that hangs up meanwhile gets no answer, and the lock stays queued.
func (s *Server) SetLockAnswerDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lockAnswerDelay = max(d, 0)
}

// SetLockCompletion makes every lock command the fake queues complete d after it was requested,
// by the fake's clock (see WithClock). With d <= 0, the default, locks stay pending until
// CompleteCommands, as for a device that is offline.
func (s *Server) SetLockCompletion(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lockCompletion = max(d, 0)
}

// SetCommandsFailure answers every GET …/commands with status (0 turns it off): 403 with Django
// REST Framework's permission message, as for a token without the command-list permission, 5xx
// with a proxy's HTML page, anything else with a DRF detail.
func (s *Server) SetCommandsFailure(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.commandsFailure = max(status, 0)
}

// FailLocks answers the next n lock POSTs (only those) with status, before
// the lock is queued, with a Retry-After header when retryAfter > 0: a
// token revoked for the lock endpoint, an outage of the command queue.
// Lookups keep working. n <= 0 turns it off.
func (s *Server) FailLocks(n int, status int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failLocks, s.failLockStatus, s.failLockAfter = max(n, 0), status, retryAfter
}
