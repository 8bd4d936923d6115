package bot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/lockbot/lockbot/approvals"
	"github.com/lockbot/lockbot/bot/cards"
	"github.com/lockbot/lockbot/bot/lockflow"
)

// pinDMAttempts is how many times a PIN DM is tried before the card says
// it could not be sent.
const pinDMAttempts = 5

// pinLines turns fresh PINs into the DM's lines. This is the one place a
// PIN is revealed, and only to build the DM.
func pinLines(ps []lockflow.DevicePIN) []cards.PINLine {
	out := make([]cards.PINLine, len(ps))
	for i, p := range ps {
		out[i] = cards.PINLine{Name: p.Device.Name, Serial: p.Device.Serial, PIN: p.PIN.Reveal(), Note: p.Note}
	}
	return out
}

// sendPINs DMs ps to user and journals who received which devices' PINs;
// the journal never holds the PINs themselves.
func (b *Bot) sendPINs(ctx context.Context, user, lockID, target string, ps []lockflow.DevicePIN) error {
	if err := b.slack.dm(ctx, user, cards.PINMessage(target, lockID, pinLines(ps), b.cfg.DryRun)); err != nil {
		return err
	}
	var serials []string
	for _, p := range ps {
		if p.PIN != "" {
			serials = append(serials, p.Device.Serial)
		}
	}
	b.journal(ctx, approvals.Record{Time: b.now(), Kind: approvals.KindPINRevealed, ID: lockID, Actor: user, Target: target,
		Details: approvals.Details("count", strconv.Itoa(len(serials)), "serials", strings.Join(serials, ","))})
	return nil
}

// runPINs sends the unlock PINs of a lock to one approver: after an
// approved lock, or when an approver clicked "Send me the unlock PINs".
// The PINs are read from Kandji now; the card then says where they went.
func (b *Bot) runPINs(ctx context.Context, run approvals.TaskRun) error {
	lockID, user, ok := lockflow.SplitPINsTaskKey(run.Key)
	if !ok {
		return nil
	}
	var j approvals.LockJob
	err := b.store.View(ctx, func(tx approvals.Tx) error {
		var err error
		j, err = tx.Lock(lockID)
		return err
	})
	if errors.Is(err, approvals.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	ps := b.flow.FreshPINs(ctx, j)
	dmErr := b.sendPINs(ctx, user, j.ID, j.Target(), ps)
	if dmErr != nil && run.Attempt < pinDMAttempts {
		return fmt.Errorf("PIN DM to %s: %w", user, dmErr)
	}
	if dmErr != nil {
		b.failRef("PIN DM failed; giving up", dmErr, "lock", lockID, "user", user)
	}
	return b.store.Update(ctx, func(tx approvals.Tx) error {
		cur, err := tx.Lock(lockID)
		if err != nil {
			return err
		}
		list := &cur.PINsSentTo
		if dmErr != nil {
			list = &cur.PINsFailedTo
		}
		if !slices.Contains(*list, user) {
			*list = append(*list, user)
		}
		if err := tx.PutLock(cur); err != nil {
			return err
		}
		return approvals.Touch(tx, cur.Report, b.cfg.NotifyChannel, approvals.PriorityNormal, b.now())
	})
}

// pins answers /lock pins: approvers get the PINs of the person's Macs by
// DM; the command's reply only says how many were sent.
func (b *Bot) pins(ctx context.Context, t approvals.Trigger, last bool) error {
	ok, err := b.access.isApprover(ctx, t.Actor)
	if err != nil {
		return b.failed(ctx, t, last, "Slack did not answer when lockbot checked your permissions", err)
	}
	if !ok {
		return b.handled(ctx, t, func(tx approvals.Tx, _ *approvals.Trigger) error {
			b.reply(ctx, t.Reply, cards.Notice("🚫 Only approvers can receive unlock PINs. "+b.access.approverHint()))
			return tx.Append(approvals.Record{Time: b.now(), Kind: approvals.KindRefused, Actor: t.Actor, Target: t.Email,
				Details: approvals.Details("reason", "not_approver", "command", "pins")})
		})
	}
	ps, err := b.flow.PINsFor(ctx, b.flow.Person(ctx, t.Email))
	if err != nil {
		return b.failed(ctx, t, last, fmt.Sprintf("Kandji could not be reached to look up *%s*", cards.Mrkdwn(t.Email)), err)
	}
	n := lockflow.CountPINs(ps)
	if n == 0 {
		return b.answer(ctx, t, cards.Notice(fmt.Sprintf("No Mac of *%s* has an unlock PIN in Kandji (a PIN exists only after a lock).", cards.Mrkdwn(t.Email))))
	}
	if err := b.sendPINs(ctx, t.Actor, "", t.Email, ps); err != nil {
		return b.failed(ctx, t, last, "The DM with the PINs could not be sent", err)
	}
	return b.answer(ctx, t, cards.Notice(fmt.Sprintf("🔑 Sent you %d unlock PIN%s for *%s* by DM.", n, cards.Plural(n), cards.Mrkdwn(t.Email))))
}
