package bot

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/lockbot/lockbot/approvals"
	"github.com/lockbot/lockbot/kandji"
	"github.com/lockbot/lockbot/okta"
)

// devicesOf returns the devices assigned to email, re-checking the match
// here too: the exact-target rule is too important to trust to one layer.
func (b *Bot) devicesOf(ctx context.Context, email string) ([]kandji.Device, error) {
	ds, err := b.kandji.DevicesByEmail(ctx, email)
	if err != nil {
		return nil, err
	}
	return exactMatches(ds, email), nil
}

func toApprovalDevice(d kandji.Device) approvals.Device {
	return approvals.Device{ID: d.ID, Name: d.Name, Model: d.Model, Serial: d.Serial, Platform: d.Platform, LastCheckIn: d.LastCheckIn}
}

func toApprovalDevices(ds []kandji.Device) []approvals.Device {
	out := make([]approvals.Device, len(ds))
	for i, d := range ds {
		out[i] = toApprovalDevice(d)
	}
	return out
}

// lockDevices locks every device in current (the fresh lookup), and marks
// the devices shown at request time that are no longer the person's as
// not locked. wantPINs fetches Mac PINs that the lock answer did not carry
// (already locked devices); automatic locks skip that to save the budget,
// since a reveal reads PINs fresh anyway.
func (b *Bot) lockDevices(ctx context.Context, req approvals.Request, current []kandji.Device, wantPINs bool) []deviceResult {
	results := make([]deviceResult, len(current), len(current)+len(req.Devices))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(b.cfg.LockConcurrency)
	for i, d := range current {
		g.Go(func() error {
			results[i] = b.lockOne(gctx, d, wantPINs)
			return nil
		})
	}
	_ = g.Wait() // lockOne reports failures in its result, never as an error
	seen := make(map[string]bool, len(current))
	for _, d := range current {
		seen[d.ID] = true
	}
	for _, d := range req.Devices {
		if !seen[d.ID] {
			results = append(results, deviceResult{Device: d, Outcome: outcomeUnassigned})
		}
	}
	sortResults(results)
	for _, r := range results {
		b.metrics.DeviceLock(string(r.Outcome))
		b.record(approvals.Record{
			Kind: approvals.KindLockResult, ID: req.ID, Actor: req.DecidedBy, Target: req.Target,
			Details: map[string]string{
				"device_id": r.Device.ID, "device_name": r.Device.Name, "serial": r.Device.Serial,
				"platform": r.Device.Platform, "outcome": string(r.Outcome), "detail": r.Detail,
				"dry_run": fmt.Sprint(b.cfg.DryRun),
			},
		})
	}
	return results
}

func (b *Bot) lockOne(ctx context.Context, d kandji.Device, wantPIN bool) deviceResult {
	r := deviceResult{Device: toApprovalDevice(d)}
	if b.cfg.DryRun {
		r.Outcome = outcomeSkipped
		return r
	}
	res, err := b.lockPatiently(ctx, d.ID)
	if err != nil {
		r.Outcome = outcomeFailed
		r.Detail = kandjiProblem(err)
		b.log.Warn("lock failed", "device", d.ID, "serial", d.Serial, "err", err)
		return r
	}
	r.Outcome = outcomeLocked
	if res.AlreadyLocked {
		r.Outcome = outcomeAlreadyLocked
	}
	r.PIN = pin(res.PIN)
	if wantPIN && d.IsMac() && r.PIN == "" {
		r.PIN, r.Detail = b.readPIN(ctx, d.ID)
	}
	return r
}

// lockRounds is how many times a lock that failed for a passing reason is
// sent in all. The Kandji client already retried it; another round a few
// seconds later rides out a longer outage, and repeating a lock is safe:
// Kandji answers "already locked" or "command already running" if an
// earlier one got through, which counts as locked.
const lockRounds = 3

// lockPatiently sends the lock, again after a pause when it failed for a
// reason that may pass (Kandji 5xx or 429, a network error, a lost answer).
func (b *Bot) lockPatiently(ctx context.Context, deviceID string) (kandji.LockResult, error) {
	opts := kandji.LockOptions{Message: b.cfg.LockMessage, PhoneNumber: b.cfg.LockPhone}
	for round := 1; ; round++ {
		res, err := b.kandji.Lock(ctx, deviceID, opts)
		if err == nil || round == lockRounds || !transient(err) || ctx.Err() != nil {
			return res, err
		}
		b.log.Warn("lock failed for a passing reason; sending it again", "device", deviceID, "round", round, "err", err)
		if !sleepCtx(ctx, time.Duration(round)*b.cfg.LockRetryPause) {
			return res, err
		}
	}
}

// transient reports whether a Kandji failure may pass by itself.
func transient(err error) bool {
	var ke *kandji.Error
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return false
	case errors.Is(err, kandji.ErrOutcomeUnknown), errors.Is(err, kandji.ErrRateLimited):
		return true
	case errors.As(err, &ke):
		return ke.StatusCode >= 500
	}
	return true // a network error
}

// readPIN fetches a Mac's unlock PIN fresh from Kandji; on failure the
// second value says why, in words fit for the approver.
func (b *Bot) readPIN(ctx context.Context, deviceID string) (pin, string) {
	p, err := b.kandji.UnlockPIN(ctx, deviceID)
	if err != nil {
		b.log.Warn("unlock PIN not available", "device", deviceID, "err", err)
		return "", "PIN not available: " + kandjiProblem(err)
	}
	return pin(p), ""
}

// kandjiProblem is the short explanation of a Kandji failure shown on
// cards. Kandji errors carry the route and the server's message, never a
// token or a PIN.
func kandjiProblem(err error) string {
	var ke *kandji.Error
	switch {
	case errors.As(err, &ke):
		return clip(ke.Error(), 200)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "stopped before Kandji answered"
	}
	return clip("Kandji could not be reached: "+err.Error(), 200)
}

// person gathers what Okta knows about email for cards; Okta trouble only
// costs the card its status line.
func (b *Bot) person(ctx context.Context, email string) person {
	p := person{Email: email}
	if b.dir == nil {
		return p
	}
	u, err := b.dir.User(ctx, email)
	switch {
	case errors.Is(err, okta.ErrNotFound):
		p.OktaStatus = "not found in Okta"
	case err != nil:
		ref := b.failRef("okta user lookup failed", err, "target", email)
		p.OktaStatus = "unknown (Okta did not answer, ref " + ref + ")"
	default:
		p.Name, p.OktaStatus = u.Name(), u.Status
	}
	return p
}

// personFor returns the person shown when req's card was first rendered.
func (b *Bot) personFor(req approvals.Request) person {
	if v, ok := b.persons.Get(req.ID); ok {
		return v.(person)
	}
	return person{Email: req.Target}
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

// record appends to the audit journal; a journal failure is logged loudly
// but never stops a lock.
func (b *Bot) record(r approvals.Record) {
	if r.Time.IsZero() {
		r.Time = b.now()
	}
	if err := b.journal.Append(r); err != nil {
		b.log.Error("audit journal write failed", "kind", r.Kind, "id", r.ID, "err", err)
	}
}
