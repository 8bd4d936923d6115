package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/url"
	"time"

	"github.com/slack-go/slack"

	"github.com/lockbot/lockbot/bot/cards"
)

// slackAPI is the Web API surface lockbot uses, with one retry policy for
// all of it: 429s are waited out for exactly as long as Slack asks and
// transient failures (5xx, network) are retried with capped backoff, so a
// card or report is not dropped because Slack hiccupped.
type slackAPI struct {
	api      *slack.Client
	log      *slog.Logger
	metrics  Metrics
	attempts int           // per call, including the first
	backoff  time.Duration // first transient-failure wait; doubles up to maxWait
	maxWait  time.Duration
}

// Slack error strings that mean "try again later" rather than "you did it
// wrong" (docs.slack.dev: each method's error table).
var transientSlackErrors = map[string]bool{
	"ratelimited": true, "rate_limited": true, "internal_error": true, "fatal_error": true,
	"service_unavailable": true, "request_timeout": true,
}

// retryDelay says whether err is worth another attempt and how long to
// wait first.
func (s *slackAPI) retryDelay(err error, attempt int) (time.Duration, bool) {
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		return max(rl.RetryAfter, time.Second), true
	}
	backoff := min(s.backoff<<(attempt-1), s.maxWait)
	backoff = backoff/2 + rand.N(backoff/2+1)
	var sc slack.StatusCodeError
	if errors.As(err, &sc) {
		return backoff, sc.Retryable()
	}
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		if se.Err == "rate_limited" {
			// The 200-answer form of a rate limit carries no Retry-After.
			return max(backoff, time.Second), true
		}
		return backoff, transientSlackErrors[se.Err]
	}
	var ne net.Error
	var ue *url.Error
	if errors.As(err, &ne) || errors.As(err, &ue) {
		return backoff, true
	}
	return 0, false
}

// call runs fn until it succeeds, fails for good, runs out of attempts, or
// ctx ends. The error names the method only: Slack errors never carry
// message text, so nothing secret can ride along.
func (s *slackAPI) call(ctx context.Context, method string, fn func(context.Context) error) error {
	for attempt := 1; ; attempt++ {
		err := fn(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("slack %s: %w", method, ctx.Err())
		}
		wait, retry := s.retryDelay(err, attempt)
		if !retry || attempt >= s.attempts {
			return fmt.Errorf("slack %s: %w", method, err)
		}
		s.metrics.SlackRetry(method)
		s.log.Warn("slack call failed, retrying", "method", method, "attempt", attempt, "wait", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("slack %s: %w", method, ctx.Err())
		case <-t.C:
		}
	}
}

// once is s without retries: for the channel writers, which retry on
// their own schedule rather than inside one write.
func (s *slackAPI) once() *slackAPI {
	c := *s
	c.attempts = 1
	return &c
}

func (s *slackAPI) post(ctx context.Context, channel string, m cards.Message, extra ...slack.MsgOption) (string, error) {
	var ts string
	err := s.call(ctx, "chat.postMessage", func(ctx context.Context) error {
		var err error
		_, ts, err = s.api.PostMessageContext(ctx, channel, append(m.Options(), extra...)...)
		return err
	})
	return ts, err
}

func (s *slackAPI) update(ctx context.Context, channel, ts string, m cards.Message) error {
	return s.call(ctx, "chat.update", func(ctx context.Context) error {
		_, _, _, err := s.api.UpdateMessageContext(ctx, channel, ts, m.Options()...)
		return err
	})
}

func (s *slackAPI) ephemeral(ctx context.Context, channel, user string, m cards.Message) error {
	return s.call(ctx, "chat.postEphemeral", func(ctx context.Context) error {
		_, err := s.api.PostEphemeralContext(ctx, channel, user, m.Options()...)
		return err
	})
}

// respond answers through an interaction's response_url, which works in
// any channel (including ones the bot is not in) and is visible only to
// the person who typed the command.
func (s *slackAPI) respond(ctx context.Context, responseURL string, m cards.Message) error {
	if responseURL == "" {
		return errors.New("slack response_url: none in the payload")
	}
	return s.call(ctx, "response_url", func(ctx context.Context) error {
		_, _, _, err := s.api.SendMessageContext(ctx, "", append(m.Options(), slack.MsgOptionResponseURL(responseURL, slack.ResponseTypeEphemeral))...)
		return err
	})
}

// dm opens (or reuses) the direct conversation with user and posts m
// there. This is the only path a PIN travels.
func (s *slackAPI) dm(ctx context.Context, user string, m cards.Message) error {
	var channel string
	err := s.call(ctx, "conversations.open", func(ctx context.Context) error {
		ch, _, _, err := s.api.OpenConversationContext(ctx, &slack.OpenConversationParameters{Users: []string{user}})
		if err != nil {
			return err
		}
		if ch == nil || ch.ID == "" {
			return errors.New("no channel in the answer")
		}
		channel = ch.ID
		return nil
	})
	if err != nil {
		return err
	}
	_, err = s.post(ctx, channel, m)
	return err
}

func (s *slackAPI) userInfo(ctx context.Context, id string) (*slack.User, error) {
	var u *slack.User
	err := s.call(ctx, "users.info", func(ctx context.Context) error {
		var err error
		u, err = s.api.GetUserInfoContext(ctx, id)
		return err
	})
	return u, err
}

func (s *slackAPI) groupMembers(ctx context.Context, group string) ([]string, error) {
	var ids []string
	err := s.call(ctx, "usergroups.users.list", func(ctx context.Context) error {
		var err error
		ids, err = s.api.GetUserGroupMembersContext(ctx, group)
		return err
	})
	return ids, err
}
