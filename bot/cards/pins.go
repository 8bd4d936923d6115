package cards

import (
	"fmt"

	"github.com/slack-go/slack"
)

// PINLine is one device of a PIN DM.
type PINLine struct {
	Name, Serial string
	PIN          string // the digits; "" when there is none
	Note         string // why there is none
}

// PINMessage is the approver's DM: the only place a PIN is ever written.
// lockID may be "" (a `/lock pins` lookup).
func PINMessage(target, lockID string, lines []PINLine, dry bool) Message {
	var ls []string
	for _, l := range lines {
		name := "*" + Mrkdwn(orDash(l.Name)) + "* · serial " + Mrkdwn(orDash(l.Serial))
		if l.PIN != "" {
			ls = append(ls, "• "+name+" — PIN `"+Mrkdwn(l.PIN)+"`")
		} else {
			ls = append(ls, "• "+name+" — "+Mrkdwn(orDash(l.Note)))
		}
	}
	if len(ls) == 0 {
		ls = append(ls, "No device of this person has an unlock PIN.")
	}
	intro := "Only you received this message."
	if lockID != "" {
		intro = fmt.Sprintf("Lock `%s`. %s", lockID, intro)
	}
	var b []slack.Block
	b = append(b, header(dryPrefix(dry)+"🔑 Unlock PINs: "+target))
	b = append(b, listSections(intro, ls, "devices: ask again with `/lock pins`")...)
	b = append(b, contextLine("Give a PIN only to the verified owner, in person or by phone, and delete this message once the device is unlocked. lockbot keeps no copy of it."))
	return Message{Blocks: b, Text: dryPrefix(dry) + "Unlock PINs for " + target}
}
