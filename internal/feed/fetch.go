package feed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/netguard"
)

// Fetch limits.
const (
	DefaultMaxBytes = 10 << 20         // a feed larger than this is refused
	DefaultTimeout  = 30 * time.Second // for the whole exchange, body included
	MaxRedirects    = 5                // netguard's client stops after this many
)

// Fetcher gets feed documents over HTTP with conditional GET.
type Fetcher struct {
	// Client must be a netguard client (NewFetcher makes one), so that a
	// feed cannot reach internal addresses, by IP, name or redirect.
	Client    *http.Client
	MaxBytes  int64
	UserAgent string
}

// NewFetcher returns a fetcher whose connections guard checks, with an
// overall timeout per fetch (a server that trickles bytes is cut off).
func NewFetcher(guard *netguard.Guard, timeout time.Duration) *Fetcher {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &Fetcher{Client: guard.Client(timeout, 4), MaxBytes: DefaultMaxBytes,
		UserAgent: "Herald/" + herald.Version + " (feed reader; +https://github.com/heraldhq/herald)"}
}

// Response is a fetched feed document, or NotModified.
type Response struct {
	NotModified  bool
	Body         []byte
	ContentType  string
	URL          *url.URL // after redirects
	ETag         string
	LastModified string
}

// Fetch gets rawURL, sending the validators of the last good response.
// Errors read well in the feed's last_error.
func (f *Fetcher) Fetch(ctx context.Context, rawURL, etag, lastModified string) (*Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, fmt.Errorf("invalid feed url: %w", err)
	}
	req.Header.Set("User-Agent", f.UserAgent)
	req.Header.Set("Accept", "application/feed+json, application/atom+xml, application/rss+xml, application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5")
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	if lastModified != "" {
		req.Header.Set("If-Modified-Since", lastModified)
	}
	resp, err := f.Client.Do(req)
	if err != nil {
		return nil, fetchError(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotModified {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return &Response{NotModified: true, ETag: etag, LastModified: lastModified}, nil
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, fmt.Errorf("the server answered %s", resp.Status)
	}
	max := f.MaxBytes
	if max <= 0 {
		max = DefaultMaxBytes
	}
	if resp.ContentLength > max {
		return nil, fmt.Errorf("the feed is larger than the limit of %d MB", max>>20)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, fetchError(err)
	}
	if int64(len(body)) > max {
		return nil, fmt.Errorf("the feed is larger than the limit of %d MB", max>>20)
	}
	return &Response{Body: body, ContentType: resp.Header.Get("Content-Type"), URL: resp.Request.URL,
		ETag: clipHeader(resp.Header.Get("ETag")), LastModified: clipHeader(resp.Header.Get("Last-Modified"))}, nil
}

func clipHeader(s string) string {
	if len(s) > 200 {
		return "" // not a validator worth sending back
	}
	return s
}

// fetchError rewords transport errors for a person reading last_error.
func fetchError(err error) error {
	var be *netguard.BlockedError
	switch {
	case errors.As(err, &be):
		return be
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return errors.New("the server did not send the whole feed in time (timeout)")
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		msg := ue.Err.Error()
		if strings.Contains(msg, "redirects") {
			return fmt.Errorf("too many redirects (more than %d)", MaxRedirects)
		}
		return fmt.Errorf("fetching the feed failed: %s", oneLine(msg))
	}
	return fmt.Errorf("fetching the feed failed: %s", oneLine(err.Error()))
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}
