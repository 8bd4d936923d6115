package slackfake

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
	"github.com/stretchr/testify/require"
)

// testTimeout bounds every wait in the tests; nothing should come near it.
const testTimeout = 10 * time.Second

// Shared fixture identities.
const (
	alice    = "UALICE"
	bob      = "UBOB"
	guest    = "UGUEST"
	gone     = "UGONE"
	approval = "CAPPROVAL"
	admins   = "SADMINS"
)

func testUsers() []User {
	return []User{
		{ID: alice, Name: "alice", RealName: "Alice Doe", Email: "alice@corp.example", IsAdmin: true},
		{ID: bob, Name: "bob", RealName: "Bob Roe", Email: "Bob@Corp.example"},
		{ID: guest, Name: "guest", Email: "guest@other.example", IsRestricted: true},
		{ID: gone, Name: "gone", Email: "gone@corp.example", Deleted: true},
	}
}

// newFake starts a fake with the fixture workspace and closes it with the
// test.
func newFake(t testing.TB, opts ...Option) *Server {
	t.Helper()
	base := []Option{
		WithUsers(testUsers()...), WithChannels(approval), WithChannelMembers(approval, alice, bob, guest),
		WithUserGroup(admins, alice, bob),
	}
	fake := New(append(base, opts...)...)
	t.Cleanup(fake.Close)
	return fake
}

func testCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// newAPI is a real slack-go client for the fake, with its own transport so
// the test can drop its idle connections.
func newAPI(t testing.TB, fake *Server, botToken, appToken string) *slack.Client {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return slack.New(botToken,
		slack.OptionAppLevelToken(appToken),
		slack.OptionAPIURL(fake.APIURL()),
		slack.OptionHTTPClient(&http.Client{Transport: tr}),
	)
}

// ackFunc decides the ack payload for a request; skip=true means "do not
// ack at all".
type ackFunc func(evt socketmode.Event) (payload any, skip bool)

func emptyAck(socketmode.Event) (any, bool) { return nil, false }

// appClient is a socketmode app driven by the real slack-go client: it acks
// every slash command and interaction and hands the events to the test.
type appClient struct {
	api      *slack.Client
	sm       *socketmode.Client
	requests chan socketmode.Event // slash_commands and interactive, dropped when full
	others   chan socketmode.Event // everything else, dropped when full
	runErr   chan error            // RunContext's result
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

// startApp runs a socketmode client against fake until the test ends.
func startApp(t testing.TB, fake *Server, ack ackFunc, appToken string) *appClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	api := newAPI(t, fake, fake.BotToken(), appToken)
	a := &appClient{
		api:      api,
		sm:       socketmode.New(api),
		requests: make(chan socketmode.Event, 256),
		others:   make(chan socketmode.Event, 256),
		runErr:   make(chan error, 1),
		cancel:   cancel,
	}
	a.wg.Go(func() { a.runErr <- a.sm.RunContext(ctx) })
	a.wg.Go(func() { a.pump(ctx, ack) })
	t.Cleanup(a.stop)
	return a
}

func (a *appClient) stop() {
	a.cancel()
	a.wg.Wait()
}

func (a *appClient) pump(ctx context.Context, ack ackFunc) {
	for {
		var evt socketmode.Event
		select {
		case <-ctx.Done():
			return
		case evt = <-a.sm.Events:
		}
		switch evt.Type {
		case socketmode.EventTypeSlashCommand, socketmode.EventTypeInteractive:
			select {
			case a.requests <- evt:
			default: // nobody reads them (benchmarks): keep acking
			}
			if payload, skip := ack(evt); !skip {
				_ = a.sm.AckCtx(ctx, evt.Request.EnvelopeID, payload)
			}
		default:
			select {
			case a.others <- evt:
			default:
			}
		}
	}
}

// next returns the next slash command or interaction the app received.
func (a *appClient) next(t testing.TB) socketmode.Event {
	t.Helper()
	select {
	case evt := <-a.requests:
		return evt
	case <-time.After(testTimeout):
		t.Fatal("no request reached the app")
	}
	return socketmode.Event{}
}

// waitOther returns the first non-request event of the given type.
func (a *appClient) waitOther(t testing.TB, typ socketmode.EventType) socketmode.Event {
	t.Helper()
	deadline := time.After(testTimeout)
	for {
		select {
		case evt := <-a.others:
			if evt.Type == typ {
				return evt
			}
		case <-deadline:
			t.Fatalf("no %s event", typ)
		}
	}
}

// connectedApp starts an app with the right tokens and waits for hello.
func connectedApp(t testing.TB, fake *Server, ack ackFunc) *appClient {
	t.Helper()
	a := startApp(t, fake, ack, fake.AppToken())
	require.NoError(t, fake.WaitConnected(testCtx(t)))
	return a
}

// rawCall posts a form to a Web API method and decodes Slack's answer.
func rawCall(t testing.TB, fake *Server, method string, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := http.PostForm(fake.APIURL()+method, form)
	require.NoError(t, err)
	return decodeAnswer(t, resp)
}

// rawJSON posts a JSON body with a bearer token.
func rawJSON(t testing.TB, target, bearer, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, target, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	return decodeAnswer(t, resp)
}

func decodeAnswer(t testing.TB, resp *http.Response) (int, map[string]any) {
	t.Helper()
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, "application/json; charset=utf-8", resp.Header.Get("Content-Type"))
	var out map[string]any
	require.NoError(t, json.Unmarshal(body, &out), "body %s", body)
	return resp.StatusCode, out
}

// approvalBlocks is a card like the bot's: a section and Approve/Deny.
func approvalBlocks(blockID, requestID string) []slack.Block {
	return []slack.Block{
		slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, "*Lock* alice@corp.example", false, false), nil, nil),
		slack.NewActionBlock(blockID,
			slack.NewButtonBlockElement("lock_approve", requestID, slack.NewTextBlockObject(slack.PlainTextType, "Approve", false, false)),
			slack.NewButtonBlockElement("lock_deny", requestID, slack.NewTextBlockObject(slack.PlainTextType, "Deny", false, false)),
		),
	}
}

// postCard posts an approval card through slack-go and returns the recorded
// message.
func postCard(t testing.TB, fake *Server, api *slack.Client, blockID, requestID string) Message {
	t.Helper()
	ctx := testCtx(t)
	_, ts, err := api.PostMessageContext(ctx, approval,
		slack.MsgOptionText("Lock request for alice@corp.example", false),
		slack.MsgOptionBlocks(approvalBlocks(blockID, requestID)...))
	require.NoError(t, err)
	msg, ok := fake.Current(approval, ts)
	require.True(t, ok)
	return msg
}

func runtimeGoroutines() int { return runtime.NumGoroutine() }

// waitGoroutines polls until at most limit goroutines run (goroutines of
// closed connections take a moment to notice) or within has passed.
func waitGoroutines(limit int, within time.Duration) int {
	deadline := time.Now().Add(within)
	for {
		n := runtime.NumGoroutine()
		if n <= limit || time.Now().After(deadline) {
			return n
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// ackResult is what an envelope sender got.
type ackResult struct {
	ack Ack
	err error
}

// slashAsync sends "/lock text" from alice in the background; the test
// receives the result from the channel (which also joins the goroutine).
func slashAsync(t testing.TB, fake *Server, text string) <-chan ackResult {
	ctx := testCtx(t)
	got := make(chan ackResult, 1)
	go func() {
		a, err := fake.SlashCommand(ctx, alice, approval, "/lock", text)
		got <- ackResult{a, err}
	}()
	return got
}
