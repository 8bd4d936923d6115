package okta

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	oktasdk "github.com/okta/okta-sdk-golang/v2/okta"
)

const logsPath = "/api/v1/logs"

// logsPage reads one System Log page at pathQuery, a path and query on the
// org URL (the SDK prefixes it, so the token never goes elsewhere). It
// returns the events and the response, for nextLogsPage.
func (d *Directory) logsPage(ctx context.Context, pathQuery string) ([]*oktasdk.LogEvent, *oktasdk.Response, error) {
	var (
		page []*oktasdk.LogEvent
		resp *oktasdk.Response
	)
	err := d.call(ctx, "read system log", permLogs, func(ctx context.Context) (*oktasdk.Response, error) {
		re := d.client.CloneRequestExecutor()
		req, err := re.WithAccept("application/json").WithContentType("application/json").NewRequest(http.MethodGet, pathQuery, nil)
		if err != nil {
			return nil, err
		}
		resp, err = re.Do(ctx, req, &page)
		return resp, err
	})
	if err != nil {
		return nil, nil, err
	}
	return page, resp, nil
}

// nextLogsPage returns the path and query of resp's rel="next" link, or "".
//
// The SDK's own NextPage copies every parameter of the previous request into
// the link, including since, which Okta documents as mutually exclusive with
// the after cursor the link carries. So the link is taken as Okta sent it,
// less any since next to its after, and only parameters it lacks are
// carried over (never since/until next to after). Only the path and query
// are kept: the SDK prefixes the org URL, so a link can never send the
// token to another host.
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
	if q.Has("after") {
		q.Del("since") // Okta refuses since next to after
	}
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
		if !ok || !equalFoldASCII(strings.TrimSpace(name), "rel") {
			continue
		}
		value = strings.TrimSpace(strings.TrimRight(strings.TrimSpace(value), ","))
		value = strings.TrimSuffix(strings.TrimPrefix(value, `"`), `"`)
		for _, rel := range strings.Fields(value) {
			if equalFoldASCII(rel, "next") {
				return true
			}
		}
	}
	return false
}
