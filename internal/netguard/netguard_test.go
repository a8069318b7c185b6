package netguard

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestCheck(t *testing.T) {
	g := New([]netip.Prefix{netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("fd00:1::/32")})
	for _, c := range []struct {
		addr string
		ok   bool
	}{
		{"93.184.215.14", true}, {"8.8.8.8", true}, {"2606:4700::1111", true},
		{"127.0.0.1", false}, {"127.1.2.3", false}, {"::1", false},
		{"10.0.0.1", false}, {"172.16.5.4", false}, {"172.31.255.255", false}, {"192.168.1.1", false},
		{"169.254.169.254", false}, {"fe80::1", false}, {"fe80::1%eth0", false},
		{"100.64.0.1", false}, {"100.127.255.254", false},
		{"0.0.0.0", false}, {"::", false}, {"224.0.0.1", false}, {"ff02::1", false}, {"255.255.255.255", false},
		{"fd12:3456::1", false}, {"fc00::1", false},
		{"::ffff:127.0.0.1", false}, {"::ffff:169.254.169.254", false}, {"::ffff:8.8.8.8", true},
		{"64:ff9b::7f00:1", false}, {"64:ff9b::808:808", true}, {"2002:7f00:1::", false}, {"2002:808:808::", true},
		{"::127.0.0.1", false}, {"2001:db8::1", false}, {"198.18.0.1", false}, {"192.0.2.1", false},
		// Allowed explicitly.
		{"10.1.2.3", true}, {"::ffff:10.1.2.3", true}, {"fd00:1::5", true},
		{"172.15.255.255", true}, {"172.32.0.0", true}, {"100.128.0.0", true},
	} {
		err := g.Check(netip.MustParseAddr(c.addr))
		if (err == nil) != c.ok {
			t.Errorf("%s: %v, want ok=%v", c.addr, err, c.ok)
		}
		if err != nil && (!errors.Is(err, ErrBlocked) || !strings.Contains(err.Error(), Setting)) {
			t.Errorf("%s: error %q does not name %s", c.addr, err, Setting)
		}
	}
}

// The check is made when connecting, on the resolved address: a URL with a
// host name, and every redirect, is checked as it is dialled.
func TestClientRefusesAtConnectTime(t *testing.T) {
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		if r.URL.Path == "/redirect" {
			// 127.0.0.2 is loopback too, but outside the allowance below.
			http.Redirect(w, r, "http://127.0.0.2:"+strings.Split(r.Host, ":")[1]+"/", http.StatusFound)
			return
		}
		io.WriteString(w, "secret admin page")
	}))
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	get := func(g *Guard, url string) (string, error) {
		resp, err := g.Client(5*time.Second, 0).Get(url)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}

	closed := New(nil)
	for _, u := range []string{srv.URL, "http://localhost:" + port + "/", "http://[::ffff:127.0.0.1]:" + port + "/"} {
		_, err := get(closed, u)
		var be *BlockedError
		if !errors.As(err, &be) || !strings.Contains(err.Error(), "loopback") {
			t.Errorf("%s without allowance: %v, want a refusal naming loopback", u, err)
		}
	}
	if hits != 0 {
		t.Fatalf("the server was reached %d times", hits)
	}

	open := New([]netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")})
	if body, err := get(open, srv.URL); err != nil || body != "secret admin page" {
		t.Fatalf("allowed: %q, %v", body, err)
	}
	_, err := get(open, srv.URL+"/redirect")
	if !errors.Is(err, ErrBlocked) || !strings.Contains(err.Error(), "127.0.0.2") {
		t.Fatalf("redirect to a loopback address outside the allowance: %v", err)
	}
}

func TestAllowedOnly(t *testing.T) {
	g := New([]netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}).AllowedOnly()
	for addr, ok := range map[string]bool{"127.0.0.1": true, "127.0.0.2": false, "8.8.8.8": false, "10.0.0.1": false} {
		if err := g.Check(netip.MustParseAddr(addr)); (err == nil) != ok {
			t.Errorf("%s: %v, want ok=%v", addr, err, ok)
		}
	}
	if err := New(nil).AllowedOnly().Check(netip.MustParseAddr("8.8.8.8")); err == nil {
		t.Error("no allowance: a public address passed")
	}
}

func TestHostAllowed(t *testing.T) {
	g := New([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")})
	ctx := context.Background()
	for host, want := range map[string]bool{"127.0.0.1": true, "[::1]": true, "localhost": true, "10.0.0.1": false, "8.8.8.8": false} {
		if got, err := g.HostAllowed(ctx, host); got != want {
			t.Errorf("HostAllowed(%q) = %v (%v), want %v", host, got, err, want)
		}
	}
	if ok, _ := New(nil).HostAllowed(ctx, "localhost"); ok {
		t.Error("no allowance: localhost allowed")
	}
}
