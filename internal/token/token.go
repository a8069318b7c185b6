// Package token makes and checks the unforgeable tokens in reader-facing
// URLs (confirm, manage, unsubscribe). A token is a small binary payload
// followed by a truncated HMAC-SHA256 of it, base64url-encoded: it needs no
// database row per message, so a million-reader campaign writes no tokens,
// yet nobody can make one without the installation's secret.
//
// Single use and revocation are the caller's business: confirm tokens carry
// a nonce that the store clears on confirmation.
package token

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"time"
)

// Kinds of token. Each kind is signed with its own derived key, so a token
// of one kind is never accepted as another.
const (
	Confirm     byte = 'c'
	Manage      byte = 'm'
	Unsubscribe byte = 'u'
	// TestLink is in the links of test sends: it opens a page that says
	// what the link would do for a real reader, and never acts. Nonce says
	// which link it stands for (TestUnsubscribe or TestManage).
	TestLink byte = 't'
)

// Which link a TestLink token stands for (its Nonce).
const (
	TestUnsubscribe uint64 = 1
	TestManage      uint64 = 2
)

const macLen = 16 // 128-bit tag

// MaxLen bounds the encoded length Parse accepts.
const MaxLen = 512

// ErrInvalid means the token is malformed or its signature is wrong.
var ErrInvalid = errors.New("token: invalid")

// ErrExpired means the token was genuine but is past its expiry.
var ErrExpired = errors.New("token: expired")

// Token is the decoded content of a token.
type Token struct {
	Kind         byte
	SubscriberID int64
	Nonce        uint64  // confirm: must match the subscriber's current nonce
	Expires      int64   // unix seconds; 0 = never
	Lists        []int64 // unsubscribe: the lists the message was sent for (empty = all)
	CampaignID   int64   // unsubscribe: the campaign, for the ledger
}

// Signer makes and checks tokens with keys derived from one secret.
type Signer struct {
	keys map[byte][]byte
}

// NewSigner derives per-kind keys from secret.
func NewSigner(secret []byte) *Signer {
	s := &Signer{keys: map[byte][]byte{}}
	for _, k := range []byte{Confirm, Manage, Unsubscribe, TestLink} {
		m := hmac.New(sha256.New, secret)
		m.Write([]byte("herald token v1 "))
		m.Write([]byte{k})
		s.keys[k] = m.Sum(nil)
	}
	return s
}

// Make encodes and signs t.
func (s *Signer) Make(t Token) string {
	key, ok := s.keys[t.Kind]
	if !ok {
		panic("token: unknown kind")
	}
	buf := make([]byte, 0, 64)
	buf = append(buf, t.Kind)
	buf = binary.AppendUvarint(buf, uint64(t.SubscriberID))
	buf = binary.AppendUvarint(buf, t.Nonce)
	buf = binary.AppendUvarint(buf, uint64(t.Expires))
	buf = binary.AppendUvarint(buf, uint64(t.CampaignID))
	buf = binary.AppendUvarint(buf, uint64(len(t.Lists)))
	for _, l := range t.Lists {
		buf = binary.AppendUvarint(buf, uint64(l))
	}
	m := hmac.New(sha256.New, key)
	m.Write(buf)
	buf = m.Sum(buf)[:len(buf)+macLen]
	return base64.RawURLEncoding.EncodeToString(buf)
}

// Parse checks the signature and expiry of s as a token of the given kind.
func (s *Signer) Parse(kind byte, str string, now time.Time) (Token, error) {
	key, ok := s.keys[kind]
	if !ok || len(str) > MaxLen || len(str) < 4 {
		return Token{}, ErrInvalid
	}
	for i := 0; i < len(str); i++ {
		c := str[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return Token{}, ErrInvalid
		}
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(str)
	if err != nil || len(raw) < 1+macLen || raw[0] != kind {
		return Token{}, ErrInvalid
	}
	body, tag := raw[:len(raw)-macLen], raw[len(raw)-macLen:]
	m := hmac.New(sha256.New, key)
	m.Write(body)
	if !hmac.Equal(m.Sum(nil)[:macLen], tag) {
		return Token{}, ErrInvalid
	}
	t := Token{Kind: kind}
	rest := body[1:]
	next := func() (uint64, bool) {
		v, n := binary.Uvarint(rest)
		if n <= 0 {
			return 0, false
		}
		rest = rest[n:]
		return v, true
	}
	var vals [5]uint64
	for i := range vals {
		if vals[i], ok = next(); !ok {
			return Token{}, ErrInvalid
		}
	}
	if vals[0] > 1<<62 || vals[2] > 1<<62 || vals[3] > 1<<62 || vals[4] > 64 {
		return Token{}, ErrInvalid
	}
	t.SubscriberID, t.Nonce, t.Expires, t.CampaignID = int64(vals[0]), vals[1], int64(vals[2]), int64(vals[3])
	for i := uint64(0); i < vals[4]; i++ {
		v, ok := next()
		if !ok || v > 1<<62 {
			return Token{}, ErrInvalid
		}
		t.Lists = append(t.Lists, int64(v))
	}
	if len(rest) != 0 {
		return Token{}, ErrInvalid
	}
	if t.Expires != 0 && now.Unix() > t.Expires {
		return t, ErrExpired
	}
	return t, nil
}
