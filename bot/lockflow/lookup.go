package lockflow

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/lockbot/lockbot/approvals"
	"github.com/lockbot/lockbot/kandji"
	"github.com/lockbot/lockbot/okta"
)

// devicesPerPage is Kandji's page size, which a sweep uses.
const devicesPerPage = 300

// How devices were matched, for the report.
const (
	MatchedEmail     = "email"     // Kandji's user email equals the person's email
	MatchedLogin     = "login"     // it equals the Okta login, which differs from the email
	MatchedInventory = "inventory" // found by reading the whole inventory (Kandji stores the email with other case or spaces)
)

// found is the result of a lookup.
type found struct {
	devices   []kandji.Device
	matchedBy string
}

// findDevices returns the devices assigned to p. It asks Kandji for the
// email, then the Okta login when it differs, and when neither finds
// anything, reads the whole inventory: whether Kandji's exact filter folds
// case, or trims spaces, is not documented, and the cost of a sweep is
// nothing next to missing a stolen laptop. Every candidate is re-checked
// here by the ASCII-only rule of approvals.SameEmail, so a look-alike
// address is never taken for the person. With batch set (many people are
// waiting for lookups), a shared sweep serves everyone at once.
func (f *Flow) findDevices(ctx context.Context, p approvals.Person, batch bool) (found, error) {
	keys := []string{p.Email}
	if p.Login != "" && !approvals.SameEmail(p.Login, p.Email) {
		keys = append(keys, p.Login)
	}
	if batch {
		return f.fromSweep(ctx, keys)
	}
	for i, key := range keys {
		f.metrics.Lookup("exact")
		ds, err := f.kandji.DevicesByEmail(ctx, key)
		if err != nil {
			return found{}, err
		}
		if ds = exactMatches(ds, key); len(ds) > 0 {
			by := MatchedEmail
			if i > 0 {
				by = MatchedLogin
			}
			return found{devices: ds, matchedBy: by}, nil
		}
	}
	return f.fromSweep(ctx, keys)
}

// fromSweep matches keys against a recent inventory sweep.
func (f *Flow) fromSweep(ctx context.Context, keys []string) (found, error) {
	idx, err := f.sweeps.get(ctx, f, f.cfg.SweepMaxAge)
	if err != nil {
		return found{}, err
	}
	for i, key := range keys {
		if ds := idx[approvals.EmailKey(key)]; len(ds) > 0 {
			by := MatchedInventory
			if i > 0 {
				by = MatchedLogin
			}
			return found{devices: ds, matchedBy: by}, nil
		}
	}
	return found{}, nil
}

// exactMatches keeps the devices assigned to exactly email.
func exactMatches(ds []kandji.Device, email string) []kandji.Device {
	var out []kandji.Device
	for _, d := range ds {
		if approvals.SameEmail(d.Email(), email) {
			out = append(out, d)
		}
	}
	return out
}

// sweeper shares inventory sweeps: one sweep at a time, whose index serves
// every lookup until it is older than the age a caller accepts. The index
// is a cache: losing it costs one more sweep, never a lock.
type sweeper struct {
	mu      sync.Mutex
	at      time.Time
	index   map[string][]kandji.Device
	running chan struct{} // closed when the sweep under way ends
	err     error
	tenant  int // devices seen by the last sweep
}

func newSweeper(tenantDevices int) *sweeper { return &sweeper{tenant: tenantDevices} }

// cost is what a sweep takes in Kandji calls.
func (s *sweeper) cost() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return (max(s.tenant, 1) + devicesPerPage - 1) / devicesPerPage
}

// get returns an index no older than maxAge, sweeping when there is none.
func (s *sweeper) get(ctx context.Context, f *Flow, maxAge time.Duration) (map[string][]kandji.Device, error) {
	for {
		s.mu.Lock()
		if s.index != nil && time.Since(s.at) < maxAge {
			idx := s.index
			s.mu.Unlock()
			return idx, nil
		}
		if wait := s.running; wait != nil {
			s.mu.Unlock()
			select {
			case <-wait:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			s.mu.Lock()
			err := s.err
			s.mu.Unlock()
			if err != nil {
				return nil, err
			}
			continue
		}
		done := make(chan struct{})
		s.running = done
		s.mu.Unlock()
		idx, n, err := sweep(ctx, f)
		s.mu.Lock()
		s.running, s.err = nil, err
		if err == nil {
			s.index, s.at, s.tenant = idx, time.Now(), n
		}
		s.mu.Unlock()
		close(done)
		if err != nil {
			return nil, err
		}
		return idx, nil
	}
}

// sweep reads the whole inventory into an index by EmailKey.
func sweep(ctx context.Context, f *Flow) (map[string][]kandji.Device, int, error) {
	f.metrics.Lookup("sweep")
	idx := map[string][]kandji.Device{}
	n := 0
	for d, err := range f.kandji.Inventory(ctx) {
		if err != nil {
			return nil, 0, err
		}
		n++
		if key := approvals.EmailKey(d.Email()); key != "" {
			idx[key] = append(idx[key], d)
		}
	}
	f.log.Debug("kandji inventory sweep", "tenant_devices", n)
	return idx, n, nil
}

// toApprovalDevice is a Kandji device as the store keeps it.
func toApprovalDevice(d kandji.Device) approvals.Device {
	return approvals.Device{ID: d.ID, Name: d.Name, Model: d.Model, Serial: d.Serial, Platform: d.Platform, LastCheckIn: d.LastCheckIn}
}

func toApprovalDevices(ds []kandji.Device) []approvals.Device {
	out := make([]approvals.Device, len(ds))
	for i, d := range ds {
		out[i] = toApprovalDevice(d)
	}
	return out
}

// Lookup returns the devices assigned to email now, for a person waiting in
// Slack (a /lock request or status): it goes before bulk work in Kandji's
// rate budget.
func (f *Flow) Lookup(ctx context.Context, p approvals.Person) ([]approvals.Device, string, error) {
	r, err := f.findDevices(kandji.WithPriority(ctx, kandji.Interactive), p, false)
	if err != nil {
		return nil, "", err
	}
	return toApprovalDevices(r.devices), r.matchedBy, nil
}

// Person returns what Okta says of email now (name and status), for a
// card; Okta trouble only costs the card its status line.
func (f *Flow) Person(ctx context.Context, email string) approvals.Person {
	p := approvals.Person{Email: email}
	if f.dir == nil {
		return p
	}
	u, err := f.dir.User(ctx, email)
	switch {
	case errors.Is(err, okta.ErrNotFound):
		p.OktaStatus = "not found in Okta"
	case err != nil:
		f.log.Warn("okta user lookup failed", "target", email, "err", err)
		p.OktaStatus = "unknown (Okta did not answer)"
	default:
		p.Name, p.OktaStatus, p.OktaUserID = u.Name(), u.Status, u.ID
		if login, err := approvals.ParseEmail(u.Login); err == nil && login != email {
			p.Login = login
		}
	}
	return p
}
