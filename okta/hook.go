package okta

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
)

const (
	defaultMaxBody = 1 << 20
	// challengeHeader carries the one-time verification value; it is the
	// only GET Okta ever sends.
	challengeHeader = "x-okta-verification-challenge"
)

// HookConfig configures the /hooks/okta handler.
type HookConfig struct {
	// Secret is the exact Authorization header value configured on the
	// Okta event hook. "" disables the endpoint: every request gets 404.
	Secret string
	// Types are the event types to keep; others are ignored (logged with
	// a count, never an error, so Okta does not retry them). Must not be
	// empty.
	Types []string
	// Inbox receives the kept events. Required.
	Inbox *Inbox
	// Logger receives one line per delivery (default: discarded). The
	// secret and the Authorization header are never logged.
	Logger *slog.Logger
	// MaxBody caps the request body (default 1 MiB); larger gets 413.
	MaxBody int64
	// OnDelivery, if set, is called once per request with the status
	// sent and the number of events admitted, for metrics.
	OnDelivery func(status int, admitted int)
}

// HookHandler serves /hooks/okta. Its reply depends only on parsing and
// Inbox.Admit, never on network I/O, so it answers well within Okta's 3 s.
type HookHandler struct {
	enabled    bool
	secretHash [sha256.Size]byte
	types      map[string]struct{}
	inbox      *Inbox
	logger     *slog.Logger
	maxBody    int64
	onDelivery func(int, int)
}

// NewHookHandler checks cfg and builds the handler. It fails when Inbox is
// nil or Types is empty (a hook that ignores everything is a
// misconfiguration, not a feature).
func NewHookHandler(cfg HookConfig) (*HookHandler, error) {
	if cfg.Inbox == nil {
		return nil, errors.New("okta: hook: Inbox is required")
	}
	if len(cfg.Types) == 0 {
		return nil, errors.New("okta: hook: Types is empty; no event would ever be kept")
	}
	h := &HookHandler{
		enabled:    cfg.Secret != "",
		secretHash: sha256.Sum256([]byte(cfg.Secret)),
		types:      make(map[string]struct{}, len(cfg.Types)),
		inbox:      cfg.Inbox,
		logger:     cfg.Logger,
		maxBody:    cfg.MaxBody,
		onDelivery: cfg.OnDelivery,
	}
	for _, t := range cfg.Types {
		h.types[t] = struct{}{}
	}
	if h.logger == nil {
		h.logger = slog.New(slog.DiscardHandler)
	}
	if h.maxBody <= 0 {
		h.maxBody = defaultMaxBody
	}
	return h, nil
}

// ServeHTTP answers the verification GET and event deliveries (POST).
func (h *HookHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	status, admitted := h.serve(w, r)
	if h.onDelivery != nil {
		h.onDelivery(status, admitted)
	}
}

func (h *HookHandler) serve(w http.ResponseWriter, r *http.Request) (status, admitted int) {
	if !h.enabled {
		http.NotFound(w, r)
		return http.StatusNotFound, 0
	}
	switch r.Method {
	case http.MethodGet:
		return h.verify(w, r), 0
	case http.MethodPost:
		return h.deliver(w, r)
	default:
		w.Header().Set("Allow", "GET, POST")
		return plain(w, http.StatusMethodNotAllowed, "method not allowed"), 0
	}
}

// verify answers Okta's one-time verification. It needs no secret: Okta
// does not document sending the auth header on it, and echoing a value
// reveals nothing.
func (h *HookHandler) verify(w http.ResponseWriter, r *http.Request) int {
	challenge := r.Header.Get(challengeHeader)
	if challenge == "" {
		return plain(w, http.StatusBadRequest, "missing "+challengeHeader+" header")
	}
	body, err := json.Marshal(struct {
		Verification string `json:"verification"`
	}{challenge})
	if err != nil {
		return plain(w, http.StatusInternalServerError, "cannot encode challenge")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
	h.logger.Info("okta hook verification answered")
	return http.StatusOK
}

func (h *HookHandler) deliver(w http.ResponseWriter, r *http.Request) (status, admitted int) {
	if !h.authorized(r.Header.Get("Authorization")) {
		h.logger.Warn("okta hook: rejected delivery with missing or wrong secret", "remote_addr", r.RemoteAddr)
		return plain(w, http.StatusUnauthorized, "unauthorized"), 0
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.logger.Warn("okta hook: delivery too large", "limit", h.maxBody)
			return plain(w, http.StatusRequestEntityTooLarge, "body too large"), 0
		}
		return plain(w, http.StatusBadRequest, "cannot read body"), 0
	}
	evs, dropped, err := parseDelivery(body)
	if err != nil {
		h.logger.Warn("okta hook: bad delivery", "err", err)
		if errors.Is(err, ErrMalformed) {
			return plain(w, http.StatusBadRequest, "malformed JSON"), 0
		}
		return plain(w, http.StatusBadRequest, "not an Okta event hook delivery"), 0
	}
	kept := evs[:0]
	for _, ev := range evs {
		if _, ok := h.types[ev.Type]; ok {
			kept = append(kept, ev)
		}
	}
	ignored := len(evs) - len(kept)
	got, err := h.inbox.Admit(kept)
	if err != nil {
		// 5xx makes Okta retry once; the catch-up recovers it otherwise.
		h.logger.Error("okta hook: cannot admit events", "events", len(kept), "err", err)
		return plain(w, http.StatusServiceUnavailable, "temporarily unavailable"), 0
	}
	h.logger.Info("okta hook delivery",
		"events", len(evs)+dropped, "admitted", len(got), "duplicates", len(kept)-len(got),
		"ignored_type", ignored, "no_user_target", dropped)
	w.WriteHeader(http.StatusOK)
	return http.StatusOK, len(got)
}

// authorized compares hashes so the comparison is constant time and leaks
// nothing about the secret's length either.
func (h *HookHandler) authorized(got string) bool {
	sum := sha256.Sum256([]byte(got))
	return subtle.ConstantTimeCompare(sum[:], h.secretHash[:]) == 1
}

// plain writes a short text/plain reply and returns its status.
func plain(w http.ResponseWriter, status int, msg string) int {
	http.Error(w, msg, status)
	return status
}
