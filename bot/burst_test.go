package bot

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lockbot/lockbot/approvals"
	"github.com/lockbot/lockbot/bot/cards"
	"github.com/lockbot/lockbot/bot/slackfake"
	"github.com/lockbot/lockbot/kandji/kandjitest"
)

func withConfig(f func(*Config)) harnessOption {
	return func(_ *harness, c *Config, _ *Deps) { f(c) }
}

// withKandjiRate gives the bot a Kandji client limited to perSecond calls,
// so a burst takes long enough to be watched.
func withKandjiRate(perSecond int) harnessOption {
	return func(h *harness, _ *Config, d *Deps) { d.Kandji = h.kandjiClient(perSecond) }
}

// deliverSuspensions sends one suspend event per email, 50 to a delivery
// as Okta batches them.
func (h *harness) deliverSuspensions(tag string, emails []string) {
	h.t.Helper()
	var evs []oktaEvent
	for i, e := range emails {
		evs = append(evs, suspend(fmt.Sprintf("%s-%d", tag, i), e))
		if len(evs) == 50 || i == len(emails)-1 {
			h.deliver(evs...)
			evs = nil
		}
	}
}

// deviceIDs reads the tenant's device IDs by email, straight from the fake.
func (h *harness) deviceIDs(emails []string) map[string][]string {
	h.t.Helper()
	kc := h.kandjiClient(1000)
	want := map[string]bool{}
	for _, e := range emails {
		want[e] = true
	}
	out := map[string][]string{}
	for d, err := range kc.Inventory(h.ctx()) {
		require.NoError(h.t, err)
		if want[d.Email()] {
			out[d.Email()] = append(out[d.Email()], d.ID)
		}
	}
	require.Len(h.t, out, len(emails), "every person has devices")
	return out
}

// listCalls counts the device-list calls the fake answered: those of
// per-person lookups (two each: the exact filter, then the substring one),
// and pages of inventory sweeps.
func (h *harness) listCalls() (exact, sweepPages int) {
	for _, r := range h.kandji.Requests() {
		if r.Method != "GET" || r.Path != "/api/v1/devices" {
			continue
		}
		q, err := url.ParseQuery(r.RawQuery)
		require.NoError(h.t, err)
		if q.Has("user_email_exact") || q.Has("user_email") {
			exact++
		} else {
			sweepPages++
		}
	}
	return exact, sweepPages
}

func (h *harness) totalLockPosts(ids map[string][]string) int {
	n := 0
	for _, devs := range ids {
		for _, id := range devs {
			n += h.kandji.LockPosts(id)
		}
	}
	return n
}

func TestBurstLooksUpBySweepAndASinglePersonExactly(t *testing.T) {
	// A sweep of the tenant costs 3 calls, one person's lookup 2.
	h := newHarness(t, withConfig(func(c *Config) { c.Flow.TenantDevices = 900 }))
	h.deliver(suspend("solo", victim))
	h.settled()
	exact, pages := h.listCalls()
	assert.Equal(t, 2, exact, "one person: one lookup, of two list calls")
	assert.Zero(t, pages, "one person: no sweep")

	// Kandji answers slowly, so people queue while the first is looked up.
	h.kandji.SetLatency(20 * time.Millisecond)
	people := h.kandji.Populate(24, 2, "corp.com")
	h.deliverSuspensions("burst", people)
	h.settled()

	exact, pages = h.listCalls()
	assert.Positive(t, pages, "a queue longer than a sweep's cost is looked up by sweeping")
	assert.Less(t, (exact-2)/2, 6, "most of the 24 people came from sweeps, not exact lookups (%d calls)", exact-2)
	h.kandji.SetLatency(0)
	for email, ids := range h.deviceIDs(people) {
		for _, id := range ids {
			assert.Equal(t, 1, h.kandji.LockPosts(id), "%s %s: locked once", email, id)
		}
	}
	for _, trap := range []string{"dev-xbob", "dev-evil", "dev-ipad", "dev-frank-mac"} {
		assert.Zero(t, h.kandji.LockPosts(trap), "%s is nobody's in this burst", trap)
	}
}

func TestInteractiveWorkJumpsTheBurstQueue(t *testing.T) {
	h := newHarness(t, withKandjiRate(40))
	people := h.kandji.Populate(30, 2, "corp.com")
	ids := h.deviceIDs(people)
	h.deliverSuspensions("burst", people)
	require.Eventually(t, func() bool { return h.totalLockPosts(ids) > 0 }, hang, 5*time.Millisecond, "the burst started")

	h.command(alice, "status "+victim)
	h.waitFor(kind(slackfake.KindResponseURL), says(victim), says("C02BOBMAC1"))
	during := h.totalLockPosts(ids)
	assert.Less(t, during, 60, "the status answer came while the burst was still locking (%d of 60 locks sent)", during)

	h.settled()
	assert.Equal(t, 60, h.totalLockPosts(ids), "the burst finished")
	assert.Zero(t, h.kandji.Throttled())
}

func TestBurstDigestEntersAndLeaves(t *testing.T) {
	h := newHarness(t, withConfig(func(c *Config) {
		c.ReportGap = 50 * time.Millisecond
		c.DigestAfter = 3
		c.DigestQuiet = 300 * time.Millisecond
	}))
	h.kandji.AddDevices(kandjitest.Device{ID: "dev-tv", Name: "Lobby <!here> TV", Platform: "AppleTV", Serial: "TVLOBBY001", UserEmail: "tv.owner@corp.com"})
	h.kandji.FailLocks(1_000_000, 503, 0)
	people := append(h.kandji.Populate(24, 1, "corp.com"), "tv.owner@corp.com")
	h.deliverSuspensions("burst", people)
	digest := h.waitFor(kind(slackfake.KindPost), in(notifyCh), says("Burst of automatic locks"))
	h.kandji.FailLocks(0, 0, 0)
	require.Eventually(t, func() bool { return strings.Contains(h.current(digest).AllText(), "finished") },
		hang, 10*time.Millisecond, "the digest closes when the burst is over:\n%s", h.dump())
	h.settled()
	final := h.current(digest)

	individual := 0
	for _, m := range h.slack.Messages() {
		if m.Kind == slackfake.KindPost && m.Channel == notifyCh && strings.Contains(m.AllText(), "automatically") {
			individual++
		}
	}
	var inDigest, queued, failed int
	_, err := fmt.Sscanf(final.Text, "Burst of automatic locks: %d people done, %d queued, %d not fully locked", &inDigest, &queued, &failed)
	require.NoError(t, err, final.Text)
	assert.Equal(t, len(people), individual+inDigest, "every person is in a report or in the digest")
	// How many got their own report before the digest began depends on
	// how fast this machine handles triggers against the writer's pace;
	// that the digest took more than its threshold does not.
	assert.Greater(t, inDigest, 3, "the digest stood for the people waiting when it began, and those after")
	assert.Zero(t, queued)
	assert.Zero(t, failed, "an Apple TV lockbot cannot lock is not a failure")
	assert.NotContains(t, final.AllText(), "<!here>", "device text stays escaped")

	// The digest offers every listed person's PINs with one click.
	menu := digestMenu(t, final)
	require.NotEmpty(t, menu)
	_, err = h.slack.ClickValue(h.ctx(), erin, final.Channel, final.TS, cards.ActionRevealPINs, menu[0])
	require.NoError(t, err)
	h.waitFor(kind(slackfake.KindPost), in(h.slack.DMChannel(erin)), says("Unlock PINs"))

	// Once the burst is over, a lone event gets its own report again.
	h.deliver(suspend("after", victim))
	h.waitFor(kind(slackfake.KindPost), in(notifyCh), says("automatically: "+victim))

	locked := map[string]bool{}
	for _, r := range h.journal(approvals.Filter{Kinds: []approvals.Kind{approvals.KindLockResult}}) {
		locked[r.Target] = true
	}
	for _, p := range people {
		assert.True(t, locked[p], "%s has a lock result in the journal", p)
	}
	h.assertPINsOnlyInDMs(erin)
}

// digestMenu returns the lock IDs a digest's PIN menu offers.
func digestMenu(t *testing.T, m slackfake.Message) []string {
	t.Helper()
	var blocks []struct {
		Elements []struct {
			ActionID string `json:"action_id"`
			Options  []struct {
				Value string `json:"value"`
			} `json:"options"`
		} `json:"elements"`
	}
	require.NoError(t, json.Unmarshal(m.Blocks, &blocks))
	var out []string
	for _, b := range blocks {
		for _, e := range b.Elements {
			if e.ActionID == cards.ActionRevealPINs {
				for _, o := range e.Options {
					out = append(out, o.Value)
				}
			}
		}
	}
	return out
}

// TestBurstKilledMidwayLocksEveryDeviceOnceAfterRestart: a stop that
// abandons the tasks under way, as a crash does, mid-burst; the restart
// finishes the burst with every device locked exactly once.
func TestBurstKilledMidwayLocksEveryDeviceOnceAfterRestart(t *testing.T) {
	h := newHarness(t, withKandjiRate(30), func(h *harness, _ *Config, _ *Deps) { h.stopGrace = time.Millisecond })
	people := h.kandji.Populate(30, 2, "corp.com")
	ids := h.deviceIDs(people)
	h.deliverSuspensions("burst", people)
	require.Eventually(t, func() bool { return h.totalLockPosts(ids) >= 10 }, hang, time.Millisecond)

	h.restart()
	before := h.totalLockPosts(ids)
	require.Less(t, before, 60, "the kill came mid-burst")
	h.settled()

	for email, devs := range ids {
		for _, id := range devs {
			assert.True(t, h.kandji.Locked(id), "%s %s is locked", email, id)
			assert.Equal(t, 1, h.kandji.LockAnswers(id).Accepted, "%s %s: locked once; a repeat is answered already locked", email, id)
		}
	}
	results := map[string]int{}
	for _, r := range h.journal(approvals.Filter{Kinds: []approvals.Kind{approvals.KindLockResult}}) {
		assert.True(t, approvals.Outcome(r.Details["outcome"]).Secured(), "%v", r.Details)
		results[r.Details["device_id"]]++
	}
	for _, devs := range ids {
		for _, id := range devs {
			assert.Equal(t, 1, results[id], "%s: one result in the journal", id)
		}
	}
}
