package slackfake

import (
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Slack error codes for directory methods.
const (
	errUsersNotFound       = "users_not_found"
	errNoSuchSubteam       = "no_such_subteam"
	errPlanUpgradeRequired = "plan_upgrade_required"
	errCannotDMBot         = "cannot_dm_bot"
	errUserDisabled        = "user_disabled"
	errInvalidArgument     = "invalid_arguments"
)

// User is a member of the fake workspace, or someone from another
// organisation the app can see, as users.info and users.lookupByEmail
// describe them.
type User struct {
	ID, Name, RealName, Email string
	// IsRestricted and IsUltraRestricted mark multi- and single-channel
	// guests.
	IsBot, Deleted, IsRestricted, IsUltraRestricted, IsAdmin bool
	// IsOwner and IsPrimaryOwner mark workspace owners.
	IsOwner, IsPrimaryOwner bool
	// IsAppUser marks a user who is an app's bot user seen as a person
	// (is_app_user), IsInvitedUser one who has not signed in yet.
	IsAppUser, IsInvitedUser bool
	// TeamID is the user's home workspace; "" means this one (TeamID). A
	// Slack Connect member of another organisation has a foreign one.
	TeamID string
	// IsStranger marks someone from another organisation who shares no
	// channel the app can see: users.info returns a stripped profile (no
	// names or email) and users.lookupByEmail never finds them.
	IsStranger bool
	// EnterpriseID and EnterpriseName put the user in an Enterprise Grid
	// organisation (users.info's enterprise_user).
	EnterpriseID, EnterpriseName string
}

// WithUsers adds workspace members; a user with an existing ID replaces it.
func WithUsers(us ...User) Option {
	return func(s *Server) {
		for _, u := range us {
			s.users[u.ID] = u
		}
	}
}

// WithUserGroup declares a user group (S…) and its members for
// usergroups.users.list.
func WithUserGroup(id string, members ...string) Option {
	return func(s *Server) {
		s.groups[id] = slices.Clone(members)
	}
}

// WithFreePlan puts the workspace on Slack's free plan, which has no user
// groups: usergroups.users.list answers plan_upgrade_required.
func WithFreePlan() Option {
	return func(s *Server) { s.freePlan = true }
}

// AddUser adds or replaces a workspace member while the server runs.
func (s *Server) AddUser(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[u.ID] = u
}

// SetUserGroup creates or replaces a user group's members while the server
// runs (to test that membership is re-checked at click time).
func (s *Server) SetUserGroup(id string, members ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.groups[id] = slices.Clone(members)
}

// DMChannel is the D… channel ID conversations.open returns for userID. It is
// stable, so tests can predict where a DM lands.
func (s *Server) DMChannel(userID string) string { return "D" + userID }

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
// Slack's wss://…/link/?ticket=… URLs are. It opens nothing by itself.
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

func (s *Server) usersInfoLocked(p map[string]string) apiResult {
	u, found := s.users[p["user"]]
	if !found {
		return fail(errUserNotFound)
	}
	return ok(map[string]any{"user": s.userJSONLocked(u)})
}

// usersLookupByEmailLocked matches the email case-insensitively, as Slack
// does. Deleted users are still found; callers must check "deleted".
// Strangers are never found: their email is not visible to the app.
func (s *Server) usersLookupByEmailLocked(p map[string]string) apiResult {
	email := p["email"]
	ids := slices.Sorted(maps.Keys(s.users))
	for _, id := range ids {
		if u := s.users[id]; u.Email != "" && !u.IsStranger && strings.EqualFold(u.Email, email) {
			return ok(map[string]any{"user": s.userJSONLocked(u)})
		}
	}
	return fail(errUsersNotFound)
}

func (s *Server) usergroupMembersLocked(p map[string]string) apiResult {
	if s.freePlan {
		return fail(errPlanUpgradeRequired)
	}
	members, found := s.groups[p["usergroup"]]
	if !found {
		return fail(errNoSuchSubteam)
	}
	return ok(map[string]any{"users": append([]string{}, members...)})
}

// userJSONLocked is a user object as users.info returns it to this app:
// profile.email only with users:read.email, and for strangers only what
// Slack leaves of their profile.
func (s *Server) userJSONLocked(u User) map[string]any {
	team := u.TeamID
	if team == "" {
		team = TeamID
	}
	profile := map[string]any{"team": team}
	out := map[string]any{
		"id":                  u.ID,
		"team_id":             team,
		"deleted":             u.Deleted,
		"is_bot":              u.IsBot,
		"is_app_user":         u.IsAppUser,
		"is_admin":            u.IsAdmin,
		"is_owner":            u.IsOwner,
		"is_primary_owner":    u.IsPrimaryOwner,
		"is_restricted":       u.IsRestricted,
		"is_ultra_restricted": u.IsUltraRestricted,
		"is_invited_user":     u.IsInvitedUser,
		"profile":             profile,
	}
	if u.IsStranger {
		out["is_stranger"] = true
	} else {
		out["name"] = u.Name
		out["real_name"] = u.RealName
		profile["real_name"] = u.RealName
		profile["display_name"] = u.Name
		if u.Email != "" && s.hasScopeLocked(scopeUsersReadEmail) {
			profile["email"] = u.Email
		}
	}
	if u.EnterpriseID != "" {
		out["enterprise_user"] = map[string]any{
			"id": u.ID, "enterprise_id": u.EnterpriseID, "enterprise_name": u.EnterpriseName,
			"is_admin": u.IsAdmin, "is_owner": u.IsOwner, "is_primary_owner": u.IsPrimaryOwner,
			"teams": []string{team},
		}
	}
	return out
}
