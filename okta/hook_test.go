package okta

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const hookSecret = "s3cr3t-hook-value-0123456789"

type delivery struct {
	status, admitted int
}

// newTestHook returns a handler on a fresh test Admitter, the deliveries
// reported to OnDelivery and the log output.
func newTestHook(t *testing.T, cfg HookConfig, admitOpts ...testAdmitterOption) (*HookHandler, *testAdmitter, *[]delivery, *bytes.Buffer) {
	t.Helper()
	in := newTestAdmitter(admitOpts...)
	cfg.Admitter = in
	if cfg.Types == nil {
		cfg.Types = DefaultAutoLockTypes()
	}
	var logs bytes.Buffer
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var got []delivery
	cfg.OnDelivery = func(status, admitted int) { got = append(got, delivery{status, admitted}) }
	h, err := NewHookHandler(cfg)
	require.NoError(t, err)
	return h, in, &got, &logs
}

func post(body []byte, auth ...string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/hooks/okta", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	for _, a := range auth {
		r.Header.Add("Authorization", a)
	}
	return r
}

func TestHookHandler(t *testing.T) {
	batch := batchEvents()
	suspend, err := ParseDelivery(fixture(t, "delivery_suspend.json"))
	require.NoError(t, err)
	verify := func(auth ...string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/hooks/okta", nil)
		r.Header.Set("X-Okta-Verification-Challenge", `chal-"42"<&>`)
		for _, a := range auth {
			r.Header.Add("Authorization", a)
		}
		return r
	}
	noChallenge := httptest.NewRequest(http.MethodGet, "/hooks/okta", nil)
	noChallenge.Header.Set("Authorization", hookSecret)

	tests := []struct {
		name       string
		secret     string
		types      []string
		maxBody    int64
		admitOpts  []testAdmitterOption
		req        *http.Request
		wantStatus int
		wantBody   string
		wantCT     string
		want       []Event // admitted, in input order
	}{
		{
			name: "verification", secret: hookSecret, req: verify(hookSecret), wantStatus: 200,
			wantBody: `{"verification":"chal-\"42\"\u003c\u0026\u003e"}`, wantCT: "application/json",
		},
		{
			// Okta sends the secret on the verification GET too.
			name: "verification without secret", secret: hookSecret, req: verify(),
			wantStatus: 401, wantBody: "unauthorized\n",
		},
		{
			name: "verification with wrong secret", secret: hookSecret, req: verify("wrong"),
			wantStatus: 401, wantBody: "unauthorized\n",
		},
		{
			name: "verification without challenge", secret: hookSecret, req: noChallenge, wantStatus: 400,
			wantBody: "missing x-okta-verification-challenge header\n",
		},
		{name: "disabled: verification", secret: "", req: verify(hookSecret), wantStatus: 404, wantBody: "404 page not found\n"},
		{
			name: "disabled: delivery", secret: "", req: post(fixture(t, "delivery_suspend.json"), ""),
			wantStatus: 404, wantBody: "404 page not found\n",
		},
		{
			name: "wrong method", secret: hookSecret, req: httptest.NewRequest(http.MethodPut, "/hooks/okta", nil),
			wantStatus: 405, wantBody: "method not allowed\n",
		},
		{name: "missing secret", secret: hookSecret, req: post(fixture(t, "delivery_suspend.json")), wantStatus: 401, wantBody: "unauthorized\n"},
		{name: "empty secret", secret: hookSecret, req: post(fixture(t, "delivery_suspend.json"), ""), wantStatus: 401, wantBody: "unauthorized\n"},
		{
			name: "wrong secret same length", secret: hookSecret,
			req:        post(fixture(t, "delivery_suspend.json"), strings.Repeat("x", len(hookSecret))),
			wantStatus: 401, wantBody: "unauthorized\n",
		},
		{
			name: "secret prefix only", secret: hookSecret,
			req: post(fixture(t, "delivery_suspend.json"), hookSecret[:10]), wantStatus: 401, wantBody: "unauthorized\n",
		},
		{
			name: "secret with scheme added", secret: hookSecret,
			req: post(fixture(t, "delivery_suspend.json"), "Basic "+hookSecret), wantStatus: 401, wantBody: "unauthorized\n",
		},
		{
			name: "secret with trailing space", secret: hookSecret,
			req: post(fixture(t, "delivery_suspend.json"), hookSecret+" "), wantStatus: 401, wantBody: "unauthorized\n",
		},
		{
			name: "right secret", secret: hookSecret, req: post(fixture(t, "delivery_suspend.json"), hookSecret),
			wantStatus: 200, want: suspend,
		},
		{
			name: "basic-auth style secret", secret: "Basic bG9ja2JvdDpodW50ZXIy",
			req: post(fixture(t, "delivery_suspend.json"), "Basic bG9ja2JvdDpodW50ZXIy"), wantStatus: 200, want: suspend,
		},
		{
			name: "secret sent twice", secret: hookSecret,
			req: post(fixture(t, "delivery_suspend.json"), hookSecret, hookSecret), wantStatus: 401, wantBody: "unauthorized\n",
		},
		{
			name: "over default 8 MiB", secret: hookSecret,
			req: post(bytes.Repeat([]byte(" "), 8<<20+1), hookSecret), wantStatus: 413, wantBody: "body too large\n",
		},
		{
			name: "over default 8 MiB, length not announced", secret: hookSecret,
			req: postStream(bytes.Repeat([]byte(" "), 8<<20+1), hookSecret), wantStatus: 413, wantBody: "body too large\n",
		},
		{
			name: "valid JSON past the limit", secret: hookSecret, maxBody: 300,
			req: postStream(benchDelivery(0, 2), hookSecret), wantStatus: 413, wantBody: "body too large\n",
		},
		{
			name: "over configured max body", secret: hookSecret, maxBody: 100,
			req: post(fixture(t, "delivery_suspend.json"), hookSecret), wantStatus: 413, wantBody: "body too large\n",
		},
		{
			name: "exactly at max body", secret: hookSecret, maxBody: int64(len(fixture(t, "delivery_suspend.json"))),
			req: post(fixture(t, "delivery_suspend.json"), hookSecret), wantStatus: 200, want: suspend,
		},
		{
			name: "malformed JSON", secret: hookSecret, req: post([]byte(`{"eventType":`), hookSecret),
			wantStatus: 400, wantBody: "malformed JSON\n",
		},
		{
			name: "wrong envelope", secret: hookSecret, req: post(fixture(t, "inline_hook.json"), hookSecret),
			wantStatus: 400, wantBody: "not an Okta event hook delivery\n",
		},
		{
			name: "empty events", secret: hookSecret, req: post(fixture(t, "delivery_empty.json"), hookSecret),
			wantStatus: 200,
		},
		{
			// Non-User targets first; unknown type ignored; no-User event
			// dropped; the in-delivery duplicate admitted once.
			name: "batch with default types", secret: hookSecret, req: post(fixture(t, "delivery_batch.json"), hookSecret),
			wantStatus: 200, want: batch[:3],
		},
		{
			name: "only configured types are kept", secret: hookSecret, types: []string{EventDeactivate, "user.session.start"},
			req: post(fixture(t, "delivery_batch.json"), hookSecret), wantStatus: 200, want: []Event{batch[1], batch[3]},
		},
		{
			name: "unknown types only", secret: hookSecret, types: []string{EventRiskDetect},
			req: post(fixture(t, "delivery_batch.json"), hookSecret), wantStatus: 200,
		},
		{
			name: "admitter refuses: Okta should retry", secret: hookSecret, admitOpts: []testAdmitterOption{admitAtMost(2)},
			req: post(fixture(t, "delivery_batch.json"), hookSecret), wantStatus: 503, wantBody: "temporarily unavailable\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, in, deliveries, logs := newTestHook(t, HookConfig{Secret: tt.secret, Types: tt.types, MaxBody: tt.maxBody}, tt.admitOpts...)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, tt.req)

			assert.Equal(t, tt.wantStatus, w.Code)
			assert.Equal(t, tt.wantBody, w.Body.String())
			if tt.wantCT != "" {
				assert.Equal(t, tt.wantCT, w.Header().Get("Content-Type"))
			}
			if tt.wantStatus == http.StatusMethodNotAllowed {
				assert.Equal(t, "GET, POST", w.Header().Get("Allow"))
			}
			got := takeN(t, in, len(tt.want))
			if len(tt.want) == 0 {
				assert.Empty(t, got)
			} else {
				assert.Equal(t, tt.want, got)
			}
			assert.Equal(t, []delivery{{tt.wantStatus, len(tt.want)}}, *deliveries, "OnDelivery once per request")
			assert.NotContains(t, logs.String(), hookSecret)
			assert.NotContains(t, logs.String(), "bG9ja2JvdDpodW50ZXIy")
		})
	}
}

// postStream is post with a body whose length is not announced, as with
// chunked transfer encoding.
func postStream(body []byte, auth ...string) *http.Request {
	r := post(nil, auth...)
	r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body)))
	r.ContentLength = -1
	return r
}

func TestHookDuplicatesAcrossDeliveries(t *testing.T) {
	h, in, deliveries, _ := newTestHook(t, HookConfig{Secret: hookSecret})
	batch := batchEvents()
	for range 3 { // Okta's retry, and a later re-delivery of the same events
		w := httptest.NewRecorder()
		h.ServeHTTP(w, post(fixture(t, "delivery_batch.json"), hookSecret))
		require.Equal(t, http.StatusOK, w.Code)
	}
	assert.Equal(t, batch[:3], takeN(t, in, 3))
	assert.Equal(t, []delivery{{200, 3}, {200, 0}, {200, 0}}, *deliveries)
}

func TestHookAdmitFailureAnswers503(t *testing.T) {
	h, _, deliveries, logs := newTestHook(t, HookConfig{Secret: hookSecret}, admitFails(errors.New("store closed")))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, post(fixture(t, "delivery_suspend.json"), hookSecret))
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
	assert.Equal(t, "temporarily unavailable\n", w.Body.String())
	assert.Equal(t, []delivery{{503, 0}}, *deliveries)
	assert.Contains(t, logs.String(), "store closed", "the Admitter's error is logged")
}

func TestHookLogsDeliverySummary(t *testing.T) {
	h, _, _, logs := newTestHook(t, HookConfig{Secret: hookSecret})
	h.ServeHTTP(httptest.NewRecorder(), post(fixture(t, "delivery_batch.json"), hookSecret))
	line := logs.String()
	for _, want := range []string{"events=6", "admitted=3", "duplicates=1", "ignored_type=1", "no_user_target=1"} {
		assert.Contains(t, line, want)
	}
}

func TestHookCustomAuthHeader(t *testing.T) {
	h, in, deliveries, logs := newTestHook(t, HookConfig{Secret: hookSecret, AuthHeader: "x-lockbot-secret"})
	withHeader := func(r *http.Request, name, value string) *http.Request {
		r.Header.Set(name, value)
		return r
	}
	verify := func() *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/hooks/okta", nil)
		r.Header.Set("x-okta-verification-challenge", "c1")
		return r
	}
	tests := []struct {
		name string
		req  *http.Request
		want int
	}{
		{"delivery with the named header", withHeader(post(fixture(t, "delivery_suspend.json")), "X-Lockbot-Secret", hookSecret), 200},
		{"header name is case-insensitive", withHeader(post(fixture(t, "delivery_suspend.json")), "X-LOCKBOT-SECRET", hookSecret), 200},
		{"secret in Authorization instead", post(fixture(t, "delivery_suspend.json"), hookSecret), 401},
		{"wrong value", withHeader(post(fixture(t, "delivery_suspend.json")), "X-Lockbot-Secret", "nope"), 401},
		{"verification with the named header", withHeader(verify(), "X-Lockbot-Secret", hookSecret), 200},
		{"verification with a wrong value", withHeader(verify(), "X-Lockbot-Secret", "nope"), 401},
		{"verification without it", verify(), 401},
	}
	for _, tt := range tests {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, tt.req)
		assert.Equal(t, tt.want, w.Code, tt.name)
	}
	assert.Len(t, takeN(t, in, 1), 1, "the duplicate second delivery admits nothing")
	assert.Len(t, *deliveries, len(tests))
	assert.NotContains(t, logs.String(), hookSecret)
	assert.Contains(t, logs.String(), "header=X-Lockbot-Secret")
}

func TestHookAcceptsLargeDeliveries(t *testing.T) {
	h, in, deliveries, _ := newTestHook(t, HookConfig{Secret: hookSecret})
	body := benchDelivery(0, 6000)
	require.Greater(t, len(body), 4<<20, "well past the old 1 MiB limit")
	require.Less(t, len(body), 8<<20)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, postStream(body, hookSecret))
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Equal(t, []delivery{{200, 6000}}, *deliveries)
	assert.Equal(t, 6000, in.Len())
}

func TestHookCancelledRequestAdmitsNothing(t *testing.T) {
	h, in, deliveries, _ := newTestHook(t, HookConfig{Secret: hookSecret})
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // Okta gave up on the request (its 3 s timeout)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, post(fixture(t, "delivery_suspend.json"), hookSecret).WithContext(ctx))
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
	assert.Equal(t, []delivery{{503, 0}}, *deliveries)
	assert.Zero(t, in.Len())
}

func TestNewHookHandlerValidation(t *testing.T) {
	in := newTestAdmitter()
	for _, name := range []string{"Bad Header", "X-Ünicode", "x:y", "Content-Type", "X-Okta-Verification-Challenge", "accept"} {
		_, err := NewHookHandler(HookConfig{Secret: hookSecret, AuthHeader: name, Admitter: in, Types: DefaultAutoLockTypes()})
		require.ErrorContains(t, err, "AuthHeader", "%q", name)
	}
	h, err := NewHookHandler(HookConfig{Secret: hookSecret, AuthHeader: "x-okta-secret_1", Admitter: in, Types: DefaultAutoLockTypes()})
	require.NoError(t, err)
	assert.Equal(t, "X-Okta-Secret_1", h.authHeader)
	_, err = NewHookHandler(HookConfig{Secret: hookSecret, Types: DefaultAutoLockTypes()})
	require.ErrorContains(t, err, "Admitter is required")
	_, err = NewHookHandler(HookConfig{Secret: hookSecret, Admitter: in})
	require.ErrorContains(t, err, "Types is empty")

	h, err = NewHookHandler(HookConfig{Admitter: in, Types: DefaultAutoLockTypes()})
	require.NoError(t, err, "no secret is valid: the endpoint answers 404")
	assert.Equal(t, int64(8<<20), h.maxBody)
	assert.Equal(t, "Authorization", h.authHeader)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, post(fixture(t, "delivery_suspend.json"), ""))
	assert.Equal(t, http.StatusNotFound, w.Code, "nil OnDelivery and Logger are fine")
}

// benchDelivery renders a delivery of n suspend events whose UUIDs start at
// base, so every iteration admits fresh events.
func benchDelivery(base, n int) []byte {
	var b strings.Builder
	b.WriteString(`{"eventType":"com.okta.event_hook","eventTypeVersion":"1.0","cloudEventsVersion":"0.1",` +
		`"source":"https://acme.okta.com/api/v1/eventHooks/whoLockbotHook01","eventId":"bench","data":{"events":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"uuid":"%08x-0000-11ee-8000-000000000000","published":"2024-05-06T10:15:30.123Z",`+
			`"eventType":"user.lifecycle.suspend","version":"0","displayMessage":"Suspend Okta user","severity":"INFO",`+
			`"client":{"userAgent":{"rawUserAgent":"Mozilla/5.0","os":"Mac OS X","browser":"CHROME"},"zone":"null","device":"Computer","ipAddress":"198.51.100.7"},`+
			`"actor":{"id":"00uadmin0000000001","type":"User","alternateId":"it.admin@acme.example","displayName":"IT Admin"},`+
			`"outcome":{"result":"SUCCESS"},"target":[{"id":"0oaapp000000000001","type":"AppInstance","alternateId":"Slack","displayName":"Slack"},`+
			`{"id":"00u%08x","type":"User","alternateId":"user%d@acme.example","displayName":"User %d"}],`+
			`"debugContext":{"debugData":{"requestUri":"/api/v1/users/x/lifecycle/suspend"}}}`, base+i, base+i, base+i, base+i)
	}
	b.WriteString(`]},"eventTime":"2024-05-06T10:15:31.002Z","contentType":"application/json"}`)
	return []byte(b.String())
}

// BenchmarkHookPost50 measures the hook's own share of the POST path (auth,
// parse, type filter, hand-over to the Admitter) for a 50-event delivery. The
// Admitter is the in-memory test one, drained between requests as a worker
// would, so the durable write a real store adds is not included.
func BenchmarkHookPost50(b *testing.B) { benchmarkHookPost(b, 50) }

// BenchmarkHookPost8MiB measures a delivery just under the 8 MiB limit. Its
// B/op against body-bytes shows the decoder holds one event at a time, not
// the body and a decoded copy of it; B/op also counts the events the test
// Admitter keeps, as any Admitter must hold the batch it is handed.
func BenchmarkHookPost8MiB(b *testing.B) {
	per := len(benchDelivery(0, 1000)) / 1000
	benchmarkHookPost(b, (8<<20)/per-100)
}

func benchmarkHookPost(b *testing.B, n int) {
	in := newTestAdmitter()
	h, err := NewHookHandler(HookConfig{Secret: hookSecret, Types: DefaultAutoLockTypes(), Admitter: in})
	require.NoError(b, err)
	lat := make([]time.Duration, 0, b.N)
	var bodyBytes int
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		body := benchDelivery(i*n, n)
		bodyBytes = len(body)
		if bodyBytes > 8<<20 {
			b.Fatalf("delivery of %d bytes is over the limit", bodyBytes)
		}
		req := post(body, hookSecret)
		w := httptest.NewRecorder()
		b.StartTimer()

		start := time.Now()
		h.ServeHTTP(w, req)
		lat = append(lat, time.Since(start))

		b.StopTimer()
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
		if got := in.take(n); len(got) != n {
			b.Fatalf("admitted %d events, want %d", len(got), n)
		}
		b.StartTimer()
	}
	b.StopTimer()
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(bodyBytes), "body-bytes")
}

func newTextLogger(w *bytes.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
