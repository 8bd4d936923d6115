package bot

import (
	"fmt"
	"time"

	"github.com/slack-go/slack"
)

// digestView is what a burst digest shows.
type digestView struct {
	Started  time.Time
	People   int // people whose lock finished
	Devices  int
	Secured  int
	NoDevice int      // people with no device assigned
	Failures []string // one line per person with a failed device
	Queued   int      // people accepted and not finished
	Over     bool
	Command  string
}

// burstDigest is the one message that stands for many automatic lock
// reports while a burst lasts. Every person is in it: counted when done,
// listed when something failed. PINs are reached with /lock pins, since a
// button per person would not fit.
func burstDigest(v digestView, dry bool) message {
	title := "🚨 Burst of automatic locks in progress"
	if v.Over {
		title = "🔒 Burst of automatic locks: finished"
	}
	var b []slack.Block
	b = append(b, header(dryPrefix(dry)+title))
	b = append(b, dryRunNote(dry)...)
	b = append(b, fields(
		"People done", fmt.Sprint(v.People),
		"People queued", fmt.Sprint(v.Queued),
		"Devices secured", fmt.Sprintf("%d of %d", v.Secured, v.Devices),
		"People with a failure", fmt.Sprint(len(v.Failures)),
	))
	if v.NoDevice > 0 {
		b = append(b, section(fmt.Sprintf("%d %s no device assigned in Kandji; nothing to lock for them.", v.NoDevice, pluralize(v.NoDevice, "person has", "people have"))))
	}
	if len(v.Failures) > 0 {
		b = append(b, listSections("*Failures* (not locked: check these devices in Kandji):", v.Failures)...)
	}
	pace := "Okta events are arriving faster than one report a second, so this message stands for their individual reports until the burst is over."
	if v.Over {
		pace = "Okta events arrived faster than one report a second, so this message stands for their individual reports; they have resumed."
	}
	b = append(b, contextLine(fmt.Sprintf("%s Started %s. Every lock is in the audit journal. Approvers get a person's unlock PINs by DM with `%s pins user@corp.com`.",
		pace, slackDate(v.Started), v.Command)))
	text := fmt.Sprintf("%sBurst of automatic locks: %d people done, %d queued, %d with failures", dryPrefix(dry), v.People, v.Queued, len(v.Failures))
	return message{Blocks: b, Text: text}
}

func pluralize(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
