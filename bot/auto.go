package bot

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/lockbot/lockbot/approvals"
	"github.com/lockbot/lockbot/kandji"
	"github.com/lockbot/lockbot/okta"
)

// route is what an Okta event type is configured to do.
type route string

const (
	routeIgnore  route = "ignore"
	routeLock    route = "lock"
	routeApprove route = "approve"
)

func (b *Bot) routeFor(eventType string) route {
	switch {
	case slices.Contains(b.cfg.AutoLockEvents, eventType):
		return routeLock
	case slices.Contains(b.cfg.ApproveEvents, eventType):
		return routeApprove
	}
	return routeIgnore
}

// oktaRequester is the requester recorded for requests and locks that an
// Okta event opened. It is not a Slack ID, so no person can be "the
// requester" of such a request and every approver may decide it.
const oktaRequester = "okta"

// autoWorker takes accepted events one at a time. The number of workers is
// fixed, so a burst queues in the durable inbox instead of spawning a
// goroutine per event.
func (b *Bot) autoWorker(ctx context.Context) error {
	for {
		ev, err := b.events.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			b.log.Error("reading the okta event inbox failed", "err", err)
			if !sleepCtx(ctx, time.Second) {
				return nil
			}
			continue
		}
		b.handleEvent(b.workCtx, ev)
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// done marks events handled in the inbox; until then a restart hands
// them out again.
func (b *Bot) done(uuids ...string) {
	for _, id := range uuids {
		if err := b.events.Done(id); err != nil {
			b.log.Error("could not mark an okta event done; it will be handled again after a restart", "event", id, "err", err)
		}
	}
}

func triggerOf(ev okta.Event) trigger {
	return trigger{
		EventType: ev.Type, EventID: ev.UUID, Actor: ev.Actor.AlternateID, ActorName: ev.Actor.DisplayName,
		At: ev.Published, ClientIP: ev.ClientIP, Source: string(ev.Source),
	}
}

// handleEvent routes one accepted Okta event. It returns once the event
// is done with, or has been left pending for a restart to retry.
func (b *Bot) handleEvent(ctx context.Context, ev okta.Event) {
	r := b.routeFor(ev.Type)
	b.metrics.EventHandled(string(r))
	b.record(approvals.Record{
		Kind: approvals.KindEvent, ID: ev.UUID, Actor: ev.Actor.AlternateID, Target: ev.Login,
		Details: map[string]string{"type": ev.Type, "source": string(ev.Source), "route": string(r), "published": ev.Published.UTC().Format(time.RFC3339)},
	})
	if r == routeIgnore {
		b.done(ev.UUID)
		return
	}
	email, ok := b.eventEmail(ctx, &ev)
	if !ok {
		b.done(ev.UUID)
		return
	}
	switch r {
	case routeApprove:
		b.openFromEvent(ctx, ev, email)
	case routeLock:
		b.autoLock(ctx, ev, email)
	}
}

// eventEmail finds the email to lock for ev: Okta's profile email when the
// directory is configured, else the login when it is an email. Events that
// cannot be mapped, or map outside the allowed domains, are reported in
// the notify channel rather than dropped silently.
func (b *Bot) eventEmail(ctx context.Context, ev *okta.Event) (string, bool) {
	if b.dir != nil {
		if err := b.dir.Enrich(ctx, ev); err != nil {
			b.log.Warn("okta user lookup failed; using the event's login", "event", ev.UUID, "user", ev.UserID, "err", err)
		}
	}
	candidate := ev.Email
	if candidate == "" {
		candidate = ev.Login
	}
	email, err := parseEmail(candidate)
	if err != nil {
		ref := b.failRef("okta event has no usable email", err, "event", ev.UUID, "login", ev.Login)
		b.notify(ctx, notice(fmt.Sprintf("⚠️ Okta event `%s` for *%s* could not be matched to an email address, so nothing was locked. (ref `%s`)", mrkdwn(ev.Type), mrkdwn(orDash(ev.Login)), ref)))
		return "", false
	}
	if !domainAllowed(email, b.cfg.AllowedDomains) {
		b.record(approvals.Record{Kind: approvals.KindRefused, ID: ev.UUID, Actor: oktaRequester, Target: email, Details: map[string]string{"reason": "domain_not_allowed", "type": ev.Type}})
		b.notify(ctx, notice(fmt.Sprintf("Okta event `%s` for *%s* was ignored: the domain is not in LOCKBOT_ALLOWED_DOMAINS.", mrkdwn(ev.Type), mrkdwn(email))))
		return "", false
	}
	return email, true
}

// notify posts a short notice to the notify channel.
func (b *Bot) notify(ctx context.Context, m message) {
	if _, err := b.slack.post(ctx, b.cfg.NotifyChannel, m); err != nil {
		b.log.Error("could not post a notice to the notify channel", "err", err)
	}
}

// openFromEvent opens an approval request for an event type configured in
// LOCKBOT_APPROVE_EVENTS.
func (b *Bot) openFromEvent(ctx context.Context, ev okta.Event, email string) {
	// Nobody is waiting on this lookup yet: it yields to interactive calls.
	devices, ok := b.devicesPatiently(kandji.WithPriority(ctx, kandji.Bulk), email)
	if !ok {
		return // left pending: a restart retries it
	}
	if len(devices) == 0 {
		b.notify(ctx, notice(fmt.Sprintf("Okta event `%s` for *%s*: no device is assigned in Kandji, so no lock request was opened.", mrkdwn(ev.Type), mrkdwn(email))))
		b.done(ev.UUID)
		return
	}
	p := b.person(ctx, email)
	_, err := b.openRequest(ctx, approvals.NewRequest{
		Target: email, Requester: oktaRequester, Reason: ev.Message,
		Origin:  approvals.Origin{Kind: "okta", EventType: ev.Type, EventID: ev.UUID, Actor: ev.Actor.AlternateID},
		Devices: toApprovalDevices(devices),
	}, p)
	if err != nil {
		b.failRef("could not open a request for an okta event; it will be retried after a restart", err, "event", ev.UUID)
		return
	}
	b.done(ev.UUID)
}

// devicesPatiently looks devices up, retrying through a Kandji outage
// with capped backoff until it answers or the bot stops. An event is never
// marked done without its lock, so a stop here loses nothing.
func (b *Bot) devicesPatiently(ctx context.Context, email string) ([]kandji.Device, bool) {
	wait := 5 * time.Second
	for attempt := 1; ; attempt++ {
		ds, err := b.devicesOf(ctx, email)
		if err == nil {
			return ds, true
		}
		if attempt == 2 {
			ref := b.failRef("kandji unreachable for an automatic lock; still retrying", err, "target", email)
			b.notify(ctx, notice(fmt.Sprintf("⚠️ Kandji cannot be reached to lock the devices of *%s*. lockbot keeps retrying and will report here when it is done. (ref `%s`)", mrkdwn(email), ref)))
		}
		if !sleepCtx(ctx, wait) {
			return nil, false
		}
		wait = min(wait*2, 5*time.Minute)
	}
}

// autoLocks coalesces events for one person: the first event locks at
// once, and events for the same email within the window join its report
// instead of locking again.
type autoLocks struct {
	mu        sync.Mutex
	window    time.Duration
	byEmail   map[string]*autoLock
	lastPrune time.Time
}

// autoLock is one automatic lock and the report that describes it.
type autoLock struct {
	email   string
	started time.Time

	mu       sync.Mutex
	triggers []trigger
	waiting  []string // events to mark done once the report is out
	posted   bool
	inDigest bool // reported in a burst digest instead of its own report
	render   func([]trigger) message
	report   approvals.Card
}

func newAutoLocks(window time.Duration) *autoLocks {
	return &autoLocks{window: window, byEmail: make(map[string]*autoLock)}
}

// join returns the lock an event for email belongs to, and whether the
// caller created it (and so must run it).
func (a *autoLocks) join(email string, t trigger, now time.Time) (*autoLock, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if lk, ok := a.byEmail[email]; ok && now.Sub(lk.started) < a.window {
		return lk, false
	}
	if now.Sub(a.lastPrune) > a.window {
		for k, lk := range a.byEmail {
			if now.Sub(lk.started) >= a.window {
				delete(a.byEmail, k)
			}
		}
		a.lastPrune = now
	}
	lk := &autoLock{email: email, started: now, triggers: []trigger{t}}
	a.byEmail[email] = lk
	return lk, true
}

// forget drops lk from the coalescing window after it failed, so the next
// event for that person locks afresh instead of waiting on a report that
// will not come. Events already waiting on lk stay pending in the inbox
// and are handled again at the next start.
func (a *autoLocks) forget(lk *autoLock) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.byEmail[lk.email] == lk {
		delete(a.byEmail, lk.email)
	}
}

// autoLock queues the lock of every device of email for ev, or adds ev to
// the lock already queued or done for that person.
func (b *Bot) autoLock(ctx context.Context, ev okta.Event, email string) {
	lk, first := b.auto.join(email, triggerOf(ev), b.now())
	if !first {
		b.coalesce(ctx, lk, ev)
		return
	}
	b.pipe.admit(ctx, &autoJob{ev: ev, email: email, lk: lk})
}

// coalesce adds ev's trigger to a lock that is running or just ran.
func (b *Bot) coalesce(ctx context.Context, lk *autoLock, ev okta.Event) {
	b.metrics.EventHandled("coalesced")
	lk.mu.Lock()
	defer lk.mu.Unlock()
	lk.triggers = append(lk.triggers, triggerOf(ev))
	switch {
	case lk.inDigest:
		// The burst digest counts people, and this person is in it.
		b.done(ev.UUID)
	case lk.posted:
		b.refreshReport(ctx, lk)
		b.done(ev.UUID)
	default:
		lk.waiting = append(lk.waiting, ev.UUID)
	}
}

// refreshReport re-renders a posted report with every trigger; callers
// hold lk.mu so updates cannot overtake each other.
func (b *Bot) refreshReport(ctx context.Context, lk *autoLock) {
	if err := b.slack.update(ctx, lk.report.Channel, lk.report.TS, lk.render(lk.triggers)); err != nil {
		b.log.Error("could not add a trigger to a lock report", "target", lk.email, "err", err)
	}
}

// onReveal sends the unlock PINs of an automatic lock to the approver who
// clicked, read fresh from Kandji, and notes it in the report's thread.
func (b *Bot) onReveal(ctx context.Context, cb slack.InteractionCallback, lockID string) {
	ok, err := b.access.isApprover(ctx, cb.User.ID)
	if err != nil {
		ref := b.failRef("could not check approver", err, "user", cb.User.ID)
		b.tell(ctx, cb, notice(fmt.Sprintf("⚠️ Slack did not answer when lockbot checked your permissions, so nothing was sent. (ref `%s`)", ref)))
		return
	}
	if !ok {
		b.record(approvals.Record{Kind: approvals.KindRefused, ID: lockID, Actor: cb.User.ID, Details: map[string]string{"reason": "not_approver", "action": actionRevealPINs}})
		b.tell(ctx, cb, notice("🚫 Only approvers can receive unlock PINs. "+b.access.approverHint()))
		return
	}
	req, err := b.engine.Get(ctx, lockID)
	if err != nil {
		b.tell(ctx, cb, notice("This lock is no longer on record, so its PINs cannot be sent. An approver can use `"+b.cfg.Command+" pins user@corp.com`."))
		return
	}
	results := b.freshPINs(ctx, req.Devices)
	n := countPINs(results)
	if n == 0 {
		b.tell(ctx, cb, notice("Kandji has no unlock PIN for these devices (only locked Macs have one)."))
		return
	}
	if err := b.sendPINs(ctx, cb.User.ID, req.ID, req.Target, results); err != nil {
		ref := b.failRef("PIN DM failed", err, "user", cb.User.ID, "lock", lockID)
		b.tell(ctx, cb, notice(fmt.Sprintf("⚠️ The DM with the PINs could not be sent. (ref `%s`)", ref)))
		return
	}
	thread := cb.Container.MessageTs
	if _, err := b.slack.post(ctx, cb.Container.ChannelID, notice(fmt.Sprintf("🔑 Unlock PINs sent to %s by DM.", mention(cb.User.ID))), slack.MsgOptionTS(thread)); err != nil {
		b.log.Warn("could not note a PIN reveal in the report thread", "lock", lockID, "err", err)
	}
	b.tell(ctx, cb, notice(fmt.Sprintf("🔑 Sent you %d unlock PIN%s by DM.", n, plural(n))))
}
