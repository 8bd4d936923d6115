package kandji

import (
	"cmp"
	"context"
	"fmt"
	"iter"
	"net/http"
	"net/mail"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// pageSize is Kandji's hard upper limit of devices per list request.
const pageSize = 300

// DevicesByEmail returns every device whose assigned user's email equals email by EqualEmail's
// rule (nil when there are none). An empty or malformed email is refused with ErrInvalidInput
// before any request.
//
// Whether Kandji's filters ignore case or surrounding spaces is undocumented, so one filter alone
// could miss a device stored as " Alice@Corp.com ". DevicesByEmail therefore asks twice, with
// user_email_exact and with the user_email "containing" filter, and merges the answers. Every
// device either returns is checked again here, so alice@corp.com never matches xalice@corp.com
// or alice@corp.com.evil whatever the server does with the filters. The result is in serial
// number order. Only Inventory, matched with EqualEmail, is complete if both filters are case
// sensitive and Kandji stores the address in another case.
func (c *Client) DevicesByEmail(ctx context.Context, email string) ([]Device, error) {
	email, err := checkEmail(email)
	if err != nil {
		return nil, err
	}
	var out []Device
	seen := make(map[string]bool)
	for _, filter := range [...]string{"user_email_exact", "user_email"} {
		for d, err := range c.pages(ctx, url.Values{filter: {email}}) {
			if err != nil {
				return nil, err
			}
			if d.User != nil && EqualEmail(d.User.Email, email) && !seen[d.ID] {
				seen[d.ID] = true
				out = append(out, d)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b Device) int {
		return cmp.Or(strings.Compare(a.Serial, b.Serial), strings.Compare(a.ID, b.ID))
	})
	return out, nil
}

// Inventory iterates over every device of the tenant, one page of 300 per request, so that many
// people can be looked up with N/300 calls instead of one call per person. The iteration stops at
// the first error (yielded once) or as soon as the consumer breaks; a device repeated across pages
// (the list shifting while it is paged) is yielded once.
func (c *Client) Inventory(ctx context.Context) iter.Seq2[Device, error] {
	return c.pages(ctx, nil)
}

// Device returns one device by its Kandji device ID.
func (c *Client) Device(ctx context.Context, id string) (Device, error) {
	if err := checkID(id); err != nil {
		return Device{}, err
	}
	resp, err := c.do(ctx, request{method: http.MethodGet, route: routeDevice, path: devicePath(id)})
	if err != nil {
		return Device{}, err
	}
	d, err := decodeDevice(resp.body)
	if err != nil {
		return Device{}, fmt.Errorf("kandji: GET %s: %w", routeDevice, err)
	}
	return d, nil
}

// pages pages through GET /devices with filter until a short page, in serial-number order so
// that offsets stay stable between requests.
func (c *Client) pages(ctx context.Context, filter url.Values) iter.Seq2[Device, error] {
	return func(yield func(Device, error) bool) {
		seen := make(map[string]struct{})
		for offset := 0; ; {
			page, err := c.page(ctx, filter, offset)
			if err != nil {
				yield(Device{}, err)
				return
			}
			fresh := 0
			for _, d := range page {
				if _, dup := seen[d.ID]; dup {
					continue
				}
				seen[d.ID] = struct{}{}
				fresh++
				if !yield(d, nil) {
					return
				}
			}
			if len(page) < pageSize {
				return
			}
			if fresh == 0 {
				// Without this a server that ignores offset would be paged forever.
				yield(Device{}, fmt.Errorf("kandji: GET %s: the page at offset %d only repeats earlier devices; "+
					"the server does not seem to honour offset", routeDevices, offset))
				return
			}
			offset += len(page)
		}
	}
}

// page fetches one page of the device list.
func (c *Client) page(ctx context.Context, filter url.Values, offset int) ([]Device, error) {
	q := url.Values{
		"limit":    {strconv.Itoa(pageSize)},
		"offset":   {strconv.Itoa(offset)},
		"ordering": {"serial_number"},
	}
	for k, v := range filter {
		q[k] = v
	}
	resp, err := c.do(ctx, request{method: http.MethodGet, route: routeDevices, path: "/devices", query: q})
	if err != nil {
		return nil, err
	}
	ds, err := decodePage(resp.body)
	if err != nil {
		return nil, fmt.Errorf("kandji: GET %s: %w", routeDevices, err)
	}
	return ds, nil
}

// devicePath is the escaped path of one device below /api/v1.
func devicePath(id string) string {
	return "/devices/" + url.PathEscape(id)
}

// maxEmailLen is the longest address SMTP allows.
const maxEmailLen = 254

// checkEmail trims surrounding ASCII whitespace from email and refuses anything that is not a
// bare address, so an empty filter (which a server may ignore, listing every device) is never
// sent. It changes no letter's case: the filters get the address as the caller spelled it.
func checkEmail(email string) (string, error) {
	email = trimASCIISpace(email)
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Name != "" || addr.Address != email || len(email) > maxEmailLen {
		return "", fmt.Errorf("%w: %q is not an email address", ErrInvalidInput, truncate(email, 64))
	}
	return email, nil
}

// maxIDLen is far above Kandji's 36-character UUIDs.
const maxIDLen = 128

// checkID refuses device IDs that are empty or could change the request path.
func checkID(id string) error {
	valid := id != "" && len(id) <= maxIDLen && strings.IndexFunc(id, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_')
	}) < 0
	if !valid {
		return fmt.Errorf("%w: %q is not a Kandji device ID", ErrInvalidInput, truncate(id, 64))
	}
	return nil
}

// truncate shortens s to at most n runes for an error message.
func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
