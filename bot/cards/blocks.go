package cards

import (
	"fmt"
	"strings"
	"time"

	"github.com/slack-go/slack"
)

// Block Kit limits (docs.slack.dev/reference/block-kit), with head-room
// for the fixed parts of each card. Every budget is counted on the text as
// sent, after escaping.
const (
	maxBlocks         = 50
	maxSectionChars   = 2900 // of Slack's 3000 for a section's text
	maxFieldChars     = 1900 // of Slack's 2000 for one field
	maxHeaderRunes    = 150
	maxContextChars   = 2900 // of Slack's 3000 for a context element
	maxConfirmText    = 300
	maxDeviceSections = 12
	maxReasonChars    = 1500 // an escaped reason on a card
)

// Message is a rendered Slack message: blocks, and the notification text
// Slack shows where blocks cannot be (push notifications, search).
type Message struct {
	Blocks []slack.Block
	Text   string
}

// Options are the slack-go options that send m.
func (m Message) Options() []slack.MsgOption {
	return []slack.MsgOption{slack.MsgOptionText(m.Text, false), slack.MsgOptionBlocks(m.Blocks...)}
}

// mdText is a mrkdwn text object with verbatim set: Slack then does not
// link bare URLs or names in it. lockbot's own mentions and dates use the
// explicit <@U…> and <!date…> forms, which verbatim leaves working.
func mdText(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, true)
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

// fields is a section of label/value pairs; empty values are left out.
// Values are trusted mrkdwn (already escaped by the caller).
func fields(pairs ...string) slack.Block {
	var fs []*slack.TextBlockObject
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			continue
		}
		fs = append(fs, mdText(cut("*"+pairs[i]+"*\n"+pairs[i+1], maxFieldChars)))
	}
	return slack.NewSectionBlock(nil, fs, nil)
}

func contextLine(s string) slack.Block {
	return slack.NewContextBlock("", mdText(cut(s, maxContextChars)))
}

// cut bounds trusted mrkdwn that was built from escaped pieces.
func cut(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// slackDate renders t in each reader's own time zone, with a UTC fallback
// for clients that cannot.
func slackDate(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return fmt.Sprintf("<!date^%d^{date_short_pretty} {time}|%s>", t.Unix(), t.UTC().Format("2006-01-02 15:04 UTC"))
}

// Mention turns a Slack user ID into a mention; anything else is escaped.
func Mention(userID string) string {
	if !IsSlackID(userID) {
		return Mrkdwn(userID)
	}
	return "<@" + userID + ">"
}

// IsSlackID reports whether s looks like a Slack user, channel or group
// ID, so that only real IDs are turned into mentions.
func IsSlackID(s string) bool {
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

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "—"
	}
	return s
}

// listSections packs lines into as few sections as fit Block Kit's
// limits. When even maxDeviceSections sections cannot hold them all, the
// rest are summarised in a final line rather than silently dropped.
func listSections(title string, lines []string, rest string) []slack.Block {
	var blocks []slack.Block
	var cur strings.Builder
	cur.WriteString(title)
	for i, l := range lines {
		l = cut(l, maxSectionChars-100)
		if cur.Len() > 0 && len([]rune(cur.String()))+1+len([]rune(l)) > maxSectionChars {
			if len(blocks) == maxDeviceSections-1 {
				cur.WriteString(fmt.Sprintf("\n…and %d more %s", len(lines)-i, rest))
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

// Plural is "" for one and "s" otherwise.
func Plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func pluralize(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// Notice is a one-paragraph message (replies, refusals, notices). text
// is trusted mrkdwn: escape anything from outside with Mrkdwn.
func Notice(text string) Message {
	return Message{Blocks: []slack.Block{section(cut(text, maxSectionChars))}, Text: stripMrkdwn(text)}
}

// PlainNotice is a notice whose text comes from elsewhere (the store):
// all of it is escaped, and {user}, when user is set, becomes a mention.
func PlainNotice(text, user string) Message {
	escaped := mrkdwnWithin(text, maxSectionChars)
	if user != "" {
		escaped = strings.ReplaceAll(escaped, "{user}", Mention(user))
	}
	return Notice(escaped)
}

// stripMrkdwn makes a rough plain fallback of mrkdwn for notification text.
func stripMrkdwn(s string) string {
	return strings.NewReplacer("*", "", "`", "", "_", " ").Replace(s)
}
