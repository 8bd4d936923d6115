package bot

import (
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lockbot/lockbot/approvals"
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

// deviceIDs reads the tenant's device IDs by email, straight from the fake
// (after the test has looked at the fake's request log).
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

// listCalls counts the device-list calls the fake answered: exact
// per-person lookups, and pages of inventory sweeps.
func (h *harness) listCalls() (exact, sweepPages int) {
	for _, r := range h.kandji.Requests() {
		if r.Method != "GET" || r.Path != "/api/v1/devices" {
			continue
		}
		q, err := url.ParseQuery(r.RawQuery)
		require.NoError(h.t, err)
		if q.Has("user_email_exact") {
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
	h := newHarness(t, withConfig(func(c *Config) { c.TenantDevices = 250 })) // a sweep costs 1 call
	h.deliver(suspend("solo", victim))
	h.waitInboxEmpty()
	exact, pages := h.listCalls()
	assert.Equal(t, 1, exact, "one person: one exact lookup")
	assert.Zero(t, pages, "one person: no sweep")

	// Kandji answers slowly, so people queue while the first is looked up.
	h.kandji.SetLatency(20 * time.Millisecond)
	people := h.kandji.Populate(40, 2, "corp.com")
	h.deliverSuspensions("burst", people)
	h.waitInboxEmpty()

	exact, pages = h.listCalls()
	assert.Positive(t, pages, "a queue longer than a sweep's cost is looked up by sweeping")
	assert.Less(t, exact-1, 10, "most of the 40 people came from sweeps, not exact lookups (%d exact)", exact-1)
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
	start := len(h.kandji.Requests())
	h.deliverSuspensions("burst", people)
	require.Eventually(t, func() bool { return h.totalLockPosts(ids) > 0 }, 10*time.Second, 5*time.Millisecond, "the burst started")

	h.command(alice, "status "+victim)
	h.waitFor(kind(slackfake.KindResponseURL), says(victim), says("C02BOBMAC1"))
	during := h.totalLockPosts(ids)
	assert.Less(t, during, 60, "the status answer came while the burst was still locking (%d of 60 locks sent)", during)

	h.waitInboxEmpty()
	assert.Equal(t, 60, h.totalLockPosts(ids), "the burst finished")
	assert.Zero(t, h.kandji.Throttled())
	assert.Positive(t, len(h.kandji.Requests())-start)
}

func TestBurstDigestEntersAndLeaves(t *testing.T) {
	h := newHarness(t, withConfig(func(c *Config) {
		c.ReportGap = 50 * time.Millisecond
		c.DigestAfter = 3
		c.DigestQuiet = 300 * time.Millisecond
	}))
	h.kandji.AddDevices(kandjitest.Device{ID: "dev-tv", Name: "Lobby <!here> TV", Platform: "AppleTV", Serial: "TVLOBBY001", UserEmail: "tv.owner@corp.com"})
	people := append(h.kandji.Populate(24, 1, "corp.com"), "tv.owner@corp.com")
	h.deliverSuspensions("burst", people)

	digest := h.waitFor(kind(slackfake.KindPost), in(notifyCh), says("Burst of automatic locks"))
	require.Eventually(t, func() bool {
		return strings.Contains(h.current(digest).Text, "finished") || strings.Contains(h.current(digest).AllText(), "finished")
	},
		15*time.Second, 10*time.Millisecond, "the digest closes when the burst is over:\n%s", h.dump())
	h.waitInboxEmpty()
	final := h.current(digest)
	t.Log(final.AllText())

	individual := 0
	for _, m := range h.slack.Messages() {
		if m.Kind == slackfake.KindPost && m.Channel == notifyCh && strings.Contains(m.AllText(), "Locked automatically") {
			individual++
		}
	}
	var inDigest, queued, failed int
	_, err := fmt.Sscanf(final.Text, "Burst of automatic locks: %d people done, %d queued, %d with failures", &inDigest, &queued, &failed)
	require.NoError(t, err, final.Text)
	assert.Equal(t, len(people), individual+inDigest, "every person is in a report or in the digest")
	assert.Less(t, individual, len(people)/2, "most people were reported in the digest")
	assert.Zero(t, queued)
	assert.Equal(t, 1, failed)
	assert.Contains(t, final.AllText(), "tv.owner@corp.com", "failures are listed")
	assert.NotContains(t, final.AllText(), "<!here>", "device text stays escaped")

	// Once the burst is over, a lone event gets its own report again.
	h.deliver(suspend("after", victim))
	h.waitFor(kind(slackfake.KindPost), in(notifyCh), says("Locked automatically: "+victim))

	locked := map[string]bool{}
	for _, r := range h.journalRecords() {
		if r.Kind == approvals.KindLockResult {
			locked[r.Target] = true
		}
	}
	for _, p := range people {
		assert.True(t, locked[p], "%s has a lock result in the journal", p)
	}
	h.assertPINsOnlyInDMs()
}

func TestBurstKilledMidwayLocksEveryDeviceOnceAfterRestart(t *testing.T) {
	h := newHarness(t, withKandjiRate(30), withConfig(func(c *Config) {
		c.ShutdownTimeout = time.Millisecond // a stop that abandons work, as a crash does
	}))
	people := h.kandji.Populate(30, 2, "corp.com")
	ids := h.deviceIDs(people)
	h.deliverSuspensions("burst", people)
	require.Eventually(t, func() bool { return h.totalLockPosts(ids) >= 10 }, 10*time.Second, time.Millisecond)

	h.restart()
	before := h.totalLockPosts(ids)
	require.Less(t, before, 60, "the kill came mid-burst")
	require.Positive(t, h.inbox.Len(), "the events the kill interrupted are pending again")
	h.waitInboxEmpty()

	for email, devs := range ids {
		for _, id := range devs {
			assert.True(t, h.kandji.Locked(id), "%s %s is locked", email, id)
			assert.LessOrEqual(t, h.kandji.LockPosts(id), 2, "%s %s: at most the lock and one 'already locked' answer", email, id)
		}
	}
	fresh := map[string]int{}
	secured := map[string]bool{}
	for _, r := range h.journalRecords() {
		if r.Kind != approvals.KindLockResult {
			continue
		}
		if r.Details["outcome"] == string(outcomeLocked) {
			fresh[r.Details["device_id"]]++
		}
		if r.Details["outcome"] == string(outcomeLocked) || r.Details["outcome"] == string(outcomeAlreadyLocked) {
			secured[r.Details["device_id"]] = true
		}
	}
	for _, devs := range ids {
		for _, id := range devs {
			assert.True(t, secured[id], "%s: the journal shows it secured", id)
			assert.LessOrEqual(t, fresh[id], 1, "%s: locked once", id)
		}
	}
}

// peakQueue records the most people the pipeline ever held.
type peakQueue struct {
	noMetrics
	mu   sync.Mutex
	peak int
}

func (p *peakQueue) Queued(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.peak = max(p.peak, n)
}

func TestBurstHoldsAtMostMaxQueuedPeopleInMemory(t *testing.T) {
	m := &peakQueue{}
	h := newHarness(t, withKandjiRate(100), func(_ *harness, c *Config, d *Deps) {
		c.MaxQueued = 3
		d.Metrics = m
	})
	people := h.kandji.Populate(20, 1, "corp.com")
	ids := h.deviceIDs(people)
	h.deliverSuspensions("burst", people)
	h.waitInboxEmpty()
	assert.Equal(t, 20, h.totalLockPosts(ids), "everyone is locked, the rest waiting in the inbox meanwhile")
	m.mu.Lock()
	defer m.mu.Unlock()
	assert.Equal(t, 3, m.peak, "the pipeline filled up to its bound and no further")
}
