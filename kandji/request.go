package kandji

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"sync/atomic"
	"time"
)

// maxBody caps every response read. A page of 300 devices is a few hundred KiB, so a larger
// answer is not a device list and is refused rather than silently cut short.
const maxBody = 1 << 20

// errBodyTooLarge marks a 2xx answer longer than maxBody.
var errBodyTooLarge = errors.New("response body exceeds 1 MiB")

// request is one API call as the retry loop sees it.
type request struct {
	method string
	route  string // templated, for errors, logs, metrics and permission hints
	path   string // escaped path below /api/v1
	query  url.Values
	body   []byte // nil sends no body
}

// idempotent reports whether repeating the request after an unknown outcome is harmless.
func (r request) idempotent() bool {
	return r.method == http.MethodGet
}

// response is a 2xx answer (or, inside the retry loop, any answer).
type response struct {
	status  int
	header  http.Header
	body    []byte
	bodyErr error // only for a non-idempotent 2xx whose body could not be read in full
}

// do runs r with rate limiting and retries. Each attempt takes a rate token. GETs are retried on
// 429, 5xx and transport errors; other methods only on 429, 5xx and on transport errors that
// happened before the request was written, because a repeated POST may queue a second command.
//
// A transport failure after a POST was written is ErrOutcomeUnknown: Kandji may have queued the
// command. That includes the http.Client's own Timeout, which is not the caller's context: the
// error then matches neither context.DeadlineExceeded nor context.Canceled. When the caller's
// ctx ends, the error matches ctx's error and not ErrOutcomeUnknown, since the caller chose to
// stop and alone decides whether to try again.
func (c *Client) do(ctx context.Context, r request) (response, error) {
	prio := priorityFrom(ctx)
	var last error
	for attempt := 1; ; attempt++ {
		if err := c.limiter.wait(ctx, prio); err != nil {
			return response{}, stopped(r, err, last)
		}
		resp, sent, err := c.send(ctx, r)
		status, retryAfter := 0, time.Duration(0)
		switch {
		case err == nil && resp.status/100 == 2:
			return resp, nil
		case err == nil:
			apiErr := c.newError(r, resp)
			if !retryableStatus(resp.status) {
				return response{}, apiErr
			}
			last, status, retryAfter = apiErr, resp.status, apiErr.RetryAfter
		case resp.status/100 == 2 && !r.idempotent():
			// Kandji accepted the command and only its answer was lost: that is a success the
			// caller must not repeat.
			resp.bodyErr = err
			return resp, nil
		case ctx.Err() != nil && sent && !r.idempotent():
			return response{}, fmt.Errorf("kandji: %s %s: stopped after the request was sent, so Kandji may have "+
				"queued it: %w", r.method, r.route, ctx.Err())
		case ctx.Err() != nil:
			return response{}, stopped(r, ctx.Err(), last)
		case sent && !r.idempotent():
			return response{}, fmt.Errorf("%w: %s %s: %w", ErrOutcomeUnknown, r.method, r.route, &transportError{err})
		case errors.Is(err, errBodyTooLarge):
			return response{}, fmt.Errorf("kandji: %s %s: %w", r.method, r.route, err)
		default:
			last = fmt.Errorf("kandji: %s %s: %w", r.method, r.route, &transportError{err})
		}
		if attempt >= c.retry.maxAttempts {
			return response{}, last
		}
		d := c.retry.delay(attempt, retryAfter)
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < d {
			return response{}, fmt.Errorf("%w (not retried: the next attempt would come after the context deadline: %w)",
				last, context.DeadlineExceeded)
		}
		c.notify(r.method, r.route, status)
		c.log.LogAttrs(ctx, slog.LevelDebug, "kandji: retrying",
			slog.String("method", r.method), slog.String("route", r.route), slog.Int("status", status),
			slog.Int("attempt", attempt), slog.Duration("delay", d), slog.String("error", last.Error()))
		if err := c.retry.sleep(ctx, d); err != nil {
			return response{}, stopped(r, err, last)
		}
	}
}

// stopped reports a call that ended because ctx did, keeping the last failure visible.
func stopped(r request, cause, last error) error {
	if last == nil {
		return fmt.Errorf("kandji: %s %s: %w", r.method, r.route, cause)
	}
	return fmt.Errorf("%w (gave up: %w)", last, cause)
}

// transportError is a connection failure while the caller's context was still live. The
// http.Client's own Timeout reports itself as context.DeadlineExceeded; hiding that keeps
// errors.Is(err, context.DeadlineExceeded) a statement about the caller's context alone, so a
// caller can tell "I stopped" from "Kandji did not answer in time".
type transportError struct{ err error }

// Error is the cause's text, which names the timeout when there was one.
func (e *transportError) Error() string { return e.err.Error() }

// Unwrap exposes the cause (a *net.OpError, say) unless it would match a context error.
func (e *transportError) Unwrap() error {
	if errors.Is(e.err, context.Canceled) || errors.Is(e.err, context.DeadlineExceeded) {
		return nil
	}
	return e.err
}

// Timeout reports whether the connection failed for want of an answer in time, as net.Error does.
func (e *transportError) Timeout() bool {
	var t interface{ Timeout() bool }
	return errors.As(e.err, &t) && t.Timeout()
}

// send makes one attempt. sent reports whether a transport failure may have happened after the
// request reached the server; err is a transport error, with resp.status set when it struck
// while reading the body.
func (c *Client) send(ctx context.Context, r request) (resp response, sent bool, err error) {
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	var connAsked, wrote atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GetConn:      func(string) { connAsked.Store(true) },
		WroteRequest: func(httptrace.WroteRequestInfo) { wrote.Store(true) },
	})
	req, err := http.NewRequestWithContext(ctx, r.method, c.url(r), body)
	if err != nil {
		return response{}, false, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.hc.Do(req)
	if err != nil {
		// A transport that reports no trace proves nothing, so only a failed dial counts as
		// "not sent" there.
		sent = !isDialError(err) && (!connAsked.Load() || wrote.Load())
		return response{}, sent, unwrapURLError(err)
	}
	defer res.Body.Close()
	resp = response{status: res.StatusCode, header: res.Header}
	resp.body, err = readCapped(res.Body)
	if err != nil && res.StatusCode/100 == 2 {
		return resp, true, err
	}
	// An error page that is cut short or too long still has a message worth keeping.
	return resp, true, nil
}

// url builds the request URL; the token never goes into it.
func (c *Client) url(r request) string {
	u := c.base.String() + apiPrefix + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	return u
}

// newError turns a non-2xx answer into an *Error.
func (c *Client) newError(r request, resp response) *Error {
	return &Error{
		StatusCode: resp.status,
		Method:     r.method,
		Route:      r.route,
		// A server that echoes request headers must not leak the token through us, nor a
		// PIN through an error that ends up on a Slack card, in a log and in the journal.
		Message:    parseMessage(resp.body, c.token),
		RetryAfter: parseRetryAfter(resp.header.Get("Retry-After"), time.Now()),
	}
}

// readCapped reads at most maxBody bytes and says so when there was more.
func readCapped(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxBody+1))
	if err != nil {
		return data, err
	}
	if len(data) > maxBody {
		return data[:maxBody], errBodyTooLarge
	}
	return data, nil
}

// isDialError reports a failure to connect, after which nothing can have been sent.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// unwrapURLError drops the *url.Error wrapper, whose text repeats the full URL including the
// query string (a person's email); errors name the templated route instead.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
