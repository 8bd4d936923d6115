package bot

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/slack-go/slack"
)

// readiness is whether the bot can take work right now, and why not.
type readiness struct {
	mu     sync.Mutex
	ok     bool
	reason string
}

// set records the state and reports whether it changed to ready.
func (r *readiness) set(ok bool, reason string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	became := ok && !r.ok
	r.ok, r.reason = ok, reason
	return became
}

func (r *readiness) get() (bool, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.ok && r.reason == "" {
		return false, "slack: not connected yet"
	}
	return r.ok, r.reason
}

// Readiness reports whether the Socket Mode connection is up (for
// /readyz) and, when it is not, why, in one line.
func (b *Bot) Readiness() (bool, string) { return b.ready.get() }

// authenticate checks the bot token with auth.test, waiting out anything
// that is not a definite refusal: a network that is not up yet, a Slack
// outage or a proxy that is still starting must not stop the bot, but a
// revoked token must, with the fix. It returns nil, nil when ctx ends
// first, which is a shutdown, not a failure.
func (b *Bot) authenticate(ctx context.Context) (*slack.AuthTestResponse, error) {
	host := apiHost(b.cfg.APIURL)
	wait := b.cfg.ConnectBackoff
	for attempt := 1; ; attempt++ {
		auth, err := b.api.AuthTestContext(ctx)
		if err == nil {
			return auth, nil
		}
		if ctx.Err() != nil {
			return nil, nil
		}
		if why, refused := refusal(err, "SLACK_BOT_TOKEN"); refused {
			return nil, fmt.Errorf("%w: %s", errFatalSlack, why)
		}
		reason := fmt.Sprintf("slack: %s could not be reached (auth.test): %v", host, err)
		b.ready.set(false, reason)
		b.log.Warn("Slack could not be reached; retrying", "host", host, "attempt", attempt, "retry_in", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, nil
		case <-t.C:
		}
		wait = min(2*wait, connectBackoffMax)
	}
}
