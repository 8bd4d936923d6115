package oktatest

import (
	"errors"
	"strings"
)

// eventFilter is a parsed System Log filter: the event types it keeps, nil
// for every type.
type eventFilter map[string]struct{}

// keeps reports whether an event of type t passes the filter.
func (f eventFilter) keeps(t string) bool {
	if f == nil {
		return true
	}
	_, ok := f[t]
	return ok
}

// parseFilter parses the part of Okta's SCIM filter syntax the fake
// supports: `eventType eq "…"` clauses joined by `or`. Anything else is an
// error, answered with 400, rather than a filter silently ignored.
func parseFilter(expr string) (eventFilter, error) {
	if strings.TrimSpace(expr) == "" {
		return nil, nil
	}
	toks, err := filterTokens(expr)
	if err != nil {
		return nil, err
	}
	f := eventFilter{}
	for i := 0; ; i += 4 {
		if len(toks) < i+3 {
			return nil, errors.New("expected `eventType eq \"…\"`")
		}
		attr, op, val := toks[i], toks[i+1], toks[i+2]
		if attr != "eventType" || !strings.EqualFold(op, "eq") || len(val) < 2 || val[0] != '"' {
			return nil, errors.New("only `eventType eq \"…\"` clauses are supported")
		}
		f[val[1:len(val)-1]] = struct{}{}
		switch {
		case len(toks) == i+3:
			return f, nil
		case !strings.EqualFold(toks[i+3], "or"):
			return nil, errors.New("clauses must be joined by `or`")
		}
	}
}

// filterTokens splits expr on spaces outside double quotes. Quoted values
// keep their quotes; escapes are not supported.
func filterTokens(expr string) ([]string, error) {
	var toks []string
	for i := 0; i < len(expr); {
		switch {
		case expr[i] == ' ':
			i++
		case expr[i] == '"':
			end := strings.IndexByte(expr[i+1:], '"')
			if end < 0 {
				return nil, errors.New("unterminated string")
			}
			v := expr[i : i+end+2]
			if strings.ContainsRune(v, '\\') {
				return nil, errors.New("escapes are not supported")
			}
			toks = append(toks, v)
			i += end + 2
		default:
			end := strings.IndexAny(expr[i:], ` "`)
			if end < 0 {
				end = len(expr) - i
			}
			toks = append(toks, expr[i:i+end])
			i += end
		}
	}
	return toks, nil
}
