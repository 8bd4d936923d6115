package kandji

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// NormalizeBaseURL checks a tenant URL and returns it in the form New uses: scheme, host and an
// optional proxy path, without a trailing "/" or "/api/v1". Kandji's web app shows the API URL
// as a bare host ("SUBDOMAIN.api.kandji.io"), so a value without a scheme gets https:// and
// addedScheme reports it, letting the configuration layer say so. Plain http:// is accepted only
// when given explicitly and only for loopback hosts. Errors never quote the raw input, which
// might carry credentials in its user-info part.
func NormalizeBaseURL(raw string) (normalized string, addedScheme bool, err error) {
	u, added, err := parseBaseURL(raw)
	if err != nil {
		return "", false, err
	}
	return u.String(), added, nil
}

// parseBaseURL is NormalizeBaseURL returning the parsed URL.
func parseBaseURL(raw string) (base *url.URL, addedScheme bool, err error) {
	const want = "want https://SUBDOMAIN.api.kandji.io or https://SUBDOMAIN.api.eu.kandji.io"
	raw = trimASCIISpace(raw)
	if raw == "" {
		return nil, false, fmt.Errorf("kandji: empty base URL (%s)", want)
	}
	switch {
	case strings.HasPrefix(raw, "//"):
		raw, addedScheme = "https:"+raw, true
	case !strings.Contains(raw, "://"):
		raw, addedScheme = "https://"+raw, true
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, false, fmt.Errorf("kandji: base URL is not a valid URL (%s)", want)
	}
	switch {
	case u.User != nil:
		return nil, false, errors.New("kandji: base URL must not contain user info; pass the API token separately")
	case u.Opaque != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, false, fmt.Errorf("kandji: base URL must not carry a query or fragment (%s)", want)
	case u.Hostname() == "":
		return nil, false, fmt.Errorf("kandji: base URL has no host (%s)", want)
	case addedScheme && !strings.Contains(u.Hostname(), ".") && !isLoopback(u.Hostname()):
		// "http//acme" would otherwise become the host "http".
		return nil, false, fmt.Errorf("kandji: base URL has no scheme and its host is not a domain name (%s)", want)
	}
	scheme := asciiLower(u.Scheme)
	switch scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return nil, false, fmt.Errorf("kandji: refusing plain http:// base URL for host %q: use https "+
				"(plain http is allowed only for loopback hosts: 127.0.0.0/8, ::1, localhost)", u.Hostname())
		}
	default:
		return nil, false, fmt.Errorf("kandji: base URL scheme %q is not supported (%s)", u.Scheme, want)
	}
	path := strings.TrimRight(u.Path, "/")
	path = strings.TrimRight(strings.TrimSuffix(path, apiPrefix), "/")
	return &url.URL{Scheme: scheme, Host: u.Host, Path: path}, addedScheme, nil
}

// isLoopback reports whether host can only be reached on this machine. "localhost" is compared
// by ASCII rules only: Unicode folding would accept "localhoſt" (U+017F), which a resolver sends
// to the network.
func isLoopback(host string) bool {
	if asciiEqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
