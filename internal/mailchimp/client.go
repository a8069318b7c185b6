package mailchimp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Limits and defaults of the client.
const (
	// MaxConnections is Mailchimp's limit of simultaneous connections per
	// account; a Client never has more requests in flight than this.
	MaxConnections = 10
	// DefaultTimeout bounds one request, from dialling to the end of the
	// body, unless the context has an earlier deadline.
	DefaultTimeout = 30 * time.Second
	// DefaultUserAgent is sent with every request.
	DefaultUserAgent = "Herald-Mailchimp/1"
)

// Client calls Mailchimp's Marketing API v3. It is safe for concurrent use;
// share one per API key.
type Client struct {
	base   string // API root without trailing slash, e.g. https://us6.api.mailchimp.com/3.0
	apiKey string
	ua     string
	hc     *http.Client
	sem    chan struct{} // one token per request in flight
	now    func() time.Time
}

// Option configures a Client.
type Option func(*options)

type options struct {
	baseURL   string
	hc        *http.Client
	timeout   time.Duration
	userAgent string
	maxConns  int
}

// WithBaseURL sends requests to baseURL (the API root, e.g.
// "https://us6.api.mailchimp.com/3.0" or a test server) instead of the one
// derived from the key's data centre. With a base URL the key needs no
// data centre suffix.
func WithBaseURL(baseURL string) Option { return func(o *options) { o.baseURL = baseURL } }

// WithHTTPClient sends requests through a copy of hc (its transport,
// proxy settings, …). The copy's Timeout is the client's (DefaultTimeout
// unless WithTimeout says otherwise).
func WithHTTPClient(hc *http.Client) Option { return func(o *options) { o.hc = hc } }

// WithTimeout bounds each request (default DefaultTimeout; 0 = no bound
// other than the context's).
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option { return func(o *options) { o.userAgent = ua } }

// WithMaxConnections lowers the number of simultaneous requests (1 to
// MaxConnections), for installations that share the account's 10
// connections with other software.
func WithMaxConnections(n int) Option { return func(o *options) { o.maxConns = n } }

// New returns a client for the account of apiKey. The API root comes from
// the key's data centre suffix ("…-us6" → https://us6.api.mailchimp.com/3.0)
// unless WithBaseURL overrides it.
func New(apiKey string, opts ...Option) (*Client, error) {
	o := options{timeout: DefaultTimeout, userAgent: DefaultUserAgent, maxConns: MaxConnections}
	for _, opt := range opts {
		opt(&o)
	}
	apiKey = strings.TrimSpace(apiKey)
	if apiKey == "" {
		return nil, fmt.Errorf("%w: the key is empty", ErrInvalidAPIKey)
	}
	if strings.ContainsFunc(apiKey, func(r rune) bool { return r < 0x21 || r == 0x7f }) {
		return nil, fmt.Errorf("%w: the key contains spaces or control characters", ErrInvalidAPIKey)
	}
	base := o.baseURL
	if base == "" {
		dc, err := DataCenter(apiKey)
		if err != nil {
			return nil, err
		}
		base = "https://" + dc + ".api.mailchimp.com/3.0"
	} else {
		u, err := url.Parse(base)
		if err == nil && u.User != nil {
			// Not repeated in the error: it holds a secret.
			return nil, errors.New("mailchimp: the base URL must not contain a user name or password")
		}
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return nil, errors.New("mailchimp: the base URL must be an absolute http or https URL without query")
		}
		base = strings.TrimRight(base, "/")
	}
	if o.maxConns < 1 || o.maxConns > MaxConnections {
		return nil, fmt.Errorf("mailchimp: max connections must be between 1 and %d, not %d", MaxConnections, o.maxConns)
	}
	if o.timeout < 0 {
		return nil, fmt.Errorf("mailchimp: negative timeout %v", o.timeout)
	}
	hc := o.hc
	if hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxConnsPerHost = o.maxConns
		tr.MaxIdleConnsPerHost = o.maxConns
		hc = &http.Client{Transport: tr}
	} else {
		c := *hc
		hc = &c
	}
	hc.Timeout = o.timeout
	return &Client{
		base:   base,
		apiKey: apiKey,
		ua:     o.userAgent,
		hc:     hc,
		sem:    make(chan struct{}, o.maxConns),
		now:    time.Now,
	}, nil
}

// DataCenter returns the data centre named by the key's suffix: "us6" for
// "0123…cdef-us6". It wraps ErrInvalidAPIKey when there is none.
func DataCenter(apiKey string) (string, error) {
	apiKey = strings.TrimSpace(apiKey)
	i := strings.LastIndexByte(apiKey, '-')
	if i <= 0 {
		return "", fmt.Errorf("%w (the key has no \"-\" suffix)", ErrInvalidAPIKey)
	}
	dc := apiKey[i+1:]
	if !validDataCenter(dc) {
		return "", fmt.Errorf("%w (%q is not a data centre)", ErrInvalidAPIKey, dc)
	}
	return dc, nil
}

// validDataCenter accepts letters followed by digits ("us6", "us21").
func validDataCenter(dc string) bool {
	letters, digits := 0, 0
	for i := 0; i < len(dc); i++ {
		c := dc[i]
		switch {
		case c >= 'a' && c <= 'z' && digits == 0:
			letters++
		case c >= '0' && c <= '9':
			digits++
		default:
			return false
		}
	}
	return letters >= 2 && letters <= 4 && digits >= 1 && digits <= 4
}

// BaseURL returns the API root the client sends requests to.
func (c *Client) BaseURL() string { return c.base }

// do sends one request and decodes a 2xx JSON answer into out (when not
// nil). Failures are *APIError (Mailchimp answered with an error),
// *NetworkError (no answer), or a plain error (bad input, undecodable
// answer).
func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("mailchimp: encoding %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	target := c.base + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return fmt.Errorf("mailchimp: %s %s: %w", method, path, err)
	}
	// Mailchimp ignores the user name; the key is the password.
	req.SetBasicAuth("herald", c.apiKey)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.ua)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}

	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return &NetworkError{Method: method, Path: path, Err: ctx.Err()}
	}
	defer func() { <-c.sem }()

	resp, err := c.hc.Do(req)
	if err != nil {
		return &NetworkError{Method: method, Path: path, Err: unwrapURLError(err)}
	}
	defer func() {
		// Drain a little so the connection can be reused.
		_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
		resp.Body.Close()
	}()

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return c.apiError(method, path, resp)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	dec := json.NewDecoder(io.LimitReader(resp.Body, maxResponseBodyBytes))
	if err := dec.Decode(out); err != nil {
		if isTransportError(err) {
			return &NetworkError{Method: method, Path: path, Err: err}
		}
		return fmt.Errorf("mailchimp: %s %s: decoding %d answer: %w", method, path, resp.StatusCode, err)
	}
	return nil
}

// apiError builds an *APIError from an error answer. A body that is not a
// problem document (a proxy's HTML page, say) still gives status and title.
func (c *Client) apiError(method, path string, resp *http.Response) error {
	e := &APIError{
		Method:     method,
		Path:       path,
		Status:     resp.StatusCode,
		retryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), c.now()),
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBodyBytes))
	if err != nil && e.Status < 500 && e.Status != http.StatusTooManyRequests {
		// A 4xx we could not read could be anything; let it be retried.
		return &NetworkError{Method: method, Path: path, Err: fmt.Errorf("reading %d answer: %w", resp.StatusCode, err)}
	}
	var doc struct {
		Type     string          `json:"type"`
		Title    string          `json:"title"`
		Detail   string          `json:"detail"`
		Instance string          `json:"instance"`
		Errors   []FieldError    `json:"errors"`
		Status   json.RawMessage `json:"status"` // the HTTP status is authoritative
	}
	if len(bytes.TrimSpace(raw)) > 0 && json.Unmarshal(raw, &doc) == nil {
		e.Type, e.Title, e.Detail, e.Instance, e.Errors = doc.Type, doc.Title, doc.Detail, doc.Instance, doc.Errors
	} else if text := strings.TrimSpace(string(raw)); text != "" {
		if len(text) > 200 {
			text = text[:200] + "…"
		}
		e.Detail = text
	}
	if e.Title == "" {
		e.Title = http.StatusText(resp.StatusCode)
	}
	return e
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// isTransportError tells a broken connection while reading a body from a
// malformed body.
func isTransportError(err error) bool {
	var ne net.Error
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &ne) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.Is(err, net.ErrClosed)
}

// pathf builds a path from a format of %s verbs and path segments, escaping
// each segment so an id can never change the path's shape.
func pathf(format string, segs ...string) string {
	args := make([]any, len(segs))
	for i, s := range segs {
		args[i] = url.PathEscape(s)
	}
	return fmt.Sprintf(format, args...)
}
