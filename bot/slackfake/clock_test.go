package slackfake

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestManualClock(t *testing.T) {
	start := time.Unix(1_800_000_000, 0)
	c := NewManualClock(start)
	assert.Equal(t, start, c.Now())
	c.Advance(time.Minute)
	assert.Equal(t, start.Add(time.Minute), c.Now())
	c.Advance(-2 * time.Minute)
	assert.Equal(t, start.Add(-time.Minute), c.Now())
	assert.False(t, systemClock{}.Now().IsZero())
}

func TestRecordingsUseTheClock(t *testing.T) {
	clock := NewManualClock(time.Unix(1_900_000_000, 0))
	fake := newFake(t, WithClock(clock), WithClock(nil))
	api := newAPI(t, fake, fake.BotToken(), "")
	_, err := api.AuthTestContext(testCtx(t))
	if assert.NoError(t, err) {
		assert.Equal(t, clock.Now(), fake.Calls()[0].At, "a nil clock keeps the one set before")
	}
}
