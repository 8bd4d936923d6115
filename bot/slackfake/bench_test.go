package slackfake

import (
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
)

// BenchmarkSlashCommandRoundTrip measures a slash command envelope from the
// fake to the real slack-go client and its ack back; ack_µs is the mean
// Ack.Elapsed the fake measured.
func BenchmarkSlashCommandRoundTrip(b *testing.B) {
	fake := newFake(b)
	connectedApp(b, fake, emptyAck)
	ctx := b.Context()
	var total time.Duration
	for b.Loop() {
		ack, err := fake.SlashCommand(ctx, alice, approval, "/lock", "bench@corp.example")
		if err != nil {
			b.Fatal(err)
		}
		total += ack.Elapsed
	}
	b.ReportMetric(float64(total.Microseconds())/float64(b.N), "ack_µs")
}

// BenchmarkPostMessage measures chat.postMessage with an approval card
// through slack-go, including block validation and recording.
func BenchmarkPostMessage(b *testing.B) {
	fake := newFake(b, WithoutRateLimits())
	api := newAPI(b, fake, fake.BotToken(), "")
	ctx := b.Context()
	blocks := slack.MsgOptionBlocks(approvalBlocks("blk", "req")...)
	for b.Loop() {
		if _, _, err := api.PostMessageContext(ctx, approval, slack.MsgOptionText("card", false), blocks); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(fake.Messages()))/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkValidateBlocks measures the limit check on a 50-block message.
func BenchmarkValidateBlocks(b *testing.B) {
	parts := make([]string, 0, 50)
	for range 25 {
		parts = append(parts, section(strings.Repeat("x", 500)), actions(button("lock_approve", "req", "Approve"), button("lock_deny", "req", "Deny")))
	}
	raw := []byte("[" + strings.Join(parts, ",") + "]")
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if prob := validateBlocks(raw); prob != nil {
			b.Fatal(prob.details)
		}
	}
}
