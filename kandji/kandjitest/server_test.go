package kandjitest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lockbot/lockbot/kandji/kandjitest"
)

// answer is one raw response of the fake.
type answer struct {
	Status int
	Header http.Header
	Body   string
}

// call sends a raw request to the fake, with its token unless token says otherwise.
func call(t *testing.T, s *kandjitest.Server, method, path, body string, token ...string) answer {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, s.URL()+path, r)
	require.NoError(t, err)
	tok := s.Token()
	if len(token) > 0 {
		tok = token[0]
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return answer{res.StatusCode, res.Header, string(b)}
}

// listIDs lists the device IDs of a GET /api/v1/devices answer.
func listIDs(t *testing.T, a answer) []string {
	t.Helper()
	require.Equal(t, http.StatusOK, a.Status, a.Body)
	var page []struct {
		DeviceID string `json:"device_id"`
	}
	require.NoError(t, json.Unmarshal([]byte(a.Body), &page))
	ids := []string{}
	for _, d := range page {
		ids = append(ids, d.DeviceID)
	}
	return ids
}

func newServer(t *testing.T, opts ...kandjitest.Option) *kandjitest.Server {
	t.Helper()
	s := kandjitest.NewServer(opts...)
	t.Cleanup(s.Close)
	return s
}

// traps are alice's devices among users whose emails contain or extend hers.
func traps() []kandjitest.Device {
	return []kandjitest.Device{
		{ID: "alice-mac", Serial: "A1", Platform: "Mac", UserEmail: "alice@corp.com", UserName: "Alice"},
		{ID: "alice-phone", Serial: "A2", Platform: "iPhone", UserEmail: "ALICE@corp.com"},
		{ID: "xalice-mac", Serial: "A3", Platform: "Mac", UserEmail: "xalice@corp.com"},
		{ID: "evil-mac", Serial: "A4", Platform: "Mac", UserEmail: "alice@corp.com.evil"},
		{ID: "shared-ipad", Serial: "A5", Platform: "iPad"},
		{ID: "tv", Serial: "A6", Platform: "AppleTV", UserEmail: "bob@corp.com"},
	}
}

func TestAuth(t *testing.T) {
	s := newServer(t, kandjitest.WithToken("t-123"))
	assert.Equal(t, "t-123", s.Token())
	tests := []struct {
		name, token string
		want        int
	}{
		{"right token", "t-123", 200},
		{"wrong token", "t-124", 401},
		{"no token", "", 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := call(t, s, "GET", "/api/v1/devices?limit=300", "", tt.token)
			assert.Equal(t, tt.want, a.Status)
			if tt.want == 401 {
				assert.JSONEq(t, `{"detail": "Invalid access token."}`, a.Body)
			}
		})
	}
	assert.Equal(t, kandjitest.DefaultToken, newServer(t).Token())
}

func TestListFilters(t *testing.T) {
	s := newServer(t, kandjitest.WithDevices(traps()...))
	tests := []struct {
		query string
		want  []string
	}{
		{"", []string{"alice-mac", "alice-phone", "xalice-mac", "evil-mac", "shared-ipad", "tv"}},
		{"user_email=alice", []string{"alice-mac", "alice-phone", "xalice-mac", "evil-mac"}},
		{"user_email=ALICE%40corp.com", []string{"alice-mac", "alice-phone", "xalice-mac", "evil-mac"}},
		{"user_email=%20alice%40corp.com", []string{}},
		{"user_email_exact=alice%40corp.com", []string{"alice-mac"}},
		{"user_email_exact=ALICE%40corp.com", []string{"alice-phone"}},
		{"user_email_exact=alice%40CORP.com", []string{}},
		{"user_email_exact=%20alice%40corp.com", []string{}},
		{"user_email_exact=xalice%40corp.com", []string{"xalice-mac"}},
		{"user_email_exact=alice", []string{}},
		{"user_email_exact=", []string{"alice-mac", "alice-phone", "xalice-mac", "evil-mac", "shared-ipad", "tv"}},
		{"user_email_exact=ALICE%40corp.com&user_email=alice%40", []string{"alice-phone"}},
		{"ordering=-serial_number&limit=2", []string{"tv", "shared-ipad"}},
		{"limit=2&offset=1", []string{"alice-phone", "xalice-mac"}},
		{"offset=5", []string{"tv"}},
		{"offset=50", []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			q := tt.query
			if !strings.Contains(q, "limit=") {
				q = "limit=300&" + q
			}
			assert.Equal(t, tt.want, listIDs(t, call(t, s, "GET", "/api/v1/devices?"+q, "")))
		})
	}
}

// TestListEmailsStoredRaw assigns devices to emails with odd spaces, case and look-alike
// characters: user_email_exact matches only the stored bytes, user_email folds ASCII case only.
func TestListEmailsStoredRaw(t *testing.T) {
	s := newServer(t, kandjitest.WithDevices(
		kandjitest.Device{ID: "bob", Serial: "B1", UserEmail: "bob@corp.com"},
		kandjitest.Device{ID: "kate", Serial: "K1", UserEmail: "kate@corp.com"},
		kandjitest.Device{ID: "kelvin", Serial: "K2", UserEmail: "\u212Aate@corp.com"},
	))
	require.True(t, s.SetUserEmail("bob", " Bob@Corp.com "))
	assert.False(t, s.SetUserEmail("nope", "x@corp.com"))
	tests := []struct {
		query string
		want  []string
	}{
		{"user_email_exact=bob%40corp.com", []string{}},
		{"user_email_exact=Bob%40Corp.com", []string{}},
		{"user_email_exact=%20Bob%40Corp.com%20", []string{"bob"}},
		{"user_email=bob%40corp.com", []string{"bob"}},
		{"user_email=KATE%40corp.com", []string{"kate"}},
		{"user_email_exact=kate%40corp.com", []string{"kate"}},
		{"user_email=%E2%84%AAate", []string{"kelvin"}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			assert.Equal(t, tt.want, listIDs(t, call(t, s, "GET", "/api/v1/devices?limit=300&"+tt.query, "")))
		})
	}
	var d struct{ User struct{ Email string } }
	require.NoError(t, json.Unmarshal([]byte(call(t, s, "GET", "/api/v1/devices/bob", "").Body), &d))
	assert.Equal(t, " Bob@Corp.com ", d.User.Email, "served as stored")
	require.True(t, s.SetUserEmail("bob", ""))
	assert.JSONEq(t, `""`, string(mustField(t, call(t, s, "GET", "/api/v1/devices/bob", "").Body, "user")), "unassigned")
}

// mustField returns the raw JSON of one member of an object.
func mustField(t *testing.T, body, key string) json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(body), &m))
	return m[key]
}

func TestListLimits(t *testing.T) {
	s := newServer(t)
	s.Populate(200, 2, "corp.com")
	assert.Len(t, listIDs(t, call(t, s, "GET", "/api/v1/devices?limit=300", "")), 300)
	assert.Len(t, listIDs(t, call(t, s, "GET", "/api/v1/devices?limit=300&offset=300", "")), 100)
	assert.Len(t, listIDs(t, call(t, s, "GET", "/api/v1/devices?limit=1", "")), 1)

	tests := []struct{ query, want string }{
		{"", `{"limit": ["This field is required."]}`},
		{"offset=0", `{"limit": ["This field is required."]}`},
		{"limit=301", `{"limit": ["Ensure this value is less than or equal to 300."]}`},
		{"limit=1000", `{"limit": ["Ensure this value is less than or equal to 300."]}`},
		{"limit=0", `{"limit": ["Ensure this value is greater than or equal to 1."]}`},
		{"limit=-1", `{"limit": ["Ensure this value is greater than or equal to 1."]}`},
		{"limit=300&offset=-3", `{"offset": ["Ensure this value is greater than or equal to 0."]}`},
		{"limit=ten", `{"limit": ["A valid integer is required."]}`},
		{"limit=300&offset=1.5", `{"offset": ["A valid integer is required."]}`},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			for _, path := range []string{"/api/v1/devices", "/api/v1/devices/" + firstID(t, s) + "/commands"} {
				a := call(t, s, "GET", path+"?"+tt.query, "")
				assert.Equal(t, 400, a.Status, path)
				assert.JSONEq(t, tt.want, a.Body, path)
			}
		})
	}
}

// firstID is the ID of the device first in serial order.
func firstID(t *testing.T, s *kandjitest.Server) string {
	t.Helper()
	ids := listIDs(t, call(t, s, "GET", "/api/v1/devices?limit=1", ""))
	require.Len(t, ids, 1)
	return ids[0]
}

func TestDeviceJSON(t *testing.T) {
	s := newServer(t, kandjitest.WithDevices(traps()...))
	s.AddDevices(kandjitest.Device{ID: "raw-1", Serial: "R1", Platform: "iPad", LastCheckIn: "2023-01-18 21:46:26.879113+00:00"})

	var got map[string]any
	a := call(t, s, "GET", "/api/v1/devices/alice-mac", "")
	require.Equal(t, 200, a.Status)
	require.NoError(t, json.Unmarshal([]byte(a.Body), &got))
	assert.Equal(t, "alice-mac", got["device_id"])
	assert.Equal(t, "A1", got["serial_number"])
	assert.Equal(t, "Mac", got["platform"])
	assert.Equal(t, true, got["agent_installed"])
	user := got["user"].(map[string]any)
	assert.Equal(t, "alice@corp.com", user["email"])
	assert.Equal(t, "Alice", user["name"])
	assert.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`, user["id"])

	a = call(t, s, "GET", "/api/v1/devices/raw-1", "")
	require.NoError(t, json.Unmarshal([]byte(a.Body), &got))
	assert.Equal(t, "", got["user"], `an unassigned device serialises "user": ""`)
	assert.Equal(t, "2023-01-18 21:46:26.879113+00:00", got["last_check_in"], "served raw")
	assert.Equal(t, false, got["agent_installed"])

	a = call(t, s, "GET", "/api/v1/devices/nope", "")
	assert.Equal(t, 404, a.Status)
	assert.JSONEq(t, `{"detail": "Unable to locate the resource in the Kandji tenant."}`, a.Body)
	assert.Equal(t, 404, call(t, s, "GET", "/api/v1/blueprints", "").Status)
	assert.Equal(t, 404, call(t, s, "DELETE", "/api/v1/devices/alice-mac", "").Status, "endpoints the fake lacks are not found")
}

func TestLockAndPIN(t *testing.T) {
	s := newServer(t, kandjitest.WithDevices(traps()...))
	lock := func(id, body string) answer { return call(t, s, "POST", "/api/v1/devices/"+id+"/action/lock", body) }
	pin := func(id string) answer { return call(t, s, "GET", "/api/v1/devices/"+id+"/secrets/unlockpin", "") }

	noPIN := pin("alice-mac")
	assert.Equal(t, 400, noPIN.Status)
	assert.JSONEq(t, `["No unlock PIN is available for this device."]`, noPIN.Body)
	assert.Empty(t, s.PIN("alice-mac"))

	a := lock("alice-mac", `{"Message": "Call IT", "PhoneNumber": "555"}`)
	require.Equal(t, 200, a.Status)
	var locked struct{ PIN string }
	require.NoError(t, json.Unmarshal([]byte(a.Body), &locked))
	assert.Regexp(t, `^[0-9]{6}$`, locked.PIN)
	assert.Equal(t, locked.PIN, s.PIN("alice-mac"))
	assert.True(t, s.Locked("alice-mac"))
	msg, phone := s.LastLockRequest("alice-mac")
	assert.Equal(t, [2]string{"Call IT", "555"}, [2]string{msg, phone})
	assert.JSONEq(t, fmt.Sprintf(`{"pin": %q}`, locked.PIN), pin("alice-mac").Body)

	again := lock("alice-mac", "")
	assert.Equal(t, 400, again.Status)
	assert.Equal(t, `"This device is already locked."`, again.Body)
	assert.Equal(t, locked.PIN, s.PIN("alice-mac"), "the PIN stays")

	phoneLock := lock("alice-phone", "")
	assert.Equal(t, 200, phoneLock.Status)
	assert.Equal(t, `{}`, phoneLock.Body)
	assert.True(t, s.Locked("alice-phone"))
	assert.Empty(t, s.PIN("alice-phone"))
	assert.Equal(t, 400, pin("alice-phone").Status)

	tv := lock("tv", "")
	assert.Equal(t, 400, tv.Status)
	assert.Equal(t, `"Command is not allowed for current device"`, tv.Body)
	assert.False(t, s.Locked("tv"))

	assert.Equal(t, 400, lock("shared-ipad", "{not json").Status)
	assert.False(t, s.Locked("shared-ipad"))
	assert.Equal(t, 404, lock("nope", "").Status)
	assert.Equal(t, 404, pin("nope").Status)

	assert.Equal(t, 2, s.LockPosts("alice-mac"))
	assert.Equal(t, 1, s.LockPosts("nope"), "lock POSTs for unknown devices are counted too")
	assert.Zero(t, s.LockPosts("xalice-mac"))
	assert.False(t, s.Locked("nope"))
	assert.Empty(t, s.PIN("nope"))
}

func TestSetLockPending(t *testing.T) {
	s := newServer(t, kandjitest.WithDevices(traps()...))
	assert.False(t, s.SetLockPending("nope"))
	require.True(t, s.SetLockPending("xalice-mac"))
	assert.True(t, s.Locked("xalice-mac"))
	pin := s.PIN("xalice-mac")
	assert.Regexp(t, `^[0-9]{6}$`, pin)
	cmds := s.Commands("xalice-mac")
	require.Len(t, cmds, 1)
	assert.Equal(t, "DeviceLock", cmds[0].CommandType)
	assert.Equal(t, kandjitest.CommandPending, cmds[0].Status)

	for range 2 {
		a := call(t, s, "POST", "/api/v1/devices/xalice-mac/action/lock", "")
		assert.Equal(t, 400, a.Status)
		assert.Equal(t, `"This device is already locked."`, a.Body, "Kandji's documented wording")
	}
	assert.Equal(t, pin, s.PIN("xalice-mac"))
	assert.Equal(t, kandjitest.LockAnswers{AlreadyLocked: 2}, s.LockAnswers("xalice-mac"))

	require.True(t, s.SetLockPending("alice-phone"))
	assert.Empty(t, s.PIN("alice-phone"), "only Macs have PINs")
}

func TestFailNext(t *testing.T) {
	s := newServer(t, kandjitest.WithDevices(traps()...))
	tests := []struct {
		status         int
		retryAfter     time.Duration
		wantRetryAfter string
		wantBody       string
	}{
		{503, 1500 * time.Millisecond, "2", "<title>503 Service Unavailable</title>"},
		{429, time.Second, "1", `{"detail":"Request was throttled."}`},
		{500, 0, "", "<h1>500 Internal Server Error</h1>"},
		{403, 0, "", `{"detail":"Injected failure: 403 Forbidden"}`},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			s.FailNext(2, tt.status, tt.retryAfter)
			for range 2 {
				a := call(t, s, "GET", "/api/v1/devices/alice-mac", "")
				assert.Equal(t, tt.status, a.Status)
				assert.Equal(t, tt.wantRetryAfter, a.Header.Get("Retry-After"))
				assert.Contains(t, a.Body, tt.wantBody)
			}
			assert.Equal(t, 200, call(t, s, "GET", "/api/v1/devices/alice-mac", "").Status)
		})
	}
	s.FailNext(1, 500, 0)
	assert.Equal(t, 500, call(t, s, "GET", "/api/v1/devices?limit=300", "", "wrong-token").Status, "failures come before auth")
}

func TestFailureRateIsSeeded(t *testing.T) {
	statuses := func(seed uint64, p float64) []int {
		s := newServer(t, kandjitest.WithSeed(seed))
		s.SetFailureRate(p, 503)
		out := make([]int, 40)
		for i := range out {
			out[i] = call(t, s, "GET", "/api/v1/devices?limit=300", "").Status
		}
		return out
	}
	a, b := statuses(7, 0.5), statuses(7, 0.5)
	assert.Equal(t, a, b, "the same seed fails the same requests")
	assert.Contains(t, a, 503)
	assert.Contains(t, a, 200)
	assert.NotContains(t, statuses(7, 0), 503)
	assert.NotContains(t, statuses(7, 1), 200)
	assert.NotContains(t, statuses(7, -1), 503)
}

func TestRateCap(t *testing.T) {
	s := newServer(t)
	s.SetRateCap(0.001, 2) // two requests, then one every 1000 s
	got := []int{}
	for range 4 {
		a := call(t, s, "GET", "/api/v1/devices?limit=300", "")
		got = append(got, a.Status)
		if a.Status == 429 {
			assert.Equal(t, "1", a.Header.Get("Retry-After"))
		}
	}
	assert.Equal(t, []int{200, 200, 429, 429}, got)
	assert.Equal(t, 2, s.Throttled())
	s.SetRateCap(0, 0)
	assert.Equal(t, 200, call(t, s, "GET", "/api/v1/devices?limit=300", "").Status)
	assert.Equal(t, 2, s.Throttled())
}

func TestRequestsRecorded(t *testing.T) {
	s := newServer(t, kandjitest.WithDevices(traps()...))
	before := time.Now()
	call(t, s, "GET", "/api/v1/devices?user_email_exact=alice%40corp.com&limit=300", "")
	call(t, s, "POST", "/api/v1/devices/alice-mac/action/lock", "")
	call(t, s, "GET", "/api/v1/devices/alice-mac", "", "bad")
	reqs := s.Requests()
	require.Len(t, reqs, 3)
	for _, r := range reqs {
		assert.False(t, r.At.Before(before))
	}
	assert.False(t, reqs[2].At.Before(reqs[0].At))
	for i := range reqs {
		reqs[i].At = time.Time{}
	}
	assert.Equal(t, []kandjitest.Request{
		{Method: "GET", Path: "/api/v1/devices", RawQuery: "user_email_exact=alice%40corp.com&limit=300", Status: 200},
		{Method: "POST", Path: "/api/v1/devices/alice-mac/action/lock", Status: 200},
		{Method: "GET", Path: "/api/v1/devices/alice-mac", Status: 401},
	}, reqs)
	reqs[0].Method = "changed"
	assert.Equal(t, "GET", s.Requests()[0].Method, "Requests returns a copy")
}

// TestLatency holds a request in the fake until its client gives up, which the record shows as
// status 0; Close must not wait for the latency.
func TestLatency(t *testing.T) {
	s := newServer(t)
	s.SetLatency(time.Hour)
	ctx, cancel := context.WithCancel(t.Context())
	req, err := http.NewRequestWithContext(ctx, "GET", s.URL()+"/api/v1/devices?limit=300", nil)
	require.NoError(t, err)
	done := make(chan error)
	go func() {
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
		}
		done <- err
	}()
	waitFor(t, func() bool { return len(s.Requests()) == 1 })
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	waitFor(t, func() bool { return s.Requests()[0].Status == 0 })

	s.SetLatency(0)
	assert.Equal(t, 200, call(t, s, "GET", "/api/v1/devices?limit=300", "").Status)
	assert.Equal(t, 200, s.Requests()[1].Status)
}

// waitFor polls cond, for state the fake changes on its own goroutines.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		require.True(t, time.Now().Before(deadline), "condition not reached")
		time.Sleep(time.Millisecond)
	}
}

func TestPopulate(t *testing.T) {
	a, b := newServer(t), newServer(t)
	emails := a.Populate(4, 3, "corp.com")
	assert.Equal(t, []string{"person00001@corp.com", "person00002@corp.com", "person00003@corp.com", "person00004@corp.com"}, emails)
	assert.Equal(t, emails, b.Populate(4, 3, "corp.com"), "deterministic")
	assert.Equal(t, []string{"person00005@corp.com"}, a.Populate(1, 0, "corp.com"), "numbering continues")
	assert.Empty(t, a.Populate(0, 3, "corp.com"))

	bodyA := call(t, a, "GET", "/api/v1/devices?limit=300", "").Body
	bodyB := call(t, b, "GET", "/api/v1/devices?limit=300", "").Body
	assert.JSONEq(t, bodyA, bodyB, "the same tenant on every run")

	var page []struct {
		ID          string `json:"device_id"`
		Serial      string `json:"serial_number"`
		Platform    string `json:"platform"`
		LastCheckIn string `json:"last_check_in"`
		User        struct{ Email string }
	}
	require.NoError(t, json.Unmarshal([]byte(bodyA), &page))
	require.Len(t, page, 12)
	ids, serials, platforms := map[string]bool{}, map[string]bool{}, map[string]int{}
	styles := map[bool]int{}
	for _, d := range page {
		ids[d.ID], serials[d.Serial] = true, true
		platforms[d.Platform]++
		styles[strings.Contains(d.LastCheckIn, "T")]++
		assert.Contains(t, emails, d.User.Email)
	}
	assert.Len(t, ids, 12)
	assert.Len(t, serials, 12)
	assert.Equal(t, map[string]int{"Mac": 4, "iPhone": 4, "iPad": 4}, platforms)
	assert.Equal(t, map[bool]int{true: 8, false: 4}, styles, "both of Kandji's timestamp styles")
	assert.Len(t, listIDs(t, call(t, a, "GET", "/api/v1/devices?limit=300&user_email_exact=person00002%40corp.com", "")), 3)
}

func TestAddDevicesReplacesAndFillsDefaults(t *testing.T) {
	s := newServer(t)
	s.AddDevices(kandjitest.Device{ID: "d1", UserEmail: "old@corp.com"}, kandjitest.Device{UserEmail: "anon@corp.com"})
	call(t, s, "POST", "/api/v1/devices/d1/action/lock", "")
	require.True(t, s.Locked("d1"))

	s.AddDevices(kandjitest.Device{ID: "d1", Platform: "iPhone", UserEmail: "new@corp.com", Serial: "ZZ"})
	assert.False(t, s.Locked("d1"), "replacing resets the lock state")
	assert.Empty(t, s.PIN("d1"))
	assert.Empty(t, listIDs(t, call(t, s, "GET", "/api/v1/devices?limit=300&user_email_exact=old%40corp.com", "")))
	assert.Equal(t, []string{"d1"}, listIDs(t, call(t, s, "GET", "/api/v1/devices?limit=300&user_email_exact=new%40corp.com", "")))
	all := listIDs(t, call(t, s, "GET", "/api/v1/devices?limit=300", ""))
	require.Len(t, all, 2)

	var d struct {
		Name, Model, Platform string
		OSVersion             string `json:"os_version"`
		Serial                string `json:"serial_number"`
	}
	a := call(t, s, "GET", "/api/v1/devices/"+url.PathEscape(all[0]), "")
	require.NoError(t, json.Unmarshal([]byte(a.Body), &d))
	assert.Equal(t, "Mac", d.Platform)
	assert.NotEmpty(t, d.Model)
	assert.NotEmpty(t, d.OSVersion)
	assert.NotEmpty(t, d.Serial)
}

// TestConcurrentUse exercises every knob and endpoint at once, for the race detector.
func TestConcurrentUse(t *testing.T) {
	s := newServer(t)
	emails := s.Populate(20, 3, "corp.com")
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			call(t, s, "GET", "/api/v1/devices?limit=300&user_email_exact="+url.QueryEscape(emails[i]), "")
			call(t, s, "GET", "/api/v1/devices?limit=300&offset=10", "")
		})
		wg.Go(func() {
			s.AddDevices(kandjitest.Device{UserEmail: fmt.Sprintf("new%d@corp.com", i)})
			s.SetFailureRate(0, 500)
			s.SetRateCap(0, 0)
			s.SetLatency(0)
			_ = s.Throttled()
			_ = s.Requests()
		})
	}
	wg.Wait()
	assert.Len(t, s.Requests(), 40)
}
