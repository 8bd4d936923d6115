package slackfake

import (
	"slices"
	"strings"
)

// Slack error codes for channel access.
const (
	errNotInChannel     = "not_in_channel"
	errUserNotInChannel = "user_not_in_channel"
	errIsArchived       = "is_archived"
)

// Channel is a public or private channel of the fake workspace. The zero
// value of BotMember is the strict case: the bot was never invited, so it
// can read the channel's info (with the right scope) but posting answers
// not_in_channel.
type Channel struct {
	// ID is the C… (or, for old private channels, G…) ID.
	ID string
	// Name is the channel's name; "" means the lower-cased ID.
	Name string
	// Private makes it a private channel: conversations.info needs
	// groups:read and conversations.history groups:history.
	Private bool
	// BotMember says the bot user has been added to the channel.
	BotMember bool
	// Members are the people in the channel; chat.postEphemeral to anyone
	// else answers user_not_in_channel.
	Members []string
	// Everyone makes every workspace member (not strangers) a member, like
	// #general; Members is then ignored.
	Everyone bool
	// Archived channels refuse posts with is_archived.
	Archived bool
}

// WithChannel declares a channel; one with an existing ID replaces it.
func WithChannel(c Channel) Option {
	return func(s *Server) { s.putChannelLocked(c) }
}

// WithChannels declares public channels the bot is a member of, with no
// human members yet (add them with WithChannelMembers). Posting anywhere
// else, except a DM opened with conversations.open, fails.
func WithChannels(ids ...string) Option {
	return func(s *Server) {
		for _, id := range ids {
			s.putChannelLocked(Channel{ID: id, BotMember: true})
		}
	}
}

// WithChannelMembers adds people to a channel declared by an earlier
// option; a channel not declared yet is created public, without the bot.
func WithChannelMembers(channel string, users ...string) Option {
	return func(s *Server) { s.addMembersLocked(channel, users) }
}

// AddChannel declares or replaces a channel while the server runs.
func (s *Server) AddChannel(c Channel) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.putChannelLocked(c)
}

// SetChannelMembers replaces a channel's members while the server runs
// (creating the channel public, without the bot, if needed).
func (s *Server) SetChannelMembers(channel string, users ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.channelLocked(channel)
	c.Members = slices.Clone(users)
	c.Everyone = false
}

// SetBotMember adds the bot to a channel or removes it (as /invite and
// /remove do), creating the channel public if needed.
func (s *Server) SetBotMember(channel string, member bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.channelLocked(channel).BotMember = member
}

// ChannelInfo returns a copy of a declared channel; false for unknown IDs
// and DMs.
func (s *Server) ChannelInfo(id string) (Channel, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, found := s.channels[id]
	if !found {
		return Channel{}, false
	}
	out := *c
	out.Members = slices.Clone(c.Members)
	return out, true
}

func (s *Server) putChannelLocked(c Channel) {
	c.Members = slices.Clone(c.Members)
	s.channels[c.ID] = &c
}

// channelLocked returns the channel, creating it public without the bot.
func (s *Server) channelLocked(id string) *Channel {
	c, found := s.channels[id]
	if !found {
		c = &Channel{ID: id}
		s.channels[id] = c
	}
	return c
}

func (s *Server) addMembersLocked(channel string, users []string) {
	c := s.channelLocked(channel)
	for _, u := range users {
		if !slices.Contains(c.Members, u) {
			c.Members = append(c.Members, u)
		}
	}
}

// conversation is what the fake knows about a channel ID: a declared
// channel, an opened DM, or nothing.
type conversation struct {
	ch     *Channel
	dmUser string
}

func (cv conversation) found() bool { return cv.ch != nil || cv.dmUser != "" }

func (cv conversation) isDM() bool { return cv.dmUser != "" }

func (cv conversation) private() bool { return cv.ch != nil && cv.ch.Private }

func (cv conversation) botIn() bool { return cv.isDM() || (cv.ch != nil && cv.ch.BotMember) }

// conversationLocked looks a channel ID up.
func (s *Server) conversationLocked(id string) conversation {
	if user, found := s.dms[id]; found {
		return conversation{dmUser: user}
	}
	return conversation{ch: s.channels[id]}
}

// memberLocked says whether user is in the conversation.
func (s *Server) memberLocked(cv conversation, user string) bool {
	switch {
	case cv.isDM():
		return user == cv.dmUser || user == BotUserID
	case cv.ch == nil:
		return false
	case user == BotUserID:
		return cv.ch.BotMember
	case cv.ch.Everyone:
		u, known := s.users[user]
		return known && !u.IsStranger && !u.Deleted
	}
	return slices.Contains(cv.ch.Members, user)
}

// readScope and historyScope are the scopes conversations.info and
// conversations.history need for this kind of conversation.
func (cv conversation) readScope() string {
	switch {
	case cv.isDM():
		return scopeIMRead
	case cv.private():
		return scopeGroupsRead
	}
	return scopeChannelsRead
}

func (cv conversation) historyScope() string {
	switch {
	case cv.isDM():
		return scopeIMHistory
	case cv.private():
		return scopeGroupsHistory
	}
	return scopeChannelsHistory
}

// postCheckLocked is why the bot may not write in channel, or nil. public
// writes (chat.postMessage) may use chat:write.public instead of
// membership in public channels, as Slack allows.
func (s *Server) postCheckLocked(channel string, public bool) *apiResult {
	cv := s.conversationLocked(channel)
	switch {
	case !cv.found():
		r := fail(errChannelNotFound)
		return &r
	case cv.ch != nil && cv.ch.Archived:
		r := fail(errIsArchived)
		return &r
	case cv.botIn():
		return nil
	case public && !cv.private() && s.hasScopeLocked(scopeChatWritePublic):
		return nil
	}
	r := fail(errNotInChannel)
	return &r
}

func (s *Server) conversationsInfoLocked(p map[string]string) apiResult {
	id := p["channel"]
	cv := s.conversationLocked(id)
	if !cv.found() {
		return fail(errChannelNotFound)
	}
	if res, allowed := s.needBotScopeLocked(cv.readScope()); !allowed {
		return res
	}
	if cv.isDM() {
		return ok(map[string]any{"channel": imJSON(id, cv.dmUser)})
	}
	c := cv.ch
	info := map[string]any{
		"id": c.ID, "name": s.channelNameLocked(c.ID),
		"is_channel": !c.Private, "is_group": false, "is_im": false, "is_mpim": false,
		"is_private": c.Private, "is_archived": c.Archived, "is_member": c.BotMember,
		"is_general": false, "is_shared": false, "is_ext_shared": false, "is_org_shared": false,
	}
	if p["include_num_members"] == "true" || p["include_num_members"] == "1" {
		info["num_members"] = s.memberCountLocked(c)
	}
	return ok(map[string]any{"channel": info})
}

func (s *Server) memberCountLocked(c *Channel) int {
	n := 0
	if c.Everyone {
		for _, u := range s.users {
			if !u.IsStranger && !u.Deleted && u.ID != BotUserID {
				n++
			}
		}
	} else {
		n = len(c.Members)
	}
	if c.BotMember {
		n++
	}
	return n
}

// channelNameLocked is the name Slack would show for a channel ID.
func (s *Server) channelNameLocked(id string) string {
	if c, found := s.channels[id]; found && c.Name != "" {
		return c.Name
	}
	if strings.HasPrefix(id, "D") {
		return "directmessage"
	}
	return strings.ToLower(id)
}
