package bot

import (
	"context"
	"strconv"
	"strings"

	"github.com/lockbot/lockbot/approvals"
)

// freshPINs reads the unlock PIN of every Mac in devices from Kandji now;
// PINs are never stored, so every reveal goes back to the source. Other
// platforms are returned without a PIN, for the DM to explain.
func (b *Bot) freshPINs(ctx context.Context, devices []approvals.Device) []deviceResult {
	results := make([]deviceResult, 0, len(devices))
	for _, d := range devices {
		r := deviceResult{Device: d, Outcome: outcomeLocked}
		if isMac(d.Platform) {
			r.PIN, r.Detail = b.readPIN(ctx, d.ID)
		}
		results = append(results, r)
	}
	sortResults(results)
	return results
}

func countPINs(results []deviceResult) int {
	n := 0
	for _, r := range results {
		if r.PIN != "" {
			n++
		}
	}
	return n
}

// sendPINs DMs the PINs in results to user and journals who received
// which devices' PINs; the journal never holds the PINs themselves.
func (b *Bot) sendPINs(ctx context.Context, user, lockID, target string, results []deviceResult) error {
	if err := b.slack.dm(ctx, user, pinMessage(target, lockID, results, b.cfg.DryRun)); err != nil {
		return err
	}
	var serials []string
	for _, r := range results {
		if r.PIN != "" {
			serials = append(serials, r.Device.Serial)
		}
	}
	b.record(approvals.Record{
		Kind: approvals.KindPINRevealed, ID: lockID, Actor: user, Target: target,
		Details: map[string]string{"count": strconv.Itoa(len(serials)), "serials": strings.Join(serials, ",")},
	})
	return nil
}
