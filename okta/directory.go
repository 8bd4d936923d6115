package okta

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	oktasdk "github.com/okta/okta-sdk-golang/v2/okta"
	"github.com/okta/okta-sdk-golang/v2/okta/query"
)

const (
	// defaultRequestTimeout covers one API call including the SDK's
	// rate-limit retries; a System Log query may take 30 s server-side.
	defaultRequestTimeout = 45 * time.Second
	defaultMaxRetries     = 2
	// defaultMaxBackoffSeconds caps the SDK's sleep between 429 retries;
	// longer waits are the catch-up loop's job, not a blocked caller's.
	defaultMaxBackoffSeconds = 5
)

// Permissions named in error hints, so `lockbot check` says what to fix.
const (
	permUsers = "okta.users.read (e.g. a Read-Only Administrator token)"
	permLogs  = "okta.logs.read (e.g. a Read-Only Administrator token)"
)

// User is an Okta user as the approval card shows it.
type User struct {
	ID, Login, Email, FirstName, LastName, DisplayName string
	// Status is Okta's user status: ACTIVE, SUSPENDED, DEPROVISIONED, …
	Status string
}

// Name returns the best human name: the display name, else "First Last",
// else the login.
func (u User) Name() string {
	if u.DisplayName != "" {
		return u.DisplayName
	}
	if n := strings.TrimSpace(u.FirstName + " " + u.LastName); n != "" {
		return n
	}
	return u.Login
}

// Directory reads users and the System Log through okta-sdk-golang v2.
//
// The SDK merges ~/.okta/okta.yaml, a .okta.yaml beside its source and
// OKTA_CLIENT_* / OKTA_TESTING_* environment variables into its config
// before our settings. NewDirectory therefore sets explicitly every setting
// those sources could change and that the SSWS mode uses (org URL, token,
// authorization mode, cache, HTTPS check, request timeout, rate-limit
// retries and backoff) and always passes its own http.Client, so the proxy
// and connection settings there are never used either. The one thing it
// cannot stop is the SDK printing "error parsing" to stdout when those
// variables are malformed.
type Directory struct {
	client  *oktasdk.Client
	token   string // kept only to scrub it from error text
	timeout time.Duration
	logger  *slog.Logger
}

// dirConfig collects DirectoryOption settings.
type dirConfig struct {
	httpClient *http.Client
	logger     *slog.Logger
	timeout    time.Duration
	maxRetries int32
	maxBackoff int64 // seconds, the SDK's unit
}

// DirectoryOption configures NewDirectory.
type DirectoryOption func(*dirConfig)

// WithDirectoryHTTPClient sets the HTTP client (default: one on
// http.DefaultTransport). The client is copied and its Transport wrapped;
// the caller's client is never modified.
func WithDirectoryHTTPClient(hc *http.Client) DirectoryOption {
	return func(c *dirConfig) { c.httpClient = hc }
}

// WithDirectoryLogger sets where the Directory logs what its errors cannot
// show: rate-limit answers the SDK retried on its own, and SDK panics it
// recovered from (default: discarded).
func WithDirectoryLogger(l *slog.Logger) DirectoryOption {
	return func(c *dirConfig) {
		if l != nil {
			c.logger = l
		}
	}
}

// WithRequestTimeout bounds each API call, including the SDK's rate-limit
// retries (default 45 s). d <= 0 keeps the default.
func WithRequestTimeout(d time.Duration) DirectoryOption {
	return func(c *dirConfig) {
		if d > 0 {
			c.timeout = d
		}
	}
}

// NewDirectory builds an SSWS-token client for orgURL. orgURL must be
// https://host, or http:// for a loopback host (tests and local fakes). The
// SDK cache is off: its default 5-minute cache returns stale user status
// and stale System Log pages.
func NewDirectory(ctx context.Context, orgURL, token string, opts ...DirectoryOption) (*Directory, error) {
	cfg := dirConfig{
		logger:     slog.New(slog.DiscardHandler),
		timeout:    defaultRequestTimeout,
		maxRetries: defaultMaxRetries,
		maxBackoff: defaultMaxBackoffSeconds,
	}
	for _, o := range opts {
		o(&cfg)
	}
	base, loopback, err := normalizeOrgURL(orgURL)
	if err != nil {
		return nil, err
	}
	if token == "" {
		return nil, errors.New("okta: API token is empty")
	}
	if strings.ContainsAny(token, " \t\r\n") {
		return nil, errors.New("okta: API token contains whitespace")
	}
	hc := cfg.httpClient
	if hc == nil {
		hc = &http.Client{} // per-call context deadlines bound it
	}
	traced := *hc
	traced.Transport = &traceTransport{base: hc.Transport, logger: cfg.logger}
	_, client, err := oktasdk.NewClient(ctx,
		oktasdk.WithOrgUrl(base),
		oktasdk.WithToken(token),
		oktasdk.WithAuthorizationMode("SSWS"),
		oktasdk.WithCache(false),
		oktasdk.WithHttpClientPtr(&traced),
		oktasdk.WithTestingDisableHttpsCheck(loopback),
		oktasdk.WithRequestTimeout(0), // our context deadline covers retries too
		oktasdk.WithRateLimitMaxRetries(cfg.maxRetries),
		oktasdk.WithRateLimitMaxBackOff(cfg.maxBackoff),
		oktasdk.WithUserAgentExtra("lockbot"),
	)
	if err != nil {
		return nil, fmt.Errorf("okta: %s", scrub(err.Error(), token))
	}
	return &Directory{client: client, token: token, timeout: cfg.timeout, logger: cfg.logger}, nil
}

// normalizeOrgURL returns scheme://host (the SDK appends /api/v1/… to it)
// and whether plain http is allowed because the host is loopback.
func normalizeOrgURL(raw string) (base string, loopback bool, err error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" ||
		strings.Trim(u.Path, "/") != "" {
		return "", false, fmt.Errorf("okta: org URL %q must look like https://example.okta.com", raw)
	}
	switch u.Scheme {
	case "https":
		return "https://" + u.Host, false, nil
	case "http":
		if isLoopback(u.Hostname()) {
			return "http://" + u.Host, true, nil
		}
		return "", false, fmt.Errorf("okta: org URL %q: plain http is only allowed for loopback hosts", raw)
	}
	return "", false, fmt.Errorf("okta: org URL %q must use https", raw)
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// User looks a user up by Okta ID or login. Errors wrap ErrNotFound,
// ErrUnauthorized or ErrUnavailable (or the context's error).
func (d *Directory) User(ctx context.Context, idOrLogin string) (User, error) {
	// The SDK pastes the identifier into the path; Okta cannot fetch
	// logins containing "/" at all, and "." or ".." would change the path.
	if idOrLogin == "" || idOrLogin == "." || idOrLogin == ".." || strings.Contains(idOrLogin, "/") {
		return User{}, fmt.Errorf("%w: %q cannot be looked up by id or login", ErrNotFound, idOrLogin)
	}
	var u *oktasdk.User
	err := d.call(ctx, fmt.Sprintf("get user %q", idOrLogin), permUsers, func(ctx context.Context) (*oktasdk.Response, error) {
		var resp *oktasdk.Response
		var err error
		u, resp, err = d.client.User.GetUser(ctx, url.PathEscape(idOrLogin))
		return resp, err
	})
	if err != nil {
		return User{}, err
	}
	if u == nil {
		return User{}, fmt.Errorf("%w: get user %q: empty response", ErrUnavailable, idOrLogin)
	}
	return userFrom(u), nil
}

// userFrom reads the profile fields lockbot shows; missing or non-string
// values stay empty.
func userFrom(u *oktasdk.User) User {
	out := User{ID: u.Id, Status: u.Status}
	if u.Profile == nil {
		return out
	}
	p := *u.Profile
	str := func(k string) string {
		s, _ := p[k].(string)
		return s
	}
	out.Login, out.Email = str("login"), str("email")
	out.FirstName, out.LastName, out.DisplayName = str("firstName"), str("lastName"), str("displayName")
	return out
}

// Enrich fills ev.Email from the user's profile (authoritative over the
// login) and ev.Name and ev.Login when the event lacked them, looking the
// user up by ev.UserID, else ev.Login.
func (d *Directory) Enrich(ctx context.Context, ev *Event) error {
	key := ev.UserID
	if key == "" {
		key = ev.Login
	}
	u, err := d.User(ctx, key)
	if err != nil {
		return err
	}
	if u.Email != "" {
		ev.Email = u.Email
	}
	if ev.Name == "" {
		ev.Name = u.Name()
	}
	if ev.Login == "" {
		ev.Login = u.Login
	}
	return nil
}

// Check makes one cheap System Log read (limit=1) so `lockbot check` can
// prove the URL and token work; a permission error names what is missing.
func (d *Directory) Check(ctx context.Context) error {
	return d.call(ctx, "read system log", permLogs, func(ctx context.Context) (*oktasdk.Response, error) {
		_, resp, err := d.client.LogEvent.GetLogs(ctx, query.NewQueryParams(query.WithLimit(1)))
		return resp, err
	})
}

// call runs one SDK call under the request timeout with a trace of the HTTP
// statuses it saw, and maps its failure to this package's errors. It also
// turns an SDK panic into an error: v2 is unmaintained and dereferences nil
// on, for example, an unparsable Link header from the server.
func (d *Directory) call(ctx context.Context, op, perm string, fn func(context.Context) (*oktasdk.Response, error)) (err error) {
	cctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	tr := &callTrace{}
	cctx = context.WithValue(cctx, callTraceKey{}, tr)
	defer func() {
		if r := recover(); r != nil {
			msg := scrub(fmt.Sprint(r), d.token)
			d.logger.Error("okta SDK panicked; treating the call as failed", "op", op, "panic", msg)
			err = fmt.Errorf("%w: %s: SDK failed on the response: %s", ErrUnavailable, op, msg)
		}
	}()
	resp, err := fn(cctx)
	if err == nil {
		return nil
	}
	return d.mapError(ctx, op, perm, resp, err, tr)
}

// mapError turns an SDK failure into ErrNotFound, ErrUnauthorized,
// ErrUnavailable (a *rateLimitError for 429) or the caller's context error.
// The SDK error is flattened to text so callers never see SDK types, and the
// token is scrubbed from that text.
func (d *Directory) mapError(ctx context.Context, op, perm string, resp *oktasdk.Response, err error, tr *callTrace) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("okta: %s: %w", op, cerr)
	}
	status, wait := tr.result()
	if status == 0 && resp != nil && resp.Response != nil {
		status = resp.StatusCode
	}
	detail := scrub(describe(err), d.token)
	switch {
	case status == http.StatusNotFound:
		return fmt.Errorf("%w: %s: HTTP 404: %s", ErrNotFound, op, detail)
	case status == http.StatusUnauthorized:
		return fmt.Errorf("%w: %s: HTTP 401: Okta rejected the API token (invalid, expired or revoked; create a new one under Security > API > Tokens): %s",
			ErrUnauthorized, op, detail)
	case status == http.StatusForbidden:
		return fmt.Errorf("%w: %s: HTTP 403: the API token lacks permission %s: %s", ErrUnauthorized, op, perm, detail)
	case status == http.StatusTooManyRequests:
		return &rateLimitError{wait: wait, msg: fmt.Sprintf("%s: %s: HTTP 429 rate limited (reset in %s): %s", ErrUnavailable, op, wait, detail)}
	case status != 0 && status < 400:
		return fmt.Errorf("%w: %s: HTTP %d: unexpected response: %s", ErrUnavailable, op, status, detail)
	case status != 0:
		return fmt.Errorf("%w: %s: HTTP %d: %s", ErrUnavailable, op, status, detail)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%w: %s: no answer within %s", ErrUnavailable, op, d.timeout)
	}
	return fmt.Errorf("%w: %s: %s", ErrUnavailable, op, detail)
}

// describe renders an SDK error with Okta's error code when there is one.
func describe(err error) string {
	var oe *oktasdk.Error
	if errors.As(err, &oe) {
		msg := oe.ErrorSummary
		if msg == "" {
			msg = oe.ErrorDescription
		}
		if oe.ErrorCode != "" {
			return oe.ErrorCode + " " + msg
		}
		if msg != "" {
			return msg
		}
	}
	return err.Error()
}

// scrub removes the token from text that may end up in an error or a log.
func scrub(s, token string) string {
	if token == "" {
		return s
	}
	return strings.ReplaceAll(s, token, "[redacted]")
}
