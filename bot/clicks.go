package bot

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/slack-go/slack"

	"github.com/lockbot/lockbot/approvals"
	"github.com/lockbot/lockbot/bot/cards"
	"github.com/lockbot/lockbot/bot/lockflow"
)

// envelopeMemory is how long an envelope ID is remembered: Slack sends an
// unanswered envelope again within minutes, never hours later.
const envelopeMemory = time.Hour

// onInteraction acks a click at once and handles it after. The clicker is
// always the interaction's user.id, set by Slack; nothing in the message
// or the button value says who clicked. A click Slack delivers twice (to
// this replica or another) is handled once.
func (b *Bot) onInteraction(ctx context.Context, envelopeID string, cb slack.InteractionCallback) {
	b.ack(ctx, envelopeID, nil)
	if cb.Type != slack.InteractionTypeBlockActions {
		return
	}
	b.clicks.Go(func() {
		// The click is handled even if the bot is stopping: it is one
		// short transaction and the person is looking at the card, so its
		// writes go ahead of the tasks'.
		ctx := approvals.Urgent(context.WithoutCancel(ctx))
		first := false
		err := b.store.Update(ctx, func(tx approvals.Tx) error {
			var err error
			first, err = tx.Once("envelope:"+envelopeID, b.now().Add(envelopeMemory))
			return err
		})
		if err != nil {
			ref := b.failRef("could not record a click", err, "user", cb.User.ID)
			b.tell(ctx, cb, cards.Notice(fmt.Sprintf("⚠️ lockbot could not record your click (its database does not accept writes), so nothing changed. Try again in a minute. (ref `%s`)", ref)))
			return
		}
		if !first {
			return
		}
		for _, a := range cb.ActionCallback.BlockActions {
			value := a.Value
			if value == "" {
				value = a.SelectedOption.Value
			}
			switch a.ActionID {
			case cards.ActionApprove:
				b.onApprove(ctx, cb, value)
			case cards.ActionDeny:
				b.onDeny(ctx, cb, value)
			case cards.ActionRevealPINs:
				b.onReveal(ctx, cb, value, a.ActionTs)
			}
		}
	})
}

// tell answers the clicker alone. chat.postEphemeral needs the channel the
// click came from; the interaction's response_url is the fallback.
func (b *Bot) tell(ctx context.Context, cb slack.InteractionCallback, m cards.Message) {
	channel := cb.Container.ChannelID
	if channel == "" {
		channel = cb.Channel.ID
	}
	err := b.slack.ephemeral(ctx, channel, cb.User.ID, m)
	if err != nil && cb.ResponseURL != "" {
		err = b.slack.respond(ctx, cb.ResponseURL, m)
	}
	if err != nil {
		b.log.Warn("could not answer a click", "user", cb.User.ID, "err", err)
	}
}

// refusal explains, in the clicker's terms, why the engine refused.
func (b *Bot) refusal(err error, req approvals.Request) string {
	switch {
	case errors.Is(err, approvals.ErrSelfApproval):
		return "🚫 You opened this request, so you cannot approve it. Another approver must."
	case errors.Is(err, approvals.ErrNotApprover):
		return "🚫 Only approvers can decide lock requests. " + b.access.approverHint()
	case errors.Is(err, approvals.ErrAlreadyApproved):
		left := req.Required - len(req.Approvals)
		return fmt.Sprintf("You have already approved this request; it needs %d more approver%s.", left, cards.Plural(left))
	case errors.Is(err, approvals.ErrExpired):
		return "⌛ This request has expired, so nothing was locked. Open a new one with " + b.cfg.Command + " if it is still needed."
	case errors.Is(err, approvals.ErrNotPending):
		return "This request was already decided (" + string(req.State) + "); your click changed nothing."
	case errors.Is(err, approvals.ErrNotFound):
		return "This request no longer exists; your click changed nothing."
	}
	return ""
}

// refuse answers a refused decision. Errors that are not refusals (Slack
// or storage trouble) get a reference instead of a reason.
func (b *Bot) refuse(ctx context.Context, cb slack.InteractionCallback, id string, err error) {
	b.metrics.Decision("refused")
	req, _ := b.engine.Get(ctx, id)
	text := b.refusal(err, req)
	if text == "" {
		ref := b.failRef("decision failed", err, "request", id, "user", cb.User.ID)
		text = fmt.Sprintf("⚠️ lockbot could not record your decision, so nothing changed. Try again in a minute. (ref `%s`)", ref)
	}
	b.tell(ctx, cb, cards.Notice(text))
}

// noteCopy remembers the message clicked as a copy of the request's card,
// when it is not the one on record: Slack may have posted a card twice
// (a post that answered with an error), and every copy must show the
// decision, never live buttons.
func (b *Bot) noteCopy(ctx context.Context, key string, cb slack.InteractionCallback) {
	ts := cb.Container.MessageTs
	if ts == "" {
		return
	}
	err := b.store.Update(ctx, func(tx approvals.Tx) error {
		p, err := tx.Post(key)
		if err != nil {
			return err
		}
		if p.TS == "" {
			// The click beat the writer's record of its post: this is the
			// message, not a copy.
			p.TS = ts
		} else if !p.AddCopy(ts) {
			return nil
		}
		p.PostedRev = min(p.PostedRev, p.Rev-1)
		return tx.PutPost(p)
	})
	if err != nil && !errors.Is(err, approvals.ErrNotFound) {
		b.log.Warn("could not record a copy of a card", "post", key, "err", err)
	}
}

// onApprove records an approval. The click that completes the quorum
// opens the lock job in the same transaction; the card follows it.
func (b *Bot) onApprove(ctx context.Context, cb slack.InteractionCallback, id string) {
	b.noteCopy(ctx, approvals.PostKey(approvals.PostRequest, id), cb)
	req, err := b.engine.Approve(ctx, id, cb.User.ID)
	if err != nil {
		b.refuse(ctx, cb, id, err)
		return
	}
	if req.State == approvals.StatePending {
		b.metrics.Decision("approval")
		left := req.Required - len(req.Approvals)
		b.tell(ctx, cb, cards.Notice(fmt.Sprintf("Your approval is recorded. %d more approver%s needed.", left, cards.Plural(left))))
		return
	}
	b.metrics.Decision("approved")
}

// onDeny denies (approver) or withdraws (requester) a pending request.
func (b *Bot) onDeny(ctx context.Context, cb slack.InteractionCallback, id string) {
	b.noteCopy(ctx, approvals.PostKey(approvals.PostRequest, id), cb)
	req, err := b.engine.Deny(ctx, id, cb.User.ID, "")
	if err != nil {
		b.refuse(ctx, cb, id, err)
		return
	}
	b.metrics.Decision(string(req.State))
}

// onReveal sends an approver the unlock PINs of a lock, by DM: the PINs
// are read fresh from Kandji by the pins task.
func (b *Bot) onReveal(ctx context.Context, cb slack.InteractionCallback, lockID, actionTS string) {
	ok, err := b.access.isApprover(ctx, cb.User.ID)
	if err != nil {
		ref := b.failRef("could not check approver", err, "user", cb.User.ID)
		b.tell(ctx, cb, cards.Notice(fmt.Sprintf("⚠️ Slack did not answer when lockbot checked your permissions, so nothing was sent. (ref `%s`)", ref)))
		return
	}
	if !ok {
		b.journal(ctx, approvals.Record{Time: b.now(), Kind: approvals.KindRefused, ID: lockID, Actor: cb.User.ID,
			Details: approvals.Details("reason", "not_approver", "action", cards.ActionRevealPINs)})
		b.tell(ctx, cb, cards.Notice("🚫 Only approvers can receive unlock PINs. "+b.access.approverHint()))
		return
	}
	err = b.store.Update(ctx, func(tx approvals.Tx) error {
		if _, err := tx.Lock(lockID); err != nil {
			return err
		}
		return tx.Enqueue(approvals.Task{Kind: approvals.TaskPINs, Key: lockflow.PINsTaskKey(lockID, cb.User.ID, "click-"+actionTS)})
	})
	switch {
	case errors.Is(err, approvals.ErrNotFound):
		b.tell(ctx, cb, cards.Notice("This lock is no longer on record, so its PINs cannot be sent. An approver can use `"+b.cfg.Command+" pins user@corp.com`."))
	case err != nil:
		ref := b.failRef("could not ask for a PIN DM", err, "lock", lockID)
		b.tell(ctx, cb, cards.Notice(fmt.Sprintf("⚠️ lockbot could not record your request, so nothing was sent. Try again in a minute. (ref `%s`)", ref)))
	default:
		b.tell(ctx, cb, cards.Notice("🔑 Reading the unlock PINs from Kandji; they will come to you by DM."))
	}
}

// journal appends one record; a failure is logged, never returned: it
// changes no decision.
func (b *Bot) journal(ctx context.Context, r approvals.Record) {
	if err := b.store.Update(ctx, func(tx approvals.Tx) error { return tx.Append(r) }); err != nil {
		b.log.Error("audit journal write failed", "kind", r.Kind, "id", r.ID, "err", err)
	}
}
