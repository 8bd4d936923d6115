package oktatest

import (
	"crypto/rand"
	"encoding/json"
	"net/http"
)

// okta error codes the fake answers with.
const (
	codeInvalidParam = "E0000053"
	codeNotFound     = "E0000007"
	codeValidation   = "E0000001"
)

// writeError writes Okta's error body. The request and error IDs are
// random, as Okta's are, so nobody relies on them.
func writeError(w http.ResponseWriter, status int, code, summary string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Okta-Request-Id", "req"+rand.Text()[:16])
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"errorCode": code, "errorSummary": summary, "errorLink": code,
		"errorId": "oae" + rand.Text()[:20], "errorCauses": []any{},
	})
}

// writeJSON writes v as a 200 JSON reply.
func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(v)
}
