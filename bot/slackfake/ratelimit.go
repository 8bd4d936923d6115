package slackfake

import (
	"math"
	"net/http"
	"time"
)

// tier is a Web API rate tier: Slack meters each method per app per
// workspace at its tier's pace, and chat.postMessage per channel.
type tier int

const (
	tier2 tier = iota + 2
	tier3
	tier4
	tierPost // chat.postMessage's special tier
)

// RateLimits is the pace the fake holds the app to (SlackRateLimits by
// default). Each limit is a token bucket on the fake's Clock: a full
// bucket allows a burst, then calls are refused until it refills. A refused
// call answers HTTP 429 with Retry-After (seconds until a token is back)
// and {"ok":false,"error":"ratelimited"}.
type RateLimits struct {
	// PostPerSecond is chat.postMessage's sustained rate in each channel;
	// Slack allows about 1.
	PostPerSecond float64
	// PostBurst is how many chat.postMessage calls a quiet channel takes at
	// once; Slack allows "short bursts".
	PostBurst int
	// PostInBody is the share (0…1) of refused chat.postMessage calls that
	// get HTTP 200 {"ok":false,"error":"rate_limited"} instead of a 429,
	// drawn from the server's seeded random source.
	PostInBody float64
	// Tier2, Tier3 and Tier4 are calls per minute for methods of those
	// tiers; each also bounds the burst. Slack documents 20+, 50+ and 100+.
	Tier2, Tier3, Tier4 int
}

// SlackRateLimits is Slack's documented pace: one chat.postMessage a second
// per channel with a burst of three, and the tiers' per-minute minimums.
func SlackRateLimits() RateLimits {
	return RateLimits{PostPerSecond: 1, PostBurst: 3, Tier2: 20, Tier3: 50, Tier4: 100}
}

// WithRateLimits sets the pace (SlackRateLimits() by default). Zero fields
// of r take Slack's values; a negative rate turns that limit off. A test
// that proves the app paces itself usually adds WithClock, so that refills
// need no waiting; one that needs to post faster than Slack allows (a load
// benchmark) uses WithoutRateLimits.
func WithRateLimits(r RateLimits) Option {
	return func(s *Server) {
		def := SlackRateLimits()
		if r.PostPerSecond == 0 {
			r.PostPerSecond = def.PostPerSecond
		}
		if r.PostBurst == 0 {
			r.PostBurst = def.PostBurst
		}
		if r.Tier2 == 0 {
			r.Tier2 = def.Tier2
		}
		if r.Tier3 == 0 {
			r.Tier3 = def.Tier3
		}
		if r.Tier4 == 0 {
			r.Tier4 = def.Tier4
		}
		s.limits = &r
	}
}

// WithoutRateLimits turns rate limiting off: every call is answered at
// once, however fast the app calls.
func WithoutRateLimits() Option {
	return func(s *Server) { s.limits = nil }
}

// bucket is one token bucket.
type bucket struct {
	tokens float64
	at     time.Time
}

// take refills the bucket for the time since it was last used and takes a
// token; when none is left it says how long until one is.
func (b *bucket) take(now time.Time, perSecond float64, burst int) (time.Duration, bool) {
	switch {
	case b.at.IsZero():
		b.tokens, b.at = float64(burst), now
	case now.After(b.at):
		b.tokens = math.Min(float64(burst), b.tokens+now.Sub(b.at).Seconds()*perSecond)
		b.at = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return 0, true
	}
	wait := time.Duration((1 - b.tokens) / perSecond * float64(time.Second))
	return wait, false
}

// rateLimitLocked takes a token for the call, or says how Slack refuses it.
func (s *Server) rateLimitLocked(method string, t tier, p map[string]string) (apiResult, bool) {
	if s.limits == nil {
		return apiResult{}, false
	}
	key, perSecond, burst := method, 0.0, 0
	switch t {
	case tierPost:
		key = method + "/" + p["channel"]
		perSecond, burst = s.limits.PostPerSecond, s.limits.PostBurst
	case tier2:
		perSecond, burst = float64(s.limits.Tier2)/60, s.limits.Tier2
	case tier3:
		perSecond, burst = float64(s.limits.Tier3)/60, s.limits.Tier3
	case tier4:
		perSecond, burst = float64(s.limits.Tier4)/60, s.limits.Tier4
	}
	if perSecond <= 0 || burst <= 0 {
		return apiResult{}, false
	}
	b := s.buckets[key]
	if b == nil {
		b = &bucket{}
		s.buckets[key] = b
	}
	wait, allowed := b.take(s.clock.Now(), perSecond, burst)
	if allowed {
		return apiResult{}, false
	}
	if t == tierPost && s.limits.PostInBody > 0 && s.rng.Float64() < s.limits.PostInBody {
		return fail(errRateLimitedBody), true
	}
	return apiResult{status: http.StatusTooManyRequests, retryAfter: retrySeconds(wait), err: errRatelimited}, true
}
