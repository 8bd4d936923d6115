package main

import (
	"fmt"
	"io"
	"strings"
)

// botScopes are the only OAuth scopes lockbot asks for: commands (the
// slash command), chat:write (cards, reports, DMs), im:write (opening the
// approver's DM), users:read (guest, bot and deactivated-user checks),
// usergroups:read (the approver group), and channels:read/groups:read so
// `lockbot check` can confirm the bot is a member of its channels without
// posting in them. Not users:read.email: lockbot never reads a Slack
// user's email, and a scope it does not use is one a leaked token should
// not carry.
var botScopes = []string{"commands", "chat:write", "im:write", "users:read", "usergroups:read", "channels:read", "groups:read"}

// writeManifest prints the Slack app manifest for "Create app → From a
// manifest". Socket Mode means no request URL is needed anywhere.
func writeManifest(w io.Writer, command string) error {
	var scopes strings.Builder
	for _, s := range botScopes {
		fmt.Fprintf(&scopes, "      - %s\n", s)
	}
	_, err := fmt.Fprintf(w, `_metadata:
  major_version: 1
  minor_version: 1
display_information:
  name: lockbot
  description: Locks a person's company Apple devices through Kandji, with two-person approval.
  background_color: "#2c2d30"
features:
  bot_user:
    display_name: lockbot
    always_online: true
  slash_commands:
    - command: %s
      description: Lock every Apple device of a person (needs a second approver)
      usage_hint: "user@corp.com [reason] | status user@corp.com | pins user@corp.com | help"
      should_escape: false
oauth_config:
  scopes:
    bot:
%ssettings:
  interactivity:
    is_enabled: true
  socket_mode_enabled: true
  org_deploy_enabled: false
  token_rotation_enabled: false
`, command, scopes.String())
	return err
}
