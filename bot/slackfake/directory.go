package slackfake

import (
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Slack error codes for directory methods.
const (
	errUsersNotFound   = "users_not_found"
	errNoSuchSubteam   = "no_such_subteam"
	errCannotDMBot     = "cannot_dm_bot"
	errUserDisabled    = "user_disabled"
	errInvalidArgument = "invalid_arguments"
)

func (s *Server) authTestLocked(map[string]string) apiResult {
	return ok(map[string]any{
		"url":     "https://" + TeamDomain + ".slack.com/",
		"team":    "Lockbot Fake",
		"user":    s.users[BotUserID].Name,
		"team_id": TeamID,
		"user_id": BotUserID,
		"bot_id":  BotID,
	})
}

// connectionsOpenLocked issues a single-use ticket for the WebSocket, as
// Slack's wss://…/link/?ticket=… URLs are.
func (s *Server) connectionsOpenLocked(map[string]string) apiResult {
	s.nextTicket++
	ticket := strconv.Itoa(s.nextTicket)
	s.tickets[ticket] = true
	url := "ws" + strings.TrimPrefix(s.srv.URL, "http") + "/link?ticket=" + ticket
	return ok(map[string]any{"url": url})
}

// conversationsOpenLocked opens (idempotently) the DM with one user. Group
// DMs are outside what the bot needs, so more than one user is refused.
func (s *Server) conversationsOpenLocked(p map[string]string) apiResult {
	if ch := p["channel"]; ch != "" {
		user, found := s.dms[ch]
		if !found {
			return fail(errChannelNotFound)
		}
		return ok(map[string]any{"channel": imJSON(ch, user), "no_op": true, "already_open": true})
	}
	users := strings.Split(p["users"], ",")
	if len(users) != 1 || users[0] == "" {
		return fail(errInvalidArgument)
	}
	uid := users[0]
	u, known := s.users[uid]
	switch {
	case !known:
		return fail(errUserNotFound)
	case uid == BotUserID:
		return fail(errCannotDMBot)
	case u.Deleted:
		return fail(errUserDisabled)
	}
	ch := s.DMChannel(uid)
	_, already := s.dms[ch]
	s.dms[ch] = uid
	return ok(map[string]any{"channel": imJSON(ch, uid), "no_op": already, "already_open": already})
}

func imJSON(channel, user string) map[string]any {
	return map[string]any{"id": channel, "is_im": true, "is_open": true, "user": user}
}

func (s *Server) conversationsInfoLocked(p map[string]string) apiResult {
	ch := p["channel"]
	if user, found := s.dms[ch]; found {
		return ok(map[string]any{"channel": imJSON(ch, user)})
	}
	if !s.channels[ch] {
		return fail(errChannelNotFound)
	}
	return ok(map[string]any{"channel": map[string]any{
		"id": ch, "name": channelName(ch), "is_channel": true, "is_member": true,
	}})
}

func (s *Server) usersInfoLocked(p map[string]string) apiResult {
	u, found := s.users[p["user"]]
	if !found {
		return fail(errUserNotFound)
	}
	return ok(map[string]any{"user": userJSON(u)})
}

// usersLookupByEmailLocked matches the email case-insensitively, as Slack
// does. Deleted users are still found; callers must check "deleted".
func (s *Server) usersLookupByEmailLocked(p map[string]string) apiResult {
	email := p["email"]
	ids := slices.Sorted(maps.Keys(s.users))
	for _, id := range ids {
		if u := s.users[id]; u.Email != "" && strings.EqualFold(u.Email, email) {
			return ok(map[string]any{"user": userJSON(u)})
		}
	}
	return fail(errUsersNotFound)
}

func (s *Server) usergroupMembersLocked(p map[string]string) apiResult {
	members, found := s.groups[p["usergroup"]]
	if !found {
		return fail(errNoSuchSubteam)
	}
	return ok(map[string]any{"users": append([]string{}, members...)})
}

// userJSON is a user object as users.info returns it.
func userJSON(u User) map[string]any {
	return map[string]any{
		"id":                  u.ID,
		"team_id":             TeamID,
		"name":                u.Name,
		"real_name":           u.RealName,
		"deleted":             u.Deleted,
		"is_bot":              u.IsBot,
		"is_admin":            u.IsAdmin,
		"is_restricted":       u.IsRestricted,
		"is_ultra_restricted": u.IsUltraRestricted,
		"profile": map[string]any{
			"real_name":    u.RealName,
			"display_name": u.Name,
			"email":        u.Email,
		},
	}
}
