package bot

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/slack-go/slack"

	"github.com/lockbot/lockbot/approvals"
	"github.com/lockbot/lockbot/bot/cards"
)

// permanentPostErrors are Slack errors that the same write will meet again
// until a person changes something: retrying them on a schedule would only
// hide the problem.
var permanentPostErrors = map[string]string{
	"not_in_channel":    "lockbot is not a member of that channel: invite it with /invite @lockbot",
	"channel_not_found": "the channel does not exist or lockbot cannot see it: check the channel ID, and invite lockbot to a private channel",
	"is_archived":       "the channel is archived",
	"invalid_blocks":    "Slack refused the message's layout (invalid_blocks); this is a lockbot bug, please report it",
	"msg_too_long":      "the message is too long for Slack; this is a lockbot bug, please report it",
	"missing_scope":     "the bot token lacks a scope: reinstall the app from `lockbot manifest`",
	"restricted_action": "the workspace does not let lockbot post in that channel",
}

// writeFailure classifies a failed write: permanent (with the reason in
// words) or worth another try, after at least wait.
func writeFailure(err error) (why string, permanent bool, wait time.Duration) {
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		return "Slack asked lockbot to slow down", false, max(rl.RetryAfter, time.Second)
	}
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		if why, ok := permanentPostErrors[se.Err]; ok {
			return why, true, 0
		}
		if se.Err == "ratelimited" || se.Err == "rate_limited" {
			return "Slack asked lockbot to slow down", false, time.Second
		}
	}
	return "Slack did not take the message: " + err.Error(), false, 0
}

// retryPause is the wait before the attempt-th retry of a write or a
// command: doubling from Config.RetryPause, at most a minute.
func (b *Bot) retryPause(attempt int) time.Duration {
	d := b.cfg.RetryPause
	for i := 1; i < attempt && d < time.Minute; i++ {
		d *= 2
	}
	return min(d, time.Minute)
}

// runWriter is the paced writer of one channel: it makes each post of the
// channel show what the store says, one write at a time and at most one
// per Config.ReportGap (about Slack's pace for one channel), most urgent
// first. It runs under the store's lease for the channel, so one process
// writes to a channel at a time. Everything it needs is in the store: a
// writer that dies is replaced by another (or the next start) and goes on
// where it stopped.
func (b *Bot) runWriter(ctx context.Context, channel string) error {
	// One writer shows a channel's every report and card, one write at a
	// time: its records go before the lock tasks', which are many and
	// which nobody watches.
	ctx = approvals.Urgent(ctx)
	api := b.slack.once()
	var last time.Time
	pause := time.Duration(0)
	for {
		changed := b.store.Changed()
		if !b.idle(ctx, pause, changed) {
			return nil
		}
		pause = 0
		if channel == b.cfg.NotifyChannel {
			if err := b.digestStep(ctx, channel); err != nil && ctx.Err() == nil {
				b.log.Warn("could not update the burst digest", "err", err)
			}
		}
		p, ok, err := b.nextPost(ctx, channel)
		if err != nil || !ok {
			if err != nil && ctx.Err() == nil {
				b.log.Warn("could not read what to post", "channel", channel, "err", err)
			}
			pause = b.cfg.WriterPoll
			continue
		}
		if wait := time.Until(last.Add(b.cfg.ReportGap)); wait > 0 && !sleep(ctx, wait) {
			return nil
		}
		msg, replyTo, err := b.render(ctx, p)
		if errors.Is(err, approvals.ErrNotFound) {
			b.dropPost(ctx, p.Key, "what it showed no longer exists")
			continue
		}
		if err != nil {
			b.log.Warn("could not render a post", "post", p.Key, "err", err)
			pause = b.cfg.WriterPoll
			continue
		}
		ts, werr := b.write(ctx, api, p, msg)
		last = time.Now()
		if werr != nil && ctx.Err() != nil {
			return nil
		}
		if wait := b.recordWrite(ctx, p, ts, replyTo, werr); wait > 0 {
			pause = wait
		}
	}
}

// idle waits d, or less when the store changes meanwhile, reporting false
// if ctx ended first. An idle writer so costs nothing, and still answers
// at once.
func (b *Bot) idle(ctx context.Context, d time.Duration, changed <-chan struct{}) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	case <-changed:
	}
	return true
}

// sleep waits d, reporting false if ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// nextPost is the most urgent post of channel that is due.
func (b *Bot) nextPost(ctx context.Context, channel string) (approvals.Post, bool, error) {
	var ps []approvals.Post
	err := b.store.View(ctx, func(tx approvals.Tx) error {
		var err error
		ps, err = tx.Posts(approvals.PostQuery{Channel: channel, Due: b.now(), Limit: 1})
		return err
	})
	if err != nil || len(ps) == 0 {
		return approvals.Post{}, false, err
	}
	return ps[0], true, nil
}

// write posts p (in its thread, if any) or edits its message and every
// known copy of it.
func (b *Bot) write(ctx context.Context, api *slackAPI, p approvals.Post, m cards.Message) (string, error) {
	if p.TS == "" {
		var extra []slack.MsgOption
		if p.Thread != "" {
			extra = append(extra, slack.MsgOptionTS(p.Thread))
		}
		return api.post(ctx, p.Channel, m, extra...)
	}
	if err := api.update(ctx, p.Channel, p.TS, m); err != nil {
		return "", err
	}
	for _, ts := range p.Copies {
		if err := api.update(ctx, p.Channel, ts, m); err != nil {
			b.log.Warn("could not edit a copy of a message", "post", p.Key, "ts", ts, "err", err)
		}
	}
	return p.TS, nil
}

// recordWrite stores what a write achieved: the revision now shown, or why
// it failed and when to try again. It returns how long the whole channel
// should pause (Slack asked it to slow down).
func (b *Bot) recordWrite(ctx context.Context, p approvals.Post, ts string, replyTo *approvals.Request, werr error) time.Duration {
	firstPost := p.TS == "" && werr == nil
	var pause time.Duration
	var withdraw string
	record := func(tx approvals.Tx) error {
		pause, withdraw = 0, ""
		cur, err := tx.Post(p.Key)
		if err != nil {
			return err
		}
		now := b.now()
		if werr == nil {
			switch {
			case cur.TS == "":
				cur.TS = ts
			case ts != "" && ts != cur.TS:
				cur.AddCopy(ts)
			}
			cur.PostedRev = max(cur.PostedRev, p.Rev)
			cur.Attempts, cur.LastError, cur.NextTry = 0, "", time.Time{}
			return tx.PutPost(cur)
		}
		why, permanent, wait := writeFailure(werr)
		cur.Attempts++
		cur.LastError = why
		pause = wait
		if permanent && cur.Kind == approvals.PostRequest && cur.TS == "" {
			// A card that cannot be posted can never be approved: withdraw
			// the request and tell the requester why, instead of waiting.
			cur.Done = true
			withdraw = why
			return tx.PutPost(cur)
		}
		cur.NextTry = now.Add(max(wait, b.retryPause(cur.Attempts)))
		return tx.PutPost(cur)
	}
	// Until the write is recorded the channel waits: writing on would post
	// the same message again (its ts is not stored) or others out of order.
	// A full disk so delays Slack instead of flooding it.
	for attempt := 0; ; attempt++ {
		err := b.store.Update(context.WithoutCancel(ctx), record)
		if err == nil {
			break
		}
		wait := min(b.cfg.WriterPoll<<min(attempt, 10), 30*time.Second)
		b.log.Error("could not record a Slack write; the channel waits until it can", "post", p.Key, "attempt", attempt+1, "retry_in", wait, "err", err)
		if !sleep(ctx, wait) {
			return 0
		}
	}
	if werr != nil {
		why, _, _ := writeFailure(werr)
		b.log.Warn("slack write failed; it will be tried again", "post", p.Key, "channel", p.Channel, "reason", why, "err", werr)
	}
	if withdraw != "" && replyTo != nil {
		if err := b.engine.Withdraw(ctx, replyTo.ID, "the approval card could not be posted"); err != nil {
			b.log.Error("could not withdraw a request whose card failed", "request", replyTo.ID, "err", err)
		}
		b.reply(ctx, replyTo.ReplyTo, cards.Notice(fmt.Sprintf("⚠️ The request could not be posted to <#%s>: %s. Nothing was requested.", p.Channel, cards.Mrkdwn(withdraw))))
	}
	if firstPost && replyTo != nil && replyTo.ReplyTo.ResponseURL != "" && replyTo.State == approvals.StatePending {
		b.reply(ctx, replyTo.ReplyTo, cards.Notice(fmt.Sprintf("📨 Request `%s` to lock every device of *%s* (%d now) is waiting for approval in <#%s>. Another approver must approve it; it expires <!date^%d^{date_short_pretty} {time}|%s>.",
			replyTo.ID, cards.Mrkdwn(replyTo.Target()), len(replyTo.Devices), p.Channel, replyTo.Expires.Unix(), replyTo.Expires.UTC().Format("2006-01-02 15:04 UTC"))))
	}
	return pause
}

// dropPost stops writing a post whose subject is gone.
func (b *Bot) dropPost(ctx context.Context, key, why string) {
	err := b.store.Update(ctx, func(tx approvals.Tx) error {
		p, err := tx.Post(key)
		if err != nil {
			return err
		}
		p.Done, p.LastError = true, why
		return tx.PutPost(p)
	})
	if err != nil {
		b.log.Warn("could not drop a post", "post", key, "err", err)
	}
}
