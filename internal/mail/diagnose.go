package mail

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
)

// Causes of a failure to use the relay, as SendError.Cause names them.
// They are part of what the API reports (GET /api/v1/relay), so scripts
// may rely on them.
const (
	CauseCertificate   = "certificate"     // the relay's certificate could not be verified
	CauseTLS           = "tls"             // the TLS handshake failed otherwise
	CauseTLSNotOffered = "tls_not_offered" // tls=starttls, but the relay offers no STARTTLS
	CauseAuth          = "authentication"  // credentials refused, or AUTH impossible as configured
	CauseRefused       = "refused"         // nothing listens at host:port
	CauseTimeout       = "timeout"         // no answer in time
	CauseDNS           = "dns"             // the host name does not resolve
	CauseUnreachable   = "unreachable"     // no route, network down
	CauseRejected      = "rejected"        // the relay refused the connection or our EHLO
	CauseProtocol      = "protocol"        // the relay answered something that is not SMTP
	CauseConnection    = "connection"      // the connection broke
)

// diagnose fills in e.Cause and e.Fix for a failure to set up a connection
// to the relay cfg describes, from what failed and how. The fix names the
// setting of HERALD_SMTP_URL that would change the outcome, when one
// would.
func diagnose(e *SendError, cfg *SMTPConfig) {
	if e == nil || e.Cause != "" {
		return
	}
	e.Cause, e.Fix = classify(e, cfg)
}

func classify(e *SendError, cfg *SMTPConfig) (cause, fix string) {
	err := e.Err
	addr := cfg.Name()
	var (
		unknownCA x509.UnknownAuthorityError
		hostErr   x509.HostnameError
		invalid   x509.CertificateInvalidError
		verr      *tls.CertificateVerificationError
		dnsErr    *net.DNSError
		recErr    tls.RecordHeaderError
	)
	switch {
	case errors.As(err, &hostErr):
		names := "none"
		if c := hostErr.Certificate; c != nil {
			ns := append([]string{}, c.DNSNames...)
			for _, ip := range c.IPAddresses {
				ns = append(ns, ip.String())
			}
			if len(ns) == 0 && c.Subject.CommonName != "" {
				ns = append(ns, c.Subject.CommonName)
			}
			if len(ns) > 0 {
				names = strings.Join(ns, ", ")
			}
		}
		return CauseCertificate, fmt.Sprintf("the relay's certificate is not valid for %q, which HERALD_SMTP_URL names (it is for: %s): "+
			"put a name the certificate carries in HERALD_SMTP_URL (with tls_ca=/path/to/cert.pem if it is self-signed), "+
			"or add tls_skip_verify=true to encrypt without verifying", cfg.Host, names)
	case errors.As(err, &unknownCA):
		return CauseCertificate, "the relay's certificate is signed by an authority this machine does not trust (a self-signed certificate, such as Debian's Postfix default): " +
			"add tls_ca=/path/to/cert.pem (the relay's certificate or its CA, e.g. /etc/ssl/certs/ssl-cert-snakeoil.pem for Debian's Postfix on this host) to HERALD_SMTP_URL, " +
			"or tls_skip_verify=true to encrypt without verifying"
	case errors.As(err, &invalid):
		what := "is not valid"
		if invalid.Reason == x509.Expired {
			what = "has expired or is not yet valid"
		}
		return CauseCertificate, "the relay's certificate " + what + " (" + invalid.Error() + "): renew it on the relay, " +
			"or add tls_skip_verify=true to HERALD_SMTP_URL to encrypt without verifying"
	case errors.As(err, &verr):
		return CauseCertificate, "the relay's certificate could not be verified: add tls_ca=/path/to/cert.pem to HERALD_SMTP_URL, or tls_skip_verify=true"
	case errors.As(err, &recErr) || (e.Command == "TLS" && err != nil && strings.Contains(err.Error(), "first record does not look like a TLS handshake")):
		return CauseTLS, "the relay at " + addr + " does not speak TLS from the first byte: use smtp:// (STARTTLS, usually port 587 or 25) instead of smtps:// or tls=implicit"
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		hint := "check the host and port in HERALD_SMTP_URL and that no firewall drops the connection"
		if cfg.ImplicitTLS && e.Command == "TLS" || e.Command == "greeting" && cfg.ImplicitTLS {
			hint = "the relay may not speak TLS from the first byte on this port: try smtp:// (STARTTLS) instead of smtps://, or " + hint
		} else if e.Command == "greeting" {
			hint = "the relay may expect TLS from the first byte on this port (usually 465): try smtps:// or tls=implicit, or " + hint
		}
		return CauseTimeout, "the relay at " + addr + " did not answer in time (" + e.Command + "): " + hint
	case errors.Is(err, syscall.ECONNREFUSED):
		return CauseRefused, "nothing accepts connections at " + addr + ": check the host and port in HERALD_SMTP_URL (587 for submission, 465 for smtps://, 25 for a local relay) and that the relay runs"
	case errors.As(err, &dnsErr):
		return CauseDNS, "the host name " + cfg.Host + " does not resolve (" + dnsErr.Err + "): check the host in HERALD_SMTP_URL"
	case errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH):
		return CauseUnreachable, "no route to " + addr + ": check the host in HERALD_SMTP_URL and this machine's network"
	case e.Command == "TLS":
		return CauseTLS, "the TLS handshake with " + addr + " failed: check the tls mode in HERALD_SMTP_URL (tls=starttls, tls=implicit, tls=none); " +
			"tls_skip_verify=true does not help with a failed handshake, only with an untrusted certificate"
	case e.Command == "AUTH":
		switch {
		case strings.Contains(e.Message, "unencrypted"):
			return CauseAuth, "the relay offers no TLS, and Herald does not send a password in clear over the network: enable STARTTLS on the relay, or use smtps://"
		case strings.Contains(e.Message, "offers no AUTH"):
			return CauseAuth, "the relay does not ask for credentials (it may relay by client address, e.g. Postfix's mynetworks): remove user:password@ from HERALD_SMTP_URL, or enable SMTP AUTH on the relay"
		case strings.Contains(e.Message, "neither AUTH PLAIN nor LOGIN"):
			return CauseAuth, "enable AUTH PLAIN or LOGIN on the relay (Herald supports those two)"
		case e.Code == 0 && err != nil:
			return CauseConnection, "the connection broke during authentication: check the relay's log"
		}
		return CauseAuth, "the relay refused the user name or password: check user:password@ in HERALD_SMTP_URL (URL-encode special characters, e.g. @ as %40)"
	case e.Command == "greeting" && e.Code != 0:
		return CauseRejected, "the relay refuses connections from this host: allow Herald's address on the relay (Postfix: mynetworks or smtpd_client_restrictions)"
	case (e.Command == "EHLO" || e.Command == "HELO") && e.Code != 0:
		return CauseRejected, "the relay refused the EHLO name: set helo=NAME in HERALD_SMTP_URL to this host's full domain name"
	case e.Command == "EHLO" && err == nil:
		return CauseRejected, "set helo=NAME in HERALD_SMTP_URL to this host's full domain name"
	case e.Command == "STARTTLS" && e.Code != 0:
		return CauseTLS, "the relay refused STARTTLS: fix TLS on the relay (its certificate and key), or use tls=none for a relay on this host or a network you trust"
	case err != nil && strings.Contains(err.Error(), "malformed reply"):
		return CauseProtocol, "what answers at " + addr + " does not speak SMTP as expected: check the port in HERALD_SMTP_URL, and smtp:// versus smtps://"
	case e.Code == 421:
		return CauseRejected, "the relay is closing connections (421): it may be overloaded or shutting down; Herald retries"
	}
	return CauseConnection, "the connection to " + addr + " failed: check that the relay runs and its log"
}

// Diagnosis returns the cause and fix of err when it is a failure to set up
// a connection to the relay, and "" otherwise.
func Diagnosis(err error) (cause, fix string) {
	var se *SendError
	if errors.As(err, &se) {
		return se.Cause, se.Fix
	}
	return "", ""
}

// errNoSMTPUTF8 is the failure of a message to an internationalised
// address (RFC 6531) through a relay that does not offer SMTPUTF8. It is
// permanent for this relay: retrying cannot help, and the reader's
// address is not rewritten behind their back.
func errNoSMTPUTF8() *SendError {
	return &SendError{Command: "MAIL", Code: 553, EnhancedCode: "5.6.7",
		Message: "not sent: the address is internationalised (non-ASCII, RFC 6531) and the relay does not offer SMTPUTF8; use a relay that supports SMTPUTF8 (Postfix: smtputf8_enable = yes)"}
}
