package mail

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// DKIMKey is one signing key: the signature claims Domain (d=) and the
// public key is published at Selector._domainkey.Domain. Signer is an
// *rsa.PrivateKey (2048 bits recommended, 1024 at least) or an
// ed25519.PrivateKey, or any crypto.Signer with such a public key.
type DKIMKey struct {
	Domain, Selector string
	Signer           crypto.Signer
}

// DKIMSigner signs messages with one or more keys (RFC 6376, and RFC 8463
// for ed25519-sha256), relaxed/relaxed canonicalization. It is immutable
// after NewDKIMSigner and safe for concurrent use.
//
// The signer is written here rather than taken from go-msgauth: that one
// pulls in golang.org/x/crypto, runs a goroutine and a pipe per signature,
// and hashes the body once per key; relaxed canonicalization is short
// enough to own, and the tests check it against an independent verifier
// (python3-dkim).
type DKIMSigner struct {
	keys []dkimKey
	now  func() time.Time
}

type dkimKey struct {
	DKIMKey
	algo string      // "rsa-sha256" or "ed25519-sha256"
	opts crypto.Hash // what Signer.Sign wants
}

// dkimHeaders are the header fields signed when present, in h= order.
// Over-signed ones are listed once more than they occur, so that a field of
// that name added in transit (a second From, a forged List-Unsubscribe)
// breaks the signature.
var dkimHeaders = [...]struct {
	name     string
	overSign bool
}{
	{"from", true},
	{"to", false},
	{"subject", true},
	{"date", false},
	{"message-id", false},
	{"reply-to", false},
	{"mime-version", false},
	{"content-type", false},
	{"list-id", false},
	{"list-unsubscribe", true},
	{"list-unsubscribe-post", true},
}

// NewDKIMSigner returns a signer for the given keys; each message gets one
// DKIM-Signature per key, in the order given.
func NewDKIMSigner(keys ...DKIMKey) (*DKIMSigner, error) {
	if len(keys) == 0 {
		return nil, errors.New("dkim: no keys")
	}
	s := &DKIMSigner{now: time.Now}
	for _, k := range keys {
		if err := checkDKIMName(k.Domain, "domain"); err != nil {
			return nil, err
		}
		if err := checkDKIMName(k.Selector, "selector"); err != nil {
			return nil, err
		}
		if k.Signer == nil {
			return nil, fmt.Errorf("dkim: no signer for %s._domainkey.%s", k.Selector, k.Domain)
		}
		dk := dkimKey{DKIMKey: k}
		switch pub := k.Signer.Public().(type) {
		case *rsa.PublicKey:
			if pub.N.BitLen() < 1024 {
				return nil, fmt.Errorf("dkim: %d-bit RSA key for %s is too short (RFC 8301 requires 1024, use 2048)", pub.N.BitLen(), k.Domain)
			}
			dk.algo, dk.opts = "rsa-sha256", crypto.SHA256
		case ed25519.PublicKey:
			// RFC 8463: the Ed25519 signature is over the SHA-256 digest,
			// i.e. PureEdDSA of the digest, so no pre-hash option.
			dk.algo, dk.opts = "ed25519-sha256", crypto.Hash(0)
		default:
			return nil, fmt.Errorf("dkim: unsupported key type %T (want RSA or Ed25519)", pub)
		}
		s.keys = append(s.keys, dk)
	}
	return s, nil
}

func checkDKIMName(s, what string) error {
	if s == "" || len(s) > 253 {
		return fmt.Errorf("dkim: invalid %s %q", what, s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c|0x20 && c|0x20 <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_') {
			return fmt.Errorf("dkim: invalid %s %q", what, s)
		}
	}
	return nil
}

// Sign returns msg with one DKIM-Signature field per key prepended. msg must
// be a complete message with CRLF line endings, as Message.Bytes renders it;
// sign last, as any later change to a signed header or the body breaks the
// signature.
func (s *DKIMSigner) Sign(msg []byte) ([]byte, error) {
	hdr, body, ok := splitHeaderBody(msg)
	if !ok {
		return nil, errors.New("dkim: message has no header/body separator")
	}
	fields := parseFields(hdr)
	if len(fields) == 0 {
		return nil, errors.New("dkim: message has no header fields")
	}

	// h= is the same for every key; so is the body hash.
	var h []string
	for _, dh := range dkimHeaders {
		n := 0
		for _, f := range fields {
			if strings.EqualFold(f.name, dh.name) {
				n++
			}
		}
		if dh.overSign {
			n++
		}
		for range n {
			h = append(h, dh.name)
		}
	}
	bh := sha256.Sum256(relaxedBody(body))
	bhs := base64.StdEncoding.EncodeToString(bh[:])
	// The canonical form of the signed header fields, in h= order; each
	// name takes the last not yet used instance (RFC 6376 5.4.2).
	used := make([]bool, len(fields))
	var canon []byte
	for _, name := range h {
		for i := len(fields) - 1; i >= 0; i-- {
			if !used[i] && strings.EqualFold(fields[i].name, name) {
				used[i] = true
				canon = appendRelaxedHeader(canon, fields[i].raw)
				break
			}
		}
	}

	t := strconv.FormatInt(s.now().Unix(), 10)
	sigs := make([][]byte, 0, len(s.keys))
	size := len(msg)
	for _, k := range s.keys {
		sig, err := k.sign(canon, h, bhs, t)
		if err != nil {
			return nil, err
		}
		sigs = append(sigs, sig)
		size += len(sig)
	}
	out := make([]byte, 0, size)
	for _, sig := range sigs {
		out = append(out, sig...)
	}
	return append(out, msg...), nil
}

func (k *dkimKey) sign(canon []byte, h []string, bh, t string) ([]byte, error) {
	var f bytes.Buffer
	f.Grow(700)
	f.WriteString("DKIM-Signature: v=1; a=")
	f.WriteString(k.algo)
	f.WriteString("; c=relaxed/relaxed; d=")
	f.WriteString(k.Domain)
	f.WriteString("; s=")
	f.WriteString(k.Selector)
	f.WriteString(";\r\n\tt=")
	f.WriteString(t)
	f.WriteString("; h=")
	col := len("\tt=; h=") + len(t)
	for i, name := range h {
		if i > 0 {
			f.WriteByte(':')
			col++
		}
		if col+len(name) > foldLineLen-2 {
			f.WriteString("\r\n\t")
			col = 1
		}
		f.WriteString(name)
		col += len(name)
	}
	f.WriteString(";\r\n\tbh=")
	f.WriteString(bh)
	f.WriteString(";\r\n\tb=")

	// The signature covers the signed fields and then this field itself
	// with an empty b= and no trailing CRLF (RFC 6376 3.7).
	data := appendRelaxedHeader(canon[:len(canon):len(canon)], f.Bytes())
	data = bytes.TrimSuffix(data, []byte("\r\n"))
	digest := sha256.Sum256(data)
	sig, err := k.Signer.Sign(rand.Reader, digest[:], k.opts)
	if err != nil {
		return nil, fmt.Errorf("dkim: signing with %s._domainkey.%s: %w", k.Selector, k.Domain, err)
	}
	b := base64.StdEncoding.EncodeToString(sig)
	col = len("\tb=")
	for len(b) > 0 {
		n := min(len(b), foldLineLen-col)
		f.WriteString(b[:n])
		b = b[n:]
		if len(b) > 0 {
			f.WriteString("\r\n\t")
			col = 1
		}
	}
	f.WriteString("\r\n")
	return f.Bytes(), nil
}

// splitHeaderBody splits msg at the first empty line.
func splitHeaderBody(msg []byte) (hdr, body []byte, ok bool) {
	if bytes.HasPrefix(msg, []byte("\r\n")) {
		return nil, msg[2:], true
	}
	i := bytes.Index(msg, []byte("\r\n\r\n"))
	if i < 0 {
		return nil, nil, false
	}
	return msg[:i+2], msg[i+4:], true
}

type field struct {
	name string
	raw  []byte // "Name: value" including continuation lines and the final CRLF
}

func parseFields(hdr []byte) []field {
	var fields []field
	for len(hdr) > 0 {
		end := 0
		for {
			i := bytes.IndexByte(hdr[end:], '\n')
			if i < 0 {
				end = len(hdr)
				break
			}
			end += i + 1
			if end >= len(hdr) || !isWSP(hdr[end]) {
				break
			}
		}
		raw := hdr[:end]
		hdr = hdr[end:]
		if len(fields) > 0 && isWSP(raw[0]) {
			// Continuation before any field: not valid, kept with the last.
			continue
		}
		name, _, ok := bytes.Cut(raw, []byte(":"))
		if !ok {
			continue
		}
		fields = append(fields, field{name: string(bytes.TrimRight(name, " \t")), raw: raw})
	}
	return fields
}

// appendRelaxedHeader appends the relaxed canonical form (RFC 6376 3.4.2) of
// one header field: lower-case name, unfolded, whitespace runs reduced to
// one space, no whitespace around the colon or at the end, CRLF.
func appendRelaxedHeader(dst, raw []byte) []byte {
	name, value, _ := bytes.Cut(raw, []byte(":"))
	for _, c := range bytes.TrimRight(name, " \t") {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	dst = append(dst, ':')
	space := false
	wrote := false
	for _, c := range value {
		switch c {
		case '\r', '\n':
			continue
		case ' ', '\t':
			space = true
			continue
		}
		if space && wrote {
			dst = append(dst, ' ')
		}
		space = false
		wrote = true
		dst = append(dst, c)
	}
	return append(dst, '\r', '\n')
}

// relaxedBody returns the relaxed canonical body (RFC 6376 3.4.4):
// whitespace at line ends removed, other runs reduced to one space, empty
// lines at the end removed, and a final CRLF unless the body is empty.
func relaxedBody(body []byte) []byte {
	out := make([]byte, 0, len(body)+2)
	blank := 0 // empty lines held back until a non-empty one follows
	for len(body) > 0 {
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		line = bytes.TrimRight(line, " \t")
		if len(line) == 0 {
			blank++
			continue
		}
		for ; blank > 0; blank-- {
			out = append(out, '\r', '\n')
		}
		space := false
		for _, c := range line {
			if c == ' ' || c == '\t' {
				space = true
				continue
			}
			if space {
				out = append(out, ' ')
				space = false
			}
			out = append(out, c)
		}
		out = append(out, '\r', '\n')
	}
	return out
}

// GenerateDKIMKey creates a new key, "rsa" (2048 bits) or "ed25519", and
// returns it with its PKCS#8 PEM encoding for storage.
func GenerateDKIMKey(algo string) (crypto.Signer, []byte, error) {
	var key crypto.Signer
	switch algo {
	case "rsa":
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, nil, fmt.Errorf("dkim: generating RSA key: %w", err)
		}
		key = k
	case "ed25519":
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, nil, fmt.Errorf("dkim: generating Ed25519 key: %w", err)
		}
		key = k
	default:
		return nil, nil, fmt.Errorf("dkim: unknown key algorithm %q (want rsa or ed25519)", algo)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("dkim: encoding key: %w", err)
	}
	return key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParseDKIMKeyPEM parses a private key in PEM: PKCS#8 ("PRIVATE KEY", RSA or
// Ed25519) or PKCS#1 ("RSA PRIVATE KEY"). RSA keys shorter than 1024 bits
// are refused.
func ParseDKIMKeyPEM(pemBytes []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("dkim: no PEM block found")
	}
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "ENCRYPTED PRIVATE KEY":
		return nil, errors.New("dkim: encrypted private keys are not supported")
	default:
		return nil, fmt.Errorf("dkim: unsupported PEM block %q (want PRIVATE KEY or RSA PRIVATE KEY)", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("dkim: parsing key: %w", err)
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if k.N.BitLen() < 1024 {
			return nil, fmt.Errorf("dkim: %d-bit RSA key is too short (RFC 8301 requires 1024, use 2048)", k.N.BitLen())
		}
		return k, nil
	case ed25519.PrivateKey:
		return k, nil
	default:
		return nil, fmt.Errorf("dkim: unsupported key type %T (want RSA or Ed25519)", key)
	}
}

// DKIMTXTRecord returns the DNS TXT record to publish at
// <selector>._domainkey.<domain> for signer's public key.
func DKIMTXTRecord(signer crypto.Signer) (string, error) {
	if signer == nil {
		return "", errors.New("dkim: no key")
	}
	switch pub := signer.Public().(type) {
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return "", fmt.Errorf("dkim: encoding public key: %w", err)
		}
		return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der), nil
	case ed25519.PublicKey:
		return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub), nil
	default:
		return "", fmt.Errorf("dkim: unsupported key type %T (want RSA or Ed25519)", pub)
	}
}
