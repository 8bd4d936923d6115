package bot

import (
	"fmt"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/lockbot/lockbot/approvals"
)

// Action IDs are part of the contract (the README lists them): tests outside this
// repository click these buttons by name.
const (
	actionApprove    = "lock_approve"
	actionDeny       = "lock_deny"
	actionRevealPINs = "lock_reveal_pins"
)

// Block Kit limits (docs.slack.dev/reference/block-kit): a message holds
// at most 50 blocks and a section's text at most 3000 characters. The
// budgets below leave head-room for the fixed parts of each card.
const (
	maxSectionChars   = 2900
	maxDeviceSections = 12
	maxHeaderRunes    = 150
)

// person is who a lock is about, as far as lockbot knows.
type person struct {
	Email      string
	Name       string // from Okta; "" when unknown
	OktaStatus string // ACTIVE, SUSPENDED…; "" when Okta is not configured or failed
}

// trigger is one Okta event behind an automatic lock.
type trigger struct {
	EventType string
	EventID   string
	Actor     string // actor's login (alternateId)
	ActorName string
	At        time.Time
	ClientIP  string
	Source    string // hook or catch-up
}

// message is a rendered Slack message: blocks plus the notification text
// Slack shows where blocks cannot be (push notifications, search).
type message struct {
	Blocks []slack.Block
	Text   string
}

func (m message) options() []slack.MsgOption {
	return []slack.MsgOption{slack.MsgOptionText(m.Text, false), slack.MsgOptionBlocks(m.Blocks...)}
}

func mdText(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, false)
}

func plainText(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, s, true, false)
}

func header(s string) slack.Block {
	return slack.NewHeaderBlock(plainText(plain(s, maxHeaderRunes)))
}

func section(s string) slack.Block {
	return slack.NewSectionBlock(mdText(s), nil, nil)
}

func fields(pairs ...string) slack.Block {
	var fs []*slack.TextBlockObject
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			continue
		}
		fs = append(fs, mdText("*"+pairs[i]+"*\n"+pairs[i+1]))
	}
	return slack.NewSectionBlock(nil, fs, nil)
}

func contextLine(s string) slack.Block {
	return slack.NewContextBlock("", mdText(s))
}

// slackDate renders t in each reader's own time zone, with a UTC fallback
// for clients that cannot.
func slackDate(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return fmt.Sprintf("<!date^%d^{date_short_pretty} {time}|%s>", t.Unix(), t.UTC().Format("2006-01-02 15:04 UTC"))
}

func mention(userID string) string {
	if userID == "" || !isSlackID(userID) {
		return mrkdwn(userID)
	}
	return "<@" + userID + ">"
}

// isSlackID reports whether s looks like a Slack user/channel/group ID, so
// that only real IDs are turned into mentions.
func isSlackID(s string) bool {
	if len(s) < 2 || len(s) > 24 {
		return false
	}
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

func personLine(p person) string {
	s := mrkdwn(p.Email)
	if p.Name != "" {
		s += " (" + mrkdwn(p.Name) + ")"
	}
	return s
}

func deviceLine(d approvals.Device) string {
	parts := []string{"*" + mrkdwn(orDash(d.Name)) + "*"}
	for _, v := range []string{d.Model, d.Platform} {
		if v != "" {
			parts = append(parts, mrkdwn(v))
		}
	}
	parts = append(parts, "serial "+mrkdwn(orDash(d.Serial)), "last check-in "+slackDate(d.LastCheckIn))
	return "• " + strings.Join(parts, " · ")
}

func resultLine(r deviceResult) string {
	s := deviceLine(r.Device) + " — " + r.Outcome.label()
	if r.Detail != "" {
		s += ": " + mrkdwn(r.Detail)
	}
	return s
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "—"
	}
	return s
}

// listSections packs lines into as few sections as fit Block Kit's limits.
// When even maxDeviceSections sections cannot hold them all, the rest are
// summarised in a final line rather than silently dropped.
func listSections(title string, lines []string) []slack.Block {
	var blocks []slack.Block
	var cur strings.Builder
	cur.WriteString(title)
	for i, l := range lines {
		if cur.Len()+1+len(l) > maxSectionChars {
			if len(blocks) == maxDeviceSections-1 {
				cur.WriteString(fmt.Sprintf("\n…and %d more not shown here (see the audit journal).", len(lines)-i))
				break
			}
			blocks = append(blocks, section(cur.String()))
			cur.Reset()
		}
		if cur.Len() > 0 {
			cur.WriteByte('\n')
		}
		cur.WriteString(l)
	}
	return append(blocks, section(cur.String()))
}

func dryRunNote(dry bool) []slack.Block {
	if !dry {
		return nil
	}
	return []slack.Block{contextLine("🧪 *DRY RUN*: lockbot is running with LOCKBOT_DRY_RUN=true, so no lock command is sent to any device.")}
}

func dryPrefix(dry bool) string {
	if dry {
		return "[DRY RUN] "
	}
	return ""
}

// requestStatus describes a request's state for the line under its card.
func requestStatus(r approvals.Request, sum lockSummary) string {
	switch r.State {
	case approvals.StatePending:
		return fmt.Sprintf("⏳ *Waiting for approval* (%d of %d). Expires %s. The requester cannot approve their own request.", len(r.Approvals), r.Required, slackDate(r.Expires))
	case approvals.StateApproved, approvals.StateExecuting:
		return "🔐 *Approved* by " + approverList(r) + ". Locking now…"
	case approvals.StateDone:
		return fmt.Sprintf("✅ *Done*: approved by %s; %d of %d devices secured.", approverList(r), sum.Secured, sum.Total)
	case approvals.StateFailed:
		return fmt.Sprintf("⚠️ *Finished with failures*: approved by %s; %d of %d devices secured, %d failed. %s", approverList(r), sum.Secured, sum.Total, sum.Failed, mrkdwn(r.Outcome))
	case approvals.StateDenied:
		return "🚫 *Denied* by " + mention(r.DecidedBy) + ". Nothing was locked."
	case approvals.StateCancelled:
		return "↩️ *Withdrawn* by the requester. Nothing was locked."
	case approvals.StateExpired:
		return "⌛ *Expired* with no decision. Nothing was locked."
	}
	return string(r.State)
}

func approverList(r approvals.Request) string {
	if len(r.Approvals) == 0 {
		return mention(r.DecidedBy)
	}
	var ms []string
	for _, a := range r.Approvals {
		ms = append(ms, mention(a.By))
	}
	return strings.Join(ms, ", ")
}

func originLine(r approvals.Request) string {
	if r.Origin.Kind == "okta" {
		s := "Okta event `" + mrkdwn(r.Origin.EventType) + "`"
		if r.Origin.Actor != "" {
			s += " by " + mrkdwn(r.Origin.Actor)
		}
		return s
	}
	return mention(r.Requester)
}

// requestCard renders a two-person lock request in any state. Buttons are
// shown only while the request is pending; afterwards the card carries the
// outcome and, once the lock ran, one line per device (never a PIN).
// notes are extra status lines built by the bot itself (trusted mrkdwn).
func requestCard(r approvals.Request, p person, results []deviceResult, notes []string, dry bool) message {
	sum := summarize(results)
	var b []slack.Block
	b = append(b, header(dryPrefix(dry)+"🔒 Lock request: "+p.Email))
	b = append(b, dryRunNote(dry)...)
	expires := ""
	if r.State == approvals.StatePending {
		expires = slackDate(r.Expires)
	}
	b = append(b, fields(
		"Person", personLine(p),
		"Okta status", mrkdwn(p.OktaStatus),
		"Requested by", originLine(r),
		"Reason", mrkdwnLong(orDash(r.Reason), maxReasonRunes),
		"Expires", expires,
		"Request", "`"+r.ID+"`",
	))
	if len(results) > 0 {
		lines := make([]string, len(results))
		for i, res := range results {
			lines[i] = resultLine(res)
		}
		b = append(b, listSections(fmt.Sprintf("*Results (%d devices)*", len(results)), lines)...)
	} else {
		lines := make([]string, len(r.Devices))
		for i, d := range r.Devices {
			lines[i] = deviceLine(d)
		}
		b = append(b, listSections(fmt.Sprintf("*Devices assigned in Kandji (%d)*", len(r.Devices)), lines)...)
	}
	b = append(b, contextLine(requestStatus(r, sum)))
	for _, n := range notes {
		b = append(b, contextLine(n))
	}
	if r.State == approvals.StatePending {
		b = append(b, decisionButtons(r, p, dry))
	}
	text := fmt.Sprintf("%sLock request for %s: %s", dryPrefix(dry), p.Email, strings.ReplaceAll(string(r.State), "_", " "))
	return message{Blocks: b, Text: text}
}

func decisionButtons(r approvals.Request, p person, dry bool) slack.Block {
	confirm := slack.NewConfirmationBlockObject(
		plainText("Lock these devices?"),
		mdText(fmt.Sprintf("%sEvery device assigned to *%s* in Kandji (%d now) will be locked. The Mac unlock PINs will be sent to you by DM.", dryPrefix(dry), mrkdwn(p.Email), len(r.Devices))),
		plainText("Approve and lock"),
		plainText("Cancel"),
	)
	approve := slack.NewButtonBlockElement(actionApprove, r.ID, plainText("Approve")).
		WithStyle(slack.StylePrimary).WithConfirm(confirm)
	deny := slack.NewButtonBlockElement(actionDeny, r.ID, plainText("Deny")).WithStyle(slack.StyleDanger)
	return slack.NewActionBlock("decision:"+r.ID, approve, deny)
}

func triggerLine(t trigger) string {
	s := "• `" + mrkdwn(t.EventType) + "`"
	if t.Actor != "" {
		s += " by " + mrkdwn(t.Actor)
		if t.ActorName != "" && t.ActorName != t.Actor {
			s += " (" + mrkdwn(t.ActorName) + ")"
		}
	}
	s += " at " + slackDate(t.At)
	if t.ClientIP != "" {
		s += " from " + mrkdwn(t.ClientIP)
	}
	if t.Source == "catchup" {
		s += " _(recovered from the System Log)_"
	}
	return s
}

// autoReport renders the report of an automatic lock. Every trigger that
// was coalesced into this lock is listed. The reveal button is offered
// only when a Mac ended up locked, because only Macs have unlock PINs.
func autoReport(r approvals.Request, p person, triggers []trigger, results []deviceResult, dry bool) message {
	sum := summarize(results)
	var b []slack.Block
	title := "🔒 Locked automatically: " + p.Email
	if r.State == approvals.StateExecuting {
		title = "🔐 Locking automatically: " + p.Email
	}
	b = append(b, header(dryPrefix(dry)+title))
	b = append(b, dryRunNote(dry)...)
	b = append(b, fields("Person", personLine(p), "Okta status", mrkdwn(p.OktaStatus), "Lock", "`"+r.ID+"`"))
	tl := make([]string, len(triggers))
	for i, t := range triggers {
		tl[i] = triggerLine(t)
	}
	b = append(b, listSections(fmt.Sprintf("*Trigger%s*", plural(len(triggers))), tl)...)
	switch {
	case r.State == approvals.StateExecuting:
		b = append(b, contextLine(fmt.Sprintf("Locking %d device%s…", len(r.Devices), plural(len(r.Devices)))))
	case len(results) == 0:
		b = append(b, section("No device is assigned to this person in Kandji, so nothing was locked. "+mrkdwn(r.Outcome)))
	default:
		lines := make([]string, len(results))
		for i, res := range results {
			lines[i] = resultLine(res)
		}
		b = append(b, listSections(fmt.Sprintf("*Results: %d of %d devices secured*", sum.Secured, sum.Total), lines)...)
	}
	if hasMacSecured(results) {
		b = append(b, contextLine("PINs are never posted in a channel. An approver can have them sent by DM:"))
		btn := slack.NewButtonBlockElement(actionRevealPINs, r.ID, plainText("Send me the unlock PINs"))
		b = append(b, slack.NewActionBlock("reveal:"+r.ID, btn))
	}
	text := fmt.Sprintf("%sAutomatic lock for %s: %d of %d devices secured", dryPrefix(dry), p.Email, sum.Secured, sum.Total)
	return message{Blocks: b, Text: text}
}

func hasMacSecured(results []deviceResult) bool {
	for _, r := range results {
		if isMac(r.Device.Platform) && r.Outcome.secured() {
			return true
		}
	}
	return false
}

func isMac(platform string) bool { return strings.EqualFold(platform, "Mac") }

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// pinMessage is the approver's DM: the only place a PIN is ever written.
func pinMessage(target, lockID string, results []deviceResult, dry bool) message {
	var lines []string
	for _, r := range results {
		name := "*" + mrkdwn(orDash(r.Device.Name)) + "* · serial " + mrkdwn(orDash(r.Device.Serial))
		switch {
		case r.PIN != "":
			lines = append(lines, "• "+name+" — PIN `"+r.PIN.reveal()+"`")
		case !isMac(r.Device.Platform) && r.Outcome.secured():
			lines = append(lines, "• "+name+" — no PIN: "+mrkdwn(r.Device.Platform)+" devices unlock with their own passcode")
		case r.Outcome.secured():
			lines = append(lines, "• "+name+" — PIN unavailable: "+mrkdwn(orDash(r.Detail)))
		}
	}
	if len(lines) == 0 {
		lines = append(lines, "No device of this person has an unlock PIN.")
	}
	var b []slack.Block
	b = append(b, header(dryPrefix(dry)+"🔑 Unlock PINs: "+target))
	intro := "Only you received this message."
	if lockID != "" {
		intro = fmt.Sprintf("Lock `%s`. %s", lockID, intro)
	}
	b = append(b, listSections(intro, lines)...)
	b = append(b, contextLine("Give a PIN only to the verified owner, in person or by phone, and delete this message once the device is unlocked."))
	return message{Blocks: b, Text: dryPrefix(dry) + "Unlock PINs for " + target}
}

// helpMessage is the usage text for the slash command.
func helpMessage(command string, problem string) message {
	var sb strings.Builder
	if problem != "" {
		sb.WriteString("⚠️ " + mrkdwnLong(problem, 300) + "\n\n")
	}
	fmt.Fprintf(&sb, "*`%[1]s user@corp.com [reason]`* asks for every Kandji device of that person to be locked. Another approver must approve it in the approval channel; the Mac unlock PINs then go to that approver by DM.\n", command)
	fmt.Fprintf(&sb, "*`%[1]s status user@corp.com`* shows that person's devices and Okta status (only to you).\n", command)
	fmt.Fprintf(&sb, "*`%[1]s pins user@corp.com`* (approvers only) sends you the unlock PINs of that person's locked Macs by DM.\n", command)
	fmt.Fprintf(&sb, "*`%[1]s help`* shows this message.", command)
	return message{Blocks: []slack.Block{section(sb.String())}, Text: "How to use " + command}
}

// notice is a one-paragraph reply (ephemeral answers and refusals).
func notice(text string) message {
	return message{Blocks: []slack.Block{section(text)}, Text: stripMrkdwn(text)}
}

// stripMrkdwn makes a rough plain fallback of mrkdwn for notification text.
func stripMrkdwn(s string) string {
	return strings.NewReplacer("*", "", "`", "", "_", " ").Replace(s)
}

// statusMessage answers /lock status.
func statusMessage(p person, devices []approvals.Device) message {
	var b []slack.Block
	b = append(b, fields("Person", personLine(p), "Okta status", mrkdwn(orDash(p.OktaStatus))))
	if len(devices) == 0 {
		b = append(b, section("No device is assigned to this person in Kandji."))
	} else {
		lines := make([]string, len(devices))
		for i, d := range devices {
			lines[i] = deviceLine(d)
		}
		b = append(b, listSections(fmt.Sprintf("*Devices assigned in Kandji (%d)*", len(devices)), lines)...)
	}
	return message{Blocks: b, Text: fmt.Sprintf("%s: %d device%s", p.Email, len(devices), plural(len(devices)))}
}
