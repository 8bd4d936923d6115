package bot

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/patrickmn/go-cache"
	"github.com/slack-go/slack"

	"github.com/lockbot/lockbot/bot/cards"
)

// membershipTTL is how long a users.info or user-group answer is trusted.
// The README promises at most 60 s: removing someone from the approver group must
// take effect within a minute.
const membershipTTL = 60 * time.Second

// access decides who may request and who may approve, by Slack user ID.
type access struct {
	slack          *slackAPI
	approvers      []string
	approverGroup  string
	requesters     []string
	requesterGroup string
	cache          *cache.Cache
	// home is the workspace (and Enterprise Grid org) the bot is installed
	// in, from auth.test; set once before any payload is handled.
	home atomic.Pointer[homeTeam]
}

// homeTeam is where the bot's own people are.
type homeTeam struct{ team, enterprise string }

// setHome records the bot's workspace, from auth.test.
func (a *access) setHome(team, enterprise string) {
	a.home.Store(&homeTeam{team: team, enterprise: enterprise})
}

// foreign reports whether u belongs to another organisation: a Slack
// Connect partner in a shared channel, or someone Slack calls a stranger.
// Their account is full where they come from, but this company's IT never
// vouched for them. People of another workspace of the same Enterprise
// Grid org are not foreign.
func foreign(u *slack.User, home *homeTeam) bool {
	if u.IsStranger {
		return true
	}
	if home == nil || home.team == "" || u.TeamID == "" || u.TeamID == home.team {
		return false
	}
	return home.enterprise == "" || u.Enterprise.EnterpriseID != home.enterprise
}

func newAccess(api *slackAPI, cfg Config) *access {
	return &access{
		slack:          api,
		approvers:      cfg.Approvers,
		approverGroup:  cfg.ApproverGroup,
		requesters:     cfg.Requesters,
		requesterGroup: cfg.RequesterGroup,
		// The janitor interval only bounds memory; expiry itself is exact.
		cache: cache.New(membershipTTL, 10*time.Minute),
	}
}

// fullMember checks that id is a person with a full account: guests
// (multi- and single-channel), bots, apps and deactivated users can neither
// request nor approve. It returns a reason suitable for the person.
func (a *access) fullMember(ctx context.Context, id string) (bool, string, error) {
	key := "user:" + id
	var u *slack.User
	if v, ok := a.cache.Get(key); ok {
		u = v.(*slack.User)
	} else {
		var err error
		if u, err = a.slack.userInfo(ctx, id); err != nil {
			return false, "", fmt.Errorf("look up Slack user %s: %w", id, err)
		}
		a.cache.SetDefault(key, u)
	}
	if why := notFullMember(u, a.home.Load()); why != "" {
		return false, why, nil
	}
	return true, "", nil
}

// notFullMember says why u may neither request nor approve, or "".
func notFullMember(u *slack.User, home *homeTeam) string {
	switch {
	case u.Deleted:
		return "deactivated accounts cannot take part in lock requests"
	case u.IsBot || u.IsAppUser || u.ID == "USLACKBOT":
		return "bots cannot take part in lock requests"
	case u.IsRestricted || u.IsUltraRestricted:
		return "guest accounts cannot take part in lock requests"
	case foreign(u, home):
		return "people from other organisations (Slack Connect) cannot take part in lock requests"
	}
	return ""
}

func (a *access) inGroup(ctx context.Context, group, id string) (bool, error) {
	if group == "" {
		return false, nil
	}
	key := "group:" + group
	var members []string
	if v, ok := a.cache.Get(key); ok {
		members = v.([]string)
	} else {
		var err error
		if members, err = a.slack.groupMembers(ctx, group); err != nil {
			return false, fmt.Errorf("list members of Slack user group %s: %w", group, err)
		}
		a.cache.SetDefault(key, members)
	}
	return slices.Contains(members, id), nil
}

// isApprover answers the approvals engine's question at the moment of a
// click: a full member listed in LOCKBOT_APPROVERS or in the approver group.
func (a *access) isApprover(ctx context.Context, id string) (bool, error) {
	ok, _, err := a.fullMember(ctx, id)
	if err != nil || !ok {
		return false, err
	}
	if slices.Contains(a.approvers, id) {
		return true, nil
	}
	return a.inGroup(ctx, a.approverGroup, id)
}

// canRequest reports whether id may open a lock request. With no
// requester list configured any full member may.
func (a *access) canRequest(ctx context.Context, id string) (bool, string, error) {
	ok, why, err := a.fullMember(ctx, id)
	if err != nil || !ok {
		return false, why, err
	}
	if len(a.requesters) == 0 && a.requesterGroup == "" {
		return true, "", nil
	}
	if slices.Contains(a.requesters, id) {
		return true, "", nil
	}
	in, err := a.inGroup(ctx, a.requesterGroup, id)
	if err != nil || in {
		return in, "", err
	}
	// Approvers may always ask: they are trusted with more already.
	if isAppr, err := a.isApprover(ctx, id); err != nil || isAppr {
		return isAppr, "", err
	}
	return false, "you are not on the list of people who may request locks (LOCKBOT_REQUESTERS / LOCKBOT_REQUESTER_GROUP)", nil
}

// approverHint names who can approve, for refusals.
func (a *access) approverHint() string {
	var parts []string
	for _, id := range a.approvers {
		parts = append(parts, cards.Mention(id))
	}
	if a.approverGroup != "" && cards.IsSlackID(a.approverGroup) {
		parts = append(parts, "<!subteam^"+a.approverGroup+">")
	}
	if len(parts) == 0 {
		return ""
	}
	return "Approvers: " + strings.Join(parts, ", ") + "."
}
