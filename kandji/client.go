// Package kandji is the only code in lockbot that talks to the Kandji ("Iru Endpoint") MDM REST
// API: it finds the devices assigned to a person by exact email, sends the MDM Lock command and
// reads Mac unlock PINs.
//
// Kandji allows 10,000 requests an hour per tenant, shared by every API token, and documents
// neither 429s nor idempotency for commands. So a Client spends a client-side rate budget that
// every call shares (interactive work first, see Priority), retries reads on throttling and
// server errors, retries the lock only where a retry cannot harm, and reports every non-2xx
// answer as an *Error that errors.Is can classify.
package kandji

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultRatePerHour is the request budget a Client spends when WithRatePerHour is not given. It
// leaves part of the tenant's 10,000 requests an hour to the other tokens that share it.
const DefaultRatePerHour = 6000

// apiPrefix is where every endpoint lives below the tenant's base URL.
const apiPrefix = "/api/v1"

// Client talks to one Kandji tenant. It is safe for concurrent use; every call made through it
// shares one rate budget.
type Client struct {
	base      *url.URL // scheme, host and an optional proxy path prefix; never ends in "/"
	token     string
	hc        *http.Client
	userAgent string
	limiter   *limiter
	retry     retryPolicy
	log       *slog.Logger
	notify    func(method, route string, status int)
}

// New returns a Client for the tenant at baseURL ("https://SUB.api.kandji.io" or
// "https://SUB.api.eu.kandji.io"; a trailing "/" or "/api/v1" is tolerated). Plain http:// is
// accepted only for loopback hosts, so a typo cannot send the token over the network in clear.
func New(baseURL, token string, opts ...Option) (*Client, error) {
	cfg := defaultConfig()
	for _, opt := range opts {
		if opt != nil {
			opt(&cfg)
		}
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	base, err := parseBaseURL(baseURL)
	if err != nil {
		return nil, err
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return nil, errors.New("kandji: empty API token")
	}
	if strings.IndexFunc(token, isSpaceOrControl) >= 0 {
		return nil, errors.New("kandji: API token contains whitespace or control characters")
	}
	// Copy the caller's client so refusing redirects does not change how it behaves elsewhere.
	hc := *cfg.httpClient
	hc.CheckRedirect = refuseRedirect
	return &Client{
		base:      base,
		token:     token,
		hc:        &hc,
		userAgent: cfg.userAgent,
		limiter:   newLimiter(cfg.ratePerHour),
		retry:     cfg.retry,
		log:       cfg.logger,
		notify:    cfg.notify,
	}, nil
}

// refuseRedirect hands the 3xx answer back instead of following it: a redirect could carry the
// Authorization header to another host, and Kandji's API has no reason to redirect.
func refuseRedirect(*http.Request, []*http.Request) error {
	return http.ErrUseLastResponse
}

// parseBaseURL checks the tenant URL. Its errors never quote the raw input, which might carry
// credentials in its user-info part.
func parseBaseURL(raw string) (*url.URL, error) {
	const want = "want https://SUBDOMAIN.api.kandji.io or https://SUBDOMAIN.api.eu.kandji.io"
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, fmt.Errorf("kandji: empty base URL (%s)", want)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("kandji: base URL is not a valid URL (%s)", want)
	}
	switch {
	case u.User != nil:
		return nil, errors.New("kandji: base URL must not contain user info; pass the API token separately")
	case u.Opaque != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, fmt.Errorf("kandji: base URL must not carry a query or fragment (%s)", want)
	case u.Hostname() == "":
		return nil, fmt.Errorf("kandji: base URL has no host (%s)", want)
	}
	scheme := strings.ToLower(u.Scheme)
	switch scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return nil, fmt.Errorf("kandji: refusing plain http:// base URL for host %q: use https "+
				"(plain http is allowed only for loopback hosts: 127.0.0.0/8, ::1, localhost)", u.Hostname())
		}
	default:
		return nil, fmt.Errorf("kandji: base URL scheme %q is not supported (%s)", u.Scheme, want)
	}
	path := strings.TrimRight(u.Path, "/")
	path = strings.TrimRight(strings.TrimSuffix(path, apiPrefix), "/")
	return &url.URL{Scheme: scheme, Host: u.Host, Path: path}, nil
}

// isLoopback reports whether host can only be reached on this machine.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// isSpaceOrControl flags runes that must never reach an HTTP header value.
func isSpaceOrControl(r rune) bool {
	return r <= ' ' || r == 0x7f
}

// defaultHTTPTimeout bounds one attempt when the caller does not bring its own http.Client.
const defaultHTTPTimeout = 30 * time.Second
