package cards

import (
	"fmt"

	"github.com/slack-go/slack"
)

func triggerLine(t Trigger) string {
	s := "• `" + Mrkdwn(t.EventType) + "`"
	if t.Actor != "" {
		s += " by " + Mrkdwn(t.Actor)
		if t.ActorName != "" && t.ActorName != t.Actor {
			s += " (" + Mrkdwn(t.ActorName) + ")"
		}
	}
	s += " at " + slackDate(t.At)
	if t.ClientIP != "" {
		s += " from " + Mrkdwn(t.ClientIP)
	}
	if t.Recovered {
		s += " _(recovered from the System Log)_"
	}
	return s
}

// hasMacSecured reports whether a Mac ended up locked: only then is there
// an unlock PIN to send.
func hasMacSecured(ds []Device) bool {
	for _, d := range ds {
		if d.Outcome.Secured() && isMac(d.Platform) {
			return true
		}
	}
	return false
}

func isMac(platform string) bool {
	return len(platform) == 3 && (platform[0]|0x20) == 'm' && (platform[1]|0x20) == 'a' && (platform[2]|0x20) == 'c'
}

// LockReport renders the report of an automatic lock in any state: every
// trigger coalesced into it, the live state while it runs or retries, and
// per device what became of it. The reveal button is offered once a Mac
// is locked, because only Macs have unlock PINs.
func LockReport(l Lock, p Person, dry bool) Message {
	t := count(l.Devices)
	var title string
	switch l.State {
	case LockDone:
		title = "🔒 Locked automatically: "
	case LockFailed:
		title = "⚠️ Lock incomplete: "
	case LockSkipped:
		title = "⏭️ Not locked: "
	case LockNothing:
		title = "🔒 Nothing to lock: "
	default:
		title = "🔐 Locking automatically: "
	}
	var b []slack.Block
	b = append(b, header(dryPrefix(dry)+title+p.Email))
	b = append(b, dryRunNote(dry)...)
	b = append(b, fields("Person", personLine(p), "Okta status", Mrkdwn(p.OktaStatus), "Lock", "`"+l.ID+"`"))
	tl := make([]string, len(l.Triggers))
	for i, tr := range l.Triggers {
		tl[i] = triggerLine(tr)
	}
	b = append(b, listSections(fmt.Sprintf("*Trigger%s*", Plural(len(l.Triggers))), tl, "events for this person (see `lockbot audit`)")...)
	switch {
	case l.State == LockSkipped:
		b = append(b, section("Nothing was locked: "+Mrkdwn(l.Outcome)+"."))
	case l.State == LockNothing:
		b = append(b, section("No device is assigned to this person in Kandji, so nothing was locked."))
	case len(l.Devices) == 0:
		b = append(b, contextLine("Looking up the devices in Kandji…"))
	default:
		b = append(b, deviceSections(fmt.Sprintf("*Results: %d of %d devices secured*", t.secured, t.total), l.Devices, true)...)
		if m := matchedNote(l.MatchedBy); m != "" {
			b = append(b, contextLine(m))
		}
	}
	switch l.State {
	case LockRetrying:
		b = append(b, contextLine(retryLine(l)))
	case LockQueued, LockWorking:
		if len(l.Devices) > 0 {
			b = append(b, contextLine(fmt.Sprintf("Locking %d device%s…", t.total, Plural(t.total))))
		}
	case LockFailed:
		b = append(b, contextLine("⚠️ "+Mrkdwn(l.Outcome)+". Check the devices marked above in Kandji."))
	}
	for _, n := range l.Notes {
		b = append(b, contextLine(n))
	}
	if hasMacSecured(l.Devices) {
		b = append(b, contextLine("PINs are never posted in a channel. An approver can have them sent by DM:"))
		btn := slack.NewButtonBlockElement(ActionRevealPINs, l.ID, plainText("Send me the unlock PINs"))
		b = append(b, slack.NewActionBlock("reveal:"+l.ID, btn))
	}
	text := fmt.Sprintf("%sAutomatic lock for %s: %d of %d devices secured", dryPrefix(dry), p.Email, t.secured, t.total)
	if l.State == LockSkipped || l.State == LockNothing {
		text = fmt.Sprintf("%sAutomatic lock for %s: nothing locked", dryPrefix(dry), p.Email)
	}
	return Message{Blocks: b, Text: text}
}
