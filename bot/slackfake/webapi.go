package slackfake

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// maxBodyBytes bounds a request body; Slack's own limits are far lower for
// everything the bot sends, so anything bigger is a bug worth an error.
const maxBodyBytes = 4 << 20

// Slack error codes for authentication and routing.
const (
	errInvalidAuth   = "invalid_auth"
	errNotAllowed    = "not_allowed_token_type"
	errUnknownMethod = "unknown_method"
	errRatelimited   = "ratelimited"
	errInvalidForm   = "invalid_form_data"
	errInternal      = "internal_error"
)

// tokenKind is which token a method accepts.
type tokenKind int

const (
	botToken tokenKind = iota
	appToken
)

// apiMethod is one faked Web API method: the token it takes, the scope it
// always needs ("" for none, or when the handler decides by the channel),
// its rate tier, and the handler, which runs with Server.mu held.
type apiMethod struct {
	token  tokenKind
	scope  string
	tier   tier
	handle func(s *Server, p map[string]string) apiResult
}

// lookupMethod is the fixed table of methods the fake implements, with
// each method's documented scope and rate tier.
func lookupMethod(name string) (apiMethod, bool) {
	switch name {
	case "auth.test":
		return apiMethod{botToken, "", tier4, (*Server).authTestLocked}, true
	case "apps.connections.open":
		return apiMethod{appToken, scopeConnWrite, tier3, (*Server).connectionsOpenLocked}, true
	case "chat.postMessage":
		return apiMethod{botToken, scopeChatWrite, tierPost, (*Server).postMessageLocked}, true
	case "chat.update":
		return apiMethod{botToken, scopeChatWrite, tier3, (*Server).updateMessageLocked}, true
	case "chat.postEphemeral":
		return apiMethod{botToken, scopeChatWrite, tier4, (*Server).postEphemeralLocked}, true
	case "conversations.open":
		return apiMethod{botToken, scopeIMWrite, tier3, (*Server).conversationsOpenLocked}, true
	case "conversations.info":
		return apiMethod{botToken, "", tier3, (*Server).conversationsInfoLocked}, true
	case "conversations.history":
		return apiMethod{botToken, "", tier3, (*Server).conversationsHistoryLocked}, true
	case "users.info":
		return apiMethod{botToken, scopeUsersRead, tier4, (*Server).usersInfoLocked}, true
	case "users.lookupByEmail":
		return apiMethod{botToken, scopeUsersReadEmail, tier3, (*Server).usersLookupByEmailLocked}, true
	case "usergroups.users.list":
		return apiMethod{botToken, scopeUsergroupsRead, tier2, (*Server).usergroupMembersLocked}, true
	}
	return apiMethod{}, false
}

// apiResult is what a method answers: an ok body, or a Slack error with
// its detail.
type apiResult struct {
	status     int // 0 means 200
	retryAfter int // seconds, for 429
	body       map[string]any
	err        string
	details    []string       // "errors" and response_metadata.messages
	extra      map[string]any // more top-level fields of an error (needed, provided)
	lost       LostReply      // set after the method succeeded: how the reply is lost
}

func ok(body map[string]any) apiResult { return apiResult{body: body} }

func fail(code string, details ...string) apiResult { return apiResult{err: code, details: details} }

// payload is the JSON the result is sent as. Slack repeats each detail in
// response_metadata.messages with an "[ERROR] " prefix.
func (r apiResult) payload() map[string]any {
	if r.err != "" {
		p := map[string]any{"ok": false, "error": r.err}
		maps.Copy(p, r.extra)
		if len(r.details) > 0 {
			p["errors"] = r.details
			msgs := make([]string, len(r.details))
			for i, d := range r.details {
				msgs[i] = "[ERROR] " + d
			}
			p["response_metadata"] = map[string]any{"messages": msgs}
		}
		return p
	}
	p := maps.Clone(r.body)
	if p == nil {
		p = map[string]any{}
	}
	p["ok"] = true
	return p
}

// apiRequest is a parsed Web API request.
type apiRequest struct {
	bearer string            // from Authorization: Bearer
	params map[string]string // form values or flattened JSON
}

// token is the credential the request carries, wherever it was put.
func (r apiRequest) token() string {
	if r.bearer != "" {
		return r.bearer
	}
	return r.params["token"]
}

func (s *Server) handleAPI(w http.ResponseWriter, r *http.Request) {
	method := r.PathValue("method")
	req, err := parseAPIRequest(w, r)
	res, scopes := s.serveAPI(method, req, err)
	s.holdReply(r.Context(), method)
	s.log.Debug("slackfake: web api call", "method", method, "error", res.err, "lost", res.lost.String())
	if scopes != nil {
		w.Header().Set("X-OAuth-Scopes", strings.Join(scopes, ","))
	}
	writeResult(w, res)
}

// serveAPI applies the failure knobs, authentication, scopes and rate
// limits, runs the method and records the call (even one whose body could
// not be read). It also returns the scopes of an accepted token, which
// Slack reports in X-OAuth-Scopes.
func (s *Server) serveAPI(method string, req apiRequest, parseErr error) (apiResult, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	res, scopes := s.answerLocked(method, req, parseErr)
	if res.err == "" && res.status == 0 {
		res.lost = s.takeLostLocked(method)
	}
	s.recordCallLocked(method, req.params, res)
	return res, scopes
}

func (s *Server) answerLocked(method string, req apiRequest, parseErr error) (apiResult, []string) {
	m, known := lookupMethod(method)
	switch {
	case !known:
		return fail(errUnknownMethod), nil
	case parseErr != nil:
		return fail(errInvalidForm), nil
	}
	if res, knobbed := s.knobLocked(method); knobbed {
		return res, nil
	}
	if bad := s.authLocked(m.token, req); bad != "" {
		return fail(bad), nil
	}
	scopes := s.tokenScopesLocked(m.token)
	if m.scope != "" && !slices.Contains(scopes, m.scope) {
		return missingScope(m.scope, scopes), scopes
	}
	if res, limited := s.rateLimitLocked(method, m.tier, req.params); limited {
		return res, scopes
	}
	return m.handle(s, req.params), scopes
}

// authLocked says why the request's token is refused, or "" when accepted.
func (s *Server) authLocked(kind tokenKind, req apiRequest) string {
	tok, want, other := req.token(), s.botToken, s.appToken
	if kind == appToken {
		if s.appTokenErr != "" {
			return s.appTokenErr
		}
		// apps.connections.open takes the app token in the header only.
		tok, want, other = req.bearer, s.appToken, s.botToken
	}
	switch tok {
	case want:
		return ""
	case other:
		return errNotAllowed
	}
	return errInvalidAuth
}

func (s *Server) recordCallLocked(method string, params map[string]string, res apiResult) {
	p := maps.Clone(params)
	if p == nil {
		p = map[string]string{}
	}
	if _, ok := p["token"]; ok {
		p["token"] = "<token>"
	}
	s.calls = append(s.calls, Call{Method: method, Params: p, At: s.clock.Now(), Error: res.err, Lost: res.lost})
	s.notifyLocked()
}

// writeResult sends the answer, or loses it the way the LoseReplies knob
// says after the method has done its work.
func writeResult(w http.ResponseWriter, res apiResult) {
	switch res.lost {
	case LostCut:
		if hj, can := w.(http.Hijacker); can {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
		// No hijacking (HTTP/2): an unreadable answer is the next best thing.
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"ok":tr`))
		return
	case Lost500:
		res = apiResult{status: http.StatusInternalServerError, err: errInternal}
	case LostInternalError:
		res = fail(errInternal)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	status := http.StatusOK
	if res.status != 0 {
		status = res.status
	}
	if res.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(res.retryAfter))
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(res.payload())
}

// parseAPIRequest reads a form-encoded (body or query), multipart or JSON
// request the way Slack accepts them.
func parseAPIRequest(w http.ResponseWriter, r *http.Request) (apiRequest, error) {
	req := apiRequest{params: map[string]string{}}
	if auth, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); found {
		req.bearer = strings.TrimSpace(auth)
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	ctype, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ctype {
	case "application/json":
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return req, err
		}
		for k, v := range r.URL.Query() {
			req.params[k] = v[0]
		}
		flat, err := flattenJSON(body)
		if err != nil {
			return req, err
		}
		maps.Copy(req.params, flat)
	case "multipart/form-data":
		if err := r.ParseMultipartForm(maxBodyBytes); err != nil {
			return req, err
		}
		req.params = firstValues(r.Form)
	default:
		if err := r.ParseForm(); err != nil {
			return req, err
		}
		req.params = firstValues(r.Form)
	}
	return req, nil
}

func firstValues(v map[string][]string) map[string]string {
	out := make(map[string]string, len(v))
	for k, vs := range v {
		if len(vs) > 0 {
			out[k] = vs[0]
		}
	}
	return out
}

// flattenJSON turns a JSON object body into string parameters: strings as
// they are, everything else (numbers, booleans, arrays such as blocks,
// objects) as compact JSON. An empty body is no parameters; null fields are
// dropped, as Slack treats them as absent.
func flattenJSON(body []byte) (map[string]string, error) {
	out := map[string]string{}
	if len(bytes.TrimSpace(body)) == 0 {
		return out, nil
	}
	var obj map[string]json.RawMessage
	if err := decodeJSON(body, &obj); err != nil {
		return nil, err
	}
	if obj == nil {
		return nil, errors.New("JSON body must be an object")
	}
	for k, raw := range obj {
		var str string
		switch {
		case string(raw) == "null":
		case json.Unmarshal(raw, &str) == nil:
			out[k] = str
		default:
			var buf bytes.Buffer
			if err := json.Compact(&buf, raw); err != nil {
				return nil, fmt.Errorf("field %q: %w", k, err)
			}
			out[k] = buf.String()
		}
	}
	return out, nil
}
