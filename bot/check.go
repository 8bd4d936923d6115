package bot

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/slack-go/slack"
)

// Check is one line of `lockbot check`: what was checked, whether it
// passed, what was found, and how to fix it when it did not.
type Check struct {
	Name   string
	OK     bool
	Detail string
	Hint   string
}

// Preflight checks the Slack half of cfg without posting anything: the bot
// token (auth.test), the app token and the way to the Socket Mode host
// (without connecting), that the bot is a member of the approval and
// notify channels, and who can approve.
func Preflight(ctx context.Context, cfg Config) []Check {
	cfg = withDefaults(cfg)
	opts := []slack.Option{slack.OptionAppLevelToken(cfg.AppToken), slack.OptionHTTPClient(cfg.HTTPClient)}
	if cfg.APIURL != "" {
		opts = append(opts, slack.OptionAPIURL(cfg.APIURL))
	}
	api := slack.New(cfg.BotToken, opts...)
	var checks []Check

	auth, err := api.AuthTestContext(ctx)
	if err != nil {
		c := Check{Name: "Slack bot token (auth.test)"}
		if why, refused := refusal(err, "SLACK_BOT_TOKEN"); refused {
			c.Detail = why
			c.Hint = "set SLACK_BOT_TOKEN to the app's Bot User OAuth Token (xoxb-…), from OAuth & Permissions after installing the app"
		} else {
			c.Detail, c.Hint = unreachable(cfg.APIURL, err)
		}
		return append(checks, c)
	}
	checks = append(checks, Check{Name: "Slack bot token (auth.test)", OK: true, Detail: fmt.Sprintf("workspace %q, bot user %s", auth.Team, auth.UserID)})
	checks = append(checks, socketCheck(ctx, api, cfg.HTTPClient, cfg.APIURL))
	seen := map[string]bool{}
	for _, ch := range []struct{ name, id string }{{"approval channel", cfg.ApprovalChannel}, {"notify channel", cfg.NotifyChannel}} {
		if seen[ch.id] {
			continue
		}
		seen[ch.id] = true
		checks = append(checks, channelCheck(ctx, api, ch.name, ch.id))
	}
	checks = append(checks, approverCheck(ctx, api, cfg, &homeTeam{team: auth.TeamID, enterprise: auth.EnterpriseID}))
	if cfg.RequesterGroup != "" {
		checks = append(checks, requesterGroupCheck(ctx, api, cfg.RequesterGroup))
	}
	return checks
}

// requesterGroupCheck proves the requester group can be read: otherwise
// every request from its members is refused.
func requesterGroupCheck(ctx context.Context, api *slack.Client, group string) Check {
	c := Check{Name: "Slack requester group " + group}
	members, err := api.GetUserGroupMembersContext(ctx, group)
	switch {
	case err != nil:
		c.Detail, c.Hint = groupProblem("LOCKBOT_REQUESTER_GROUP", group, err)
	case len(members) == 0:
		c.Detail = "the group has no members, so only listed requesters and approvers can ask for locks"
		c.Hint = "add the people who may request locks to the group, or set LOCKBOT_REQUESTERS"
	default:
		c.OK, c.Detail = true, fmt.Sprintf("%d members may request locks", len(members))
	}
	return c
}

// groupProblem words a user group that cannot be listed, with the fix
// for the answers Slack documents.
func groupProblem(variable, group string, err error) (detail, hint string) {
	detail = fmt.Sprintf("cannot list the user group %s (%s)", group, slackErrText(err))
	var se slack.SlackErrorResponse
	errors.As(err, &se)
	switch se.Err {
	case "no_such_subteam":
		return detail, fmt.Sprintf("no user group has the ID %s: set %s to the ID (S…) shown in the group's details", group, variable)
	case "plan_upgrade_required":
		return detail, fmt.Sprintf("user groups need a paid Slack plan: list the people in %s instead and unset %s",
			strings.TrimSuffix(variable, "_GROUP")+"S", variable)
	case "missing_scope":
		return detail, "reinstall the app from `lockbot manifest`: it needs usergroups:read"
	}
	return detail, fmt.Sprintf("set %s to the ID (S…) of an existing user group", variable)
}

// approverCheck looks up every configured approver, as a click would: an
// ID that is no one, a guest or a deactivated account approves nothing,
// and a quorum the approvers cannot reach leaves every request to expire.
func approverCheck(ctx context.Context, api *slack.Client, cfg Config, home *homeTeam) Check {
	c := Check{Name: "Slack approvers"}
	ids := slices.Clone(cfg.Approvers)
	var problems []string
	if cfg.ApproverGroup != "" {
		members, err := api.GetUserGroupMembersContext(ctx, cfg.ApproverGroup)
		if err != nil {
			c.Detail, c.Hint = groupProblem("LOCKBOT_APPROVER_GROUP", cfg.ApproverGroup, err)
			return c
		}
		if len(members) == 0 {
			problems = append(problems, fmt.Sprintf("the user group %s has no members", cfg.ApproverGroup))
		}
		ids = append(ids, members...)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	can := 0
	for _, id := range ids {
		u, err := api.GetUserInfoContext(ctx, id)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %s", id, slackErrText(err)))
			continue
		}
		if why := notFullMember(u, home); why != "" {
			problems = append(problems, fmt.Sprintf("%s (%s): %s", id, u.Name, why))
			continue
		}
		can++
	}
	required := max(cfg.RequiredApprovals, 1)
	switch {
	case can < required:
		problems = append(problems, fmt.Sprintf("%d can approve, fewer than the %d approvals a request needs", can, required))
	case len(problems) == 0:
		c.OK = true
		c.Detail = fmt.Sprintf("%d people can approve; a request needs %d besides its requester", can, required)
		if can == required {
			c.Detail += ", so a request one of them makes can never be approved"
		}
		return c
	}
	c.Detail = strings.Join(problems, "; ")
	c.Hint = "fix LOCKBOT_APPROVERS (Slack member IDs, U…) or the members of LOCKBOT_APPROVER_GROUP"
	return c
}

// unreachable words a failure that is not a refusal: Slack did not answer,
// so the token may be fine and the network is what to look at.
func unreachable(apiURL string, err error) (detail, hint string) {
	host := apiHost(apiURL)
	return fmt.Sprintf("Slack could not be reached at %s: %v", host, err),
		"check SLACK_API_URL, DNS, any proxy (HTTPS_PROXY) and that this host may make outbound HTTPS connections to " + host
}

func slackErrText(err error) string {
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		return "Slack answered " + se.Err
	}
	return err.Error()
}

// socketCheck proves the app token and that Socket Mode is on
// (apps.connections.open answers a WebSocket URL), and that the WebSocket
// host answers from here, through any proxy the bot would use. It opens
// no Socket Mode connection: Slack would hand live payloads to it (a
// click, a /lock), which nothing here would answer.
func socketCheck(ctx context.Context, api *slack.Client, hc *http.Client, apiURL string) Check {
	c := Check{Name: "Slack app token (Socket Mode)",
		Hint: "set SLACK_APP_TOKEN to an app-level token (xapp-…) with connections:write (Basic Information → App-Level Tokens) and turn Socket Mode on"}
	_, wsURL, err := api.StartSocketModeContext(ctx)
	if err != nil {
		if why, refused := refusal(err, "SLACK_APP_TOKEN"); refused {
			c.Detail = why
		} else {
			c.Detail, c.Hint = unreachable(apiURL, err)
		}
		return c
	}
	u, err := url.Parse(wsURL)
	if err != nil || u.Host == "" {
		c.Detail = "Slack answered a WebSocket URL that cannot be read"
		return c
	}
	// The root of the WebSocket host, by plain HTTP(S): any answer proves
	// the path; the ticket in wsURL is left unused.
	probe := url.URL{Scheme: "https", Host: u.Host, Path: "/"}
	if u.Scheme == "ws" {
		probe.Scheme = "http"
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, probe.String(), nil)
	if err == nil {
		var resp *http.Response
		if resp, err = hc.Do(req); err == nil {
			_ = resp.Body.Close()
		}
	}
	if err != nil {
		c.Detail = fmt.Sprintf("the app token works, but the WebSocket host %s cannot be reached: %v", u.Host, err)
		c.Hint = "allow outbound WebSocket (wss) connections to " + u.Host + " from this host (and through HTTPS_PROXY, if one is set)"
		return c
	}
	c.OK, c.Hint = true, ""
	c.Detail = "the app token works, Socket Mode is on and " + u.Host + " answers (no connection opened: it would take live payloads)"
	return c
}

// channelCheck verifies the bot can post in channel without posting.
func channelCheck(ctx context.Context, api *slack.Client, name, id string) Check {
	c := Check{Name: fmt.Sprintf("Slack %s %s", name, id)}
	ch, err := api.GetConversationInfoContext(ctx, &slack.GetConversationInfoInput{ChannelID: id})
	var se slack.SlackErrorResponse
	switch {
	case errors.As(err, &se) && se.Err == "missing_scope":
		c.Detail = "the bot token lacks channels:read/groups:read, so membership cannot be checked"
		c.Hint = "reinstall the app from `lockbot manifest`, which asks for those scopes"
	case errors.As(err, &se) && se.Err == "channel_not_found":
		c.Detail = "no such channel visible to lockbot"
		c.Hint = "use the channel ID (channel details → About); for a private channel, invite lockbot first"
	case err != nil:
		c.Detail = slackErrText(err)
	case !ch.IsMember:
		c.Detail = fmt.Sprintf("#%s exists but lockbot is not a member", ch.Name)
		c.Hint = "type /invite @lockbot in that channel"
	default:
		c.OK, c.Detail = true, fmt.Sprintf("#%s, lockbot is a member", ch.Name)
	}
	return c
}
