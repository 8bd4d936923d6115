package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/caarlos0/env/v10"

	"github.com/lockbot/lockbot/kandji"
	"github.com/lockbot/lockbot/okta"
)

// secret holds a token or shared secret. Printing it in any way (fmt,
// slog, JSON) shows only whether it is set, so configuration dumps and
// error messages cannot leak it.
type secret string

// String implements fmt.Stringer.
func (s secret) String() string {
	if s == "" {
		return "(unset)"
	}
	return "(redacted)"
}

// GoString implements fmt.GoStringer.
func (s secret) GoString() string { return s.String() }

// Format implements fmt.Formatter for every verb.
func (s secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(s.String())) }

// LogValue implements slog.LogValuer.
func (s secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText implements encoding.TextMarshaler.
func (s secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// value returns the secret itself, for the one client that needs it.
func (s secret) value() string { return string(s) }

// config is every environment variable the README documents. Parsing
// (types, defaults) is caarlos0/env's; validate checks what a type cannot
// say, and advise what is well-formed but unusual.
type config struct {
	SlackBotToken      secret        `env:"SLACK_BOT_TOKEN"`
	SlackAppToken      secret        `env:"SLACK_APP_TOKEN"`
	SlackAPIURL        string        `env:"SLACK_API_URL" envDefault:"https://slack.com/api/"`
	Command            string        `env:"LOCKBOT_COMMAND" envDefault:"/lock"`
	ApprovalChannel    string        `env:"LOCKBOT_APPROVAL_CHANNEL"`
	NotifyChannel      string        `env:"LOCKBOT_NOTIFY_CHANNEL"`
	Approvers          []string      `env:"LOCKBOT_APPROVERS"`
	ApproverGroup      string        `env:"LOCKBOT_APPROVER_GROUP"`
	Requesters         []string      `env:"LOCKBOT_REQUESTERS"`
	RequesterGroup     string        `env:"LOCKBOT_REQUESTER_GROUP"`
	Required           int           `env:"LOCKBOT_REQUIRED_APPROVALS" envDefault:"1"`
	ApprovalTTL        time.Duration `env:"LOCKBOT_APPROVAL_TTL" envDefault:"30m"`
	AllowedDomains     []string      `env:"LOCKBOT_ALLOWED_DOMAINS"`
	AutoLockEvents     []string      `env:"LOCKBOT_AUTO_LOCK_EVENTS" envDefault:"user.lifecycle.suspend,user.lifecycle.deactivate,user.account.report_suspicious_activity_by_enduser"`
	ApproveEvents      []string      `env:"LOCKBOT_APPROVE_EVENTS"`
	LockMessage        string        `env:"LOCKBOT_LOCK_MESSAGE"`
	LockPhone          string        `env:"LOCKBOT_LOCK_PHONE"`
	DryRun             bool          `env:"LOCKBOT_DRY_RUN" envDefault:"false"`
	StateDir           string        `env:"LOCKBOT_STATE_DIR" envDefault:"lockbot-state"`
	DatabaseURL        secret        `env:"LOCKBOT_DATABASE_URL"` // may carry a password
	KandjiAPIURL       string        `env:"KANDJI_API_URL"`
	KandjiAPIToken     secret        `env:"KANDJI_API_TOKEN"`
	KandjiRateLimit    int           `env:"KANDJI_RATE_LIMIT" envDefault:"6000"`
	OktaHookSecret     secret        `env:"OKTA_HOOK_SECRET"`
	OktaHookAuthHeader string        `env:"OKTA_HOOK_AUTH_HEADER" envDefault:"Authorization"`
	OktaOrgURL         string        `env:"OKTA_ORG_URL"`
	OktaAPIToken       secret        `env:"OKTA_API_TOKEN"`
	CatchupInterval    time.Duration `env:"LOCKBOT_CATCHUP_INTERVAL" envDefault:"5m"`
	CatchupLookback    time.Duration `env:"LOCKBOT_CATCHUP_LOOKBACK" envDefault:"1h"`
	LockDeadline       time.Duration `env:"LOCKBOT_LOCK_DEADLINE" envDefault:"24h"`
	ListenAddr         string        `env:"LISTEN_ADDR" envDefault:":8080"`
	LogLevel           string        `env:"LOG_LEVEL" envDefault:"info"`
	LogFormat          string        `env:"LOG_FORMAT" envDefault:"text"`

	// kandjiSchemeAdded records that KANDJI_API_URL came as the bare host
	// Kandji's settings page shows, and https:// was added.
	kandjiSchemeAdded bool
}

// envNames lists every variable config reads, in declaration order.
func envNames() []string {
	params, err := env.GetFieldParams(&config{})
	if err != nil {
		// GetFieldParams fails only for a malformed struct tag, which the
		// tests would catch; an empty list then makes them fail loudly.
		return nil
	}
	names := make([]string, 0, len(params))
	for _, p := range params {
		names = append(names, p.Key)
	}
	return names
}

// configError lists every problem found in the environment at once, so an
// operator fixes them all in one go instead of one per restart.
type configError struct{ problems []string }

func (e *configError) Error() string {
	return "lockbot cannot start; fix the configuration:\n  - " + strings.Join(e.problems, "\n  - ")
}

// loadConfig reads and validates the configuration from getenv.
func loadConfig(getenv func(string) string) (config, error) {
	vars := map[string]string{}
	for _, name := range envNames() {
		if v := getenv(name); v != "" {
			vars[name] = v
		}
	}
	var cfg config
	var problems []string
	failed := map[string]bool{}
	if err := env.ParseWithOptions(&cfg, env.Options{Environment: vars}); err != nil {
		var agg env.AggregateError
		if !errors.As(err, &agg) {
			return cfg, &configError{problems: []string{err.Error()}}
		}
		keys := fieldKeys()
		for _, e := range agg.Errors {
			var pe env.ParseError
			if !errors.As(e, &pe) {
				problems = append(problems, e.Error())
				continue
			}
			key := keys[pe.Name]
			failed[key] = true
			problems = append(problems, fmt.Sprintf("%s: %q is not %s", key, vars[key], kindOf(pe.Type.String())))
		}
	}
	cfg.tidy()
	for _, p := range cfg.validate() {
		// A value that did not parse was left at its zero value; judging
		// that zero again ("must be between 1 and 10, not 0") would only
		// confuse, so each variable gets one message.
		if !failed[problemKey(p)] {
			problems = append(problems, p)
		}
	}
	if len(problems) > 0 {
		return cfg, &configError{problems: problems}
	}
	return cfg, nil
}

// fieldKeys maps config's Go field names to their variables, because the
// env library reports parse errors by field name.
func fieldKeys() map[string]string {
	keys := map[string]string{}
	t := reflect.TypeFor[config]()
	for i := range t.NumField() {
		f := t.Field(i)
		keys[f.Name] = strings.Split(f.Tag.Get("env"), ",")[0]
	}
	return keys
}

// kindOf says in words what a value of a Go type looks like.
func kindOf(goType string) string {
	switch goType {
	case "int":
		return "a whole number"
	case "bool":
		return "true or false"
	case "time.Duration":
		return "a duration such as 90s, 30m or 2h"
	}
	return "a valid " + goType
}

// problemKey returns the variable a validate message is about: each
// starts with the variable's name.
func problemKey(p string) string {
	return strings.TrimRight(strings.FieldsFunc(p, func(r rune) bool { return r == ' ' || r == ':' || r == '=' })[0], ":")
}

// tidy trims list entries ("U1, U2" is a natural way to type a list) and
// fills derived defaults.
func (c *config) tidy() {
	for _, l := range []*[]string{&c.Approvers, &c.Requesters, &c.AllowedDomains, &c.AutoLockEvents, &c.ApproveEvents} {
		out := (*l)[:0]
		for _, v := range *l {
			if v = strings.TrimSpace(v); v != "" {
				out = append(out, v)
			}
		}
		*l = out
	}
	for i, d := range c.AllowedDomains {
		c.AllowedDomains[i] = strings.ToLower(strings.TrimPrefix(d, "@"))
	}
	if c.NotifyChannel == "" {
		c.NotifyChannel = c.ApprovalChannel
	}
	if c.KandjiAPIURL != "" && !strings.Contains(c.KandjiAPIURL, "://") {
		if u, added, err := kandji.NormalizeBaseURL(c.KandjiAPIURL); err == nil && added {
			c.KandjiAPIURL, c.kandjiSchemeAdded = u, true
		}
	}
	if c.SlackAPIURL != "" && !strings.HasSuffix(c.SlackAPIURL, "/") {
		c.SlackAPIURL += "/"
	}
}

var (
	channelID = regexp.MustCompile(`^[CG][A-Z0-9]{6,20}$`)
	userID    = regexp.MustCompile(`^[UW][A-Z0-9]{6,20}$`)
	groupID   = regexp.MustCompile(`^S[A-Z0-9]{6,20}$`)
	slashName = regexp.MustCompile(`^/[a-z0-9_-]{1,31}$`)
	domain    = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$`)
	phone     = regexp.MustCompile(`^\+?[0-9 ().-]{3,30}$`)
	// headerName is an HTTP token (RFC 9110, section 5.6.2).
	headerName = regexp.MustCompile("^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$")
)

// validate returns one line per problem, each naming its variable and
// saying how to fix it.
func (c *config) validate() []string {
	var p []string
	add := func(format string, a ...any) { p = append(p, fmt.Sprintf(format, a...)) }

	checkToken := func(name string, v secret, prefix, where string) {
		switch {
		case v == "":
			add("%s is required: the %s… token from %s", name, prefix, where)
		case !strings.HasPrefix(v.value(), prefix):
			add("%s must start with %q (%s)", name, prefix, where)
		}
	}
	checkToken("SLACK_BOT_TOKEN", c.SlackBotToken, "xoxb-", "the Slack app's OAuth & Permissions page")
	checkToken("SLACK_APP_TOKEN", c.SlackAppToken, "xapp-", "Basic Information → App-Level Tokens, with the connections:write scope")
	if err := checkBaseURL(c.SlackAPIURL); err != nil {
		add("SLACK_API_URL %v", err)
	}
	if !slashName.MatchString(c.Command) {
		add("LOCKBOT_COMMAND %q must be a slash command such as /lock (lower case letters, digits, - and _)", c.Command)
	}
	switch {
	case c.ApprovalChannel == "":
		add("LOCKBOT_APPROVAL_CHANNEL is required: the channel ID (C…) where approval cards are posted (channel details → About → Channel ID)")
	case !channelID.MatchString(c.ApprovalChannel):
		add("LOCKBOT_APPROVAL_CHANNEL %q is not a channel ID (C… or G…; a #name does not work)", c.ApprovalChannel)
	}
	if c.NotifyChannel != "" && !channelID.MatchString(c.NotifyChannel) {
		add("LOCKBOT_NOTIFY_CHANNEL %q is not a channel ID (C… or G…)", c.NotifyChannel)
	}
	for _, id := range c.Approvers {
		if !userID.MatchString(id) {
			add("LOCKBOT_APPROVERS: %q is not a Slack user ID (U… or W…; profile → ⋮ → Copy member ID)", id)
		}
	}
	for _, id := range c.Requesters {
		if !userID.MatchString(id) {
			add("LOCKBOT_REQUESTERS: %q is not a Slack user ID (U… or W…)", id)
		}
	}
	for name, g := range map[string]string{"LOCKBOT_APPROVER_GROUP": c.ApproverGroup, "LOCKBOT_REQUESTER_GROUP": c.RequesterGroup} {
		if g != "" && !groupID.MatchString(g) {
			add("%s %q is not a Slack user group ID (S…)", name, g)
		}
	}
	if len(c.Approvers) == 0 && c.ApproverGroup == "" {
		add("LOCKBOT_APPROVERS or LOCKBOT_APPROVER_GROUP is required: nobody could approve a lock")
	}
	switch {
	case c.Required < 1:
		add("LOCKBOT_REQUIRED_APPROVALS must be at least 1, not %d", c.Required)
	case c.ApproverGroup == "" && len(c.Approvers) > 0 && c.Required > len(c.Approvers):
		add("LOCKBOT_REQUIRED_APPROVALS=%d can never be reached with %d approvers in LOCKBOT_APPROVERS", c.Required, len(c.Approvers))
	}
	if c.ApprovalTTL <= 0 {
		add("LOCKBOT_APPROVAL_TTL must be a positive duration such as 30m, not %s", c.ApprovalTTL)
	}
	for _, d := range c.AllowedDomains {
		if !domain.MatchString(d) {
			add("LOCKBOT_ALLOWED_DOMAINS: %q is not a domain name", d)
		}
	}
	for _, l := range []struct {
		name  string
		types []string
	}{{"LOCKBOT_AUTO_LOCK_EVENTS", c.AutoLockEvents}, {"LOCKBOT_APPROVE_EVENTS", c.ApproveEvents}} {
		for _, t := range l.types {
			if !okta.KnownEventType(t) {
				add("%s: %q is not an Okta event type lockbot handles", l.name, t)
			}
		}
	}
	for _, t := range c.ApproveEvents {
		if slices.Contains(c.AutoLockEvents, t) {
			add("%q is in both LOCKBOT_AUTO_LOCK_EVENTS and LOCKBOT_APPROVE_EVENTS; pick one", t)
		}
	}
	if len([]rune(c.LockMessage)) > 500 {
		add("LOCKBOT_LOCK_MESSAGE is longer than 500 characters")
	}
	if c.LockPhone != "" && !phone.MatchString(c.LockPhone) {
		add("LOCKBOT_LOCK_PHONE %q is not a phone number (digits, spaces, + ( ) . -)", c.LockPhone)
	}
	switch {
	case c.KandjiAPIURL == "":
		add("KANDJI_API_URL is required: https://SUBDOMAIN.api.kandji.io (or .api.eu.kandji.io), shown in Kandji under Access → API Token")
	default:
		if err := checkBaseURL(c.KandjiAPIURL); err != nil {
			add("KANDJI_API_URL %v", err)
		}
	}
	if c.KandjiAPIToken == "" {
		add("KANDJI_API_TOKEN is required: an API token with the Device list, Lock Device and Unlock device pin permissions")
	}
	if c.KandjiRateLimit < 1 {
		add("KANDJI_RATE_LIMIT must be at least 1 request per hour, not %d", c.KandjiRateLimit)
	}
	switch {
	case (c.OktaOrgURL == "") != (c.OktaAPIToken == ""):
		add("OKTA_ORG_URL and OKTA_API_TOKEN go together: set both (user lookups, System Log catch-up) or neither")
	case c.OktaOrgURL != "":
		if err := checkBaseURL(c.OktaOrgURL); err != nil {
			add("OKTA_ORG_URL %v", err)
		}
	}
	if !headerName.MatchString(c.OktaHookAuthHeader) {
		add("OKTA_HOOK_AUTH_HEADER %q is not an HTTP header name (letters, digits and -, such as Authorization or X-Lockbot-Secret)", c.OktaHookAuthHeader)
	}
	if c.LockDeadline <= 0 {
		add("LOCKBOT_LOCK_DEADLINE must be a positive duration such as 24h, not %s", c.LockDeadline)
	}
	if c.CatchupInterval < 0 {
		add("LOCKBOT_CATCHUP_INTERVAL must be 0 (off) or a positive duration such as 5m, not %s", c.CatchupInterval)
	}
	if c.CatchupLookback < 0 {
		add("LOCKBOT_CATCHUP_LOOKBACK must not be negative, not %s", c.CatchupLookback)
	}
	if _, _, err := net.SplitHostPort(c.ListenAddr); err != nil {
		add("LISTEN_ADDR %q is not host:port (for example :8080)", c.ListenAddr)
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		add("LOG_LEVEL %v", err)
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		add("LOG_FORMAT must be json or text, not %q", c.LogFormat)
	}
	if c.DatabaseURL != "" {
		if err := checkDatabaseURL(c.DatabaseURL.value()); err != nil {
			add("LOCKBOT_DATABASE_URL %v", err)
		}
	} else if strings.TrimSpace(c.StateDir) == "" {
		add("LOCKBOT_STATE_DIR must name a directory")
	}
	return p
}

// checkDatabaseURL accepts a postgres:// (or postgresql://) URL naming a
// host. Its text is never quoted back: it may hold a password.
func checkDatabaseURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return errors.New("is not a URL (postgres://USER:PASSWORD@HOST:5432/DATABASE)")
	case u.Scheme != "postgres" && u.Scheme != "postgresql":
		return errors.New("must be a postgres:// URL (postgres://USER:PASSWORD@HOST:5432/DATABASE): the shared store is Postgres")
	case u.Host == "" && u.Query().Get("host") == "":
		return errors.New("names no host (postgres://USER:PASSWORD@HOST:5432/DATABASE)")
	}
	return nil
}

// checkBaseURL accepts https URLs, and plain http only for loopback hosts
// (so tests can use local fakes without ever sending a token in clear
// text over a network).
func checkBaseURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not an absolute URL", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("%q uses plain http; only https is allowed (http only for 127.0.0.1, ::1 or localhost)", raw)
	}
	return fmt.Errorf("%q must be an https URL", raw)
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	switch strings.ToLower(s) {
	case "debug", "info", "warn", "error":
		return l, l.UnmarshalText([]byte(s))
	}
	return l, fmt.Errorf("must be debug, info, warn or error, not %q", s)
}
