// Package web is Herald's HTTP surface: the reader pages (subscribe,
// confirm, manage, unsubscribe, the embeddable form), the JSON API under
// /api/v1 with its OpenAPI description, and the middleware they share
// (client IP, rate limits, body limits, security headers, error mapping).
//
// Nothing outside this package knows HTTP; handlers call the store and
// never send mail themselves: the store commits jobs that the queue runs.
package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/feed"
	"github.com/heraldhq/herald/internal/mcsync"
	"github.com/heraldhq/herald/internal/service"
	"github.com/heraldhq/herald/internal/sqlstore"
	"github.com/heraldhq/herald/internal/token"
)

// Server serves Herald over HTTP.
type Server struct {
	DB     *sqlstore.DB
	Config *config.Config
	Tokens *token.Signer
	Log    *slog.Logger
	// Rules is the service layer: what the handlers call to change
	// readers (internal/service).
	Rules *service.Service
	// Mailchimp is the Mailchimp integration (api_mailchimp.go), which
	// the app builds and wires (its jobs, its event consumer).
	Mailchimp *mcsync.Service
	// RelayStatus, when set, reports outgoing mail's state for
	// GET /api/v1/relay (the app sets it: the transport and the sender
	// know it, the web server does not).
	RelayStatus func() any
	// Feeds polls feeds (api_feeds.go: poll now); New makes it, the app
	// runs it.
	Feeds *feed.Poller

	signupLimiter *limiter
	authFails     *authThrottle // api_tokens.go
	pages         *pages
	handler       http.Handler

	linkLimiter *limiter // requests for a fresh manage link, per client IP (readerlinks.go)
}

// Services are what the server calls besides the store; the app builds
// and wires them.
type Services struct {
	Rules     *service.Service
	Mailchimp *mcsync.Service
}

// New builds the server and its routes on the services it is given.
func New(db *sqlstore.DB, cfg *config.Config, tokens *token.Signer, log *slog.Logger, svc Services) *Server {
	s := &Server{DB: db, Config: cfg, Tokens: tokens, Log: log, Rules: svc.Rules, Mailchimp: svc.Mailchimp}
	s.signupLimiter = newLimiter(cfg.SignupLimit)
	s.authFails = newAuthThrottle(cfg.AuthFailLimit)
	s.pages = loadPages()
	s.Feeds = feed.NewPoller(db, cfg.FetchAllow, log)
	mux := http.NewServeMux()
	s.publicRoutes(mux)
	s.relayRoutes(mux) // api_relay.go
	s.apiRoutes(mux)
	s.handler = s.middleware(mux)
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// ListenAndServe serves until ctx is cancelled, then shuts down gracefully:
// in-flight requests finish (up to 30 s).
func (s *Server) ListenAndServe(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.Log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

type ctxKey int

const clientIPKey ctxKey = 0

func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w0 http.ResponseWriter, r *http.Request) {
		w, r, done := s.beginRequest(w0, r) // requestlog.go
		defer func() { done(r) }()
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.Log.ErrorContext(r.Context(), "panic serving request", "route", r.Pattern, "panic", v, "stack", string(debug.Stack()))
				s.error(w, r, herald.Errorf(herald.EINTERNAL, "panic"))
			}
		}()
		ip := s.clientIP(r)
		r = r.WithContext(context.WithValue(r.Context(), clientIPKey, ip))
		next.ServeHTTP(w, r)
	})
}

// clientIP is the peer address, or — when the peer is a trusted proxy — the
// rightmost address in X-Forwarded-For that is not itself a trusted proxy.
func (s *Server) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	peer = peer.Unmap()
	if !s.trusted(peer) {
		return peer.String()
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		a = a.Unmap()
		if !s.trusted(a) {
			return a.String()
		}
		peer = a
	}
	return peer.String()
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.Config.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func clientIP(r *http.Request) string {
	ip, _ := r.Context().Value(clientIPKey).(string)
	return ip
}

// status maps an error code to an HTTP status.
func status(code string) int {
	switch code {
	case herald.EINVALID:
		return http.StatusUnprocessableEntity
	case herald.EBADREQUEST:
		return http.StatusBadRequest
	case herald.ENOTFOUND:
		return http.StatusNotFound
	case herald.ECONFLICT:
		return http.StatusConflict
	case herald.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case herald.EFORBIDDEN:
		return http.StatusForbidden
	case herald.ERATELIMIT:
		return http.StatusTooManyRequests
	case herald.ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	case herald.EGONE:
		return http.StatusGone
	case herald.EUNSUPPORTED:
		return http.StatusUnsupportedMediaType
	}
	return http.StatusInternalServerError
}

// logIfInternal logs errors that are ours, not the client's.
func (s *Server) logIfInternal(r *http.Request, err error) {
	if herald.ErrorCode(err) == herald.EINTERNAL && !errors.Is(err, context.Canceled) {
		s.Log.ErrorContext(r.Context(), "request failed", "method", r.Method, "route", r.Pattern, "err", err)
	}
}

// error writes err as the JSON error document.
func (s *Server) error(w http.ResponseWriter, r *http.Request, err error) {
	s.logIfInternal(r, err)
	code := herald.ErrorCode(err)
	body := map[string]any{"code": code, "message": herald.ErrorMessage(err)}
	if f := herald.ErrorField(err); f != "" {
		body["field"] = f
	}
	writeJSON(w, status(code), map[string]any{"error": body})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	_ = enc.Encode(v)
}

// decodeJSON reads a JSON body of at most limit bytes into v, refusing
// unknown fields, trailing data and wrong content types with clear 4xx errors.
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(strings.ToLower(ct), "application/json") {
		return herald.Errorf(herald.EUNSUPPORTED, "Send the body as application/json.")
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return herald.Errorf(herald.EBADREQUEST, "The body must hold exactly one JSON value.")
	}
	return nil
}

func jsonError(err error) error {
	var mbe *http.MaxBytesError
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &mbe):
		return herald.Errorf(herald.ETOOLARGE, "The body is too large (limit %d bytes).", mbe.Limit)
	case errors.As(err, &se):
		return herald.Errorf(herald.EBADREQUEST, "Malformed JSON at byte %d.", se.Offset)
	case errors.As(err, &te):
		return jsonTypeError(te)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &herald.Error{Code: herald.EBADREQUEST, Field: f, Message: fmt.Sprintf("Unknown field %q.", f)}
	case errors.Is(err, errEOF), strings.Contains(err.Error(), "EOF"):
		return herald.Errorf(herald.EBADREQUEST, "The body is empty or cut short.")
	}
	return herald.Errorf(herald.EBADREQUEST, "Malformed JSON.")
}

var errEOF = errors.New("EOF")

// checkURLText keeps text that no database can store or match — invalid
// UTF-8 or NUL, which PostgreSQL rejects outright — from reaching a query:
// nothing can be found under such a path (404), and such a query parameter
// is a bad request (400).
func checkURLText(r *http.Request) error {
	bad := func(s string) bool { return !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 }
	if bad(r.URL.Path) {
		return herald.Errorf(herald.ENOTFOUND, "Not found: the URL path is not valid UTF-8 text.")
	}
	for k, vs := range r.URL.Query() {
		for _, v := range vs {
			if bad(k) || bad(v) {
				e := &herald.Error{Code: herald.EBADREQUEST, Message: "Query parameters must be valid UTF-8 without NUL characters."}
				if !bad(k) {
					e.Field = k
				}
				return e
			}
		}
	}
	return nil
}
