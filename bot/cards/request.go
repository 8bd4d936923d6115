package cards

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/slack-go/slack"
)

// Action IDs are part of lockbot's contract (the README lists them): tests
// outside this repository click these buttons by name.
const (
	ActionApprove    = "lock_approve"
	ActionDeny       = "lock_deny"
	ActionRevealPINs = "lock_reveal_pins"
)

func personLine(p Person) string {
	s := Mrkdwn(p.Email)
	if p.Name != "" {
		s += " (" + Mrkdwn(p.Name) + ")"
	}
	return s
}

func deviceLine(d Device) string {
	parts := []string{"*" + Mrkdwn(orDash(d.Name)) + "*"}
	for _, v := range []string{d.Model, d.Platform} {
		if v != "" {
			parts = append(parts, Mrkdwn(v))
		}
	}
	parts = append(parts, "serial "+Mrkdwn(orDash(d.Serial)), "last check-in "+slackDate(d.LastCheckIn))
	return "• " + strings.Join(parts, " · ")
}

func resultLine(d Device) string {
	s := deviceLine(d) + " — " + d.Outcome.label()
	if d.Detail != "" {
		s += ": " + Mrkdwn(d.Detail)
	}
	return s
}

func deviceSections(title string, ds []Device, results bool) []slack.Block {
	lines := make([]string, len(ds))
	for i, d := range ds {
		if results {
			lines[i] = resultLine(d)
		} else {
			lines[i] = deviceLine(d)
		}
	}
	return listSections(title, lines, "devices, not shown here (see `lockbot audit`)")
}

// tally counts devices by what became of them.
type tally struct{ total, secured, bad, notLockable int }

func count(ds []Device) tally {
	var t tally
	for _, d := range ds {
		t.total++
		switch {
		case d.Outcome.Secured():
			t.secured++
		case d.Outcome == Failed || d.Outcome == Unconfirmed:
			t.bad++
		case d.Outcome == NotLockable || d.Outcome == Gone:
			t.notLockable++
		}
	}
	return t
}

func approverList(r Request) string {
	if len(r.Approvals) == 0 {
		return Mention(r.DecidedBy)
	}
	ms := make([]string, len(r.Approvals))
	for i, a := range r.Approvals {
		ms[i] = Mention(a)
	}
	return strings.Join(ms, ", ")
}

func originLine(r Request) string {
	if r.FromEvent != "" {
		s := "Okta event `" + Mrkdwn(r.FromEvent) + "`"
		if r.EventActor != "" {
			s += " by " + Mrkdwn(r.EventActor)
		}
		return s
	}
	return Mention(r.Requester)
}

// retryLine says what a lock is waiting for, plainly.
func retryLine(l Lock) string {
	s := "🔁 *Not every device is locked yet*: " + Mrkdwn(l.Retrying) + "."
	if !l.NextAttempt.IsZero() {
		s += " Next attempt " + slackDate(l.NextAttempt) + "."
	}
	if !l.Deadline.IsZero() {
		s += " lockbot keeps trying until " + slackDate(l.Deadline) + ", then reports what is still unlocked."
	}
	return s
}

// requestStatus is the line under a request's card.
func requestStatus(r Request) string {
	switch r.State {
	case Pending:
		return fmt.Sprintf("⏳ *Waiting for approval* (%d of %d). Expires %s. The requester cannot approve their own request.", len(r.Approvals), r.Required, slackDate(r.Expires))
	case Denied:
		return "🚫 *Denied* by " + Mention(r.DecidedBy) + ". Nothing was locked."
	case Cancelled:
		if !IsSlackID(r.DecidedBy) {
			return "↩️ *Withdrawn*: " + Mrkdwn(r.Outcome) + ". Nothing was locked."
		}
		return "↩️ *Withdrawn* by the requester. Nothing was locked."
	case Expired:
		return "⌛ *Expired* with no decision. Nothing was locked."
	}
	by := approverList(r)
	l := r.Lock
	if l == nil {
		return "🔐 *Approved* by " + by + ". Locking now…"
	}
	switch l.State {
	case LockDone:
		return "✅ *Done*: approved by " + by + "; " + Mrkdwn(l.Outcome) + "."
	case LockFailed:
		return "⚠️ *Finished, not everything is locked*: approved by " + by + "; " + Mrkdwn(l.Outcome) + ". Check these devices in Kandji."
	case LockNothing, LockSkipped:
		return "*Approved* by " + by + "; " + Mrkdwn(l.Outcome) + "."
	case LockRetrying:
		return "🔐 *Approved* by " + by + ". " + retryLine(*l)
	}
	return "🔐 *Approved* by " + by + ". Locking now…"
}

// RequestCard renders a two-person lock request in any state. Buttons are
// shown only while it is pending; afterwards the card carries the outcome
// and, once the lock ran, one line per device (never a PIN).
func RequestCard(r Request) Message {
	var b []slack.Block
	b = append(b, header(dryPrefix(r.DryRun)+"🔒 Lock request: "+r.Person.Email))
	b = append(b, dryRunNote(r.DryRun)...)
	expires := ""
	if r.State == Pending {
		expires = slackDate(r.Expires)
	}
	b = append(b, fields(
		"Person", personLine(r.Person),
		"Okta status", Mrkdwn(r.Person.OktaStatus),
		"Requested by", originLine(r),
		"Reason", mrkdwnWithin(orDash(r.Reason), maxReasonChars),
		"Expires", expires,
		"Request", "`"+r.ID+"`",
	))
	if r.Lock != nil && len(r.Lock.Devices) > 0 {
		t := count(r.Lock.Devices)
		b = append(b, deviceSections(fmt.Sprintf("*Results: %d of %d devices secured*", t.secured, t.total), r.Lock.Devices, true)...)
		if m := matchedNote(r.Lock.MatchedBy); m != "" {
			b = append(b, contextLine(m))
		}
	} else {
		b = append(b, deviceSections(fmt.Sprintf("*Devices assigned in Kandji (%d)*", len(r.Devices)), r.Devices, false)...)
	}
	b = append(b, contextLine(requestStatus(r)))
	if r.Lock != nil {
		for _, n := range r.Lock.Notes {
			b = append(b, contextLine(n))
		}
	}
	if r.State == Pending {
		b = append(b, decisionButtons(r))
	}
	state := [...]string{"pending", "approved", "denied", "expired", "cancelled"}[r.State]
	text := fmt.Sprintf("%sLock request for %s: %s", dryPrefix(r.DryRun), r.Person.Email, state)
	return Message{Blocks: b, Text: text}
}

// matchedNote explains a match that was not the plain email.
func matchedNote(by string) string {
	switch by {
	case "login":
		return "Matched in Kandji on the Okta login, which differs from the profile email."
	case "inventory":
		return "Matched by reading Kandji's whole inventory: Kandji stores this email with other capitals or surrounding spaces."
	}
	return ""
}

func decisionButtons(r Request) slack.Block {
	const before, after = "Every device assigned to *", "* in Kandji (%d now) will be locked. The Mac unlock PINs will be sent to you by DM."
	rest := dryPrefix(r.DryRun) + before + fmt.Sprintf(after, len(r.Devices))
	email := mrkdwnWithin(r.Person.Email, maxConfirmText-utf8.RuneCountInString(rest))
	text := dryPrefix(r.DryRun) + before + email + fmt.Sprintf(after, len(r.Devices))
	confirm := slack.NewConfirmationBlockObject(plainText("Lock these devices?"), mdText(text),
		plainText("Approve and lock"), plainText("Cancel"))
	approve := slack.NewButtonBlockElement(ActionApprove, r.ID, plainText("Approve")).WithStyle(slack.StylePrimary).WithConfirm(confirm)
	deny := slack.NewButtonBlockElement(ActionDeny, r.ID, plainText("Deny")).WithStyle(slack.StyleDanger)
	return slack.NewActionBlock("decision:"+r.ID, approve, deny)
}
