package slackfake

import (
	"slices"
	"strings"
)

// Scopes the fake's methods check. The bot token's default set is
// ManifestScopes; the app-level token's is connectionsWrite.
const (
	scopeChatWrite       = "chat:write"
	scopeChatWritePublic = "chat:write.public"
	scopeIMWrite         = "im:write"
	scopeUsersRead       = "users:read"
	scopeUsersReadEmail  = "users:read.email"
	scopeUsergroupsRead  = "usergroups:read"
	scopeChannelsRead    = "channels:read"
	scopeGroupsRead      = "groups:read"
	scopeIMRead          = "im:read"
	scopeChannelsHistory = "channels:history"
	scopeGroupsHistory   = "groups:history"
	scopeIMHistory       = "im:history"
	scopeConnWrite       = "connections:write"
)

const errMissingScope = "missing_scope"

// ManifestScopes is the bot token scopes lockbot's app manifest asks for,
// which the fake grants by default: an app installed from the manifest has
// exactly these. A new slice is returned on every call.
func ManifestScopes() []string {
	return []string{
		"commands", scopeChatWrite, scopeIMWrite, scopeUsersRead,
		scopeUsergroupsRead, scopeChannelsRead, scopeGroupsRead,
	}
}

// WithBotScopes replaces the bot token's scopes (ManifestScopes by default).
// A method needing a scope the token lacks answers missing_scope with
// Slack's "needed" and "provided" fields, and users.info leaves out
// profile.email without users:read.email. To add to the manifest's set,
// pass append(ManifestScopes(), "channels:history").
func WithBotScopes(scopes ...string) Option {
	return func(s *Server) { s.botScopes = normScopes(scopes) }
}

// WithAppTokenScopes replaces the app-level token's scopes (by default
// connections:write, the only one Socket Mode needs).
func WithAppTokenScopes(scopes ...string) Option {
	return func(s *Server) { s.appScopes = normScopes(scopes) }
}

// normScopes drops empty and repeated scopes, keeping the order given, as
// Slack lists a token's scopes in "provided".
func normScopes(scopes []string) []string {
	out := []string{}
	for _, sc := range scopes {
		sc = strings.TrimSpace(sc)
		if sc != "" && !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	return out
}

// tokenScopesLocked is the scopes of the token kind a method takes.
func (s *Server) tokenScopesLocked(kind tokenKind) []string {
	if kind == appToken {
		return s.appScopes
	}
	return s.botScopes
}

// hasScopeLocked says whether the bot token carries scope.
func (s *Server) hasScopeLocked(scope string) bool { return slices.Contains(s.botScopes, scope) }

// missingScope is Slack's answer to a call the token is not allowed: the
// scope it needed and every scope the token has.
func missingScope(needed string, have []string) apiResult {
	return apiResult{err: errMissingScope, extra: map[string]any{"needed": needed, "provided": strings.Join(have, ",")}}
}

// needBotScopeLocked answers missing_scope unless the bot token has scope.
func (s *Server) needBotScopeLocked(scope string) (apiResult, bool) {
	if s.hasScopeLocked(scope) {
		return apiResult{}, true
	}
	return missingScope(scope, s.botScopes), false
}
