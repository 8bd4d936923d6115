package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lockbot/lockbot/approvals/postgres"
	"github.com/lockbot/lockbot/approvals/postgres/postgrestest"
	"github.com/lockbot/lockbot/kandji/kandjitest"
	"github.com/lockbot/lockbot/okta"
	"github.com/lockbot/lockbot/okta/oktatest"
)

// leaseHolder returns the child that holds the lease name, once one does.
func leaseHolder(t *testing.T, url, name string, children ...*child) *child {
	t.Helper()
	s, err := postgres.Open(t.Context(), url, postgres.Options{})
	require.NoError(t, err)
	defer s.Close()
	var holder *child
	require.Eventually(t, func() bool {
		info, err := s.Describe(t.Context())
		if err != nil {
			return false
		}
		pids := map[string]int{}
		for _, r := range info.Replicas {
			pids[r.ID] = r.PID
		}
		for _, l := range info.Leases {
			if l.Name != name || !l.Held {
				continue
			}
			for _, c := range children {
				if c.cmd.Process.Pid == pids[l.Holder] {
					holder = c
					return true
				}
			}
		}
		return false
	}, 30*time.Second, 50*time.Millisecond, "nobody holds %s", name)
	return holder
}

// TestTwoReplicasOnPostgres runs two `lockbot serve` processes on one
// database, as a Kubernetes deployment of two does. Hooks land on either;
// the System Log catch-up runs on one; when that one is killed -9 the other
// takes the catch-up over, and nothing is locked twice.
func TestTwoReplicasOnPostgres(t *testing.T) {
	url := postgrestest.URL(t)
	w := crashWorld(t)
	w.tenant.AddDevices(kandjitest.Device{ID: "sam-mac", Name: "Sam's Mac", Platform: "Mac", Serial: "C02SAM00001", UserEmail: "sam@acme.example"},
		kandjitest.Device{ID: "kim-mac", Name: "Kim's Mac", Platform: "Mac", Serial: "C02KIM00001", UserEmail: "kim@acme.example"})
	org, polls := newFakeOkta(t)
	w.env["LOCKBOT_DATABASE_URL"] = url
	delete(w.env, "LOCKBOT_STATE_DIR")
	w.env["OKTA_ORG_URL"] = org.URL()
	w.env["OKTA_API_TOKEN"] = oktaToken
	w.env["LOCKBOT_CATCHUP_INTERVAL"] = "1s"
	a, b := startChild(t, w), startChild(t, w)
	a.ready()
	b.ready()

	// The event no hook delivered is recovered once, by the leader.
	require.Eventually(t, func() bool { return w.tenant.Locked("sam-mac") }, 30*time.Second, 20*time.Millisecond,
		"the missed event was not recovered:\nA:\n%s\nB:\n%s", a.logs.String(), b.logs.String())

	// Hooks on both replicas: each person is locked once.
	a.hook("ev-jane-a", "jane.doe@acme.example")
	b.hook("ev-jane-a", "jane.doe@acme.example") // Okta's retry, landing on the other replica
	waitSlack(t, w, shownIn(alerts), saying("jane.doe@acme.example"), saying("3 of 3 devices secured"))

	leader := leaseHolder(t, url, "okta-catchup", a, b)
	survivor := a
	if leader == a {
		survivor = b
	}
	leader.kill()
	kim := org.AddUser(oktatest.User{ID: "00ukim0000000001", Login: "kim@acme.example", Email: "kim@acme.example",
		FirstName: "Kim", LastName: "Lee", Status: oktatest.StatusSuspended})
	org.Log(oktatest.Event{UUID: "c0000000-0000-11ee-8000-00000000beef", Type: okta.EventSuspend,
		Published: time.Now(), Message: "Suspend Okta user", Target: kim})
	before := polls()
	require.Eventually(t, func() bool { return w.tenant.Locked("kim-mac") }, 60*time.Second, 50*time.Millisecond,
		"the survivor did not take the catch-up over:\n%s", survivor.logs.String())
	assert.Greater(t, polls(), before)
	assert.Same(t, survivor, leaseHolder(t, url, "okta-catchup", a, b))

	assertLockedOnce(t, w)
	for _, id := range []string{"sam-mac", "kim-mac"} {
		assert.Equal(t, 1, w.tenant.LockPosts(id), id)
	}

	var out strings.Builder
	code := run(context.Background(), []string{"check"}, w.getenv, &out, &out)
	assert.Contains(t, out.String(), "✓ Postgres database: Postgres ")
	assert.Regexp(t, `[12] replica\(s\) alive by their heartbeats, leads: `, out.String(), "the killed one until its heartbeat is old")
	assert.Contains(t, out.String(), "okta-catchup by ")
	assert.NotEqual(t, exitUsage, code, out.String())
	for _, s := range w.secrets() {
		assert.NotContains(t, survivor.logs.String(), s)
	}
	survivor.stop()
}
