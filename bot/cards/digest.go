package cards

import (
	"fmt"
	"time"

	"github.com/slack-go/slack"
)

// MaxDigestPeople is how many people one digest message lists for a PIN
// reveal: a select menu holds at most 100 options. A longer burst opens the
// next digest message.
const MaxDigestPeople = 100

// DigestPerson is one person a digest stands for.
type DigestPerson struct {
	LockID  string
	Email   string
	Secured int
	Total   int
	Failure string // why a device is not locked; "" when none is
	MacPINs bool   // a Mac is locked, so the person has unlock PINs
	Final   bool
}

// Digest is the view of one burst digest message.
type Digest struct {
	Started time.Time
	Over    bool
	Part    int // 1 for the first message of a burst
	People  []DigestPerson
	Queued  int // people of the burst not finished yet
	Command string
	DryRun  bool
}

// DigestCard is the one message that stands for many automatic lock
// reports while a burst lasts: every person in it is counted, every
// failure listed, and an approver gets anyone's PINs from its menu.
func DigestCard(v Digest) Message {
	var done, devices, secured, nothing int
	var failures []string
	var options []*slack.OptionBlockObject
	for _, p := range v.People {
		if !p.Final {
			continue
		}
		done++
		devices += p.Total
		secured += p.Secured
		if p.Total == 0 {
			nothing++
		}
		if p.Failure != "" {
			failures = append(failures, fmt.Sprintf("*%s* — %d of %d secured: %s (lock `%s`)", Mrkdwn(p.Email), p.Secured, p.Total, Mrkdwn(clip(p.Failure, 160)), p.LockID))
		}
		if p.MacPINs && len(options) < MaxDigestPeople {
			options = append(options, slack.NewOptionBlockObject(p.LockID, plainText(plain(p.Email, 75)), nil))
		}
	}
	title := "🚨 Burst of automatic locks in progress"
	if v.Over {
		title = "🔒 Burst of automatic locks: finished"
	}
	if v.Part > 1 {
		title += fmt.Sprintf(" (part %d)", v.Part)
	}
	var b []slack.Block
	b = append(b, header(dryPrefix(v.DryRun)+title))
	b = append(b, dryRunNote(v.DryRun)...)
	b = append(b, fields(
		"People done", fmt.Sprint(done),
		"People still queued", fmt.Sprint(v.Queued),
		"Devices secured", fmt.Sprintf("%d of %d", secured, devices),
		"People with a device not locked", fmt.Sprint(len(failures)),
	))
	if nothing > 0 {
		b = append(b, section(fmt.Sprintf("%d %s no device assigned in Kandji; nothing to lock for them.", nothing, pluralize(nothing, "person has", "people have"))))
	}
	if len(failures) > 0 {
		b = append(b, listSections("*Not locked: check these devices in Kandji*", failures, "people, listed in `lockbot audit`")...)
	}
	if len(options) > 0 {
		menu := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plainText("Send me a person's unlock PINs…"), ActionRevealPINs, options...)
		b = append(b, contextLine("PINs are never posted in a channel. An approver picks a person to get their unlock PINs by DM:"),
			slack.NewActionBlock("reveal-digest", menu))
	}
	pace := "Okta events are arriving faster than Slack takes messages, so this message stands for their individual reports until the burst is over."
	if v.Over {
		pace = "Okta events arrived faster than Slack takes messages, so this message stood for their individual reports; they have resumed."
	}
	b = append(b, contextLine(fmt.Sprintf("%s Started %s. Every lock is in the audit journal (`lockbot audit`); an approver also gets a person's PINs with `%s pins user@corp.com`.",
		pace, slackDate(v.Started), v.Command)))
	text := fmt.Sprintf("%sBurst of automatic locks: %d people done, %d queued, %d not fully locked", dryPrefix(v.DryRun), done, v.Queued, len(failures))
	return Message{Blocks: b, Text: text}
}
