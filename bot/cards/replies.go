package cards

import (
	"fmt"
	"strings"

	"github.com/slack-go/slack"
)

// Help is the usage text of the slash command, with problem (trusted
// mrkdwn, or "") above it.
func Help(command, problem string) Message {
	var sb strings.Builder
	if problem != "" {
		sb.WriteString("⚠️ " + problem + "\n\n")
	}
	fmt.Fprintf(&sb, "*`%[1]s user@corp.com [reason]`* asks for every Kandji device of that person to be locked. Another approver must approve it in the approval channel; the Mac unlock PINs then go to that approver by DM.\n", command)
	fmt.Fprintf(&sb, "*`%[1]s status user@corp.com`* shows that person's devices and Okta status (only to you).\n", command)
	fmt.Fprintf(&sb, "*`%[1]s pins user@corp.com`* (approvers only) sends you the unlock PINs of that person's locked Macs by DM.\n", command)
	fmt.Fprintf(&sb, "*`%[1]s help`* shows this message.", command)
	return Message{Blocks: []slack.Block{section(cut(sb.String(), maxSectionChars))}, Text: "How to use " + command}
}

// Status answers `/lock status`.
func Status(p Person, devices []Device) Message {
	var b []slack.Block
	b = append(b, fields("Person", personLine(p), "Okta status", Mrkdwn(orDash(p.OktaStatus))))
	if len(devices) == 0 {
		b = append(b, section("No device is assigned to this person in Kandji."))
	} else {
		b = append(b, deviceSections(fmt.Sprintf("*Devices assigned in Kandji (%d)*", len(devices)), devices, false)...)
	}
	return Message{Blocks: b, Text: fmt.Sprintf("%s: %d device%s", p.Email, len(devices), Plural(len(devices)))}
}
