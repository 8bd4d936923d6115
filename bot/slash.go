package bot

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/slack-go/slack"

	"github.com/lockbot/lockbot/approvals"
)

// ackReply is an immediate ephemeral answer carried by a slash command's
// ack, so the person sees something within the 3 s Slack allows.
func ackReply(m message) map[string]any {
	return map[string]any{"response_type": "ephemeral", "text": m.Text, "blocks": m.Blocks}
}

// onSlashCommand acks at once, with the answer itself when it needs no
// lookup (help, a typo), and otherwise hands the work to a task.
func (b *Bot) onSlashCommand(ctx context.Context, envelopeID string, sc slack.SlashCommand) {
	if !b.firstDelivery(envelopeID) {
		b.ack(ctx, envelopeID, nil)
		return
	}
	c, err := parseCommand(sc.Text)
	if err != nil {
		b.ack(ctx, envelopeID, ackReply(helpMessage(b.cfg.Command, usageProblem(err))))
		return
	}
	var work func(context.Context, slack.SlashCommand, command)
	switch c.Kind {
	case cmdHelp:
		b.ack(ctx, envelopeID, ackReply(helpMessage(b.cfg.Command, "")))
		return
	case cmdLock:
		work = b.requestLock
	case cmdStatus:
		work = b.status
	case cmdPins:
		work = b.pins
	}
	b.ack(ctx, envelopeID, ackReply(notice(fmt.Sprintf("⏳ Looking up *%s* in Kandji…", mrkdwn(c.Email)))))
	b.spawn(func(ctx context.Context) { work(ctx, sc, c) })
}

func usageProblem(err error) string {
	msg := err.Error()
	if errors.Is(err, errUsage) {
		msg = strings.TrimPrefix(msg, errUsage.Error()+": ")
	}
	return msg
}

// reply answers the person who typed the command, visible to them only.
func (b *Bot) reply(ctx context.Context, sc slack.SlashCommand, m message) {
	if err := b.slack.respond(ctx, sc.ResponseURL, m); err != nil {
		b.log.Warn("could not answer the slash command", "user", sc.UserID, "err", err)
	}
}

// mayRequest checks the requester and answers them when they may not.
func (b *Bot) mayRequest(ctx context.Context, sc slack.SlashCommand, what string) bool {
	ok, why, err := b.access.canRequest(ctx, sc.UserID)
	if err != nil {
		ref := b.failRef("could not check who may request", err, "user", sc.UserID)
		b.reply(ctx, sc, notice(fmt.Sprintf("⚠️ Slack did not answer when lockbot checked your permissions, so nothing was done. Try again in a minute. (ref `%s`)", ref)))
		return false
	}
	if !ok {
		b.record(approvals.Record{Kind: approvals.KindRefused, Actor: sc.UserID, Details: map[string]string{"reason": "not_requester", "command": what}})
		b.reply(ctx, sc, notice("🚫 You cannot use this command: "+why+"."))
	}
	return ok
}

// lookup returns the person's devices, answering the requester when
// Kandji fails.
func (b *Bot) lookup(ctx context.Context, sc slack.SlashCommand, email string) ([]approvals.Device, bool) {
	ds, err := b.devicesOf(ctx, email)
	if err != nil {
		ref := b.failRef("kandji device lookup failed", err, "target", email)
		b.reply(ctx, sc, notice(fmt.Sprintf("⚠️ Kandji could not be reached to look up *%s*, so nothing was done. Try again shortly. (ref `%s`)", mrkdwn(email), ref)))
		return nil, false
	}
	return toApprovalDevices(ds), true
}

// requestLock opens a two-person request and posts its card.
func (b *Bot) requestLock(ctx context.Context, sc slack.SlashCommand, c command) {
	if !b.mayRequest(ctx, sc, "lock") {
		return
	}
	if !domainAllowed(c.Email, b.cfg.AllowedDomains) {
		b.reply(ctx, sc, notice(fmt.Sprintf("🚫 *%s* is not in an allowed domain (%s). Nothing was requested.", mrkdwn(c.Email), mrkdwn(strings.Join(b.cfg.AllowedDomains, ", ")))))
		return
	}
	devices, ok := b.lookup(ctx, sc, c.Email)
	if !ok {
		return
	}
	if len(devices) == 0 {
		b.reply(ctx, sc, notice(fmt.Sprintf("No device is assigned to *%s* in Kandji, so there is nothing to lock. No request was opened. (Check the spelling, or the user assignment in Kandji.)", mrkdwn(c.Email))))
		return
	}
	req, err := b.openRequest(ctx, approvals.NewRequest{
		Target: c.Email, Requester: sc.UserID, Reason: c.Reason,
		Origin: approvals.Origin{Kind: "manual"}, Devices: devices,
	}, b.person(ctx, c.Email))
	if err != nil {
		ref := b.failRef("could not open the lock request", err, "target", c.Email)
		b.reply(ctx, sc, notice(fmt.Sprintf("⚠️ The request could not be posted to <#%s> (is lockbot a member of that channel?). Nothing was requested. (ref `%s`)", b.cfg.ApprovalChannel, ref)))
		return
	}
	b.reply(ctx, sc, notice(fmt.Sprintf("📨 Request `%s` to lock every device of *%s* (%d now) is waiting for approval in <#%s>. Another approver must approve it; it expires %s.",
		req.ID, mrkdwn(c.Email), len(devices), b.cfg.ApprovalChannel, slackDate(req.Expires))))
}

// openRequest records a pending request and posts its card; when the card
// cannot be posted the request is withdrawn, so nothing waits unseen.
func (b *Bot) openRequest(ctx context.Context, nr approvals.NewRequest, p person) (approvals.Request, error) {
	nr.Required = b.cfg.RequiredApprovals
	nr.TTL = b.cfg.ApprovalTTL
	req, err := b.engine.Open(ctx, nr)
	if err != nil {
		return req, err
	}
	b.persons.SetDefault(req.ID, p)
	b.metrics.RequestOpened(req.Origin.Kind)
	ts, err := b.slack.post(ctx, b.cfg.ApprovalChannel, requestCard(req, p, nil, nil, b.cfg.DryRun))
	if err != nil {
		if _, derr := b.engine.Deny(ctx, req.ID, req.Requester, "the approval card could not be posted"); derr != nil {
			b.log.Error("could not withdraw a request whose card failed", "request", req.ID, "err", derr)
		}
		return req, err
	}
	return b.engine.SetCard(ctx, req.ID, approvals.Card{Channel: b.cfg.ApprovalChannel, TS: ts})
}

// status answers /lock status: devices and Okta status, to the asker only.
func (b *Bot) status(ctx context.Context, sc slack.SlashCommand, c command) {
	if !b.mayRequest(ctx, sc, "status") {
		return
	}
	devices, ok := b.lookup(ctx, sc, c.Email)
	if !ok {
		return
	}
	b.reply(ctx, sc, statusMessage(b.person(ctx, c.Email), devices))
}

// pins answers /lock pins: approvers get the PINs of the person's Macs by
// DM; the channel only hears how many were sent.
func (b *Bot) pins(ctx context.Context, sc slack.SlashCommand, c command) {
	ok, err := b.access.isApprover(ctx, sc.UserID)
	if err != nil {
		ref := b.failRef("could not check approver", err, "user", sc.UserID)
		b.reply(ctx, sc, notice(fmt.Sprintf("⚠️ Slack did not answer when lockbot checked your permissions, so nothing was sent. (ref `%s`)", ref)))
		return
	}
	if !ok {
		b.record(approvals.Record{Kind: approvals.KindRefused, Actor: sc.UserID, Target: c.Email, Details: map[string]string{"reason": "not_approver", "command": "pins"}})
		b.reply(ctx, sc, notice("🚫 Only approvers can receive unlock PINs. "+b.access.approverHint()))
		return
	}
	devices, ok := b.lookup(ctx, sc, c.Email)
	if !ok {
		return
	}
	var macs []approvals.Device
	for _, d := range devices {
		if isMac(d.Platform) {
			macs = append(macs, d)
		}
	}
	results := b.freshPINs(ctx, macs)
	n := countPINs(results)
	if n == 0 {
		b.reply(ctx, sc, notice(fmt.Sprintf("No Mac of *%s* has an unlock PIN in Kandji (a PIN exists only after a lock).", mrkdwn(c.Email))))
		return
	}
	if err := b.sendPINs(ctx, sc.UserID, "", c.Email, results); err != nil {
		ref := b.failRef("PIN DM failed", err, "user", sc.UserID)
		b.reply(ctx, sc, notice(fmt.Sprintf("⚠️ The DM with the PINs could not be sent. (ref `%s`)", ref)))
		return
	}
	b.reply(ctx, sc, notice(fmt.Sprintf("🔑 Sent you %d unlock PIN%s for *%s* by DM.", n, plural(n), mrkdwn(c.Email))))
}
