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
	permUsers  = "okta.users.read (e.g. a Read-Only Administrator token)"
	permLogs   = "okta.logs.read (e.g. a Read-Only Administrator token)"
	permManage = "okta.users.manage (a Read-Only Administrator token cannot clear sessions)"
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
	if equalFoldASCII(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// User reads a user's current record by Okta ID or login (or "me", the
// token's owner), straight from Okta: nothing is cached, so the status is
// fresh enough to decide a lock on. Surrounding spaces are ignored. Errors
// wrap ErrNotFound, ErrUnauthorized or ErrUnavailable (or the context's
// error).
//
// Okta also resolves login shortnames and folds case in its own way, so the
// answer is only accepted when it is the user asked for: the same ID, or a
// login equal to idOrLogin with ASCII-only case folding. Anything else is
// ErrNotFound.
func (d *Directory) User(ctx context.Context, idOrLogin string) (User, error) {
	key := trimSpaceASCII(idOrLogin)
	if !usableKey(key) {
		return User{}, fmt.Errorf("%w: %q cannot be looked up by id or login", ErrNotFound, idOrLogin)
	}
	var u *oktasdk.User
	err := d.call(ctx, fmt.Sprintf("get user %q", key), permUsers, func(ctx context.Context) (*oktasdk.Response, error) {
		var resp *oktasdk.Response
		var err error
		u, resp, err = d.client.User.GetUser(ctx, url.PathEscape(key))
		return resp, err
	})
	if err != nil {
		return User{}, err
	}
	if u == nil {
		return User{}, fmt.Errorf("%w: get user %q: empty response", ErrUnavailable, key)
	}
	got := userFrom(u)
	if !sameUser(key, got) {
		return User{}, fmt.Errorf("%w: get user %q: Okta answered with user %q (login %q), not the one asked for",
			ErrNotFound, key, got.ID, truncate(got.Login, 256))
	}
	return got, nil
}

// usableKey reports whether key can be pasted into a /api/v1/users/ path.
// The SDK pastes it unescaped after our PathEscape; Okta cannot fetch
// logins containing "/" at all, and "." or ".." would change the path.
func usableKey(key string) bool {
	return key != "" && key != "." && key != ".." && !strings.Contains(key, "/")
}

// sameUser reports whether u is the user key names: "me", its ID, or its
// login under ASCII-only case folding (Okta's logins are case-insensitive,
// but Unicode folding would let a look-alike login match).
func sameUser(key string, u User) bool {
	return key == "me" || key == u.ID || equalFoldASCII(key, u.Login)
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

// Enrich re-reads the user behind ev (by ev.UserID, else ev.Login) and sets
// ev.Status to the status Okta reports now, so a caller deciding on an
// event that waited in a queue sees the user as they are, not as they were.
// It also fills ev.Email from the profile (authoritative over the login),
// and ev.Name and ev.Login when the event lacked them. ev is unchanged on
// error.
func (d *Directory) Enrich(ctx context.Context, ev *Event) error {
	key := trimSpaceASCII(ev.UserID)
	if key == "" {
		key = trimSpaceASCII(ev.Login)
	}
	if key == "me" {
		// An event naming "me" would resolve to the token's owner.
		return fmt.Errorf("%w: event %q names no user", ErrNotFound, ev.UUID)
	}
	u, err := d.User(ctx, key)
	if err != nil {
		return err
	}
	ev.Status = u.Status
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

// RevokeSessions clears all of a user's Okta sessions and revokes the OAuth
// and OIDC tokens Okta issued to them (oauthTokens=true). userID must be the
// Okta user ID, not a login: this ends sessions, so nothing is resolved by
// name. Okta documents that it does not end the sessions apps created for
// themselves. Errors wrap ErrNotFound, ErrUnauthorized (the token needs
// okta.users.manage) or ErrUnavailable.
func (d *Directory) RevokeSessions(ctx context.Context, userID string) error {
	id := trimSpaceASCII(userID)
	if !usableKey(id) || id == "me" {
		return fmt.Errorf("%w: %q is not a user ID", ErrNotFound, userID)
	}
	return d.call(ctx, fmt.Sprintf("revoke sessions of user %q", id), permManage, func(ctx context.Context) (*oktasdk.Response, error) {
		return d.client.User.ClearUserSessions(ctx, url.PathEscape(id), query.NewQueryParams(query.WithOauthTokens(true)))
	})
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

// mapError turns an SDK failure into an *apiError (ErrNotFound,
// ErrUnauthorized or ErrUnavailable underneath) when Okta answered, else an
// ErrUnavailable or the caller's context error. The SDK error is flattened
// to text so callers never see SDK types, and the token is scrubbed from
// that text.
func (d *Directory) mapError(ctx context.Context, op, perm string, resp *oktasdk.Response, err error, tr *callTrace) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("okta: %s: %w", op, cerr)
	}
	status, wait, date := tr.result()
	if status == 0 && resp != nil && resp.Response != nil {
		status = resp.StatusCode
	}
	detail := scrub(describe(err), d.token)
	if status == 0 {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("%w: %s: no answer within %s", ErrUnavailable, op, d.timeout)
		}
		return fmt.Errorf("%w: %s: %s", ErrUnavailable, op, detail)
	}
	ae := &apiError{kind: ErrUnavailable, status: status, code: errorCode(err), date: date}
	switch {
	case status == http.StatusNotFound:
		ae.kind = ErrNotFound
		ae.msg = fmt.Sprintf("%s: %s: HTTP 404: %s", ErrNotFound, op, detail)
	case status == http.StatusUnauthorized:
		ae.kind = ErrUnauthorized
		ae.msg = fmt.Sprintf("%s: %s: HTTP 401: Okta rejected the API token (invalid, expired or revoked; create a new one under Security > API > Tokens): %s",
			ErrUnauthorized, op, detail)
	case status == http.StatusForbidden:
		ae.kind = ErrUnauthorized
		ae.msg = fmt.Sprintf("%s: %s: HTTP 403: the API token lacks permission %s: %s", ErrUnauthorized, op, perm, detail)
	case status == http.StatusTooManyRequests:
		ae.wait = wait
		ae.msg = fmt.Sprintf("%s: %s: HTTP 429 rate limited (reset in %s): %s", ErrUnavailable, op, wait, detail)
	case status < 400:
		ae.msg = fmt.Sprintf("%s: %s: HTTP %d: unexpected response: %s", ErrUnavailable, op, status, detail)
	default:
		ae.msg = fmt.Sprintf("%s: %s: HTTP %d: %s", ErrUnavailable, op, status, detail)
	}
	return ae
}

// errorCode is Okta's errorCode from an SDK error, "" when there is none.
func errorCode(err error) string {
	var oe *oktasdk.Error
	if errors.As(err, &oe) {
		return oe.ErrorCode
	}
	return ""
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
