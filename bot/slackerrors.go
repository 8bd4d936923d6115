package bot

import (
	"errors"
	"net/url"
	"time"

	"github.com/slack-go/slack"
)

// errFatalSlack marks Slack errors that retrying cannot fix.
var errFatalSlack = errors.New("slack refused the credentials")

// slackRefusals are the Slack errors that mean a token was definitely
// refused: retrying cannot help, a person must fix the configuration. Each
// names the variable and the fix. Anything else (a timeout, DNS, a refused
// connection, a 5xx, a cancelled call) only means Slack could not be reached.
var slackRefusals = map[string]string{
	"invalid_auth":           "is not valid: copy it again from the Slack app's settings",
	"not_authed":             "was not sent: set it",
	"account_inactive":       "belongs to a deactivated app or workspace: reinstall the app",
	"token_revoked":          "was revoked: reinstall the app and copy the new token",
	"token_expired":          "has expired: turn token rotation off in the app's settings and reinstall it",
	"not_allowed_token_type": "is the wrong kind of token",
	"no_permission":          "lacks a permission lockbot needs: reinstall the app from `lockbot manifest`",
}

// refusal reports whether err is Slack refusing the token in the variable
// named by tokenVar, and if so a sentence naming the token and its fix.
func refusal(err error, tokenVar string) (string, bool) {
	var se slack.SlackErrorResponse
	if !errors.As(err, &se) {
		return "", false
	}
	fix, ok := slackRefusals[se.Err]
	if !ok {
		return "", false
	}
	if se.Err == "not_allowed_token_type" {
		switch tokenVar {
		case "SLACK_APP_TOKEN":
			fix = "must be an app-level token (xapp-…) with the connections:write scope"
		default:
			fix = "must be the Bot User OAuth Token (xoxb-…)"
		}
	}
	return "Slack refused " + tokenVar + " (" + se.Err + "): it " + fix, true
}

// apiHost is the host the Web API calls go to, for "could not be reached"
// messages.
func apiHost(apiURL string) string {
	if apiURL == "" {
		return "slack.com"
	}
	if u, err := url.Parse(apiURL); err == nil && u.Host != "" {
		return u.Host
	}
	return apiURL
}

// connectBackoffMax caps the start-up wait for Slack: a long outage does
// not hammer Slack, and the bot still connects within a minute of its
// return.
const connectBackoffMax = time.Minute
