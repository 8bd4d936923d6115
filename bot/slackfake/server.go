package slackfake

import (
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Identity of the fake workspace and app. They are fixed so that tests and the
// demo can write expectations without asking the fake first.
const (
	// TeamID is the workspace ID reported by auth.test and in every payload.
	TeamID = "T0LOCKBOT"
	// TeamDomain is the workspace's subdomain.
	TeamDomain = "lockbot-fake"
	// AppID is the app's ID (hello's connection_info.app_id, api_app_id).
	AppID = "A0LOCKBOT"
	// BotUserID is the bot user's ID as auth.test reports it.
	BotUserID = "UBOT"
	// BotID is the bot's B… ID that Slack puts on the bot's messages.
	BotID = "B0LOCKBOT"

	defaultBotToken     = "xoxb-fake-bot"
	defaultAppToken     = "xapp-fake-app"
	defaultPingInterval = 5 * time.Second
	// verificationToken is the deprecated per-app token Slack still puts in
	// payloads; it is not a credential of the fake and never equals a token.
	verificationToken = "fake-verification-token"
)

// ErrClosed is returned by calls that wait (for a connection, an ack or a
// message) when the Server is closed underneath them.
var ErrClosed = errors.New("slackfake: server closed")

// User is a member of the fake workspace, as users.info and
// users.lookupByEmail describe it. IsRestricted and IsUltraRestricted mark
// multi- and single-channel guests.
type User struct {
	ID, Name, RealName, Email                                string
	IsBot, Deleted, IsRestricted, IsUltraRestricted, IsAdmin bool
}

// Option configures a Server before it starts.
type Option func(*Server)

// WithTokens sets the bot (xoxb-) and app-level (xapp-) tokens the fake
// accepts. An empty value keeps the default ("xoxb-fake-bot",
// "xapp-fake-app").
func WithTokens(bot, app string) Option {
	return func(s *Server) {
		if bot != "" {
			s.botToken = bot
		}
		if app != "" {
			s.appToken = app
		}
	}
}

// WithUsers adds workspace members; a user with an existing ID replaces it.
func WithUsers(us ...User) Option {
	return func(s *Server) {
		for _, u := range us {
			s.users[u.ID] = u
		}
	}
}

// WithChannels declares the public channels the bot may post to (for example
// "CAPPROVAL"). Posting anywhere else, except a DM opened with
// conversations.open, fails with channel_not_found.
func WithChannels(ids ...string) Option {
	return func(s *Server) {
		for _, id := range ids {
			s.channels[id] = true
		}
	}
}

// WithUserGroup declares a user group (S…) and its members for
// usergroups.users.list.
func WithUserGroup(id string, members ...string) Option {
	return func(s *Server) {
		s.groups[id] = append([]string(nil), members...)
	}
}

// WithPingInterval changes how often the fake sends WebSocket pings (default
// 5 s, well inside slack-go's 30 s watchdog). Values ≤ 0 are ignored.
func WithPingInterval(d time.Duration) Option {
	return func(s *Server) {
		if d > 0 {
			s.pingInterval = d
		}
	}
}

// WithLogger makes the fake log what it receives at debug level (never
// tokens). The default discards.
func WithLogger(l *slog.Logger) Option {
	return func(s *Server) {
		if l != nil {
			s.log = l
		}
	}
}

// Server is a running fake workspace. Create it with New and stop it with
// Close.
type Server struct {
	botToken, appToken string
	pingInterval       time.Duration
	log                *slog.Logger

	srv       *httptest.Server
	wg        sync.WaitGroup // WebSocket handlers; Add only while !closed
	done      chan struct{}  // closed by Close
	closeOnce sync.Once

	mu      sync.Mutex
	closed  bool
	changed chan struct{} // closed and replaced whenever state that waiters watch changes

	users    map[string]User
	channels map[string]bool
	dms      map[string]string // DM channel ID → user ID, once opened
	groups   map[string][]string

	calls    []Call
	messages []Message
	current  map[string]Message // channel+"/"+ts → latest state of a posted message
	lastTS   int64              // microseconds of the last ts handed out
	seq      int                // for trigger IDs

	rateLimits  map[string]knob
	failures    map[string]knob
	appTokenErr string

	tickets     map[string]bool
	nextTicket  int
	conns       map[*socketConn]bool
	live        *socketConn
	connections int
	envelopes   map[string][]byte        // envelope ID → frame as sent, for Resend
	waiters     map[string][]*ackWaiter  // envelope ID → senders waiting for its ack
	responses   map[string]*responseHook // response_url number → what it answers
	nextResp    int

	subs map[*subscriber]bool
}

// New starts a fake workspace on a 127.0.0.1 port. The bot user (BotUserID)
// always exists; everything else comes from opts.
func New(opts ...Option) *Server {
	s := &Server{
		botToken:     defaultBotToken,
		appToken:     defaultAppToken,
		pingInterval: defaultPingInterval,
		log:          slog.New(slog.DiscardHandler),
		done:         make(chan struct{}),
		changed:      make(chan struct{}),
		users:        map[string]User{BotUserID: {ID: BotUserID, Name: "lockbot", RealName: "lockbot", IsBot: true}},
		channels:     map[string]bool{},
		dms:          map[string]string{},
		groups:       map[string][]string{},
		current:      map[string]Message{},
		rateLimits:   map[string]knob{},
		failures:     map[string]knob{},
		tickets:      map[string]bool{},
		conns:        map[*socketConn]bool{},
		envelopes:    map[string][]byte{},
		waiters:      map[string][]*ackWaiter{},
		responses:    map[string]*responseHook{},
		subs:         map[*subscriber]bool{},
	}
	for _, o := range opts {
		o(s)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/{method}", s.handleAPI)
	mux.HandleFunc("/link", s.handleLink)
	mux.HandleFunc("/response/{n}", s.handleResponseURL)
	s.srv = httptest.NewServer(mux)
	return s
}

// APIURL is the Web API base to give slack.OptionAPIURL; it ends with "/api/".
func (s *Server) APIURL() string { return s.srv.URL + "/api/" }

// BotToken is the xoxb- token the fake accepts for Web API calls.
func (s *Server) BotToken() string { return s.botToken }

// AppToken is the xapp- token the fake accepts for apps.connections.open.
func (s *Server) AppToken() string { return s.appToken }

// Close stops the HTTP server, closes every socket and subscription, wakes
// every waiter with ErrClosed, and returns once all goroutines the fake
// started have ended. Calling it again does nothing.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		close(s.done)
		conns := make([]*socketConn, 0, len(s.conns))
		for c := range s.conns {
			conns = append(conns, c)
		}
		for sub := range s.subs {
			sub.closeLocked()
		}
		s.subs = map[*subscriber]bool{}
		s.live = nil
		s.notifyLocked()
		s.mu.Unlock()

		for _, c := range conns {
			c.close()
		}
		s.srv.Close()
		s.wg.Wait()
	})
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
	s.groups[id] = append([]string(nil), members...)
}

// DMChannel is the D… channel ID conversations.open returns for userID. It is
// stable, so tests can predict where a DM lands.
func (s *Server) DMChannel(userID string) string { return "D" + userID }

// notifyLocked wakes everything waiting for a change (messages, connections).
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// channelName invents the name Slack would show for a channel ID.
func channelName(id string) string {
	if strings.HasPrefix(id, "D") {
		return "directmessage"
	}
	return strings.ToLower(id)
}
