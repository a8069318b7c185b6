package web

// API token authentication (with its throttle of failed attempts per
// client IP) and the token routes: GET /tokens, DELETE /tokens/{id}.

import (
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/sqlstore"
)

// authThrottle is a token bucket of failed authentications per client IP:
// each failure takes a token; with none left, the address gets 429 until
// the bucket refills. Successes take nothing, so a working client is never
// slowed by it. Idle addresses are forgotten so memory stays bounded.
type authThrottle struct {
	rate    config.Rate
	mu      sync.Mutex
	clients map[string]*authClient
	swept   time.Time
}

type authClient struct {
	bucket
	refused  int       // requests refused since the last log line
	loggedAt time.Time // when refusals were last logged
}

func newAuthThrottle(r config.Rate) *authThrottle {
	return &authThrottle{rate: r, clients: map[string]*authClient{}}
}

func (a *authThrottle) perToken() time.Duration { return a.rate.Per / time.Duration(a.rate.N) }

// client returns ip's bucket, refilled up to now; a.mu is held.
func (a *authThrottle) client(ip string, now time.Time) *authClient {
	if now.Sub(a.swept) > a.rate.Per {
		for k, c := range a.clients {
			if now.Sub(c.last) > a.rate.Per && c.refused == 0 {
				delete(a.clients, k)
			}
		}
		a.swept = now
	}
	c, ok := a.clients[ip]
	if !ok {
		c = &authClient{bucket: bucket{tokens: float64(a.rate.N), last: now}}
		a.clients[ip] = c
	}
	c.tokens = min(float64(a.rate.N), c.tokens+float64(now.Sub(c.last))/float64(a.perToken()))
	c.last = now
	return c
}

// check says whether ip may try to authenticate now; if not, how long it
// must wait, and — at most once a minute per address — the number of
// requests refused since it was last reported, for the log.
func (a *authThrottle) check(ip string, now time.Time) (ok bool, wait time.Duration, report int) {
	if a.rate.N == 0 {
		return true, 0, 0
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.client(ip, now)
	if c.tokens >= 1 {
		return true, 0, 0
	}
	c.refused++
	if now.Sub(c.loggedAt) >= time.Minute {
		report, c.refused, c.loggedAt = c.refused, 0, now
	}
	return false, time.Duration((1 - c.tokens) * float64(a.perToken())), report
}

// fail records a failed authentication from ip and returns the attempts
// it has left before it is throttled.
func (a *authThrottle) fail(ip string, now time.Time) int {
	if a.rate.N == 0 {
		return -1
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.client(ip, now)
	c.tokens = max(0, c.tokens-1)
	return int(c.tokens)
}

// authenticate checks the request's Bearer token. Failures are logged
// (with the client's address, never the token) and counted per address;
// an address over HERALD_AUTH_FAIL_LIMIT gets ERATELIMIT, with the wait,
// before its token is even looked at.
func (s *Server) authenticate(r *http.Request) (*sqlstore.APIToken, time.Duration, error) {
	ip := clientIP(r)
	key := throttleKey(ip)
	ok, wait, refused := s.authFails.check(key, time.Now())
	if refused > 0 {
		s.Log.Warn("API authentication throttled", "ip", key, "refused", refused, "retry_after", wait.Round(time.Second).String())
	}
	if !ok {
		secs := int(wait.Seconds()) + 1
		return nil, time.Duration(secs) * time.Second, herald.Errorf(herald.ERATELIMIT,
			"Too many failed authentication attempts from your address: try again in %d seconds.", secs)
	}
	scheme, tok, found := strings.Cut(r.Header.Get("Authorization"), " ")
	if !found || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return nil, 0, herald.Errorf(herald.EUNAUTHORIZED, "Send an API token: Authorization: Bearer <token> (create one with `herald token create NAME`).")
	}
	t, err := s.DB.UseAPIToken(r.Context(), strings.TrimSpace(tok))
	if herald.ErrorCode(err) == herald.EUNAUTHORIZED {
		left := s.authFails.fail(key, time.Now())
		s.Log.Warn("API authentication failed: unknown or revoked token", "ip", ip, "method", r.Method, "path", r.URL.Path,
			"user_agent", r.UserAgent(), "attempts_left", left)
	}
	return t, 0, err
}

// authAPI requires a valid Bearer token.
func (s *Server) authAPI(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, wait, err := s.authenticate(r)
		if err != nil {
			scheme, _, _ := strings.Cut(r.Header.Get("Authorization"), " ")
			switch {
			case wait > 0:
				w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())))
			case !strings.EqualFold(scheme, "Bearer"):
				w.Header().Set("WWW-Authenticate", `Bearer realm="herald"`)
			default:
				w.Header().Set("WWW-Authenticate", `Bearer realm="herald", error="invalid_token"`)
			}
			s.error(w, r, err)
			return
		}
		next(w, r)
	})
}

func (s *Server) apiListTokens(w http.ResponseWriter, r *http.Request) error {
	tokens, err := s.DB.ListAPITokens(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, page{Data: tokens, Total: len(tokens), Limit: len(tokens)})
	return nil
}

func (s *Server) apiRevokeToken(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	t, err := s.DB.RevokeAPIToken(r.Context(), id)
	if err != nil {
		return err
	}
	s.Log.Info("API token revoked", "id", t.ID, "name", t.Name, "ip", clientIP(r))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// throttleKey is the address failures are counted against: an IPv4
// address, or the /64 network of an IPv6 one (one subscriber line usually
// holds a whole /64, so counting single IPv6 addresses would not throttle).
func throttleKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil || a.Is4() || a.Is4In6() {
		return ip
	}
	return netip.PrefixFrom(a, 64).Masked().String()
}
