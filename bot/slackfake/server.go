package slackfake

import (
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
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
	defaultWarningGrace = 10 * time.Second
	// verificationToken is the deprecated per-app token Slack still puts in
	// payloads; it is not a credential of the fake and never equals a token.
	verificationToken = "fake-verification-token"
)

// ErrClosed is returned by calls that wait (for a connection, an ack or a
// message) when the Server is closed underneath them.
var ErrClosed = errors.New("slackfake: server closed")

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

// WithPingInterval changes how often the fake sends WebSocket pings (default
// 5 s, well inside slack-go's 30 s watchdog). Values ≤ 0 are ignored.
func WithPingInterval(d time.Duration) Option {
	return func(s *Server) {
		if d > 0 {
			s.pingInterval = d
		}
	}
}

// WithWarningGrace changes how long a connection told
// {"type":"disconnect","reason":"warning"} stays open before the fake
// closes it (default 10 s). Values ≤ 0 are ignored.
func WithWarningGrace(d time.Duration) Option {
	return func(s *Server) {
		if d > 0 {
			s.warningGrace = d
		}
	}
}

// WithSeed fixes the random source that routes envelopes to connections
// and decides which rate-limited posts are answered in the body, so a run
// can be repeated. By default the seed is random; Seed reports it.
func WithSeed(seed uint64) Option {
	return func(s *Server) { s.seed = seed }
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
	botToken, appToken   string
	botScopes, appScopes []string
	pingInterval         time.Duration
	warningGrace         time.Duration
	ackTimeout           time.Duration
	eventRetryDelays     []time.Duration
	clock                Clock
	seed                 uint64
	rng                  *rand.Rand // guarded by mu
	log                  *slog.Logger
	freePlan             bool
	limits               *RateLimits // nil: no rate limiting
	srv                  *httptest.Server
	wg                   sync.WaitGroup // WebSocket handlers; Add only while !closed
	done                 chan struct{}  // closed by Close
	closeOnce            sync.Once
	mu                   sync.Mutex
	closed               bool
	changed              chan struct{} // closed and replaced whenever state that waiters watch changes
	users                map[string]User
	channels             map[string]*Channel
	dms                  map[string]string // DM channel ID → user ID, once opened
	groups               map[string][]string
	calls                []Call
	messages             []Message
	current              map[string]Message // channel+"/"+ts → latest state of a message in a channel
	lastTS               int64              // microseconds of the last ts handed out
	seq                  int                // for trigger IDs
	rateLimits, failures map[string]knob
	lost                 map[string]lostKnob
	holds                map[string]*Hold
	buckets              map[string]*bucket
	appTokenErr          string
	tickets              map[string]bool
	nextTicket           int
	conns                map[*socketConn]bool
	connections          int                     // connections made so far; the last one's ID
	envelopes            map[string]*envelopeRec // envelope ID → envelope, for Resend
	waiters              map[string][]*ackWaiter // envelope ID → deliveries waiting for its ack
	deliveries           []Delivery
	strays               []StrayAck
	responses            map[string]*responseHook // response_url number → what it answers
	nextResp             int
	subs                 map[*subscriber]bool
}

// New starts a fake workspace on a 127.0.0.1 port. The bot user (BotUserID)
// always exists; everything else comes from opts. By default the workspace
// is as strict as Slack and as bare as a fresh install: the bot token has
// ManifestScopes, the bot is in no channel, envelopes must be acked within
// 3 s on the connection that received them, response_urls expire after 30
// minutes, and calls are held to Slack's rate limits (SlackRateLimits).
func New(opts ...Option) *Server {
	s := &Server{
		botToken:         defaultBotToken,
		appToken:         defaultAppToken,
		botScopes:        ManifestScopes(),
		appScopes:        []string{scopeConnWrite},
		pingInterval:     defaultPingInterval,
		warningGrace:     defaultWarningGrace,
		ackTimeout:       defaultAckTimeout,
		eventRetryDelays: []time.Duration{0, time.Minute, 5 * time.Minute},
		clock:            systemClock{},
		limits:           new(SlackRateLimits()),
		seed:             randomSeed(),
		log:              slog.New(slog.DiscardHandler),
		done:             make(chan struct{}),
		changed:          make(chan struct{}),
		users:            map[string]User{BotUserID: {ID: BotUserID, Name: "lockbot", RealName: "lockbot", IsBot: true}},
		channels:         map[string]*Channel{},
		dms:              map[string]string{},
		groups:           map[string][]string{},
		current:          map[string]Message{},
		rateLimits:       map[string]knob{},
		failures:         map[string]knob{},
		lost:             map[string]lostKnob{},
		holds:            map[string]*Hold{},
		buckets:          map[string]*bucket{},
		tickets:          map[string]bool{},
		conns:            map[*socketConn]bool{},
		envelopes:        map[string]*envelopeRec{},
		waiters:          map[string][]*ackWaiter{},
		responses:        map[string]*responseHook{},
		subs:             map[*subscriber]bool{},
	}
	for _, o := range opts {
		o(s)
	}
	s.rng = rand.New(rand.NewPCG(s.seed, s.seed^0x9e3779b97f4a7c15))
	mux := http.NewServeMux()
	mux.HandleFunc("/api/{method}", s.handleAPI)
	mux.HandleFunc("/link", s.handleLink)
	mux.HandleFunc("/response/{n}", s.handleResponseURL)
	s.srv = httptest.NewServer(mux)
	return s
}

func randomSeed() uint64 {
	var b [8]byte
	_, _ = crand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:])
}

// Seed is the seed of the server's random source (see WithSeed), for
// logging a failing run so it can be repeated.
func (s *Server) Seed() uint64 { return s.seed }

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
		s.notifyLocked()
		s.mu.Unlock()

		for _, c := range conns {
			c.close()
		}
		s.srv.Close()
		s.wg.Wait()
	})
}

// notifyLocked wakes everything waiting for a change (messages, connections).
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}
