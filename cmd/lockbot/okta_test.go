package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lockbot/lockbot/bot/slackfake"
	"github.com/lockbot/lockbot/kandji/kandjitest"
)

const oktaToken = "00oktaTestToken-never-printed"

// newFakeOkta serves the two Okta endpoints lockbot reads: a user by id
// and the System Log, whose first page holds one suspend event that no
// hook delivered (lockbot was down) and whose next page is empty.
func newFakeOkta(t *testing.T) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var logPolls atomic.Int32
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "SSWS "+oktaToken {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = fmt.Fprint(w, `{"errorCode":"E0000011","errorSummary":"Invalid token provided"}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/api/v1/users/00usam0000000001" || r.URL.Path == "/api/v1/users/me":
			_, _ = fmt.Fprint(w, `{"id":"00usam0000000001","status":"SUSPENDED","profile":{"login":"sam@acme.example","email":"sam@acme.example","firstName":"Sam","lastName":"Smith"}}`)
		case r.URL.Path == "/api/v1/users/00utarget000000001":
			_, _ = fmt.Fprint(w, `{"id":"00utarget000000001","status":"SUSPENDED","profile":{"login":"jane.doe@acme.example","email":"jane.doe@acme.example","firstName":"Jane","lastName":"Doe"}}`)
		case r.URL.Path == "/api/v1/logs":
			logPolls.Add(1)
			w.Header().Add("Link", "<"+srv.URL+"/api/v1/logs?after=end&limit=100>; rel=\"next\"")
			if r.URL.Query().Get("after") != "" {
				_, _ = fmt.Fprint(w, `[]`)
				return
			}
			published := time.Now().Add(-10 * time.Minute).UTC().Format("2006-01-02T15:04:05.000Z")
			_, _ = fmt.Fprintf(w, `[{"uuid":"c0000000-0000-11ee-8000-00000000cafe","published":%q,"eventType":"user.lifecycle.suspend","version":"0","severity":"INFO","displayMessage":"Suspend Okta user",
				"actor":{"id":"00uadmin","type":"User","alternateId":"it.admin@acme.example","displayName":"IT Admin"},
				"client":{"ipAddress":"203.0.113.9"},
				"target":[{"id":"00usam0000000001","type":"User","alternateId":"sam@acme.example","displayName":"Sam Smith"}]}]`, published)
		default:
			w.WriteHeader(http.StatusNotFound)
			_, _ = fmt.Fprint(w, `{"errorCode":"E0000007","errorSummary":"Not found"}`)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &logPolls
}

// TestServeRecoversMissedOktaEvents: an event Okta never delivered (the
// bot was down) is found in the System Log at start-up and locked.
func TestServeRecoversMissedOktaEvents(t *testing.T) {
	w := newWorld(t)
	w.tenant.AddDevices(kandjitest.Device{ID: "sam-mac", Name: "Sam's Mac", Platform: "Mac", Serial: "C02SAM00001", UserEmail: "sam@acme.example"})
	okta, polls := newFakeOkta(t)
	w.env["OKTA_ORG_URL"] = okta.URL
	w.env["OKTA_API_TOKEN"] = oktaToken

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var stderr syncBuffer
	code := make(chan int, 1)
	go func() { code <- run(ctx, nil, w.getenv, &stderr, &stderr) }()
	base := listenAddr(t, &stderr)

	wctx, wcancel := context.WithTimeout(ctx, 15*time.Second)
	defer wcancel()
	report, err := w.slack.WaitMessage(wctx, func(m slackfake.Message) bool {
		return m.Channel == alerts && m.Kind == slackfake.KindPost && strings.Contains(m.AllText(), "sam@acme.example")
	})
	require.NoError(t, err, "the missed event was not recovered:\n%s", stderr.String())
	assert.Contains(t, report.AllText(), "C02SAM00001")
	require.Eventually(t, func() bool { return w.tenant.Locked("sam-mac") }, 10*time.Second, 10*time.Millisecond)
	assert.GreaterOrEqual(t, polls.Load(), int32(1))

	_, metrics := get(t, base+"/metrics")
	assert.Contains(t, metrics, "lockbot_catchup_recovered_total 1")

	cancel()
	require.Equal(t, exitOK, <-code, stderr.String())
	assert.NotContains(t, stderr.String(), oktaToken)
	assert.Equal(t, 1, w.tenant.LockPosts("sam-mac"))

	// A restart does not lock again: the event is remembered.
	ctx2, cancel2 := context.WithCancel(t.Context())
	var again syncBuffer
	go func() { code <- run(ctx2, nil, w.getenv, &again, &again) }()
	listenAddr(t, &again)
	require.Eventually(t, func() bool { return polls.Load() >= 3 }, 10*time.Second, 10*time.Millisecond, "the restart polls the System Log")
	cancel2()
	require.Equal(t, exitOK, <-code, again.String())
	assert.Equal(t, 1, w.tenant.LockPosts("sam-mac"), "a restart never re-locks a handled event")

	var checkOut strings.Builder
	assert.Equal(t, exitOK, run(t.Context(), []string{"check"}, w.getenv, &checkOut, &checkOut), checkOut.String())
	assert.Contains(t, checkOut.String(), "✓ Okta token reads users: token belongs to sam@acme.example")
	assert.Contains(t, checkOut.String(), "✓ Okta token reads the System Log")
}
