package web_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/sqlstore/storetest"
	"github.com/heraldhq/herald/internal/token"
	"github.com/heraldhq/herald/internal/web"
)

// lockedBuffer collects log lines written from handler goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestAuthFailuresThrottled: 2,000 wrong tokens in a row from one address
// are not 2,000 silent 401s: after the allowance they get 429 with
// Retry-After, even with a valid token, while other addresses and their
// tokens work; failures are logged with the address and never the token.
func TestAuthFailuresThrottled(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t, storetest.URLs(t)["sqlite"])
	cfg, _, err := config.Load("serve", []string{"--auth-fail-limit", "5/hour", "--trusted-proxies", "127.0.0.1/32"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var logs lockedBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	srv := httptest.NewServer(web.New(db, cfg, token.NewSigner([]byte("test secret, at least 32 bytes long")), log, services(db, cfg, log)))
	defer srv.Close()
	good, err := db.CreateAPIToken(ctx, "good")
	if err != nil {
		t.Fatal(err)
	}
	call := func(ip, tok string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+"/api/v1/lists", nil)
		req.Header.Set("X-Forwarded-For", ip)
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}

	start := time.Now()
	const attacker = "203.0.113.7"
	counts := map[int]int{}
	var retry string
	for i := range 2000 {
		res := call(attacker, "hrld_guess"+strconv.Itoa(i))
		counts[res.StatusCode]++
		if res.StatusCode == 429 {
			retry = res.Header.Get("Retry-After")
		}
	}
	// 5 an hour: the first 5 are checked, then one more per 12 minutes
	// elapsed (none, unless the machine stalls).
	allowed := 5 + int(time.Since(start)/(12*time.Minute)) + 1
	if counts[401] < 5 || counts[401] > allowed || counts[429] != 2000-counts[401] {
		t.Fatalf("2,000 wrong tokens: %v, want at most %d × 401 and the rest 429", counts, allowed)
	}
	if n, err := strconv.Atoi(retry); err != nil || n < 1 || n > 720 {
		t.Errorf("Retry-After %q, want 1–720 seconds", retry)
	}
	if res := call(attacker, good); res.StatusCode != 429 {
		t.Errorf("a valid token from the throttled address: %d, want 429", res.StatusCode)
	}
	if res := call("198.51.100.9", good); res.StatusCode != 200 {
		t.Errorf("a valid token from another address: %d, want 200", res.StatusCode)
	}
	if res := call("198.51.100.9", "hrld_wrong"); res.StatusCode != 401 {
		t.Errorf("a wrong token from another address: %d, want 401", res.StatusCode)
	}
	// IPv6: the addresses of one /64 share one allowance.
	for i := range 5 {
		if res := call("2001:db8:1:2::"+strconv.Itoa(i+1), "hrld_wrong"); res.StatusCode != 401 {
			t.Fatalf("wrong token %d from 2001:db8:1:2::/64: %d, want 401", i+1, res.StatusCode)
		}
	}
	if res := call("2001:db8:1:2:ffff::9", "hrld_wrong"); res.StatusCode != 429 {
		t.Errorf("a sixth wrong token from another address of the same /64: %d, want 429", res.StatusCode)
	}
	if res := call("2001:db8:1:3::1", good); res.StatusCode != 200 {
		t.Errorf("a valid token from the next /64: %d, want 200", res.StatusCode)
	}

	out := logs.String()
	if !strings.Contains(out, "API authentication failed") || !strings.Contains(out, "ip="+attacker) {
		t.Errorf("failures not logged with the address:\n%s", out)
	}
	if !strings.Contains(out, "API authentication throttled") {
		t.Errorf("throttling not logged:\n%s", out)
	}
	if strings.Contains(out, "hrld_") || strings.Contains(out, good) {
		t.Errorf("a token appears in the log:\n%s", out)
	}
	if lines := strings.Count(out, "\n") - strings.Count(out, "msg=request "); lines > 20 { // beside the access line of each request
		t.Errorf("%d log lines for one address's attempts: the log must stay readable", lines)
	}
}
