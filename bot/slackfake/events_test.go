package slackfake

import (
	"context"
	"testing"
	"time"

	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func mention() map[string]any {
	return map[string]any{"type": "app_mention", "user": alice, "text": "<@UBOT> hi", "channel": approval, "ts": "1700000000.000100"}
}

func TestEventIsRedeliveredUntilAcked(t *testing.T) {
	fake := newFake(t, WithAckTimeout(100*time.Millisecond), WithEventRetryDelays(0, 0, 0))
	rc := dialRaw(t, fake, 1)
	done := make(chan ackResult, 1)
	go func() {
		a, err := fake.SendEvent(testCtx(t), mention())
		done <- ackResult{a, err}
	}()

	var id string
	for attempt := range 3 {
		f := rc.next(t).frame
		assert.Equal(t, "events_api", f["type"])
		assert.EqualValues(t, attempt, f["retry_attempt"])
		want := ""
		if attempt > 0 {
			want = "timeout"
		}
		assert.Equal(t, want, f["retry_reason"])
		if id == "" {
			id = f["envelope_id"].(string)
		}
		assert.Equal(t, id, f["envelope_id"], "a redelivery keeps the envelope_id")
		payload := f["payload"].(map[string]any)
		assert.Equal(t, "event_callback", payload["type"])
		assert.Equal(t, "app_mention", payload["event"].(map[string]any)["type"])
	}
	rc.ack(t, 0, id)
	r := <-done
	require.NoError(t, r.err)
	assert.Equal(t, id, r.ack.EnvelopeID)

	var states []DeliveryState
	for _, d := range fake.Deliveries() {
		states = append(states, d.State)
	}
	assert.Equal(t, []DeliveryState{DeliveryFailed, DeliveryFailed, DeliveryAcked}, states)
}

func TestEventFailsAfterTheLastRetry(t *testing.T) {
	fake := newFake(t, WithAckTimeout(50*time.Millisecond), WithEventRetryDelays(time.Millisecond))
	dialRaw(t, fake, 1)
	_, err := fake.SendEvent(testCtx(t), mention())
	require.ErrorIs(t, err, ErrNoAck)
	d := fake.Deliveries()
	require.Len(t, d, 2, "the first delivery and one retry")
	assert.Equal(t, 1, d[1].RetryAttempt)
	assert.Equal(t, "timeout", d[1].RetryReason)

	noRetry := newFake(t, WithAckTimeout(50*time.Millisecond), WithEventRetryDelays())
	dialRaw(t, noRetry, 1)
	_, err = noRetry.SendEvent(testCtx(t), mention())
	require.ErrorIs(t, err, ErrNoAck)
	assert.Len(t, noRetry.Deliveries(), 1)
}

func TestEventRetryWaitsItsDelay(t *testing.T) {
	fake := newFake(t, WithAckTimeout(50*time.Millisecond), WithEventRetryDelays(time.Hour))
	dialRaw(t, fake, 1)
	ctx, cancel := context.WithCancel(testCtx(t))
	done := make(chan error, 1)
	go func() {
		_, err := fake.SendEvent(ctx, mention())
		done <- err
	}()
	_, err := fake.WaitDelivery(testCtx(t), func(d Delivery) bool { return d.State == DeliveryFailed })
	require.NoError(t, err)
	cancel()
	require.ErrorIs(t, <-done, context.Canceled, "the retry was still waiting for its hour")
	assert.Len(t, fake.Deliveries(), 1)
}

func TestEventReachesSlackGo(t *testing.T) {
	fake := newFake(t)
	app := connectedApp(t, fake, emptyAck)
	done := make(chan error, 1)
	go func() {
		_, err := fake.SendEvent(testCtx(t), mention())
		done <- err
	}()
	evt := app.waitOther(t, socketmode.EventTypeEventsAPI)
	api, ok := evt.Data.(slackevents.EventsAPIEvent)
	require.True(t, ok, "%T", evt.Data)
	assert.Equal(t, slackevents.CallbackEvent, api.Type)
	m, ok := api.InnerEvent.Data.(*slackevents.AppMentionEvent)
	require.True(t, ok, "%T", api.InnerEvent.Data)
	assert.Equal(t, alice, m.User)
	assert.Equal(t, 0, evt.Request.RetryAttempt)
	require.NoError(t, app.sm.Ack(*evt.Request))
	require.NoError(t, <-done)
}

func TestSendEventErrors(t *testing.T) {
	fake := New()
	_, err := fake.SendEvent(testCtx(t), func() {})
	require.Error(t, err, "an event that is not JSON")
	fake.Close()
	_, err = fake.SendEvent(testCtx(t), mention())
	require.ErrorIs(t, err, ErrClosed)
}
