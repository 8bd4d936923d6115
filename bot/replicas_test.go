package bot

import (
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lockbot/lockbot/approvals"
	"github.com/lockbot/lockbot/approvals/postgres/postgrestest"
	"github.com/lockbot/lockbot/bot/cards"
	"github.com/lockbot/lockbot/bot/slackfake"
	"github.com/lockbot/lockbot/kandji/kandjitest"
)

func TestMain(m *testing.M) { os.Exit(postgrestest.Main(m)) }

// onPostgres runs the bot on the database at url, as one of its replicas.
func onPostgres(url string) harnessOption {
	return func(h *harness, _ *Config, _ *Deps) {
		h.pgURL = url
		h.dir = ""
	}
}

// onTenant points the bot at another harness's Kandji tenant.
func onTenant(k *kandjitest.Server) harnessOption {
	return func(h *harness, _ *Config, d *Deps) {
		h.kandji = k
		d.Kandji = h.kandjiClient(1000)
	}
}

// newReplicas starts n bots on one new Postgres database, one Slack
// workspace (which hands each envelope to one of their connections at
// random, as Slack does) and one Kandji tenant.
func newReplicas(t testing.TB, n int, opts ...harnessOption) []*harness {
	t.Helper()
	url := postgrestest.URL(t)
	first := newHarness(t, append([]harnessOption{onPostgres(url)}, opts...)...)
	hs := []*harness{first}
	for range n - 1 {
		more := append([]harnessOption{onPostgres(url), onTenant(first.kandji)}, opts...)
		hs = append(hs, newHarnessWith(t, first.slack, more...))
	}
	return hs
}

// settledAll is settled for replicas: every event any of them admitted.
func settledAll(hs []*harness) {
	var events []string
	for _, h := range hs {
		events = append(events, h.events...)
	}
	hs[0].events = events
	hs[0].settledWithin(hang)
}

// TestReplicasShareRequestsAndClicks: requests opened through one replica
// are approved through whichever Slack hands the click to; each person is
// locked once and the approver gets one DM of PINs each time.
func TestReplicasShareRequestsAndClicks(t *testing.T) {
	hs := newReplicas(t, 2)
	h := hs[0]
	people := h.kandji.Populate(4, 1, "corp.com")
	for _, p := range people {
		h.command(alice, p)
		card := h.card(p)
		h.click(dave, card, cards.ActionApprove)
		h.waitFor(kind(slackfake.KindPost), in(h.slack.DMChannel(dave)), says("Unlock PINs"), says(p))
	}
	settledAll(hs)
	for email, ids := range h.deviceIDs(people) {
		for _, id := range ids {
			assert.Equal(t, 1, h.kandji.LockPosts(id), "%s: locked once", email)
		}
	}
	dms := 0
	for _, m := range h.slack.Messages() {
		if m.Kind == slackfake.KindPost && m.Channel == h.slack.DMChannel(dave) {
			dms++
		}
	}
	assert.Equal(t, len(people), dms, "one PIN DM per approval")
	handled := 0
	for _, r := range hs {
		if len(r.journal(approvals.Filter{Kinds: []approvals.Kind{approvals.KindApproved}})) > 0 {
			handled++
		}
	}
	assert.Equal(t, 2, handled, "every replica reads the one journal")
	h.assertPINsOnlyInDMs(dave)
}

// TestDoubleClickOnTwoReplicasLocksOnce: two approvers click Approve at
// the same moment, and each click may land on another replica; exactly
// one approval is recorded and every device is locked once.
func TestDoubleClickOnTwoReplicasLocksOnce(t *testing.T) {
	hs := newReplicas(t, 2)
	h := hs[0]
	h.command(alice, victim)
	card := h.card(victim)
	var wg sync.WaitGroup
	for _, u := range []string{dave, erin, dave} {
		wg.Go(func() {
			_, err := h.slack.Click(h.ctx(), u, card, cards.ActionApprove)
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	h.waitFor(kind(slackfake.KindUpdate), in(approval), says("3 of 3 devices secured"))
	settledAll(hs)
	assert.Equal(t, map[string]int{"dev-bob-mac": 1, "dev-bob-mini": 1, "dev-bob-phone": 1}, h.lockPosts())
	assert.Len(t, h.journal(approvals.Filter{Kinds: []approvals.Kind{approvals.KindApproved}}), 1, "one approval")
}

// TestReplicaStoppedMidBurstLocksEveryDeviceOnce: a replica dies with
// locks under way (its tasks are cut off, as a crash leaves them); the
// other takes them up, and every device ends locked exactly once.
func TestReplicaStoppedMidBurstLocksEveryDeviceOnce(t *testing.T) {
	hs := newReplicas(t, 2, func(h *harness, _ *Config, _ *Deps) { h.stopGrace = time.Millisecond })
	a, b := hs[0], hs[1]
	a.kandji.SetLatency(30 * time.Millisecond)
	people := a.kandji.Populate(20, 2, "corp.com")
	ids := a.deviceIDs(people)
	a.deliverSuspensions("burst-a", people[:10])
	b.deliverSuspensions("burst-b", people[10:])
	require.Eventually(t, func() bool { return a.totalLockPosts(ids) >= 5 }, 30*time.Second, time.Millisecond, "the burst started")
	a.stop()
	b.events = append(b.events, a.events...)
	b.settledWithin(hang)
	for email, devs := range ids {
		for _, id := range devs {
			answers := b.kandji.LockAnswers(id)
			assert.Equal(t, 1, answers.Accepted, "%s %s: one lock accepted (%+v)", email, id, answers)
			assert.True(t, b.kandji.Locked(id))
		}
	}
}

// TestReplicasSpendOneKandjiBudget: two replicas with a shared budget of
// 20 calls a second against a tenant that answers 429 to anything faster:
// a burst through both gets no 429 (each on its own bucket of 20 gets
// dozens).
func TestReplicasSpendOneKandjiBudget(t *testing.T) {
	hs := newReplicas(t, 2, func(h *harness, _ *Config, _ *Deps) { h.sharedRate = 20 })
	a, b := hs[0], hs[1]
	// Half a second of slack in the tenant's bucket: scheduling jitter
	// on a loaded machine bunches requests spaced exactly; two replicas
	// each spending the whole budget still overrun it many times over.
	a.kandji.SetRateCap(20, 30)
	people := a.kandji.Populate(40, 2, "corp.com")
	a.deliverSuspensions("budget-a", people[:20])
	b.deliverSuspensions("budget-b", people[20:])
	settledAll(hs)
	assert.Zero(t, a.kandji.Throttled(), "no 429: the replicas did not spend double")
	for email, devs := range a.deviceIDs(people) {
		for _, id := range devs {
			assert.True(t, a.kandji.Locked(id), "%s %s", email, id)
		}
	}
}
