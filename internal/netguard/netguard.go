// Package netguard is the one HTTP client Herald uses for requests that
// leave the process to addresses that users or remote data choose — the
// Mailchimp API, and later feeds and outgoing webhooks — so that such a
// request cannot be pointed at Herald's own machine or network (server-side
// request forgery): the admin port on loopback, a database on a private
// address, a cloud provider's metadata service on a link-local one.
//
// The check runs in the dialer's Control hook, on the address actually
// being connected to, after DNS resolution. So it holds for every
// redirect the client follows and against DNS rebinding (a name that
// resolves to a public address when checked and to 127.0.0.1 when used):
// there is no window between check and use. Proxies from the environment
// are not used, since the guard would then see only the proxy's address.
//
// Refused unless inside an allowed prefix (HERALD_FETCH_ALLOW): loopback,
// private (RFC 1918, IPv6 ULA), link-local, shared address space (CGNAT),
// unspecified, multicast, broadcast, documentation, benchmarking and other
// special-purpose ranges (IANA's registries), and IPv6 forms that embed an
// IPv4 address (mapped, NAT64, 6to4), which are judged by that address.
package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"time"
)

// Setting is the configuration that allows internal addresses; errors name
// it so that an operator knows what to change.
const Setting = "HERALD_FETCH_ALLOW"

// blocked are the special-purpose ranges an outbound request may not reach,
// each with the words an error uses for it.
var blocked = []struct {
	prefix netip.Prefix
	what   string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "an unspecified (\"this network\") address"},
	{netip.MustParsePrefix("10.0.0.0/8"), "a private address"},
	{netip.MustParsePrefix("100.64.0.0/10"), "a shared (carrier-grade NAT) address"},
	{netip.MustParsePrefix("127.0.0.0/8"), "a loopback address"},
	{netip.MustParsePrefix("169.254.0.0/16"), "a link-local address"},
	{netip.MustParsePrefix("172.16.0.0/12"), "a private address"},
	{netip.MustParsePrefix("192.0.0.0/24"), "a special-purpose address"},
	{netip.MustParsePrefix("192.0.2.0/24"), "a documentation address"},
	{netip.MustParsePrefix("192.88.99.0/24"), "a special-purpose address"},
	{netip.MustParsePrefix("192.168.0.0/16"), "a private address"},
	{netip.MustParsePrefix("198.18.0.0/15"), "a benchmarking address"},
	{netip.MustParsePrefix("198.51.100.0/24"), "a documentation address"},
	{netip.MustParsePrefix("203.0.113.0/24"), "a documentation address"},
	{netip.MustParsePrefix("224.0.0.0/4"), "a multicast address"},
	{netip.MustParsePrefix("240.0.0.0/4"), "a reserved address"}, // and 255.255.255.255, broadcast
	{netip.MustParsePrefix("::/128"), "an unspecified address"},
	{netip.MustParsePrefix("::1/128"), "a loopback address"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "a special-purpose address"},
	{netip.MustParsePrefix("100::/64"), "a discard address"},
	{netip.MustParsePrefix("2001::/23"), "a special-purpose address"}, // Teredo, ORCHID, benchmarking, …
	{netip.MustParsePrefix("2001:db8::/32"), "a documentation address"},
	{netip.MustParsePrefix("3fff::/20"), "a documentation address"},
	{netip.MustParsePrefix("5f00::/16"), "a special-purpose address"},
	{netip.MustParsePrefix("fc00::/7"), "a private (unique local) address"},
	{netip.MustParsePrefix("fe80::/10"), "a link-local address"},
	{netip.MustParsePrefix("fec0::/10"), "a site-local address"},
	{netip.MustParsePrefix("ff00::/8"), "a multicast address"},
}

var (
	nat64   = netip.MustParsePrefix("64:ff9b::/96")
	sixTo4  = netip.MustParsePrefix("2002::/16")
	compat4 = netip.MustParsePrefix("::/96") // deprecated IPv4-compatible
)

// BlockedError says which address was refused and why.
type BlockedError struct {
	Addr netip.Addr
	What string // "a loopback address", …
}

func (e *BlockedError) Error() string {
	return fmt.Sprintf("refusing to connect to %s: it is %s (add it to %s to allow it)", e.Addr, e.What, Setting)
}

// ErrBlocked matches every *BlockedError with errors.Is.
var ErrBlocked = errors.New("netguard: address not allowed")

// Is makes errors.Is(err, ErrBlocked) true for a *BlockedError.
func (e *BlockedError) Is(target error) bool { return target == ErrBlocked }

// Guard decides which addresses outbound requests may reach.
type Guard struct {
	allow []netip.Prefix
	// only: nothing but the allowed prefixes, public addresses included
	// (AllowedOnly).
	only bool
}

// New returns a guard that lets requests reach the internal addresses
// inside allow (HERALD_FETCH_ALLOW), and every public address.
func New(allow []netip.Prefix) *Guard {
	g := &Guard{}
	for _, p := range allow {
		g.allow = append(g.allow, p.Masked())
	}
	return g
}

// AllowedOnly returns a guard that lets requests reach the allowed
// prefixes and nothing else: for a destination trusted only because the
// operator allowed it (HostAllowed), so that a name that later resolves
// elsewhere — DNS rebinding towards a public address — is refused too.
func (g *Guard) AllowedOnly() *Guard {
	o := &Guard{only: true}
	if g != nil {
		o.allow = g.allow
	}
	return o
}

// Allowed reports whether a is inside one of the allowed prefixes (not
// whether it is public).
func (g *Guard) Allowed(a netip.Addr) bool {
	if g == nil {
		return false
	}
	a = a.Unmap().WithZone("")
	for _, p := range g.allow {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Check returns a *BlockedError when a may not be reached.
func (g *Guard) Check(a netip.Addr) error {
	if !a.IsValid() {
		return &BlockedError{Addr: a, What: "not an IP address"}
	}
	a = a.WithZone("")
	if g.Allowed(a) {
		return nil
	}
	if g != nil && g.only {
		return &BlockedError{Addr: a, What: "outside the allowed networks"}
	}
	if what := special(a); what != "" {
		return &BlockedError{Addr: a, What: what}
	}
	return nil
}

// special names the special-purpose range a is in, or "" for a public
// address. IPv6 forms that carry an IPv4 address are judged by it.
func special(a netip.Addr) string {
	a = a.Unmap()
	if a.Is6() {
		b := a.As16()
		var v4 netip.Addr
		switch {
		case nat64.Contains(a), compat4.Contains(a) && !a.IsUnspecified() && a != netip.IPv6Loopback():
			v4 = netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
		case sixTo4.Contains(a):
			v4 = netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]})
		}
		if v4.IsValid() {
			if w := special(v4); w != "" {
				return w + " (inside an IPv6 address)"
			}
			return ""
		}
	}
	for _, b := range blocked {
		if b.prefix.Contains(a) {
			return b.what
		}
	}
	return ""
}

// control is the dialer's hook: it runs for each address the dialer tries,
// just before connecting.
func (g *Guard) control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("netguard: cannot check the address %q", address)
	}
	return g.Check(ap.Addr())
}

// Dialer returns a dialer that refuses addresses the guard does not allow.
func (g *Guard) Dialer() *net.Dialer {
	return &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Control: g.control}
}

// Transport returns an HTTP transport that dials through Dialer and uses
// no proxy. maxConnsPerHost bounds connections per host (0 = no bound).
func (g *Guard) Transport(maxConnsPerHost int) *http.Transport {
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           g.Dialer().DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxConnsPerHost:       maxConnsPerHost,
		MaxIdleConnsPerHost:   max(maxConnsPerHost, 2),
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// Client returns an HTTP client through Transport that follows at most 5
// redirects (each one checked again when it connects) and never forwards
// credentials to another host (net/http drops Authorization on a redirect
// to another domain).
func (g *Guard) Client(timeout time.Duration, maxConnsPerHost int) *http.Client {
	return &http.Client{
		Transport: g.Transport(maxConnsPerHost),
		Timeout:   timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errors.New("netguard: stopped after 5 redirects")
			}
			if req.URL.User != nil {
				return errors.New("netguard: refusing a redirect to a URL with credentials")
			}
			return nil
		},
	}
}

// HostAllowed reports whether every address host resolves to (or host
// itself, when it is an IP address) is inside the allowed prefixes. Callers
// use it for destinations that are trusted only when the operator allowed
// them explicitly, such as an API base URL other than the service's own.
func (g *Guard) HostAllowed(ctx context.Context, host string) (bool, error) {
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if a, err := netip.ParseAddr(host); err == nil {
		return g.Allowed(a), nil
	}
	if g == nil || len(g.allow) == 0 {
		return false, nil
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return false, err
	}
	if len(addrs) == 0 {
		return false, nil
	}
	for _, a := range addrs {
		if !g.Allowed(a) {
			return false, nil
		}
	}
	return true, nil
}
