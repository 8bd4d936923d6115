package kandjitest

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// maxPage is Kandji's hard upper limit of devices per list request.
const maxPage = 300

// handler records each request, then applies latency, the rate cap, injected failures and bearer
// auth, in the order a real gateway and API would, before routing.
func (s *Server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/devices", s.handleList)
	mux.HandleFunc("GET /api/v1/devices/{id}", s.handleGet)
	mux.HandleFunc("POST /api/v1/devices/{id}/action/lock", s.handleLock)
	mux.HandleFunc("GET /api/v1/devices/{id}/secrets/unlockpin", s.handleUnlockPIN)
	mux.HandleFunc("GET /api/v1/devices/{id}/commands", s.handleCommands)
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"detail": "Not found."})
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		idx := s.record(r)
		rec := &statusRecorder{ResponseWriter: w}
		defer func() { s.finish(idx, rec.status) }()
		if !s.wait(r) {
			return
		}
		if status, after := s.injected(); status != 0 {
			writeInjected(rec, status, after)
			return
		}
		if status, after := s.injectedLock(r); status != 0 {
			writeInjected(rec, status, after)
			return
		}
		if !s.authorized(r) {
			writeJSON(rec, http.StatusUnauthorized, map[string]string{"detail": "Invalid access token."})
			return
		}
		mux.ServeHTTP(rec, r)
	})
}

// record logs the arrival of r and counts lock POSTs, returning the request's index.
func (s *Server) record(r *http.Request) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := lockTarget(r); ok {
		s.lockPosts[id]++
	}
	s.requests = append(s.requests, Request{
		Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, At: s.now(),
	})
	if s.inFlight == 0 {
		s.idle = make(chan struct{})
	}
	s.inFlight++
	return len(s.requests) - 1
}

// lockTarget returns the device ID of a lock POST.
func lockTarget(r *http.Request) (string, bool) {
	if r.Method != http.MethodPost {
		return "", false
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/api/v1/devices/")
	if !ok {
		return "", false
	}
	id, ok := strings.CutSuffix(rest, "/action/lock")
	return id, ok && id != "" && !strings.Contains(id, "/")
}

// finish records the answer to request idx, 0 when the client went away first.
func (s *Server) finish(idx, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests[idx].Status = status
	s.inFlight--
	if s.inFlight == 0 {
		close(s.idle)
	}
}

// wait applies the configured latency; false means the client went away meanwhile.
func (s *Server) wait(r *http.Request) bool {
	s.mu.Lock()
	d := s.latency
	s.mu.Unlock()
	return d <= 0 || waitOrGone(r, d)
}

// injected decides whether this request is throttled or failed on purpose.
func (s *Server) injected() (status int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.rateCap != nil && !s.rateCap.Allow():
		s.throttled++
		return http.StatusTooManyRequests, time.Second
	case s.failNext > 0:
		s.failNext--
		return s.nextStatus, s.nextAfter
	case s.failRate > 0 && s.rng.Float64() < s.failRate:
		return s.failStatus, 0
	}
	return 0, 0
}

// injectedLock decides whether this lock POST fails on purpose (FailLocks).
func (s *Server) injectedLock(r *http.Request) (status int, retryAfter time.Duration) {
	if _, ok := lockTarget(r); !ok {
		return 0, 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failLocks <= 0 {
		return 0, 0
	}
	s.failLocks--
	return s.failLockStatus, s.failLockAfter
}

// writeInjected answers like the layer that would produce status: DRF's throttle message for
// 429, a proxy's HTML page for 5xx, a DRF detail otherwise.
func writeInjected(w http.ResponseWriter, status int, retryAfter time.Duration) {
	if retryAfter > 0 {
		secs := int64((retryAfter + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	}
	text := fmt.Sprintf("%d %s", status, http.StatusText(status))
	switch {
	case status == http.StatusTooManyRequests:
		writeJSON(w, status, map[string]string{"detail": "Request was throttled."})
	case status >= 500:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		fmt.Fprintf(w, "<html>\r\n<head><title>%s</title></head>\r\n<body>\r\n<center><h1>%s</h1></center>\r\n</body>\r\n</html>\r\n", text, text)
	default:
		writeJSON(w, status, map[string]string{"detail": "Injected failure: " + text})
	}
}

func (s *Server) authorized(r *http.Request) bool {
	want := "Bearer " + s.token
	return subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte(want)) == 1
}

// handleList serves GET /api/v1/devices with Kandji's filters and limit/offset paging. Empty
// filter values are ignored, as Django filters ignore them. Kandji does not document how its
// email filters treat case and spaces, so the fake takes the readings a client must survive:
// user_email_exact compares the stored email byte for byte (no case folding, no trimming), and
// user_email is a substring match that ignores ASCII case only.
func (s *Server) handleList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, offset, ok := pageParams(w, q)
	if !ok {
		return
	}
	exact := q.Get("user_email_exact")
	sub := asciiLower(q.Get("user_email"))

	s.mu.Lock()
	candidates := s.bySerial
	if exact != "" {
		candidates = slices.SortedFunc(slices.Values(s.byEmail[exact]), bySerial)
	}
	var matched []*device
	for _, d := range candidates {
		if sub == "" || d.UserEmail != "" && strings.Contains(asciiLower(d.UserEmail), sub) {
			matched = append(matched, d)
		}
	}
	if q.Get("ordering") == "-serial_number" {
		matched = slices.Clone(matched)
		slices.Reverse(matched)
	}
	page := make([]wireDevice, 0, limit)
	for _, d := range matched[min(offset, len(matched)):min(offset+limit, len(matched))] {
		page = append(page, toWire(d))
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, page)
}

// pageParams reads limit and offset as strictly as Kandji's documentation allows: limit is
// required (Kandji's OpenAPI marks it so, though one of its scripts says it defaults to 300) and
// must be 1 to 300 (a hard upper limit, refused rather than clamped, since the documentation does
// not say which), offset defaults to 0 and must not be negative. Refusals are Django REST
// Framework field maps.
func pageParams(w http.ResponseWriter, q url.Values) (limit, offset int, ok bool) {
	if !q.Has("limit") {
		writeJSON(w, http.StatusBadRequest, map[string][]string{"limit": {"This field is required."}})
		return 0, 0, false
	}
	limit, ok = intParam(w, q.Get("limit"), "limit", 0)
	if !ok {
		return 0, 0, false
	}
	offset, ok = intParam(w, q.Get("offset"), "offset", 0)
	if !ok {
		return 0, 0, false
	}
	switch {
	case limit < 1:
		writeJSON(w, http.StatusBadRequest, map[string][]string{"limit": {"Ensure this value is greater than or equal to 1."}})
		return 0, 0, false
	case limit > maxPage:
		writeJSON(w, http.StatusBadRequest, map[string][]string{"limit": {fmt.Sprintf("Ensure this value is less than or equal to %d.", maxPage)}})
		return 0, 0, false
	case offset < 0:
		writeJSON(w, http.StatusBadRequest, map[string][]string{"offset": {"Ensure this value is greater than or equal to 0."}})
		return 0, 0, false
	}
	return limit, offset, true
}

// asciiLower lower-cases ASCII letters only, as the user_email filter folds case.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// intParam parses an optional integer query parameter, answering 400 with a DRF field map when
// it is not one.
func intParam(w http.ResponseWriter, v, name string, def int) (int, bool) {
	if v == "" {
		return def, true
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string][]string{name: {"A valid integer is required."}})
		return 0, false
	}
	return n, true
}

func (s *Server) handleGet(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	d, ok := s.devices[r.PathValue("id")]
	var wd wireDevice
	if ok {
		wd = toWire(d)
	}
	s.mu.Unlock()
	if !ok {
		writeNotFound(w)
		return
	}
	writeJSON(w, http.StatusOK, wd)
}

// handleUnlockPIN serves the PIN of the last lock of a Mac and a 400 with an array of strings
// otherwise.
func (s *Server) handleUnlockPIN(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	d, ok := s.devices[r.PathValue("id")]
	pin := ""
	if ok {
		pin = d.pin
	}
	s.mu.Unlock()
	switch {
	case !ok:
		writeNotFound(w)
	case pin == "":
		writeJSON(w, http.StatusBadRequest, []string{"No unlock PIN is available for this device."})
	default:
		writeJSON(w, http.StatusOK, map[string]string{"pin": pin})
	}
}

func writeNotFound(w http.ResponseWriter) {
	writeJSON(w, http.StatusNotFound, map[string]string{"detail": "Unable to locate the resource in the Kandji tenant."})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encoding failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// newPIN draws a six-digit unlock PIN from crypto/rand, as Kandji's are secrets.
func newPIN() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%06d", n.Int64()), nil
}

// statusRecorder remembers the status a handler answered.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

// WriteHeader remembers the first status.
func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

// Write counts an implicit 200.
func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// wireDevice is a device as Kandji serialises it in lists and by ID.
type wireDevice struct {
	DeviceID        string   `json:"device_id"`
	DeviceName      string   `json:"device_name"`
	Model           string   `json:"model"`
	SerialNumber    string   `json:"serial_number"`
	Platform        string   `json:"platform"`
	OSVersion       string   `json:"os_version"`
	LastCheckIn     string   `json:"last_check_in"`
	User            any      `json:"user"` // wireUser, or "" when unassigned
	AssetTag        string   `json:"asset_tag"`
	BlueprintID     string   `json:"blueprint_id"`
	MDMEnabled      bool     `json:"mdm_enabled"`
	AgentInstalled  bool     `json:"agent_installed"`
	IsMissing       bool     `json:"is_missing"`
	IsRemoved       bool     `json:"is_removed"`
	AgentVersion    string   `json:"agent_version"`
	FirstEnrollment string   `json:"first_enrollment"`
	LastEnrollment  string   `json:"last_enrollment"`
	BlueprintName   string   `json:"blueprint_name"`
	LostModeStatus  string   `json:"lost_mode_status"`
	Tags            []string `json:"tags"`
}

type wireUser struct {
	Email      string `json:"email"`
	Name       string `json:"name"`
	ID         string `json:"id"`
	IsArchived bool   `json:"is_archived"`
}

func toWire(d *device) wireDevice {
	var user any = ""
	if d.UserEmail != "" {
		user = wireUser{Email: d.UserEmail, Name: d.UserName, ID: d.UserID}
	}
	mac := isMac(d.Platform)
	agent := ""
	if mac {
		agent = "4.5.9 (5160)"
	}
	return wireDevice{
		DeviceID:        d.ID,
		DeviceName:      d.Name,
		Model:           d.Model,
		SerialNumber:    d.Serial,
		Platform:        d.Platform,
		OSVersion:       d.OSVersion,
		LastCheckIn:     d.LastCheckIn,
		User:            user,
		BlueprintID:     "9b1ce867-83dd-46bb-b79a-ba2b5c3a4acc",
		MDMEnabled:      true,
		AgentInstalled:  mac,
		AgentVersion:    agent,
		FirstEnrollment: "2024-01-26 16:15:36.087016+00:00",
		LastEnrollment:  "2024-05-13 20:09:27.374451+00:00",
		BlueprintName:   "All Staff",
		Tags:            []string{},
	}
}
