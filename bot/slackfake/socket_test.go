package slackfake

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSlashCommandRoundTrip(t *testing.T) {
	fake := newFake(t)
	app := connectedApp(t, fake, func(evt socketmode.Event) (any, bool) {
		cmd := evt.Data.(slack.SlashCommand)
		return map[string]string{"response_type": slack.ResponseTypeEphemeral, "text": "got " + cmd.Text}, false
	})
	hello := app.waitOther(t, socketmode.EventTypeHello)
	require.NotNil(t, hello.Request)
	assert.Equal(t, AppID, hello.Request.ConnectionInfo.AppID)
	assert.Equal(t, 1, hello.Request.NumConnections)

	ack, err := fake.SlashCommand(testCtx(t), alice, approval, "/lock", "bob@corp.example because")
	require.NoError(t, err)

	evt := app.next(t)
	require.Equal(t, socketmode.EventTypeSlashCommand, evt.Type)
	cmd, ok := evt.Data.(slack.SlashCommand)
	require.True(t, ok, "data is %T", evt.Data)
	assert.Equal(t, alice, cmd.UserID)
	assert.Equal(t, "alice", cmd.UserName)
	assert.Equal(t, approval, cmd.ChannelID)
	assert.Equal(t, "/lock", cmd.Command)
	assert.Equal(t, "bob@corp.example because", cmd.Text)
	assert.Equal(t, TeamID, cmd.TeamID)
	assert.Equal(t, AppID, cmd.APIAppID)
	assert.NotEmpty(t, cmd.TriggerID)
	assert.NotEqual(t, fake.BotToken(), cmd.Token)
	assert.True(t, strings.HasPrefix(cmd.ResponseURL, strings.TrimSuffix(fake.APIURL(), "api/")+"response/"), cmd.ResponseURL)
	assert.True(t, evt.Request.AcceptsResponsePayload)

	assert.Equal(t, evt.Request.EnvelopeID, ack.EnvelopeID)
	assert.JSONEq(t, `{"response_type":"ephemeral","text":"got bob@corp.example because"}`, string(ack.Payload))
	assert.Positive(t, ack.Elapsed)
}

func TestClickDeliversBlockActions(t *testing.T) {
	fake := newFake(t)
	app := connectedApp(t, fake, emptyAck)
	card := postCard(t, fake, app.api, "approval-req1", "req1")

	ack, err := fake.Click(testCtx(t), bob, card, "lock_approve")
	require.NoError(t, err)
	assert.Nil(t, ack.Payload, "an empty ack has no payload")

	evt := app.next(t)
	require.Equal(t, socketmode.EventTypeInteractive, evt.Type)
	assert.False(t, evt.Request.AcceptsResponsePayload)
	cb, ok := evt.Data.(slack.InteractionCallback)
	require.True(t, ok, "data is %T", evt.Data)
	assert.Equal(t, slack.InteractionTypeBlockActions, cb.Type)
	assert.Equal(t, bob, cb.User.ID)
	assert.Equal(t, "bob", cb.User.Name)
	assert.Equal(t, approval, cb.Channel.ID)
	assert.Equal(t, "message", cb.Container.Type)
	assert.Equal(t, card.TS, cb.Container.MessageTs)
	assert.Equal(t, approval, cb.Container.ChannelID)
	assert.False(t, cb.Container.IsEphemeral)
	assert.Equal(t, card.TS, cb.Message.Timestamp)
	assert.Len(t, cb.Message.Blocks.BlockSet, 2)
	assert.NotEmpty(t, cb.ResponseURL)
	assert.NotEmpty(t, cb.TriggerID)
	require.Len(t, cb.ActionCallback.BlockActions, 1)
	assert.Empty(t, cb.ActionCallback.AttachmentActions)
	act := cb.ActionCallback.BlockActions[0]
	assert.Equal(t, "lock_approve", act.ActionID)
	assert.Equal(t, "req1", act.Value)
	assert.Equal(t, "approval-req1", act.BlockID)
	assert.Equal(t, "Approve", act.Text.Text)
	assert.NotEmpty(t, act.ActionTs)

	// The decision removes the buttons; the old card value no longer works.
	_, _, _, err = app.api.UpdateMessageContext(testCtx(t), approval, card.TS,
		slack.MsgOptionText("Approved by bob", false),
		slack.MsgOptionBlocks(slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, "Approved", false, false), nil, nil)))
	require.NoError(t, err)
	_, err = fake.Click(testCtx(t), alice, card, "lock_deny")
	require.ErrorIs(t, err, ErrNoButton)

	// A replayed stale click still reaches the app, with the old block_id.
	_, err = fake.ClickValue(testCtx(t), alice, approval, card.TS, "lock_deny", "req1")
	require.NoError(t, err)
	stale := app.next(t).Data.(slack.InteractionCallback)
	require.Len(t, stale.ActionCallback.BlockActions, 1)
	assert.Equal(t, "approval-req1", stale.ActionCallback.BlockActions[0].BlockID)
	assert.Equal(t, "req1", stale.ActionCallback.BlockActions[0].Value)
	assert.Equal(t, "Approved by bob", stale.Message.Text, "the payload shows the message as it is now")
}

func TestClickInventsMissingBlockIDs(t *testing.T) {
	fake := newFake(t)
	app := connectedApp(t, fake, emptyAck)
	card := postCard(t, fake, app.api, "", "req2")
	buttons := card.Buttons()
	require.Len(t, buttons, 2)
	assert.Equal(t, "fakeblk1", buttons[0].BlockID)

	_, err := fake.Click(testCtx(t), bob, card, "lock_deny")
	require.NoError(t, err)
	cb := app.next(t).Data.(slack.InteractionCallback)
	require.Len(t, cb.ActionCallback.BlockActions, 1)
	assert.Equal(t, "fakeblk1", cb.ActionCallback.BlockActions[0].BlockID)
	assert.Equal(t, "lock_deny", cb.ActionCallback.BlockActions[0].ActionID)
	assert.Equal(t, "fakeblk1", cb.Message.Blocks.BlockSet[1].ID(), "the echoed message carries the invented block_id")
}

func TestClickValueOnUnknownMessageIsForged(t *testing.T) {
	fake := newFake(t)
	app := connectedApp(t, fake, emptyAck)
	_, err := fake.ClickValue(testCtx(t), guest, approval, "1700000000.000001", "lock_approve", "nope")
	require.NoError(t, err)
	cb := app.next(t).Data.(slack.InteractionCallback)
	require.Len(t, cb.ActionCallback.BlockActions, 1)
	assert.Equal(t, "forged", cb.ActionCallback.BlockActions[0].BlockID)
	assert.Equal(t, "nope", cb.ActionCallback.BlockActions[0].Value)
	assert.Equal(t, "1700000000.000001", cb.Container.MessageTs)
}

func TestClickEphemeralMessage(t *testing.T) {
	fake := newFake(t)
	app := connectedApp(t, fake, emptyAck)
	ts, err := app.api.PostEphemeralContext(testCtx(t), approval, alice,
		slack.MsgOptionText("Reveal?", false), slack.MsgOptionBlocks(approvalBlocks("eph", "r9")...))
	require.NoError(t, err)
	eph, err := fake.WaitMessage(testCtx(t), func(m Message) bool { return m.Kind == KindEphemeral && m.TS == ts })
	require.NoError(t, err)

	_, err = fake.Click(testCtx(t), alice, eph, "lock_approve")
	require.NoError(t, err)
	cb := app.next(t).Data.(slack.InteractionCallback)
	assert.True(t, cb.Container.IsEphemeral)
	assert.Equal(t, "eph", cb.ActionCallback.BlockActions[0].BlockID)
}

func TestResendRedeliversSameEnvelope(t *testing.T) {
	fake := newFake(t)
	app := connectedApp(t, fake, emptyAck)
	first, err := fake.SlashCommand(testCtx(t), alice, approval, "/lock", "x@corp.example")
	require.NoError(t, err)
	orig := app.next(t)

	again, err := fake.Resend(testCtx(t), first.EnvelopeID)
	require.NoError(t, err)
	dup := app.next(t)
	assert.Equal(t, first.EnvelopeID, again.EnvelopeID)
	assert.Equal(t, orig.Request.EnvelopeID, dup.Request.EnvelopeID)
	assert.JSONEq(t, string(orig.Request.Payload), string(dup.Request.Payload))

	_, err = fake.Resend(testCtx(t), "never-sent")
	require.ErrorIs(t, err, ErrUnknownEnvelope)
}

func TestDisconnectReconnects(t *testing.T) {
	fake := newFake(t)
	app := connectedApp(t, fake, emptyAck)
	require.Equal(t, 1, fake.Connections())

	fake.Disconnect("refresh_requested")
	require.NoError(t, fake.WaitConnected(testCtx(t)))
	assert.Equal(t, 2, fake.Connections())
	connected := app.waitOther(t, socketmode.EventTypeConnected).Data.(*socketmode.ConnectedEvent)
	assert.Equal(t, 0, connected.ConnectionCount)
	connected = app.waitOther(t, socketmode.EventTypeConnected).Data.(*socketmode.ConnectedEvent)
	assert.Equal(t, 1, connected.ConnectionCount)

	_, err := fake.SlashCommand(testCtx(t), alice, approval, "/lock", "after@corp.example")
	require.NoError(t, err)
	assert.Equal(t, "after@corp.example", app.next(t).Data.(slack.SlashCommand).Text)
	assert.Equal(t, 2, count(fake.Calls(), "apps.connections.open"))

	fake.Disconnect("warning") // twice in a row is fine, and so is no client
	require.NoError(t, fake.WaitConnected(testCtx(t)))
	app.stop()
	fake.Disconnect("warning")
}

func TestAppTokenErrors(t *testing.T) {
	tests := []struct {
		name     string
		knob     string
		appToken func(*Server) string
		fatal    bool
		wantErr  string
	}{
		{name: "knob invalid_auth is fatal", knob: "invalid_auth", appToken: (*Server).AppToken, fatal: true, wantErr: "invalid_auth"},
		{name: "wrong app token", appToken: func(*Server) string { return "xapp-wrong" }, fatal: true, wantErr: "invalid_auth"},
		{name: "bot token as app token", appToken: (*Server).BotToken, wantErr: "not_allowed_token_type"},
		{name: "knob not_allowed_token_type", knob: "not_allowed_token_type", appToken: (*Server).AppToken, wantErr: "not_allowed_token_type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := newFake(t)
			fake.SetAppTokenError(tt.knob)
			app := startApp(t, fake, emptyAck, tt.appToken(fake))
			if tt.fatal {
				select {
				case err := <-app.runErr:
					require.Error(t, err)
					assert.Equal(t, tt.wantErr, err.Error())
				case <-time.After(testTimeout):
					t.Fatal("RunContext kept running")
				}
			} else {
				evt := app.waitOther(t, socketmode.EventTypeConnectionError)
				assert.Equal(t, tt.wantErr, evt.Data.(*slack.ConnectionErrorEvent).ErrorObj.Error())
			}
			assert.Zero(t, fake.Connections())
			calls := fake.Calls()
			require.NotEmpty(t, calls)
			assert.Equal(t, tt.wantErr, calls[0].Error)
		})
	}
}

func TestSetAppTokenErrorClears(t *testing.T) {
	fake := newFake(t)
	fake.SetAppTokenError("invalid_auth")
	fake.SetAppTokenError("")
	connectedApp(t, fake, emptyAck)
	assert.Equal(t, 1, fake.Connections())
}

func TestEnvelopeWaitsForAClient(t *testing.T) {
	fake := newFake(t)
	short, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := fake.SlashCommand(short, alice, approval, "/lock", "x")
	require.ErrorIs(t, err, context.DeadlineExceeded)

	// A command issued before the app connects is delivered once it does.
	got := slashAsync(t, fake, "early@corp.example")
	app := startApp(t, fake, emptyAck, fake.AppToken())
	r := <-got
	require.NoError(t, r.err)
	assert.Equal(t, "early@corp.example", app.next(t).Data.(slack.SlashCommand).Text)
}

func TestEnvelopeWithoutAckTimesOut(t *testing.T) {
	fake := newFake(t)
	app := connectedApp(t, fake, func(socketmode.Event) (any, bool) { return nil, true })
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := fake.SlashCommand(short, alice, approval, "/lock", "x")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	app.next(t) // it was delivered, just never acked
	fake.mu.Lock()
	defer fake.mu.Unlock()
	assert.Empty(t, fake.waiters, "a timed-out waiter is forgotten")
}

// rawSocket opens the Socket Mode WebSocket the way a client does.
func rawSocket(t *testing.T, fake *Server) *websocket.Conn {
	t.Helper()
	_, answer := rawJSON(t, fake.APIURL()+"apps.connections.open", fake.AppToken(), "")
	require.Equal(t, true, answer["ok"], answer)
	u := answer["url"].(string)
	require.True(t, strings.HasPrefix(u, "ws://127.0.0.1:"), u)
	conn, resp, err := websocket.DefaultDialer.Dial(u, http.Header{"Origin": {"https://api.slack.com"}})
	require.NoError(t, err)
	resp.Body.Close()
	t.Cleanup(func() { conn.Close() })
	return conn
}

func TestRawSocketHelloPingsAndAcks(t *testing.T) {
	fake := newFake(t, WithPingInterval(5*time.Millisecond))
	conn := rawSocket(t, fake)

	var hello map[string]any
	require.NoError(t, conn.ReadJSON(&hello))
	assert.Equal(t, "hello", hello["type"])
	assert.EqualValues(t, 1, hello["num_connections"])
	assert.Equal(t, map[string]any{"app_id": AppID}, hello["connection_info"])

	pinged := make(chan struct{}, 1)
	conn.SetPingHandler(func(string) error {
		select {
		case pinged <- struct{}{}:
		default:
		}
		return nil
	})
	got := slashAsync(t, fake, "raw")

	var env map[string]any
	require.NoError(t, conn.ReadJSON(&env)) // pings are handled inside the read
	assert.Equal(t, "slash_commands", env["type"])
	assert.Equal(t, true, env["accepts_response_payload"])
	id := env["envelope_id"].(string)

	// Junk and unknown acks are ignored; the right one is routed.
	for _, frame := range []string{`not json`, `{"payload":{}}`, `{"envelope_id":"someone-else"}`, `{"envelope_id":"` + id + `","payload":{"text":"hi"}}`} {
		require.NoError(t, conn.WriteMessage(websocket.TextMessage, []byte(frame)))
	}
	r := <-got
	require.NoError(t, r.err)
	assert.JSONEq(t, `{"text":"hi"}`, string(r.ack.Payload))

	go func() { _, _, _ = conn.ReadMessage() }() // keep reading so pings are seen
	select {
	case <-pinged:
	case <-time.After(testTimeout):
		t.Fatal("no ping")
	}
}

func TestSocketTicketRules(t *testing.T) {
	fake := newFake(t)
	_, answer := rawJSON(t, fake.APIURL()+"apps.connections.open", fake.AppToken(), "")
	u := answer["url"].(string)
	hdr := http.Header{"Origin": {"https://api.slack.com"}}

	conn, resp, err := websocket.DefaultDialer.Dial(u, hdr)
	require.NoError(t, err)
	resp.Body.Close()
	defer conn.Close()
	_, _, err = conn.ReadMessage() // hello: the server has counted the connection
	require.NoError(t, err)

	for _, bad := range []string{u, strings.Split(u, "?")[0], strings.Replace(u, "ticket=", "ticket=9", 1)} {
		_, resp, err := websocket.DefaultDialer.Dial(bad, hdr)
		require.Error(t, err, bad)
		require.NotNil(t, resp)
		assert.Equal(t, http.StatusForbidden, resp.StatusCode, bad)
		resp.Body.Close()
	}
	assert.Equal(t, 1, fake.Connections())
}

func TestCloseWakesWaitersAndRefusesWork(t *testing.T) {
	fake := New()
	feed, cancelFeed := fake.Subscribe(4)
	errs := make(chan error, 3)
	go func() { errs <- fake.WaitConnected(context.Background()) }()
	go func() {
		_, err := fake.WaitMessage(context.Background(), func(Message) bool { return false })
		errs <- err
	}()
	go func() {
		_, err := fake.SlashCommand(context.Background(), alice, approval, "/lock", "x")
		errs <- err
	}()
	fake.Close()
	fake.Close()
	for range 3 {
		assert.ErrorIs(t, <-errs, ErrClosed)
	}
	_, open := <-feed
	assert.False(t, open, "Close closes feeds")
	cancelFeed()

	_, err := fake.SlashCommand(context.Background(), alice, approval, "/lock", "x")
	assert.ErrorIs(t, err, ErrClosed)
	_, err = fake.ClickValue(context.Background(), alice, approval, "1.2", "a", "b")
	assert.ErrorIs(t, err, ErrClosed)
	feed, cancelFeed = fake.Subscribe(1)
	_, open = <-feed
	assert.False(t, open)
	cancelFeed()
}

func TestCloseLeavesNoGoroutines(t *testing.T) {
	before := runtimeGoroutines()
	func() {
		fake := New(WithUsers(testUsers()...), WithChannels(approval), WithPingInterval(time.Millisecond))
		defer fake.Close()
		app := startApp(t, fake, emptyAck, fake.AppToken())
		require.NoError(t, fake.WaitConnected(testCtx(t)))
		_, err := fake.SlashCommand(testCtx(t), alice, approval, "/lock", "x")
		require.NoError(t, err)
		fake.Disconnect("warning")
		require.NoError(t, fake.WaitConnected(testCtx(t)))
		dialRaw(t, fake, 1)
		require.True(t, fake.DisconnectConn(fake.Connections(), ReasonWarning), "a grace period left running")
		_, cancelFeed := fake.Subscribe(1)
		defer cancelFeed()
		app.stop()
	}()
	settled := waitGoroutines(before, testTimeout)
	assert.LessOrEqual(t, settled, before, "goroutines left running after Close")
}

func count(calls []Call, method string) int {
	n := 0
	for _, c := range calls {
		if c.Method == method {
			n++
		}
	}
	return n
}

func TestDuplicateDeliveriesEachGetAnAck(t *testing.T) {
	fake := newFake(t)
	conn := rawSocket(t, fake)
	_, _, err := conn.ReadMessage() // hello
	require.NoError(t, err)

	first := slashAsync(t, fake, "dup")
	_, frame, err := conn.ReadMessage()
	require.NoError(t, err)
	a, err := parseAck(frame) // an envelope has the same envelope_id field
	require.NoError(t, err)
	id := a.EnvelopeID
	second := make(chan ackResult, 1)
	go func() {
		a, err := fake.Resend(testCtx(t), id)
		second <- ackResult{a, err}
	}()
	_, again, err := conn.ReadMessage()
	require.NoError(t, err)
	var orig, redelivered map[string]any
	require.NoError(t, json.Unmarshal(frame, &orig))
	require.NoError(t, json.Unmarshal(again, &redelivered))
	assert.EqualValues(t, 0, orig["retry_attempt"])
	assert.Equal(t, "", orig["retry_reason"])
	assert.EqualValues(t, 1, redelivered["retry_attempt"], "a redelivery says it is one")
	assert.Equal(t, "timeout", redelivered["retry_reason"])
	orig["retry_attempt"], orig["retry_reason"] = redelivered["retry_attempt"], redelivered["retry_reason"]
	assert.Equal(t, orig, redelivered, "otherwise the same envelope: id and payload")

	for _, p := range []string{`{"n":1}`, `{"n":2}`} {
		require.NoError(t, conn.WriteMessage(websocket.TextMessage, []byte(`{"envelope_id":"`+id+`","payload":`+p+`}`)))
	}
	r1, r2 := <-first, <-second
	require.NoError(t, r1.err)
	require.NoError(t, r2.err)
	assert.JSONEq(t, `{"n":1}`, string(r1.ack.Payload), "acks go to waiters oldest first")
	assert.JSONEq(t, `{"n":2}`, string(r2.ack.Payload))
}

func TestPayloadsForUnknownUsersAndDMs(t *testing.T) {
	fake := newFake(t)
	app := connectedApp(t, fake, emptyAck)
	_, err := fake.SlashCommand(testCtx(t), "USTRANGER", fake.DMChannel(alice), "/lock", "x")
	require.NoError(t, err)
	cmd := app.next(t).Data.(slack.SlashCommand)
	assert.Equal(t, "ustranger", cmd.UserName)
	assert.Equal(t, "directmessage", cmd.ChannelName)
}
