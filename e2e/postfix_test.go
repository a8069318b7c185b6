package e2e_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/apptest"
	"github.com/heraldhq/herald/internal/logging"
)

// Debian's Postfix, as a new operator meets it: its default certificate
// (the ssl-cert package's "snakeoil") is self-signed.
const (
	postfixCmd  = "/usr/sbin/postfix"
	snakeoilPEM = "/etc/ssl/certs/ssl-cert-snakeoil.pem"
	snakeoilKey = "/etc/ssl/private/ssl-cert-snakeoil.key"
)

// postfix is a private Postfix instance: its own configuration and queue
// in a temporary directory, smtpd with STARTTLS on a loopback port, and
// everything relayed to another SMTP server.
type postfix struct {
	Host string // a name the snakeoil certificate carries, resolving to where smtpd listens
	IP   string // where smtpd listens
	Port int
	dir  string
	out  *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
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

// needPostfix skips the test when Postfix cannot run here, or fails it
// under CI (whose .ci/run installs it).
func needPostfix(t *testing.T) {
	t.Helper()
	var missing []string
	for _, f := range []string{postfixCmd, snakeoilPEM, snakeoilKey} {
		if _, err := os.Stat(f); err != nil {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 || os.Geteuid() != 0 {
		msg := fmt.Sprintf("Debian's postfix (and ssl-cert), run as root, are needed: missing %v, uid %d", missing, os.Geteuid())
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	if _, err := user.Lookup("postfix"); err != nil {
		t.Fatalf("postfix is installed but its user is missing: %v", err)
	}
}

// snakeoilHost returns a name in the snakeoil certificate that resolves
// to an address of this machine, and that address: Debian makes the
// certificate for the host's name (`hostname -f`) or localhost.
func snakeoilHost(t *testing.T) (name string, ip net.IP) {
	t.Helper()
	b, err := os.ReadFile(snakeoilPEM)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s holds no PEM block", snakeoilPEM)
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	names := append([]string{}, cert.DNSNames...)
	names = append(names, cert.Subject.CommonName)
	for _, n := range names {
		ips, err := net.LookupIP(n)
		if err != nil {
			continue
		}
		for _, a := range ips {
			if a.To4() == nil {
				continue
			}
			// Only an address this machine has: try listening on it.
			if l, err := net.Listen("tcp", net.JoinHostPort(a.String(), "0")); err == nil {
				l.Close()
				return n, a
			}
		}
	}
	t.Skipf("no name in %s (%v) resolves to an address of this machine; tls_ca cannot be verified against it", snakeoilPEM, names)
	return "", nil
}

func freePort(t *testing.T, ip string) int {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startPostfix runs a private Postfix that relays everything to relayTo
// (host:port) until the test ends.
func startPostfix(t *testing.T, relayTo string) *postfix {
	t.Helper()
	needPostfix(t)
	host, ip := snakeoilHost(t)
	dir := t.TempDir()
	// Postfix's daemons run as the postfix user: they must reach the
	// directory.
	for d := dir; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"queue", "data"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	pu, _ := user.Lookup("postfix")
	uid, _ := strconv.Atoi(pu.Uid)
	gid, _ := strconv.Atoi(pu.Gid)
	if err := os.Chown(filepath.Join(dir, "data"), uid, gid); err != nil {
		t.Fatal(err)
	}
	p := &postfix{Host: host, IP: ip.String(), Port: freePort(t, ip.String()), dir: dir, out: &lockedBuffer{}}
	mainCf := fmt.Sprintf(`compatibility_level = 3.6
queue_directory = %[1]s/queue
data_directory = %[1]s/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = /dev/stdout
myhostname = relay.herald.test
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
inet_interfaces = %[2]s
inet_protocols = ipv4
mynetworks = 127.0.0.0/8 %[2]s/32
smtpd_relay_restrictions = permit_mynetworks, reject
relayhost = [%[3]s]:%[4]s
smtp_tls_security_level = none
smtpd_tls_cert_file = %[5]s
smtpd_tls_key_file = %[6]s
smtpd_tls_security_level = may
smtputf8_enable = yes
`, dir, ip, strings.Split(relayTo, ":")[0], strings.Split(relayTo, ":")[1], snakeoilPEM, snakeoilKey)
	// Debian's master.cf, cut to what relaying needs, nothing chrooted.
	masterCf := fmt.Sprintf(`%s inet n - n - - smtpd
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
`, net.JoinHostPort(ip.String(), strconv.Itoa(p.Port)))
	for name, text := range map[string]string{"main.cf": mainCf, "master.cf": masterCf} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(postfixCmd, "-c", dir, "start-fg")
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = p.out, p.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		stop := exec.Command(postfixCmd, "-c", dir, "stop")
		stop.Dir = dir
		_ = stop.Run()
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		if t.Failed() {
			t.Logf("postfix's log:\n%s", p.out.String())
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", net.JoinHostPort(ip.String(), strconv.Itoa(p.Port)), time.Second)
		if err == nil {
			c.Close()
			return p
		}
		select {
		case <-exited:
			t.Fatalf("postfix exited on start:\n%s", p.out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("postfix does not listen on %d after 60 s:\n%s", p.Port, p.out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestCampaignThroughPostfix sends a campaign through Debian's Postfix
// with its default self-signed certificate: with tls_skip_verify=true and
// with tls_ca= the certificate it goes through (encrypted), and without
// either sending pauses with the real cause — the certificate — and the
// settings that fix it, through the API, instead of "unreachable".
func TestCampaignThroughPostfix(t *testing.T) {
	sink := apptest.StartSMTP(t)
	pf := startPostfix(t, sink.Addr)
	// By the name the certificate carries, and by address as operators
	// often write it (which the certificate does not name).
	byName := fmt.Sprintf("smtp://%s:%d", pf.Host, pf.Port)
	byIP := fmt.Sprintf("smtp://%s:%d", pf.IP, pf.Port)
	otherCA := filepath.Join(t.TempDir(), "other-ca.pem")
	writeThrowawayCert(t, otherCA)
	tests := []struct {
		name      string
		url       string
		wantOK    bool
		wantInFix []string
	}{
		{name: "tls_skip_verify", url: byIP + "?tls_skip_verify=true", wantOK: true},
		{name: "tls_ca", url: byName + "?tls=starttls&tls_ca=" + snakeoilPEM, wantOK: true},
		{name: "default", url: byIP, wantInFix: []string{"tls_skip_verify=true", pf.Host}},
		{name: "tls=starttls", url: byIP + "?tls=starttls", wantInFix: []string{"tls_skip_verify=true", "tls_ca="}},
		{name: "tls_ca of another CA", url: byName + "?tls_ca=" + otherCA, wantInFix: []string{"tls_ca=", "tls_skip_verify=true"}},
	}
	for n, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &lockedBuffer{}
			in := apptest.Start(t, apptest.Options{Log: logging.New(logs, "text", slog.LevelWarn),
				Args: []string{"--smtp-url", tt.url, "--from", "The Daily Planet <news@planet.example>"}})
			in.MustAPI(t, 201, "POST", "/lists", map[string]any{"slug": "daily", "name": "The Daily Briefing"}, nil)
			var rcpts []string
			for i := range 5 {
				r := fmt.Sprintf("case%d-%d@readers.example", n, i)
				addConfirmed(t, in, r, "", "daily")
				rcpts = append(rcpts, r)
			}
			var c campaignView
			in.MustAPI(t, 201, "POST", "/campaigns", map[string]any{"name": "Through Postfix", "subject": "Hello from Postfix",
				"lists": []string{"daily"}, "body": "The news, relayed.\n"}, &c)
			in.MustAPI(t, 200, "POST", fmt.Sprintf("/campaigns/%d/start", c.ID), nil, &c)
			var st struct {
				Transport string
				Paused    bool
				Reason    *struct{ Cause, Message, Fix string }
				Active    string
				Relays    []struct {
					URL, State string
					Active     bool
				}
			}
			if tt.wantOK {
				c = waitCampaign(t, in, c.ID, "finished", 60*time.Second)
				if c.Stats.Sent != 5 || c.Stats.Failed != 0 {
					t.Fatalf("stats %+v", c.Stats)
				}
				// Postfix queued them: they arrive at the sink behind it.
				apptest.Eventually(t, "Postfix relays the campaign to the sink", func() bool {
					for _, r := range rcpts {
						if len(sink.To(r)) != 1 {
							return false
						}
					}
					return true
				})
				if got := sink.To(rcpts[0])[0]; got.Header("Subject") != "Hello from Postfix" || !strings.Contains(string(got.Raw), "ESMTPS") {
					t.Errorf("the message as relayed (want Postfix's Received header saying ESMTPS, i.e. TLS):\n%s", got.Raw)
				}
				in.MustAPI(t, 200, "GET", "/relay", nil, &st)
				if st.Transport != "smtp" || st.Paused || len(st.Relays) != 1 || st.Relays[0].State != "ok" || st.Active != strings.Split(tt.url, "?")[0] {
					t.Errorf("relay status %+v", st)
				}
				return
			}
			apptest.Eventually(t, "sending paused with the certificate as its cause", func() bool {
				in.MustAPI(t, 200, "GET", "/relay", nil, &st)
				return st.Paused
			})
			if st.Reason == nil || st.Reason.Cause != "certificate" || !strings.Contains(st.Reason.Message, "x509") {
				t.Fatalf("reason = %+v", st.Reason)
			}
			for _, w := range tt.wantInFix {
				if !strings.Contains(st.Reason.Fix, w) {
					t.Errorf("the fix %q does not mention %q", st.Reason.Fix, w)
				}
			}
			if len(st.Relays) != 1 || st.Relays[0].State != "failing" {
				t.Errorf("relays = %+v", st.Relays)
			}
			// The log says the same: the cause and the fix, not "unreachable".
			if l := logs.String(); !strings.Contains(l, "sending paused") || !strings.Contains(l, "cause=certificate") || !strings.Contains(l, "fix=") {
				t.Errorf("log:\n%s", l)
			}
			c = getCampaign(t, in, c.ID)
			if c.Status != "running" || c.Stats.Sent != 0 || c.Stats.Failed != 0 {
				t.Errorf("campaign %+v: want it running, waiting for the relay, nobody failed", c)
			}
			for _, r := range rcpts {
				if n := len(sink.To(r)); n != 0 {
					t.Errorf("%s received %d messages", r, n)
				}
			}
		})
	}
}

// writeThrowawayCert writes a self-signed certificate that signed nothing
// Postfix holds.
func writeThrowawayCert(t *testing.T, path string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "another CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}
