package sender

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/mail"
	"github.com/heraldhq/herald/internal/sqlstore"
)

// loadSigner returns a DKIM signer for the domain's newest RSA key and,
// when there is one, its newest Ed25519 key as a second signature; nil
// when the domain has no key.
func loadSigner(ctx context.Context, db *sqlstore.DB, domain string) (*mail.DKIMSigner, error) {
	keys, err := db.DKIMKeys(ctx, domain)
	if err != nil {
		return nil, err
	}
	var chosen []mail.DKIMKey
	for _, algo := range []string{"rsa", "ed25519"} {
		for _, k := range keys { // newest first
			if k.Algorithm != algo {
				continue
			}
			signer, err := mail.ParseDKIMKeyPEM([]byte(k.PrivateKey))
			if err != nil {
				return nil, fmt.Errorf("DKIM key %s._domainkey.%s: %w", k.Selector, k.Domain, err)
			}
			chosen = append(chosen, mail.DKIMKey{Domain: k.Domain, Selector: k.Selector, Signer: signer})
			break
		}
	}
	if len(chosen) == 0 {
		return nil, nil
	}
	return mail.NewDKIMSigner(chosen...)
}

// Signers signs mail other than campaigns (confirmation mail) with the DKIM
// keys stored for its sender's domain, as campaigns are. Keys are looked up
// again after a minute, so that one made while Herald runs is used.
type Signers struct {
	DB *sqlstore.DB

	mu sync.Mutex
	m  map[string]signerEntry
}

type signerEntry struct {
	s  *mail.DKIMSigner // nil: the domain has no key
	at time.Time
}

// Sign returns msg signed for the domain of from, or msg itself when the
// domain has no key.
func (s *Signers) Sign(ctx context.Context, from string, msg []byte) ([]byte, error) {
	domain := domainOf(from)
	s.mu.Lock()
	e, ok := s.m[domain]
	s.mu.Unlock()
	if !ok || time.Since(e.at) > time.Minute {
		signer, err := loadSigner(ctx, s.DB, domain)
		if err != nil {
			return nil, err
		}
		e = signerEntry{s: signer, at: time.Now()}
		s.mu.Lock()
		if s.m == nil {
			s.m = map[string]signerEntry{}
		}
		s.m[domain] = e
		s.mu.Unlock()
	}
	if e.s == nil {
		return msg, nil
	}
	return e.s.Sign(msg)
}

// DKIMRecord is the DNS record to publish for a key.
type DKIMRecord struct {
	Name  string // selector._domainkey.domain
	Value string // v=DKIM1; k=…; p=…
}

// GenerateDKIMKey makes a key ("rsa", 2048 bits, or "ed25519"), stores it
// for the domain under the selector, and returns the TXT record to publish.
// Campaigns whose sender is at that domain are signed from then on.
func GenerateDKIMKey(ctx context.Context, db *sqlstore.DB, domain, selector, algo string) (*DKIMRecord, error) {
	domain = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(domain), "."))
	selector = strings.ToLower(strings.TrimSpace(selector))
	if algo == "" {
		algo = "rsa"
	}
	if _, _, err := herald.NormalizeEmail("x@" + domain); err != nil || domain == "" {
		return nil, herald.FieldError("domain", "%q is not a mail domain", domain)
	}
	if !validSelector(selector) {
		return nil, herald.FieldError("selector", "%q is not a valid selector: letters, digits and hyphens, dot-separated (e.g. herald2026)", selector)
	}
	key, pemBytes, err := mail.GenerateDKIMKey(algo)
	if err != nil {
		return nil, herald.FieldError("algo", "%v", err)
	}
	txt, err := mail.DKIMTXTRecord(key)
	if err != nil {
		return nil, err
	}
	if err := db.AddDKIMKey(ctx, &sqlstore.DKIMKey{Domain: domain, Selector: selector, Algorithm: algo, PrivateKey: string(pemBytes)}); err != nil {
		return nil, err
	}
	return &DKIMRecord{Name: selector + "._domainkey." + domain, Value: txt}, nil
}

// DKIMRecords returns the TXT records of the stored keys (all domains when
// domain is ""), newest first per domain.
func DKIMRecords(ctx context.Context, db *sqlstore.DB, domain string) ([]DKIMRecord, []sqlstore.DKIMKey, error) {
	keys, err := db.DKIMKeys(ctx, domain)
	if err != nil {
		return nil, nil, err
	}
	out := make([]DKIMRecord, 0, len(keys))
	for _, k := range keys {
		signer, err := mail.ParseDKIMKeyPEM([]byte(k.PrivateKey))
		if err != nil {
			return nil, nil, err
		}
		txt, err := mail.DKIMTXTRecord(signer)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, DKIMRecord{Name: k.Selector + "._domainkey." + k.Domain, Value: txt})
	}
	return out, keys, nil
}

func validSelector(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}
