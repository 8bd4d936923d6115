// Package kandji is the only code in lockbot that talks to the Kandji ("Iru Endpoint") MDM REST
// API: it finds the devices assigned to a person by email, sends the MDM Lock command, reads
// Mac unlock PINs and the MDM command list that says whether a lock is on its way.
//
// Kandji allows 10,000 requests an hour per tenant, shared by every API token, and documents
// neither 429s nor idempotency for commands. So a Client spends a client-side rate budget that
// every call shares (interactive work first, see Priority), retries reads on throttling and
// server errors, never repeats a lock that may have reached Kandji, and reports every non-2xx
// answer as an *Error that errors.Is can classify, its message cleaned of PINs and the token.
//
// Kandji documents: the device list's user_email ("containing") and user_email_exact
// ("matching") filters and its hard limit of 300 per page; the lock's 200 {"PIN": …} for a Mac
// and 400 "This device is already locked."; 400 "Command is not allowed for current device";
// the command list's envelope and its status numbers (1 pending, 2 running, 3 completed, 4
// failed, 5 NotNow). It does not document, and this package therefore assumes the least: whether
// the email filters ignore case or spaces (DevicesByEmail asks with both and re-checks every
// answer with EqualEmail); what a 409 means (Lock reads the command list, as for any refusal);
// the order of the command list (the newest lock is found by date, at either end); the
// command_type Kandji gives a lock (Apple's "DeviceLock" is matched in either field, in any
// case); and the label of the command-list permission (see Permission).
package kandji

import (
	"errors"
	"log/slog"
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
// "https://SUB.api.eu.kandji.io"), read as NormalizeBaseURL does: a bare host such as Kandji's
// web app shows it gets https://, and a trailing "/" or "/api/v1" is tolerated. Plain http:// is
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
	base, _, err := parseBaseURL(baseURL)
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
		limiter:   newLimiter(cfg.ratePerHour, cfg.shared),
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

// isSpaceOrControl flags runes that must never reach an HTTP header value.
func isSpaceOrControl(r rune) bool {
	return r <= ' ' || r == 0x7f
}

// defaultHTTPTimeout bounds one attempt when the caller does not bring its own http.Client.
const defaultHTTPTimeout = 30 * time.Second
