package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/heraldhq/herald"
)

// originAllowed decides whether a browser may post the signup form from
// the page it came from. With HERALD_CORS_ORIGINS at its default (*) every
// origin may; otherwise the request's Origin — or, when a browser sent
// none, the origin of its Referer — must be Herald's own (the hosted page)
// or one of those listed. CORS alone does not stop a cross-origin post: a
// plain HTML form (or a "simple" fetch) is sent and acted upon whatever
// the answer's headers say; only reading the answer is blocked. So the
// check is made here, before anything is written.
//
// A request that names no origin at all (no Origin, no Referer) passes: a
// site's back end, curl, or a browser told to send no Referer look alike
// and cannot be told apart. The check stops other web sites from signing
// their visitors up through their browsers, not a client that sends what
// it likes.
func (s *Server) originAllowed(r *http.Request) (origin string, ok bool) {
	if len(s.Config.CORSOrigins) == 0 {
		return "", true
	}
	for _, o := range s.Config.CORSOrigins {
		if o == "*" {
			return "", true
		}
	}
	origin = r.Header.Get("Origin")
	if origin == "" {
		ref := r.Header.Get("Referer")
		if ref == "" {
			return "", true
		}
		u, err := url.Parse(ref)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return "an unreadable Referer", false
		}
		origin = u.Scheme + "://" + u.Host
	}
	if sameOrigin(origin, s.Config.BaseURL) {
		return origin, true
	}
	for _, o := range s.Config.CORSOrigins {
		if sameOrigin(origin, o) {
			return origin, true
		}
	}
	return origin, false
}

// sameOrigin compares scheme://host[:port] of two URLs, case-insensitively
// and with the scheme's default port made explicit.
func sameOrigin(a, b string) bool {
	norm := func(s string) string {
		u, err := url.Parse(strings.TrimSpace(s))
		if err != nil || u.Scheme == "" || u.Host == "" {
			return ""
		}
		scheme, host := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname())
		port := u.Port()
		if port == "" {
			switch scheme {
			case "http":
				port = "80"
			case "https":
				port = "443"
			}
		}
		return scheme + "://" + host + ":" + port
	}
	na := norm(a)
	return na != "" && na == norm(b)
}

// errForeignOrigin is the refusal of a post from a page not allowed to
// post the form. It does not echo the origin back: the reader needs to know
// what to do, not what their browser sent.
var errForeignOrigin = &herald.Error{Code: herald.EFORBIDDEN,
	Message: "This signup form may not be used from the site you came from. Please sign up on the publisher's own site."}
