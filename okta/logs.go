package okta

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	oktasdk "github.com/okta/okta-sdk-golang/v2/okta"
	"github.com/okta/okta-sdk-golang/v2/okta/query"
)

const logsPath = "/api/v1/logs"

// readLogs runs a System Log query and calls fn with each non-empty page,
// following rel="next" links. A polling query (no until) always has a next
// link, so the end is an empty page; a missing link also ends it. It stops
// after maxPages pages; complete says whether the log was read to its end.
func (d *Directory) readLogs(ctx context.Context, qp *query.Params, maxPages int, fn func([]*oktasdk.LogEvent) error) (complete bool, err error) {
	var (
		page []*oktasdk.LogEvent
		resp *oktasdk.Response
	)
	// fetch runs one page request, leaving its events in page and its
	// response (for the next link) in resp.
	fetch := func(get func(context.Context) (*oktasdk.Response, error)) error {
		page = nil
		return d.call(ctx, "read system log", permLogs, func(ctx context.Context) (*oktasdk.Response, error) {
			r, err := get(ctx)
			resp = r
			return r, err
		})
	}
	err = fetch(func(ctx context.Context) (*oktasdk.Response, error) {
		p, r, err := d.client.LogEvent.GetLogs(ctx, qp)
		page = p
		return r, err
	})
	if err != nil {
		return false, err
	}
	for n := 1; len(page) > 0; n++ {
		if err := fn(page); err != nil {
			return false, err
		}
		next, err := nextLogsPage(resp)
		if err != nil {
			return false, err
		}
		if next == "" {
			return true, nil
		}
		if n >= maxPages {
			return false, nil
		}
		prev := resp
		prev.NextPage = next
		if err := fetch(func(ctx context.Context) (*oktasdk.Response, error) { return prev.Next(ctx, &page) }); err != nil {
			return false, err
		}
	}
	return true, nil
}

// nextLogsPage returns the path and query of resp's rel="next" link, or "".
//
// The SDK's own NextPage copies every parameter of the previous request into
// the link, including since, which Okta documents as mutually exclusive with
// the after cursor the link carries. So the link is taken as Okta sent it,
// and only parameters it lacks are carried over (never since/until next to
// after). Only the path and query are kept: the SDK prefixes the org URL, so
// a link can never send the token to another host.
func nextLogsPage(resp *oktasdk.Response) (string, error) {
	if resp == nil || resp.Response == nil {
		return "", nil
	}
	link := nextLink(resp.Header.Values("Link"))
	if link == "" {
		return "", nil
	}
	u, err := url.Parse(link)
	if err != nil || u.Path != logsPath {
		return "", fmt.Errorf("%w: read system log: unusable next link %q", ErrUnavailable, truncate(link, 200))
	}
	q := u.Query()
	if resp.Request != nil && resp.Request.URL != nil {
		for k, vs := range resp.Request.URL.Query() {
			if q.Has(k) || (q.Has("after") && (k == "since" || k == "until")) {
				continue
			}
			q[k] = vs
		}
	}
	return logsPath + "?" + q.Encode(), nil
}

// nextLink finds the rel="next" target in RFC 8288 Link header values,
// whether Okta sends one header per link or several links in one header.
func nextLink(values []string) string {
	for _, v := range values {
		for v != "" {
			start := strings.IndexByte(v, '<')
			if start < 0 {
				break
			}
			end := strings.IndexByte(v[start:], '>')
			if end < 0 {
				break
			}
			target := v[start+1 : start+end]
			v = v[start+end+1:]
			params := v
			if i := strings.IndexByte(v, '<'); i >= 0 {
				params = v[:i]
			}
			if relIsNext(params) {
				return target
			}
		}
	}
	return ""
}

// relIsNext reports whether link parameters (`; rel="next"; title=…`) have a
// rel whose space-separated relation types include next.
func relIsNext(params string) bool {
	parts := strings.Split(params, ";")
	for _, p := range parts[1:] { // parts[0] is what sits between '>' and the first ';'
		name, value, ok := strings.Cut(p, "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(name), "rel") {
			continue
		}
		value = strings.TrimSpace(strings.TrimRight(strings.TrimSpace(value), ","))
		value = strings.TrimSuffix(strings.TrimPrefix(value, `"`), `"`)
		for _, rel := range strings.Fields(value) {
			if strings.EqualFold(rel, "next") {
				return true
			}
		}
	}
	return false
}
