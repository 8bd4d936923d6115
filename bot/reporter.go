package bot

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/lockbot/lockbot/approvals"
)

// finished is the outcome of one automatic lock, on its way to Slack.
type finished struct {
	job     *autoJob
	req     approvals.Request
	results []deviceResult
}

// reporter posts automatic lock reports to the notify channel, at most one
// write (post or update) per Config.ReportGap, which is Slack's sustained
// limit of about one message per second per channel. When outcomes arrive
// faster than that, it switches to a burst digest: one message, kept up to
// date with chat.update, counting people done, queued and failed, and
// listing every failure. Once the burst has been over for
// Config.DigestQuiet, individual reports resume.
type reporter struct {
	b *Bot

	mu      sync.Mutex
	waiting []*finished
	closed  bool
	wake    chan struct{}

	digest *digest // owned by the run goroutine
}

// digest is the state of one burst digest message.
type digest struct {
	ts        string // "" until posted
	started   time.Time
	quietFrom time.Time // when the last outcome was absorbed
	people    int
	devices   int
	secured   int
	noDevice  int
	failures  []string
	dirty     bool
	toFinish  []string // events to mark done once the digest shows them
}

func newReporter(b *Bot) *reporter { return &reporter{b: b, wake: make(chan struct{}, 1)} }

func (r *reporter) push(f *finished) {
	r.mu.Lock()
	r.waiting = append(r.waiting, f)
	r.mu.Unlock()
	r.poke()
}

func (r *reporter) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// close tells run to post what is waiting and return.
func (r *reporter) close() {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.poke()
}

// run writes reports until close, or until ctx ends (the shutdown timeout):
// whatever was not written then stays pending in the inbox.
func (r *reporter) run(ctx context.Context) {
	gap := r.b.cfg.ReportGap
	tick := time.NewTicker(gap)
	defer tick.Stop()
	for {
		wrote := r.step(ctx)
		if r.isClosed() && r.idle() {
			return
		}
		if wrote {
			// Pace the channel: the next write comes a gap later at the
			// soonest, and whatever arrives meanwhile waits its turn.
			if !sleepCtx(ctx, gap) {
				return
			}
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		case <-tick.C: // a digest checks whether its burst is over
		}
	}
}

func (r *reporter) isClosed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}

// idle reports whether nothing is waiting and no digest is open.
func (r *reporter) idle() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.waiting) == 0 && r.digest == nil
}

// step makes at most one write and reports whether it wrote.
func (r *reporter) step(ctx context.Context) bool {
	r.mu.Lock()
	waiting, closed := len(r.waiting), r.closed
	r.mu.Unlock()

	if r.digest == nil {
		switch {
		case waiting == 0:
			return false
		case waiting < r.b.cfg.DigestAfter:
			r.postOne(ctx)
			return true
		}
		r.digest = &digest{started: r.b.now()}
		r.b.metrics.DigestActive(true)
		r.b.log.Info("automatic locks are arriving faster than Slack takes messages; posting a burst digest", "waiting", waiting)
	}
	d := r.digest
	r.mu.Lock()
	batch := r.waiting
	r.waiting = nil
	r.mu.Unlock()
	for _, f := range batch {
		r.absorb(f)
	}
	// After close the lock workers are gone: what is still queued stays
	// pending in the inbox for the next start, so the digest closes now.
	over := len(batch) == 0 &&
		(closed || (r.b.pipe.queued() == 0 && r.b.now().Sub(d.quietFrom) >= r.b.cfg.DigestQuiet))
	if !d.dirty && !over {
		return false
	}
	r.writeDigest(ctx, over)
	if over {
		r.b.log.Info("burst over; individual lock reports resume", "people", d.people, "failed", len(d.failures))
		r.digest = nil
		r.b.metrics.DigestActive(false)
	}
	return true
}

// postOne posts the oldest waiting outcome as its own report.
func (r *reporter) postOne(ctx context.Context) {
	r.mu.Lock()
	f := r.waiting[0]
	r.waiting = r.waiting[1:]
	r.mu.Unlock()
	r.b.postReport(ctx, f)
}

// absorb counts f into the digest. Later events for the same person join
// the digest too (see Bot.coalesce).
func (r *reporter) absorb(f *finished) {
	d := r.digest
	sum := summarize(f.results)
	d.people++
	d.devices += sum.Total
	d.secured += sum.Secured
	d.quietFrom = r.b.now()
	d.dirty = true
	switch {
	case len(f.results) == 0:
		d.noDevice++
	case sum.Failed > 0:
		d.failures = append(d.failures, failureLine(f.job.email, f.req.ID, f.results, sum))
	}
	lk := f.job.lk
	lk.mu.Lock()
	lk.inDigest = true
	d.toFinish = append(d.toFinish, lk.waiting...)
	lk.waiting = nil
	lk.mu.Unlock()
	d.toFinish = append(d.toFinish, f.job.ev.UUID)
}

// writeDigest posts or updates the digest; the events it now accounts for
// are done once Slack has it.
func (r *reporter) writeDigest(ctx context.Context, over bool) {
	d := r.digest
	view := digestView{
		Started: d.started, People: d.people, Devices: d.devices, Secured: d.secured, NoDevice: d.noDevice,
		Failures: d.failures, Queued: r.b.pipe.queued(), Over: over, Command: r.b.cfg.Command,
	}
	m := burstDigest(view, r.b.cfg.DryRun)
	var err error
	if d.ts == "" {
		d.ts, err = r.b.slack.post(ctx, r.b.cfg.NotifyChannel, m)
	} else {
		err = r.b.slack.update(ctx, r.b.cfg.NotifyChannel, d.ts, m)
	}
	if err != nil {
		// The outcomes stay counted and their events pending: the next
		// write carries them, or a restart redoes them.
		r.b.failRef("could not write the burst digest", err, "people", d.people)
		return
	}
	d.dirty = false
	r.b.done(d.toFinish...)
	d.toFinish = nil
}

// failureLine describes a person whose lock did not secure every device.
func failureLine(email, lockID string, results []deviceResult, sum lockSummary) string {
	why := ""
	for _, res := range results {
		if res.Outcome == outcomeFailed {
			why = res.Detail
			break
		}
	}
	return fmt.Sprintf("*%s* — %d of %d device%s failed: %s (lock `%s`)", mrkdwn(email), sum.Failed, sum.Total, plural(sum.Total), mrkdwn(clip(why, 160)), lockID)
}

// postReport posts f's individual lock report; the events behind it are
// done once it is out.
func (b *Bot) postReport(ctx context.Context, f *finished) {
	j, lk, req := f.job, f.job.lk, f.req
	p := b.person(ctx, j.email)
	if p.Name == "" {
		p.Name = j.ev.Name
	}
	lk.mu.Lock()
	lk.render = func(ts []trigger) message { return autoReport(req, p, ts, f.results, b.cfg.DryRun) }
	triggers := slices.Clone(lk.triggers)
	lk.mu.Unlock()
	ts, err := b.slack.post(ctx, b.cfg.NotifyChannel, lk.render(triggers))
	if err != nil {
		b.failRef("could not post an automatic lock report; the event stays pending and is reported after a restart", err, "lock", req.ID)
		b.auto.forget(lk)
		return
	}
	if _, err := b.engine.SetCard(ctx, req.ID, approvals.Card{Channel: b.cfg.NotifyChannel, TS: ts}); err != nil {
		b.log.Warn("could not remember where a lock report is", "lock", req.ID, "err", err)
	}
	lk.mu.Lock()
	lk.posted, lk.report = true, approvals.Card{Channel: b.cfg.NotifyChannel, TS: ts}
	waiting := lk.waiting
	lk.waiting = nil
	if len(lk.triggers) != len(triggers) {
		b.refreshReport(ctx, lk)
	}
	lk.mu.Unlock()
	b.done(append(waiting, j.ev.UUID)...)
}
