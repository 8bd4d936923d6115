package bot

import (
	"context"
	"errors"
	"fmt"

	"github.com/slack-go/slack"

	"github.com/lockbot/lockbot/approvals"
)

// onInteraction acks a click at once and handles it as a task. The
// clicker is always the interaction's user.id, set by Slack; nothing in
// the message or the button value says who clicked.
func (b *Bot) onInteraction(ctx context.Context, envelopeID string, cb slack.InteractionCallback) {
	b.ack(ctx, envelopeID, nil)
	if !b.firstDelivery(envelopeID) || cb.Type != slack.InteractionTypeBlockActions {
		return
	}
	for _, a := range cb.ActionCallback.BlockActions {
		var handle func(context.Context, slack.InteractionCallback, string)
		switch a.ActionID {
		case actionApprove:
			handle = b.onApprove
		case actionDeny:
			handle = b.onDeny
		case actionRevealPINs:
			handle = b.onReveal
		default:
			continue
		}
		value := a.Value
		b.spawn(func(ctx context.Context) { handle(ctx, cb, value) })
	}
}

// tell answers the clicker alone. chat.postEphemeral needs the channel the
// click came from; the interaction's response_url is the fallback.
func (b *Bot) tell(ctx context.Context, cb slack.InteractionCallback, m message) {
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
		return fmt.Sprintf("You have already approved this request; it needs %d more approver%s.", req.Required-len(req.Approvals), plural(req.Required-len(req.Approvals)))
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
	b.tell(ctx, cb, notice(text))
}

// onApprove records an approval; the click that completes the quorum
// runs the lock.
func (b *Bot) onApprove(ctx context.Context, cb slack.InteractionCallback, id string) {
	req, err := b.engine.Approve(ctx, id, cb.User.ID)
	if err != nil {
		b.refuse(ctx, cb, id, err)
		return
	}
	req = clicked(req, cb)
	p := b.personFor(req)
	if req.State == approvals.StatePending {
		b.metrics.Decision("approval")
		b.updateCard(ctx, req, p, nil, nil)
		left := req.Required - len(req.Approvals)
		b.tell(ctx, cb, notice(fmt.Sprintf("Your approval is recorded. %d more approver%s needed.", left, plural(left))))
		return
	}
	b.metrics.Decision("approved")
	b.execute(ctx, req, p, cb.User.ID)
}

// execute runs an approved request: card to "locking", lock with a fresh
// lookup, PINs to the approver by DM, card to the per-device results.
func (b *Bot) execute(ctx context.Context, req approvals.Request, p person, approver string) {
	id, card := req.ID, req.Card
	b.updateCard(ctx, req, p, nil, nil)
	req, err := b.engine.Begin(ctx, id)
	if err != nil {
		b.failRef("could not start an approved lock", err, "request", id)
		return
	}
	var results []deviceResult
	var notes []string
	current, err := b.devicesOf(ctx, req.Target)
	if err != nil {
		ref := b.failRef("kandji lookup before lock failed", err, "request", id)
		for _, d := range req.Devices {
			results = append(results, deviceResult{Device: d, Outcome: outcomeFailed, Detail: "Kandji could not be reached to re-check the assignment (ref " + ref + ")"})
		}
	} else {
		results = b.lockDevices(ctx, req, current, true)
	}
	sum := summarize(results)
	if n := countPINs(results); n > 0 {
		if err := b.sendPINs(ctx, approver, id, req.Target, results); err != nil {
			ref := b.failRef("PIN DM failed", err, "request", id, "user", approver)
			notes = append(notes, fmt.Sprintf("⚠️ The DM with the unlock PINs could not be sent to %s (ref `%s`). An approver can get them with `%s pins %s`.", mention(approver), ref, b.cfg.Command, mrkdwn(req.Target)))
		} else {
			notes = append(notes, fmt.Sprintf("🔑 %d unlock PIN%s sent to %s by DM.", n, plural(n), mention(approver)))
		}
	}
	outcome := fmt.Sprintf("%d of %d devices secured, %d failed", sum.Secured, sum.Total, sum.Failed)
	if finished, err := b.engine.Finish(ctx, id, sum.ok(), outcome); err != nil {
		b.failRef("could not record the lock result", err, "request", id)
		req.State = approvals.StateFailed
	} else {
		req = finished
	}
	if req.Card.TS == "" {
		req.Card = card
	}
	b.updateCard(ctx, req, p, results, notes)
}

// onDeny denies (approver) or withdraws (requester) a pending request.
func (b *Bot) onDeny(ctx context.Context, cb slack.InteractionCallback, id string) {
	req, err := b.engine.Deny(ctx, id, cb.User.ID, "")
	if err != nil {
		b.refuse(ctx, cb, id, err)
		return
	}
	req = clicked(req, cb)
	b.metrics.Decision(string(req.State))
	b.updateCard(ctx, req, b.personFor(req), nil, nil)
}

// onExpire is called by the engine for each request that ran out of time.
func (b *Bot) onExpire(req approvals.Request) {
	b.metrics.Decision("expired")
	ctx := b.workCtx
	if ctx == nil {
		ctx = context.Background()
	}
	b.updateCard(ctx, req, b.personFor(req), nil, nil)
}

// clicked returns req with its card located from the click itself: the
// click can arrive before the card's timestamp is stored (a fast approver
// clicks the moment the card appears).
func clicked(req approvals.Request, cb slack.InteractionCallback) approvals.Request {
	if req.Card.TS == "" && cb.Container.MessageTs != "" {
		req.Card = approvals.Card{Channel: cb.Container.ChannelID, TS: cb.Container.MessageTs}
	}
	return req
}

// updateCard re-renders a request's card in place.
func (b *Bot) updateCard(ctx context.Context, req approvals.Request, p person, results []deviceResult, notes []string) {
	if req.Card.TS == "" {
		b.log.Warn("no card to update for a request", "request", req.ID, "state", req.State)
		return
	}
	if err := b.slack.update(ctx, req.Card.Channel, req.Card.TS, requestCard(req, p, results, notes, b.cfg.DryRun)); err != nil {
		b.log.Error("could not update the request card", "request", req.ID, "err", err)
	}
}
