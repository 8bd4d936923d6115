package slackfake

import (
	"encoding/json"
	"io"
	"net/http"
	"time"
)

// Slack's documented budget for one response_url: 5 uses within 30
// minutes of the command or click that issued it.
const (
	maxResponseURLUses = 5
	responseURLLife    = 30 * time.Minute
)

// Slack error codes for response_url. Slack does not document the names; the
// fake uses the ones public code checks for. An expired URL is answered
// like one Slack never issued: 404 expired_url.
const (
	errUsedURL        = "used_url"
	errExpiredURL     = "expired_url"
	errInvalidPayload = "invalid_payload"
)

// responseBody is the JSON slack-go posts to a response_url (slack.Msg).
type responseBody struct {
	Text            string          `json:"text"`
	ThreadTS        string          `json:"thread_ts"`
	Blocks          json.RawMessage `json:"blocks"`
	ResponseType    string          `json:"response_type"`
	ReplaceOriginal bool            `json:"replace_original"`
	DeleteOriginal  bool            `json:"delete_original"`
}

// handleResponseURL answers posts to the response_url of a slash command or
// click. slack-go requires a Content-Type on the answer: JSON {"ok":true}.
func (s *Server) handleResponseURL(w http.ResponseWriter, r *http.Request) {
	n := r.PathValue("n")
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	res := s.serveResponseURL(n, r.Method, body, err)
	s.log.Debug("slackfake: response_url call", "n", n, "error", res.err)
	writeResult(w, res)
}

func (s *Server) serveResponseURL(n, method string, body []byte, readErr error) apiResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	params, parseErr := flattenJSON(body)
	res, knobbed := s.knobLocked("response_url")
	if !knobbed {
		res = s.respondLocked(n, method, body, readErr, parseErr)
	}
	if res.err == "" && res.status == 0 {
		res.lost = s.takeLostLocked("response_url")
	}
	s.recordCallLocked("response_url", params, res)
	return res
}

func (s *Server) respondLocked(n, method string, body []byte, readErr, parseErr error) apiResult {
	hook, found := s.responses[n]
	switch {
	case !found || !s.clock.Now().Before(hook.issued.Add(responseURLLife)):
		return apiResult{status: http.StatusNotFound, err: errExpiredURL}
	case method != http.MethodPost:
		return apiResult{status: http.StatusMethodNotAllowed, err: errInvalidPayload}
	case readErr != nil || parseErr != nil:
		return apiResult{status: http.StatusBadRequest, err: errInvalidPayload}
	case hook.uses >= maxResponseURLUses:
		return fail(errUsedURL)
	}
	var rb responseBody
	if err := decodeJSON(body, &rb); err != nil {
		return apiResult{status: http.StatusBadRequest, err: errInvalidPayload}
	}
	if string(rb.Blocks) == "null" {
		rb.Blocks = nil
	}
	if prob := checkContent(rb.Text, rb.Blocks, !rb.DeleteOriginal); prob != nil {
		return contentFailure(prob)
	}
	hook.uses++
	shown, cut := truncateText(rb.Text)
	m := Message{
		Kind: KindResponseURL, Channel: hook.channel, ThreadTS: rb.ThreadTS, User: hook.user,
		Text: shown, Truncated: cut, Blocks: rb.Blocks, ResponseType: rb.ResponseType,
		ReplaceOriginal: rb.ReplaceOriginal, DeleteOriginal: rb.DeleteOriginal,
	}
	key := messageKey(hook.channel, hook.messageTS)
	old, original := s.current[key]
	original = original && hook.messageTS != "" && !hook.ephemeral
	if (rb.ReplaceOriginal || rb.DeleteOriginal) && hook.messageTS != "" {
		m.TS = hook.messageTS
		if m.ThreadTS == "" {
			m.ThreadTS = old.ThreadTS
		}
	} else {
		m.TS = s.nextTSLocked()
	}
	s.recordMessageLocked(m)
	switch {
	case original && rb.DeleteOriginal:
		delete(s.current, key)
	case original && rb.ReplaceOriginal:
		s.current[key] = m
	case !rb.ReplaceOriginal && !rb.DeleteOriginal && rb.ResponseType == "in_channel":
		// A visible reply is a message in the channel, with its own ts.
		s.current[messageKey(m.Channel, m.TS)] = m
	}
	return ok(nil)
}
