package kandjitest

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
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
		Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, At: time.Now(),
	})
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

func (s *Server) finish(idx, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests[idx].Status = status
}

// wait applies the configured latency; false means the client went away meanwhile.
func (s *Server) wait(r *http.Request) bool {
	s.mu.Lock()
	d := s.latency
	s.mu.Unlock()
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
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
// filter values are ignored, as Django filters ignore them.
func (s *Server) handleList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, ok := intParam(w, q.Get("limit"), "limit", maxPage)
	if !ok {
		return
	}
	offset, ok := intParam(w, q.Get("offset"), "offset", 0)
	if !ok {
		return
	}
	if limit <= 0 || limit > maxPage {
		limit = maxPage
	}
	offset = max(offset, 0)
	exact := strings.ToLower(strings.TrimSpace(q.Get("user_email_exact")))
	sub := strings.ToLower(strings.TrimSpace(q.Get("user_email")))

	s.mu.Lock()
	candidates := s.bySerial
	if exact != "" {
		candidates = slices.SortedFunc(slices.Values(s.byEmail[exact]), bySerial)
	}
	var matched []*device
	for _, d := range candidates {
		if sub == "" || d.UserEmail != "" && strings.Contains(strings.ToLower(d.UserEmail), sub) {
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

// handleLock serves the lock command: a Mac gets a new PIN, an iPhone or iPad an empty object, a
// locked device 400 "This device is already locked.", other platforms 400 "Command is not
// allowed for current device".
func (s *Server) handleLock(w http.ResponseWriter, r *http.Request) {
	var body struct{ Message, PhoneNumber string }
	raw, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err == nil && len(strings.TrimSpace(string(raw))) > 0 {
		err = json.Unmarshal(raw, &body)
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"detail": "JSON parse error."})
		return
	}
	pin, err := newPIN()
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"detail": "PIN generation failed."})
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.devices[r.PathValue("id")]
	if !ok {
		writeNotFound(w)
		return
	}
	d.lockMessage, d.lockPhone = body.Message, body.PhoneNumber
	switch {
	case d.pending:
		d.pending = false
		writeJSON(w, http.StatusBadRequest, "Command already running")
	case d.locked:
		writeJSON(w, http.StatusBadRequest, "This device is already locked.")
	case strings.EqualFold(d.Platform, "Mac"):
		d.locked, d.pin = true, pin
		writeJSON(w, http.StatusOK, map[string]string{"PIN": pin})
	case strings.EqualFold(d.Platform, "iPhone"), strings.EqualFold(d.Platform, "iPad"):
		d.locked = true
		writeJSON(w, http.StatusOK, struct{}{})
	default:
		writeJSON(w, http.StatusBadRequest, "Command is not allowed for current device")
	}
}

// handleUnlockPIN serves the PIN of a locked Mac and a 400 with an array of strings otherwise.
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

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

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
	mac := strings.EqualFold(d.Platform, "Mac")
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
