package bot

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"

	"github.com/slack-go/slack"

	"github.com/lockbot/lockbot/approvals"
	"github.com/lockbot/lockbot/bot/cards"
)

// TaskCommand is the store task that carries out a slash command.
const TaskCommand = "command"

// commandAttempts is how many times a command is tried while Slack or
// Kandji fail, a few seconds apart, before its person is told to try again.
const commandAttempts = 3

// ackReply is an immediate ephemeral answer carried by a slash command's
// ack, so the person sees something within the 3 s Slack allows.
func ackReply(m cards.Message) map[string]any {
	return map[string]any{"response_type": "ephemeral", "text": m.Text, "blocks": m.Blocks}
}

// onSlashCommand answers help and typos in the ack itself; any other
// command is stored as a trigger (once per envelope: Slack delivers an
// unanswered envelope again, perhaps to another replica) and carried out
// as a task, so a crash between the ack and the answer loses nothing.
func (b *Bot) onSlashCommand(ctx context.Context, envelopeID string, sc slack.SlashCommand) {
	c, err := parseCommand(sc.Text)
	if err != nil {
		b.ack(ctx, envelopeID, ackReply(cards.Help(b.cfg.Command, cards.Mrkdwn(usageProblem(err)))))
		return
	}
	if c.Kind == cmdHelp {
		b.ack(ctx, envelopeID, ackReply(cards.Help(b.cfg.Command, "")))
		return
	}
	t := approvals.Trigger{
		ID: "slack:" + envelopeID, Source: approvals.SourceSlack, Type: string(c.Kind), Admitted: b.now(),
		Email: c.Email, Actor: sc.UserID, ActorName: sc.UserName, Message: c.Reason,
		Reply: approvals.ReplyTo{User: sc.UserID, Channel: sc.ChannelID, ResponseURL: sc.ResponseURL},
	}
	fresh := false
	// Slack waits for the ack, which waits for this write.
	err = b.store.Update(approvals.Urgent(ctx), func(tx approvals.Tx) error {
		var err error
		if fresh, err = tx.AdmitTrigger(t); err != nil || !fresh {
			return err
		}
		return tx.Enqueue(approvals.Task{Kind: TaskCommand, Key: t.ID})
	})
	switch {
	case err != nil:
		ref := b.failRef("could not store a slash command", err, "user", sc.UserID)
		b.ack(ctx, envelopeID, ackReply(cards.Notice(fmt.Sprintf("⚠️ lockbot cannot store your command right now (its database does not accept writes), so nothing was done. Try again in a minute. (ref `%s`)", ref))))
	case !fresh:
		b.ack(ctx, envelopeID, nil) // a redelivery: the first is being handled
	default:
		b.ack(ctx, envelopeID, ackReply(cards.Notice(fmt.Sprintf("⏳ Looking up *%s* in Kandji…", cards.Mrkdwn(c.Email)))))
	}
}

// runCommand carries out a stored slash command and answers its person.
func (b *Bot) runCommand(ctx context.Context, run approvals.TaskRun) error {
	t, ok, err := approvals.PendingTrigger(ctx, b.store, run.Key)
	if err != nil || !ok {
		return err
	}
	// A person is waiting: a failing Slack or Kandji is tried again a few
	// times at once, then the person is told. A crash meanwhile leaves the
	// task to run again.
	for attempt := 1; ; attempt++ {
		last := attempt >= commandAttempts
		var err error
		switch commandKind(t.Type) {
		case cmdLock:
			err = b.requestLock(ctx, t, last)
		case cmdStatus:
			err = b.status(ctx, t, last)
		case cmdPins:
			err = b.pins(ctx, t, last)
		default:
			return b.handled(ctx, t, nil)
		}
		if !errors.Is(err, errTryAgain) || last {
			return err
		}
		b.log.Warn("a slash command failed; trying again", "command", t.ID, "attempt", attempt, "err", err)
		if !sleep(ctx, b.retryPause(attempt)) {
			return ctx.Err()
		}
	}
}

// errTryAgain marks a command attempt that failed for a passing reason.
var errTryAgain = errors.New("try again")

// handled marks a command done and journals it, with more changes from
// also (which may fill in t) in the same transaction.
func (b *Bot) handled(ctx context.Context, t approvals.Trigger, also func(tx approvals.Tx, t *approvals.Trigger) error) error {
	return b.store.Update(ctx, func(tx approvals.Tx) error {
		t := t
		if also != nil {
			if err := also(tx, &t); err != nil {
				return err
			}
		}
		t.Handled = true
		if err := tx.PutTrigger(t); err != nil {
			return err
		}
		return tx.Append(approvals.Record{Time: b.now(), Kind: approvals.KindCommand, ID: strings.TrimPrefix(t.ID, "slack:"),
			Actor: t.Actor, Target: t.Email, Details: approvals.Details("command", t.Type, "request_id", t.RequestID)})
	})
}

// reply answers the person who typed a command, visible to them only.
func (b *Bot) reply(ctx context.Context, to approvals.ReplyTo, m cards.Message) {
	if err := b.slack.respond(ctx, to.ResponseURL, m); err != nil {
		b.log.Warn("could not answer the slash command", "user", to.User, "err", err)
	}
}

// answer replies to t's person and marks t handled.
func (b *Bot) answer(ctx context.Context, t approvals.Trigger, m cards.Message) error {
	b.reply(ctx, t.Reply, m)
	return b.handled(ctx, t, nil)
}

// failed answers a command whose Slack or Kandji calls kept failing, or
// asks for another attempt while there are attempts left.
func (b *Bot) failed(ctx context.Context, t approvals.Trigger, last bool, what string, err error) error {
	if !last {
		return fmt.Errorf("%w: %s: %w", errTryAgain, what, err)
	}
	ref := b.failRef(what, err, "command", t.ID)
	return b.answer(ctx, t, cards.Notice(fmt.Sprintf("⚠️ %s, so nothing was done. Try again in a minute. (ref `%s`)", what, ref)))
}

// mayRequest checks the requester, answering them when they may not.
// done reports that the command is over (refused or answered).
func (b *Bot) mayRequest(ctx context.Context, t approvals.Trigger, last bool) (ok bool, err error) {
	ok, why, err := b.access.canRequest(ctx, t.Actor)
	if err != nil {
		return false, b.failed(ctx, t, last, "Slack did not answer when lockbot checked your permissions", err)
	}
	if ok {
		return true, nil
	}
	return false, b.handled(ctx, t, func(tx approvals.Tx, _ *approvals.Trigger) error {
		b.reply(ctx, t.Reply, cards.Notice("🚫 You cannot use this command: "+why+"."))
		return tx.Append(approvals.Record{Time: b.now(), Kind: approvals.KindRefused, Actor: t.Actor, Target: t.Email,
			Details: approvals.Details("reason", "not_requester", "command", t.Type)})
	})
}

// requestLock opens a two-person request; its card's writer tells the
// requester once the card is up (or why it could not be posted).
func (b *Bot) requestLock(ctx context.Context, t approvals.Trigger, last bool) error {
	if ok, err := b.mayRequest(ctx, t, last); !ok {
		return err
	}
	if !b.domainAllowed(t.Email) {
		return b.answer(ctx, t, cards.Notice(fmt.Sprintf("🚫 *%s* is not in an allowed domain (%s). Nothing was requested.",
			cards.Mrkdwn(t.Email), cards.Mrkdwn(strings.Join(b.cfg.AllowedDomains, ", ")))))
	}
	p := b.flow.Person(ctx, t.Email)
	devices, _, err := b.flow.Lookup(ctx, p)
	if err != nil {
		return b.failed(ctx, t, last, fmt.Sprintf("Kandji could not be reached to look up *%s*", cards.Mrkdwn(t.Email)), err)
	}
	if len(devices) == 0 {
		return b.answer(ctx, t, cards.Notice(fmt.Sprintf("No device is assigned to *%s* in Kandji, so there is nothing to lock. No request was opened. (Check the spelling, or the user assignment in Kandji.)", cards.Mrkdwn(t.Email))))
	}
	err = b.handled(ctx, t, func(tx approvals.Tx, t *approvals.Trigger) error {
		r, err := b.engine.OpenIn(tx, approvals.NewRequest{
			Person: p, Requester: t.Actor, Reason: t.Message, Origin: approvals.Origin{Kind: approvals.OriginManual},
			Devices: devices, Required: b.cfg.RequiredApprovals, TTL: b.cfg.ApprovalTTL, ReplyTo: t.Reply,
			DryRun: b.cfg.DryRun, Priority: approvals.PriorityInteractive,
		})
		t.RequestID = r.ID
		return err
	})
	if err == nil {
		b.metrics.RequestOpened(approvals.OriginManual)
	}
	return err
}

// status answers /lock status: devices and Okta status, to the asker only.
func (b *Bot) status(ctx context.Context, t approvals.Trigger, last bool) error {
	if ok, err := b.mayRequest(ctx, t, last); !ok {
		return err
	}
	p := b.flow.Person(ctx, t.Email)
	devices, _, err := b.flow.Lookup(ctx, p)
	if err != nil {
		return b.failed(ctx, t, last, fmt.Sprintf("Kandji could not be reached to look up *%s*", cards.Mrkdwn(t.Email)), err)
	}
	return b.answer(ctx, t, cards.Status(personView(p), deviceViews(devices)))
}

// failRef logs err with a short reference that the person is shown instead
// of the error itself, so they can quote it to whoever reads the logs.
func (b *Bot) failRef(msg string, err error, attrs ...any) string {
	var raw [4]byte
	_, _ = rand.Read(raw[:])
	ref := "E-" + base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(raw[:])
	b.log.Error(msg, append(attrs, "ref", ref, "err", err)...)
	return ref
}

// domainAllowed reports whether email's domain may be targeted.
func (b *Bot) domainAllowed(email string) bool {
	if len(b.cfg.AllowedDomains) == 0 {
		return true
	}
	d := approvals.DomainOf(email)
	for _, a := range b.cfg.AllowedDomains {
		if approvals.EmailKey(a) == d {
			return true
		}
	}
	return false
}
