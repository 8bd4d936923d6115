package bot

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"github.com/lockbot/lockbot/approvals"
	"github.com/lockbot/lockbot/kandji"
	"github.com/lockbot/lockbot/okta"
)

// The automatic-lock pipeline has three stages so that a burst (a layoff
// suspends hundreds of people in a minute) runs at the speed of Kandji's
// rate budget and no faster:
//
//	intake (autoWorker)  → lookups (one loop) → locks (LockWorkers) → reporter
//
// Lookups batch: while the locks of earlier people use the budget, the
// next people queue up, and once more are queued than an inventory sweep
// costs in calls, one sweep finds all their devices. Calls are prioritised
// in the Kandji client: interactive (someone waiting in Slack) before
// bulk (these locks) before background (these lookups), so locks never
// wait on lookups and a burst never starves a person typing /lock.
//
// Every event stays pending in the durable Okta inbox until its report or
// the burst digest is out, so a crash anywhere in the pipeline loses
// nothing: a restart hands the event out again and Kandji answers "already
// locked" for the devices that were done.

// devicesPerPage is Kandji's maximum page size, which a sweep uses.
const devicesPerPage = 300

// autoJob is one person moving through the pipeline.
type autoJob struct {
	ev      okta.Event
	email   string
	lk      *autoLock
	devices []kandji.Device
}

// pipeline holds the queues between the stages.
type pipeline struct {
	b       *Bot
	lookups *fifo[*autoJob]
	locks   *fifo[*autoJob]
	room    chan struct{}   // one token per person admitted and not yet reported
	stop    <-chan struct{} // closed when the bot stops taking work

	tenantDevices atomic.Int64 // learned from the last sweep; seeds the sweep's cost
}

func newPipeline(b *Bot) *pipeline {
	p := &pipeline{
		b:       b,
		lookups: newFIFO[*autoJob](),
		locks:   newFIFO[*autoJob](),
		room:    make(chan struct{}, b.cfg.MaxQueued),
	}
	p.tenantDevices.Store(int64(b.cfg.TenantDevices))
	return p
}

// admit queues j for a lookup once there is room, so a burst is held in
// the durable inbox rather than in memory. It reports false when ctx ends
// first; the event then stays pending for a restart.
func (p *pipeline) admit(ctx context.Context, j *autoJob) bool {
	select {
	case p.room <- struct{}{}:
		p.b.metrics.Queued(len(p.room))
		p.lookups.push(j)
		return true
	case <-ctx.Done():
		return false
	case <-p.stop:
		return false
	}
}

// release frees j's place once its outcome has reached the reporter.
func (p *pipeline) release() {
	select {
	case <-p.room:
	default:
	}
	p.b.metrics.Queued(len(p.room))
}

// queued is the number of people admitted whose outcome is not yet known.
func (p *pipeline) queued() int { return len(p.room) }

// sweepCost is how many calls an inventory sweep takes, from the tenant
// size seen by the last sweep (or Config.TenantDevices before the first).
func (p *pipeline) sweepCost() int {
	n := max(p.tenantDevices.Load(), 1)
	return int((n + devicesPerPage - 1) / devicesPerPage)
}

// lookupLoop finds the devices of every queued person, in batches.
func (p *pipeline) lookupLoop(ctx context.Context) error {
	for {
		jobs := p.lookups.take(ctx, 0)
		if ctx.Err() != nil {
			return nil
		}
		p.lookup(kandji.WithPriority(ctx, kandji.Background), jobs)
	}
}

// lookup resolves jobs with one sweep when that is cheaper than one call
// per person, else with exact per-person lookups, and queues their locks.
func (p *pipeline) lookup(ctx context.Context, jobs []*autoJob) {
	if len(jobs) > p.sweepCost() {
		p.b.metrics.Lookup("sweep")
		found, err := p.sweep(ctx, jobs)
		if err == nil {
			for _, j := range jobs {
				j.devices = exactMatches(found[strings.ToLower(j.email)], j.email)
				p.locks.push(j)
			}
			return
		}
		if ctx.Err() != nil {
			return
		}
		p.b.log.Warn("kandji inventory sweep failed; looking people up one by one", "people", len(jobs), "err", err)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(p.b.cfg.LockConcurrency)
	for _, j := range jobs {
		g.Go(func() error {
			p.b.metrics.Lookup("exact")
			devices, ok := p.b.devicesPatiently(gctx, j.email)
			if !ok {
				return nil // stopping: the event stays pending for a restart
			}
			j.devices = devices
			p.locks.push(j)
			return nil
		})
	}
	_ = g.Wait()
}

// sweep reads the whole inventory once and keeps the devices of the
// people in jobs, keyed by lower-case email.
func (p *pipeline) sweep(ctx context.Context, jobs []*autoJob) (map[string][]kandji.Device, error) {
	want := make(map[string]bool, len(jobs))
	for _, j := range jobs {
		want[strings.ToLower(j.email)] = true
	}
	found := make(map[string][]kandji.Device, len(jobs))
	seen := 0
	for d, err := range p.b.kandji.Inventory(ctx) {
		if err != nil {
			return nil, err
		}
		seen++
		if key := strings.ToLower(d.Email()); want[key] {
			found[key] = append(found[key], d)
		}
	}
	p.tenantDevices.Store(int64(seen))
	p.b.log.Debug("kandji inventory sweep", "people", len(jobs), "tenant_devices", seen)
	return found, nil
}

// exactMatches keeps the devices whose assigned email is exactly email,
// whatever the lookup that found them.
func exactMatches(ds []kandji.Device, email string) []kandji.Device {
	var out []kandji.Device
	for _, d := range ds {
		if strings.EqualFold(d.Email(), email) {
			out = append(out, d)
		}
	}
	return out
}

// lockWorker locks the devices of one looked-up person at a time. It stops
// taking people when stop ends, but finishes the person in hand on ctx.
func (p *pipeline) lockWorker(stop, ctx context.Context) error {
	for {
		jobs := p.locks.take(stop, 1)
		if len(jobs) == 0 {
			return nil
		}
		p.lockJob(kandji.WithPriority(ctx, kandji.Bulk), jobs[0])
	}
}

// lockJob records the automatic lock, locks every device and hands the
// outcome to the reporter.
func (p *pipeline) lockJob(ctx context.Context, j *autoJob) {
	b := p.b
	req, err := b.engine.OpenAutomatic(ctx, approvals.NewRequest{
		Target: j.email, Requester: oktaRequester, Reason: j.ev.Message,
		Origin:  approvals.Origin{Kind: "okta", EventType: j.ev.Type, EventID: j.ev.UUID, Actor: j.ev.Actor.AlternateID},
		Devices: toApprovalDevices(j.devices),
	})
	if err != nil {
		b.failRef("could not record an automatic lock; it will be retried after a restart", err, "event", j.ev.UUID)
		b.auto.forget(j.lk)
		p.release()
		return
	}
	b.metrics.RequestOpened("okta")
	results := b.lockDevices(ctx, req, j.devices, false)
	sum := summarize(results)
	outcome := fmt.Sprintf("%d of %d devices secured, %d failed", sum.Secured, sum.Total, sum.Failed)
	if len(j.devices) == 0 {
		outcome = "no device assigned in Kandji"
	}
	if done, err := b.engine.Finish(ctx, req.ID, sum.ok(), outcome); err == nil {
		req = done
	} else {
		b.failRef("could not record an automatic lock result", err, "lock", req.ID)
	}
	// Push before releasing, so the reporter never sees an empty pipeline
	// with this outcome in neither place.
	b.reports.push(&finished{job: j, req: req, results: results})
	p.release()
}
