package slackfake

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rawFrame is one frame a raw client read, with the client it came to.
type rawFrame struct {
	client int
	frame  map[string]any
}

// rawClients are raw Socket Mode connections whose frames (after hello)
// are read in the background into one channel.
type rawClients struct {
	conns  []*websocket.Conn
	hellos []map[string]any
	frames chan rawFrame
	wg     sync.WaitGroup
}

// dialRaw opens n connections one after another, reading each one's hello
// and waiting until the fake routes envelopes to it before the next is
// opened.
func dialRaw(t *testing.T, fake *Server, n int) *rawClients {
	t.Helper()
	rc := &rawClients{frames: make(chan rawFrame, 256)}
	for i := range n {
		conn := rawSocket(t, fake)
		var hello map[string]any
		require.NoError(t, conn.ReadJSON(&hello))
		rc.conns = append(rc.conns, conn)
		rc.hellos = append(rc.hellos, hello)
		if hello["type"] == "hello" {
			want := int(hello["num_connections"].(float64))
			require.NoError(t, fake.waitUntil(testCtx(t), func() bool { return len(fake.readyConnsLocked()) >= want }))
		}
		rc.wg.Go(func() {
			for {
				var f map[string]any
				if err := conn.ReadJSON(&f); err != nil {
					return
				}
				rc.frames <- rawFrame{client: i, frame: f}
			}
		})
	}
	t.Cleanup(func() {
		for _, c := range rc.conns {
			_ = c.Close()
		}
		rc.wg.Wait()
	})
	return rc
}

func (rc *rawClients) next(t *testing.T) rawFrame {
	t.Helper()
	select {
	case f := <-rc.frames:
		return f
	case <-time.After(testTimeout):
		t.Fatal("no frame arrived")
	}
	return rawFrame{}
}

// ack acknowledges an envelope on client i's connection.
func (rc *rawClients) ack(t *testing.T, i int, id string) {
	t.Helper()
	require.NoError(t, rc.conns[i].WriteJSON(map[string]any{"envelope_id": id}))
}

func TestHelloCountsOpenConnections(t *testing.T) {
	fake := newFake(t)
	rc := dialRaw(t, fake, 3)
	for i, h := range rc.hellos {
		assert.EqualValues(t, i+1, h["num_connections"], "hello %d", i)
	}
	require.NoError(t, rc.conns[0].Close())
	require.NoError(t, fake.waitUntil(testCtx(t), func() bool { return len(fake.conns) == 2 && len(fake.readyConnsLocked()) == 2 }))
	assert.Equal(t, []int{2, 3}, fake.OpenConnections())
	more := dialRaw(t, fake, 1)
	assert.EqualValues(t, 3, more.hellos[0]["num_connections"])
	assert.Equal(t, 4, fake.Connections())
	require.NoError(t, fake.WaitConnections(testCtx(t), 3))
}

func TestEleventhConnectionIsRefused(t *testing.T) {
	fake := newFake(t)
	dialRaw(t, fake, maxConnections)
	extra := rawSocket(t, fake)
	var f map[string]any
	require.NoError(t, extra.ReadJSON(&f))
	assert.Equal(t, map[string]any{"type": "disconnect", "reason": "too_many_websockets", "debug_info": map[string]any{"host": "slackfake"}}, f)
	_, _, err := extra.ReadMessage()
	require.Error(t, err, "and closed")
	assert.Len(t, fake.OpenConnections(), maxConnections)
}

func TestEnvelopesGoToOneRandomConnection(t *testing.T) {
	route := func(seed uint64) []int {
		fake := newFake(t, WithSeed(seed))
		assert.Equal(t, seed, fake.Seed())
		rc := dialRaw(t, fake, 3)
		var got []int
		for range 12 {
			res := slashAsync(t, fake, "x")
			f := rc.next(t)
			rc.ack(t, f.client, f.frame["envelope_id"].(string))
			r := <-res
			require.NoError(t, r.err)
			assert.Equal(t, f.client+1, r.ack.Conn, "the ack came back on the connection that got the envelope")
			got = append(got, f.client)
		}
		select {
		case f := <-rc.frames:
			t.Fatalf("an envelope went to a second connection: %v", f)
		default:
		}
		return got
	}
	first := route(7)
	assert.Equal(t, first, route(7), "the same seed routes the same way")
	seen := map[int]bool{}
	for _, c := range first {
		seen[c] = true
	}
	assert.Greater(t, len(seen), 1, "envelopes are spread over the connections: %v", first)
}

func TestAckOnAnotherConnectionIsIgnored(t *testing.T) {
	fake := newFake(t, WithAckTimeout(200*time.Millisecond))
	rc := dialRaw(t, fake, 2)
	res := slashAsync(t, fake, "x")
	f := rc.next(t)
	id := f.frame["envelope_id"].(string)
	other := 1 - f.client
	rc.ack(t, other, id)
	require.NoError(t, fake.waitUntil(testCtx(t), func() bool { return len(fake.strays) == 1 }))
	stray := fake.StrayAcks()[0]
	assert.Equal(t, StrayAck{EnvelopeID: id, Conn: other + 1, Reason: "wrong_connection", At: stray.At}, stray)

	r := <-res
	require.ErrorIs(t, r.err, ErrNoAck, "Slack ignored the ack, so the command failed")
	d := fake.Deliveries()
	require.Len(t, d, 1)
	assert.Equal(t, DeliveryFailed, d[0].State)
	assert.Equal(t, f.client+1, d[0].Conn)

	rc.ack(t, f.client, id)
	require.NoError(t, fake.waitUntil(testCtx(t), func() bool { return len(fake.strays) == 2 }))
	assert.Equal(t, "late", fake.StrayAcks()[1].Reason)
	rc.ack(t, f.client, "never-sent")
	require.NoError(t, fake.waitUntil(testCtx(t), func() bool { return len(fake.strays) == 3 }))
	assert.Equal(t, "unknown_envelope", fake.StrayAcks()[2].Reason)
}

func TestDuplicateAckIsStray(t *testing.T) {
	fake := newFake(t)
	rc := dialRaw(t, fake, 1)
	res := slashAsync(t, fake, "x")
	id := rc.next(t).frame["envelope_id"].(string)
	rc.ack(t, 0, id)
	rc.ack(t, 0, id)
	require.NoError(t, (<-res).err)
	require.NoError(t, fake.waitUntil(testCtx(t), func() bool { return len(fake.strays) == 1 }))
	assert.Equal(t, "duplicate", fake.StrayAcks()[0].Reason)
}

func TestUnackedCommandFailsThroughSlackGo(t *testing.T) {
	fake := newFake(t, WithAckTimeout(100*time.Millisecond))
	app := connectedApp(t, fake, func(socketmode.Event) (any, bool) { return nil, true })
	ack, err := fake.SlashCommand(testCtx(t), alice, approval, "/lock", "x")
	require.ErrorIs(t, err, ErrNoAck)
	assert.NotEmpty(t, ack.EnvelopeID)
	app.next(t)
	d, err := fake.WaitDelivery(testCtx(t), func(d Delivery) bool { return d.State == DeliveryFailed })
	require.NoError(t, err)
	assert.Equal(t, Delivery{EnvelopeID: ack.EnvelopeID, Type: "slash_commands", Conn: 1, State: DeliveryFailed, SentAt: d.SentAt}, d)
}

func TestDeliveriesRecordAcks(t *testing.T) {
	fake := newFake(t)
	app := connectedApp(t, fake, emptyAck)
	card := postCard(t, fake, app.api, "b", "r")
	_, err := fake.Click(testCtx(t), bob, card, "lock_approve")
	require.NoError(t, err)
	d := fake.Deliveries()
	require.Len(t, d, 1)
	assert.Equal(t, "interactive", d[0].Type)
	assert.Equal(t, DeliveryAcked, d[0].State)

	short, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, err = fake.WaitDelivery(short, func(d Delivery) bool { return d.Type == "events_api" })
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestDisconnectReasons(t *testing.T) {
	for _, reason := range []string{ReasonRefreshRequested, ReasonLinkDisabled} {
		t.Run(reason, func(t *testing.T) {
			fake := newFake(t)
			rc := dialRaw(t, fake, 2)
			fake.Disconnect(reason)
			for range 2 {
				f := rc.next(t)
				assert.Equal(t, "disconnect", f.frame["type"])
				assert.Equal(t, reason, f.frame["reason"])
			}
			assert.Empty(t, fake.OpenConnections(), "closed at once")
		})
	}
}

func TestWarningKeepsTheConnectionForAWhile(t *testing.T) {
	fake := newFake(t, WithWarningGrace(time.Hour))
	rc := dialRaw(t, fake, 2)
	assert.True(t, fake.DisconnectConn(1, ReasonWarning))
	f := rc.next(t)
	assert.Equal(t, 0, f.client)
	assert.Equal(t, "warning", f.frame["reason"])
	assert.Equal(t, []int{1, 2}, fake.OpenConnections(), "a warned connection still receives envelopes")
	fake.DisconnectConn(1, ReasonWarning)
	assert.False(t, fake.DisconnectConn(9, ReasonWarning))

	short := newFake(t, WithWarningGrace(time.Millisecond))
	one := dialRaw(t, short, 1)
	short.Disconnect(ReasonWarning)
	assert.Equal(t, "warning", one.next(t).frame["reason"])
	require.NoError(t, short.waitUntil(testCtx(t), func() bool { return len(short.readyConnsLocked()) == 0 }),
		"closed once the grace is over")
}

func TestSlackGoReconnectsOnWarning(t *testing.T) {
	fake := newFake(t)
	app := connectedApp(t, fake, emptyAck)
	fake.Disconnect(ReasonWarning)
	require.NoError(t, fake.waitUntil(testCtx(t), func() bool {
		conns := fake.readyConnsLocked()
		return fake.connections == 2 && len(conns) == 1 && conns[0].id == 2
	}), "slack-go closes the warned connection and opens a new one")
	_, err := fake.SlashCommand(testCtx(t), alice, approval, "/lock", "after")
	require.NoError(t, err)
	assert.Equal(t, "after", app.next(t).Data.(slack.SlashCommand).Text)
}

func TestEnvelopeFramesCarryRetryFields(t *testing.T) {
	fake := newFake(t)
	rc := dialRaw(t, fake, 1)
	res := slashAsync(t, fake, "x")
	f := rc.next(t)
	raw, err := json.Marshal(f.frame)
	require.NoError(t, err)
	assert.Contains(t, string(raw), `"retry_attempt":0`)
	assert.Contains(t, string(raw), `"retry_reason":""`)
	rc.ack(t, 0, f.frame["envelope_id"].(string))
	require.NoError(t, (<-res).err)
}
