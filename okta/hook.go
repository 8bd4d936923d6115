package okta

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/textproto"
)

const (
	// defaultMaxBody bounds a delivery. Okta documents no maximum batch
	// size and never retries a 4xx, so a 413 loses the batch for good
	// (the catch-up finds it later): generous, but still a bound.
	defaultMaxBody = 8 << 20
	// defaultAuthHeader is the header Okta's docs recommend for the
	// secret; the admin may name another one.
	defaultAuthHeader = "Authorization"
	// challengeHeader carries the one-time verification value; it is the
	// only GET Okta ever sends.
	challengeHeader = "x-okta-verification-challenge"
)

// HookConfig configures the /hooks/okta handler.
type HookConfig struct {
	// Secret is the exact value of the authentication header configured
	// on the Okta event hook ("Authentication secret"). "" disables the
	// endpoint: every request gets 404.
	Secret string
	// AuthHeader is the name of that header ("Authentication field"),
	// matched case-insensitively (default "Authorization").
	AuthHeader string
	// Types are the event types to keep; others are ignored (logged with
	// a count, never an error, so Okta does not retry them). Must not be
	// empty.
	Types []string
	// Admitter is where the kept events are handed to before the 200 goes
	// back, so it must admit durably. Required.
	Admitter Admitter
	// Logger receives one line per delivery (default: discarded). The
	// secret and the authentication header are never logged.
	Logger *slog.Logger
	// MaxBody caps the request body (default 8 MiB); larger gets 413.
	MaxBody int64
	// OnDelivery, if set, is called once per request with the status
	// sent and the number of events admitted, for metrics.
	OnDelivery func(status int, admitted int)
}

// HookHandler serves /hooks/okta. Its reply depends only on parsing and
// Admit, never on network I/O, so it answers well within Okta's 3 s.
type HookHandler struct {
	enabled    bool
	secretHash [sha256.Size]byte
	authHeader string // canonical form
	types      map[string]struct{}
	admitter   Admitter
	logger     *slog.Logger
	maxBody    int64
	onDelivery func(int, int)
}

// NewHookHandler checks cfg and builds the handler. It fails when Admitter is
// nil, Types is empty (a hook that ignores everything is a
// misconfiguration, not a feature) or AuthHeader is not a usable header
// name.
func NewHookHandler(cfg HookConfig) (*HookHandler, error) {
	if cfg.Admitter == nil {
		return nil, errors.New("okta: hook: Admitter is required")
	}
	if len(cfg.Types) == 0 {
		return nil, errors.New("okta: hook: Types is empty; no event would ever be kept")
	}
	name := cfg.AuthHeader
	if name == "" {
		name = defaultAuthHeader
	}
	if err := checkAuthHeader(name); err != nil {
		return nil, err
	}
	h := &HookHandler{
		enabled:    cfg.Secret != "",
		secretHash: sha256.Sum256([]byte(cfg.Secret)),
		authHeader: textproto.CanonicalMIMEHeaderKey(name),
		types:      make(map[string]struct{}, len(cfg.Types)),
		admitter:   cfg.Admitter,
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

// checkAuthHeader accepts an HTTP field name (RFC 9110 token) that is not
// one of the headers Okta itself sets on every request.
func checkAuthHeader(name string) error {
	for i := range len(name) {
		c := name[i]
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c < 0x80 && (c == '!' || c == '#' || c == '$' || c == '%' || c == '&' || c == '\'' || c == '*' ||
				c == '+' || c == '-' || c == '.' || c == '^' || c == '_' || c == '`' || c == '|' || c == '~')
		if !ok {
			return fmt.Errorf("okta: hook: AuthHeader %q is not an HTTP header name", name)
		}
	}
	switch textproto.CanonicalMIMEHeaderKey(name) {
	case "Accept", "Content-Type", "Content-Length", "Host", "Transfer-Encoding",
		textproto.CanonicalMIMEHeaderKey(challengeHeader):
		return fmt.Errorf("okta: hook: AuthHeader %q is a header Okta sets itself", name)
	}
	return nil
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
	case http.MethodGet, http.MethodPost:
	default:
		w.Header().Set("Allow", "GET, POST")
		return plain(w, http.StatusMethodNotAllowed, "method not allowed"), 0
	}
	// Okta sends the authentication header on every request, the
	// verification GET included: its docs say Okta "provides it in every
	// request" (Event hooks concept page, "HTTP Headers"), and its own
	// sample service (the event hook guides' Node.js app) puts
	// express-basic-auth in front of the route that answers the
	// verification challenge. So Verify proves the secret too.
	if !h.authorized(r) {
		h.logger.Warn("okta hook: rejected request with missing or wrong secret",
			"method", r.Method, "header", h.authHeader, "remote_addr", r.RemoteAddr)
		return plain(w, http.StatusUnauthorized, "unauthorized"), 0
	}
	if r.Method == http.MethodGet {
		return h.verify(w, r), 0
	}
	return h.deliver(w, r)
}

// verify answers Okta's one-time verification by echoing the challenge.
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
	if r.ContentLength > h.maxBody {
		h.logger.Warn("okta hook: delivery too large", "limit", h.maxBody, "content_length", r.ContentLength)
		return plain(w, http.StatusRequestEntityTooLarge, "body too large"), 0
	}
	d, err := decodeDelivery(http.MaxBytesReader(w, r.Body, h.maxBody), h.keeps)
	if err != nil {
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			h.logger.Warn("okta hook: delivery too large", "limit", h.maxBody)
			return plain(w, http.StatusRequestEntityTooLarge, "body too large"), 0
		case errors.Is(err, ErrMalformed):
			h.logger.Warn("okta hook: bad delivery", "err", err)
			return plain(w, http.StatusBadRequest, "malformed JSON"), 0
		case errors.Is(err, ErrNotEnvelope):
			h.logger.Warn("okta hook: bad delivery", "err", err)
			return plain(w, http.StatusBadRequest, "not an Okta event hook delivery"), 0
		}
		h.logger.Warn("okta hook: cannot read delivery", "err", err)
		return plain(w, http.StatusBadRequest, "cannot read body"), 0
	}
	got, err := h.admitter.Admit(r.Context(), d.events)
	if err != nil {
		// 5xx makes Okta retry once; the catch-up recovers it otherwise.
		h.logger.Error("okta hook: cannot admit events", "events", len(d.events), "err", err)
		return plain(w, http.StatusServiceUnavailable, "temporarily unavailable"), 0
	}
	h.logger.Info("okta hook delivery",
		"events", len(d.events)+d.ignored+d.dropped, "admitted", len(got), "duplicates", len(d.events)-len(got),
		"ignored_type", d.ignored, "no_user_target", d.dropped)
	w.WriteHeader(http.StatusOK)
	return http.StatusOK, len(got)
}

// keeps reports whether events of type t are kept.
func (h *HookHandler) keeps(t string) bool {
	_, ok := h.types[t]
	return ok
}

// authorized requires exactly one authentication header and compares hashes,
// so the comparison is constant time and leaks nothing about the secret's
// length either.
func (h *HookHandler) authorized(r *http.Request) bool {
	vals := r.Header.Values(h.authHeader)
	if len(vals) != 1 {
		return false
	}
	sum := sha256.Sum256([]byte(vals[0]))
	return subtle.ConstantTimeCompare(sum[:], h.secretHash[:]) == 1
}

// plain writes a short text/plain reply and returns its status.
func plain(w http.ResponseWriter, status int, msg string) int {
	http.Error(w, msg, status)
	return status
}
