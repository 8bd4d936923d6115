package slackfake

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

const (
	// writeTimeout bounds every WebSocket write so a stuck client cannot
	// stall a sender (or Close) for long.
	writeTimeout = 5 * time.Second
	// socketReadLimit is far above slack-go's 20 KB ack cap, so an ack the
	// fake refuses is a bug in the fake, never in the app.
	socketReadLimit = 1 << 20
	// maxConnections is how many Socket Mode connections Slack keeps open
	// for one app; one more is told too_many_websockets and closed.
	maxConnections = 10
)

// Disconnect reasons Slack sends in {"type":"disconnect"} frames.
const (
	// ReasonWarning announces that the connection will be refreshed soon;
	// the fake keeps it open for WithWarningGrace, then closes it.
	ReasonWarning = "warning"
	// ReasonRefreshRequested closes the connection now; the app should
	// open a new one.
	ReasonRefreshRequested = "refresh_requested"
	// ReasonLinkDisabled is sent when Socket Mode is turned off for the
	// app; the connection is closed.
	ReasonLinkDisabled = "link_disabled"
	// ReasonTooManyWebsockets is what the eleventh connection gets.
	ReasonTooManyWebsockets = "too_many_websockets"
)

// socketConn is one Socket Mode connection. Gorilla allows one concurrent
// writer plus WriteControl/Close from anywhere; writeMu serialises the data
// writes (hello, envelopes, disconnect).
type socketConn struct {
	id         int
	ws         *websocket.Conn
	writeMu    sync.Mutex
	done       chan struct{}
	closeOnce  sync.Once
	closeAfter chan time.Duration // a warning's grace period, read by the pinger
	ready      bool               // hello was sent; guarded by Server.mu
}

func (c *socketConn) write(frame []byte) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if err := c.ws.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil {
		return err
	}
	return c.ws.WriteMessage(websocket.TextMessage, frame)
}

func (c *socketConn) writeJSON(v any) error {
	frame, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.write(frame)
}

// close ends the connection; the read loop then returns and cleans up.
func (c *socketConn) close() {
	c.closeOnce.Do(func() {
		close(c.done)
		_ = c.ws.Close()
	})
}

// helloFrame and disconnectFrame are Slack's control messages
// (socketmode/request.go in slack-go reads these fields).
type helloFrame struct {
	Type           string         `json:"type"`
	NumConnections int            `json:"num_connections"`
	DebugInfo      map[string]any `json:"debug_info"`
	ConnectionInfo map[string]any `json:"connection_info"`
}

type disconnectFrame struct {
	Type      string         `json:"type"`
	Reason    string         `json:"reason"`
	DebugInfo map[string]any `json:"debug_info"`
}

// ackFrame is what a Socket Mode client sends back for an envelope.
type ackFrame struct {
	EnvelopeID string          `json:"envelope_id"`
	Payload    json.RawMessage `json:"payload"`
}

// parseAck reads an ack frame; anything else the client might send is an
// error.
func parseAck(data []byte) (ackFrame, error) {
	var a ackFrame
	if err := decodeJSON(data, &a); err != nil {
		return ackFrame{}, err
	}
	if a.EnvelopeID == "" {
		return ackFrame{}, errors.New("frame has no envelope_id")
	}
	if string(a.Payload) == "null" {
		a.Payload = nil
	}
	return a, nil
}

// handleLink serves the WebSocket: it checks the ticket from
// apps.connections.open, sends hello with the number of open connections,
// adds the connection to those that receive envelopes, pings it, and
// routes the acks it reads.
func (s *Server) handleLink(w http.ResponseWriter, r *http.Request) {
	ticket := r.URL.Query().Get("ticket")
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		http.Error(w, "server closed", http.StatusServiceUnavailable)
		return
	}
	if !s.tickets[ticket] {
		s.mu.Unlock()
		http.Error(w, "unknown or used ticket", http.StatusForbidden)
		return
	}
	delete(s.tickets, ticket)
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()

	// slack-go sends Origin: https://api.slack.com, which the default
	// same-origin check refuses.
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	ws, err := up.Upgrade(w, r, nil)
	if err != nil {
		s.log.Debug("slackfake: websocket upgrade failed", "error", err)
		return
	}
	ws.SetReadLimit(socketReadLimit)
	c := &socketConn{ws: ws, done: make(chan struct{}), closeAfter: make(chan time.Duration, 1)}

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = ws.Close()
		return
	}
	s.connections++
	c.id = s.connections
	s.conns[c] = true
	open := len(s.conns)
	s.mu.Unlock()

	var pinger sync.WaitGroup
	pinger.Go(func() { s.pingLoop(c) })
	defer func() {
		c.close()
		pinger.Wait()
		s.dropConn(c)
	}()

	if open > maxConnections {
		s.sendDisconnect(c, ReasonTooManyWebsockets)
		return
	}
	hello := helloFrame{
		Type:           "hello",
		NumConnections: open,
		DebugInfo:      map[string]any{"host": "slackfake", "approximate_connection_time": 18060},
		ConnectionInfo: map[string]any{"app_id": AppID},
	}
	if err := c.writeJSON(hello); err != nil {
		return
	}
	s.mu.Lock()
	if !s.closed {
		c.ready = true
		s.notifyLocked()
	}
	s.mu.Unlock()
	s.readLoop(c)
}

// pingLoop sends WebSocket pings, as Slack does (slack-go reconnects when
// they stop), and closes the connection when a warning's grace is over.
func (s *Server) pingLoop(c *socketConn) {
	t := time.NewTicker(s.pingInterval)
	defer t.Stop()
	var grace <-chan time.Time
	for {
		select {
		case <-c.done:
			return
		case d := <-c.closeAfter:
			if grace == nil {
				timer := time.NewTimer(d)
				defer timer.Stop()
				grace = timer.C
			}
		case <-grace:
			s.closeConn(c, ReasonWarning)
			return
		case <-t.C:
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeTimeout)); err != nil {
				return
			}
		}
	}
}

// readLoop routes acks until the connection fails or is closed.
func (s *Server) readLoop(c *socketConn) {
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		a, err := parseAck(data)
		if err != nil {
			s.log.Debug("slackfake: ignoring socket frame", "error", err)
			continue
		}
		s.routeAck(c, a)
	}
}

// dropConn forgets a connection that has ended.
func (s *Server) dropConn(c *socketConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns[c] {
		delete(s.conns, c)
		c.ready = false
		s.notifyLocked()
	}
}

// readyConnsLocked is the connections that receive envelopes, oldest first.
func (s *Server) readyConnsLocked() []*socketConn {
	var out []*socketConn
	for c := range s.conns {
		if c.ready {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b *socketConn) int { return a.id - b.id })
	return out
}

// WaitConnected blocks until a Socket Mode client is connected and has been
// sent hello, ctx is done, or the server is closed.
func (s *Server) WaitConnected(ctx context.Context) error {
	return s.WaitConnections(ctx, 1)
}

// WaitConnections blocks until at least n Socket Mode connections are open
// and have been sent hello, ctx is done, or the server is closed.
func (s *Server) WaitConnections(ctx context.Context, n int) error {
	return s.waitUntil(ctx, func() bool { return len(s.readyConnsLocked()) >= n })
}

// Connections is how many Socket Mode connections have been made so far
// (each reconnect counts). Connection IDs in Delivery and StrayAck count
// from 1 in the same order.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connections
}

// OpenConnections lists the IDs of the connections open now that receive
// envelopes, oldest first.
func (s *Server) OpenConnections() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []int
	for _, c := range s.readyConnsLocked() {
		ids = append(ids, c.id)
	}
	return ids
}

// Disconnect sends Slack's {"type":"disconnect","reason":reason} on every
// open connection. For ReasonWarning the connections stay open (and keep
// receiving envelopes) until the client closes them or the grace period
// of WithWarningGrace ends; for any other reason they are closed at once,
// so the client must reconnect (slack-go does so for any reason). An
// envelope written to a connection just before may never be acked, as with
// Slack; it then counts as a failed delivery. It does nothing when no
// client is connected.
func (s *Server) Disconnect(reason string) {
	s.mu.Lock()
	conns := s.readyConnsLocked()
	s.mu.Unlock()
	for _, c := range conns {
		s.disconnect(c, reason)
	}
}

// DisconnectConn is Disconnect for the one connection with that ID (see
// OpenConnections); false when no such connection is open.
func (s *Server) DisconnectConn(id int, reason string) bool {
	s.mu.Lock()
	var target *socketConn
	for c := range s.conns {
		if c.id == id {
			target = c
		}
	}
	s.mu.Unlock()
	if target == nil {
		return false
	}
	s.disconnect(target, reason)
	return true
}

func (s *Server) disconnect(c *socketConn, reason string) {
	if reason == ReasonWarning {
		_ = c.writeJSON(disconnectFrame{Type: "disconnect", Reason: reason, DebugInfo: map[string]any{"host": "slackfake"}})
		select {
		case c.closeAfter <- s.warningGrace:
		default: // a warning is already counting down
		}
		return
	}
	s.closeConn(c, reason)
}

// closeConn stops routing envelopes to c, tells the client why and closes
// the connection.
func (s *Server) closeConn(c *socketConn, reason string) {
	s.mu.Lock()
	c.ready = false
	s.notifyLocked()
	s.mu.Unlock()
	s.sendDisconnect(c, reason)
	c.close()
}

func (s *Server) sendDisconnect(c *socketConn, reason string) {
	_ = c.writeJSON(disconnectFrame{Type: "disconnect", Reason: reason, DebugInfo: map[string]any{"host": "slackfake"}})
	_ = c.ws.WriteControl(websocket.CloseMessage,
		websocket.FormatCloseMessage(websocket.CloseNormalClosure, reason), time.Now().Add(writeTimeout))
}
