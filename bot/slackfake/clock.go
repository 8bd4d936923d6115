package slackfake

import (
	"sync"
	"time"
)

// Clock is where the fake reads the time for everything Slack decides by the
// clock: message ts values, recording times, response_url expiry and the
// rate-limit buckets. Socket Mode deadlines (the ack timeout, pings) always
// run on real time, because the app on the other end does.
type Clock interface {
	Now() time.Time
}

// WithClock makes the fake read time from c instead of the system clock, so
// a test can expire a response_url or refill a rate-limit bucket without
// waiting. A nil c keeps the system clock.
func WithClock(c Clock) Option {
	return func(s *Server) {
		if c != nil {
			s.clock = c
		}
	}
}

// systemClock is the real time.
type systemClock struct{}

// Now is the system time.
func (systemClock) Now() time.Time { return time.Now() }

// ManualClock is a Clock that moves only when told to. It is safe for
// concurrent use.
type ManualClock struct {
	mu  sync.Mutex
	now time.Time
}

// NewManualClock returns a clock stopped at start.
func NewManualClock(start time.Time) *ManualClock { return &ManualClock{now: start} }

// Now is the clock's current time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d (backward for a negative d).
func (c *ManualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
