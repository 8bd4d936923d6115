package slackfake

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
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
)

// socketConn is one Socket Mode connection. Gorilla allows one concurrent
// writer plus WriteControl/Close from anywhere; writeMu serialises the data
// writes (hello, envelopes, disconnect).
type socketConn struct {
	ws        *websocket.Conn
	writeMu   sync.Mutex
	done      chan struct{}
	closeOnce sync.Once
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
// apps.connections.open, sends hello, makes this the connection that
// receives envelopes, pings it, and routes the acks it reads.
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
	c := &socketConn{ws: ws, done: make(chan struct{})}

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = ws.Close()
		return
	}
	s.conns[c] = true
	s.connections++
	s.mu.Unlock()

	var pinger sync.WaitGroup
	pinger.Go(func() { s.pingLoop(c) })
	defer func() {
		c.close()
		pinger.Wait()
		s.dropConn(c)
	}()

	hello := helloFrame{
		Type:           "hello",
		NumConnections: 1,
		DebugInfo:      map[string]any{"host": "slackfake", "approximate_connection_time": 18060},
		ConnectionInfo: map[string]any{"app_id": AppID},
	}
	if err := c.writeJSON(hello); err != nil {
		return
	}
	s.mu.Lock()
	if !s.closed {
		s.live = c
		s.notifyLocked()
	}
	s.mu.Unlock()
	s.readLoop(c)
}

// pingLoop sends WebSocket pings, as Slack does; slack-go reconnects when
// they stop.
func (s *Server) pingLoop(c *socketConn) {
	t := time.NewTicker(s.pingInterval)
	defer t.Stop()
	for {
		select {
		case <-c.done:
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
		s.routeAck(a)
	}
}

// routeAck hands an ack to the oldest sender waiting for that envelope. Acks
// may arrive on any connection (slack-go queues them across reconnects).
func (s *Server) routeAck(a ackFrame) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ws := s.waiters[a.EnvelopeID]
	if len(ws) == 0 {
		s.log.Debug("slackfake: ack for no waiting envelope", "envelope_id", a.EnvelopeID)
		return
	}
	w := ws[0]
	if len(ws) == 1 {
		delete(s.waiters, a.EnvelopeID)
	} else {
		s.waiters[a.EnvelopeID] = ws[1:]
	}
	w.ch <- Ack{EnvelopeID: a.EnvelopeID, Payload: a.Payload, Elapsed: time.Since(w.sent)}
}

// dropConn forgets a connection that has ended.
func (s *Server) dropConn(c *socketConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
	if s.live == c {
		s.live = nil
		s.notifyLocked()
	}
}

// WaitConnected blocks until a Socket Mode client is connected and has been
// sent hello, ctx is done, or the server is closed.
func (s *Server) WaitConnected(ctx context.Context) error {
	_, err := s.waitLive(ctx)
	return err
}

// Connections is how many Socket Mode connections have been made so far
// (each reconnect counts).
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connections
}

// Disconnect sends Slack's {"type":"disconnect","reason":reason} on the live
// connection and closes it, so the client must reconnect (slack-go does so
// for any reason). It does nothing when no client is connected. An envelope
// written to that connection just before may never be acked, as with Slack;
// Resend delivers it again.
func (s *Server) Disconnect(reason string) {
	s.mu.Lock()
	c := s.live
	s.live = nil
	s.mu.Unlock()
	if c == nil {
		return
	}
	_ = c.writeJSON(disconnectFrame{Type: "disconnect", Reason: reason, DebugInfo: map[string]any{"host": "slackfake"}})
	_ = c.ws.WriteControl(websocket.CloseMessage,
		websocket.FormatCloseMessage(websocket.CloseNormalClosure, reason), time.Now().Add(writeTimeout))
	c.close()
}

// waitLive returns the connection that receives envelopes, waiting for one.
func (s *Server) waitLive(ctx context.Context) (*socketConn, error) {
	for {
		s.mu.Lock()
		c, closed, changed := s.live, s.closed, s.changed
		s.mu.Unlock()
		switch {
		case closed:
			return nil, ErrClosed
		case c != nil:
			return c, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
