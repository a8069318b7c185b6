package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/heraldhq/herald/internal/logging"
)

// Every request gets an id: in the X-Request-Id response header, on every
// line logged for it (through the context, see package logging) and on
// one access line at the end. A trusted proxy's X-Request-Id is kept, so
// that its log and Herald's can be joined; anyone else's is replaced, as
// a client could otherwise write what it likes into the log.

// requestIDHeader is the header carrying the id both ways.
const requestIDHeader = "X-Request-Id"

// respWriter remembers the status and size of the answer, and the
// request's context for code that logs with only the ResponseWriter.
type respWriter struct {
	http.ResponseWriter
	ctx    context.Context
	status int
	bytes  int64
}

func (w *respWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *respWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the server's writer (Flush,
// deadlines).
func (w *respWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// beginRequest gives the request its id and returns what to serve it
// with; done logs the access line (call it with the request as the mux
// saw it, which then knows the route).
func (s *Server) beginRequest(w http.ResponseWriter, r *http.Request) (*respWriter, *http.Request, func(*http.Request)) {
	start := time.Now()
	id := r.Header.Get(requestIDHeader)
	if id == "" || !validRequestID(id) || !s.fromTrustedProxy(r) {
		var b [8]byte
		_, _ = rand.Read(b[:])
		id = hex.EncodeToString(b[:])
	}
	w.Header().Set(requestIDHeader, id)
	ctx := logging.WithRequestID(r.Context(), id)
	r = r.WithContext(ctx)
	rw := &respWriter{ResponseWriter: w, ctx: ctx}
	return rw, r, func(r *http.Request) {
		status := rw.status
		if status == 0 {
			status = http.StatusOK
		}
		// The route pattern, not the path: paths carry readers' tokens.
		route := r.Pattern
		if route == "" {
			route = "(none)"
		}
		s.Log.LogAttrs(ctx, slog.LevelInfo, "request", slog.String("method", r.Method), slog.String("route", route),
			slog.Int("status", status), slog.Int64("bytes", rw.bytes), slog.Duration("duration", time.Since(start)))
	}
}

// logCtx is the context to log with for the request w answers.
func logCtx(w http.ResponseWriter) context.Context {
	if rw, ok := w.(*respWriter); ok {
		return rw.ctx
	}
	return context.Background()
}

func (s *Server) fromTrustedProxy(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	a, err := netip.ParseAddr(host)
	return err == nil && s.trusted(a.Unmap())
}

// validRequestID accepts up to 64 characters of letters, digits, '-',
// '_' and '.': what proxies generate (UUIDs, hex), nothing that could
// forge a log line.
func validRequestID(id string) bool {
	if len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
