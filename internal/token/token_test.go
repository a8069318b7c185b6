package token

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestRoundTrip(t *testing.T) {
	s := NewSigner([]byte("0123456789abcdef0123456789abcdef"))
	now := time.Unix(1_700_000_000, 0)
	cases := []Token{
		{Kind: Confirm, SubscriberID: 1, Nonce: 42, Expires: now.Add(time.Hour).Unix()},
		{Kind: Manage, SubscriberID: 987654321},
		{Kind: Unsubscribe, SubscriberID: 7, CampaignID: 3, Lists: []int64{1, 2, 300000}},
	}
	for _, c := range cases {
		str := s.Make(c)
		got, err := s.Parse(c.Kind, str, now)
		if err != nil {
			t.Fatalf("%c: %v", c.Kind, err)
		}
		if got.SubscriberID != c.SubscriberID || got.Nonce != c.Nonce || got.Expires != c.Expires || got.CampaignID != c.CampaignID || len(got.Lists) != len(c.Lists) {
			t.Fatalf("round trip: got %+v want %+v", got, c)
		}
		if strings.ContainsAny(str, "+/=") {
			t.Fatalf("token %q is not URL-safe", str)
		}
	}
}

func TestRejects(t *testing.T) {
	s := NewSigner([]byte("0123456789abcdef0123456789abcdef"))
	other := NewSigner([]byte("another secret, just as long....."))
	now := time.Unix(1_700_000_000, 0)
	good := s.Make(Token{Kind: Manage, SubscriberID: 5})
	flipped := []byte(good)
	flipped[3] ^= 1
	expired := s.Make(Token{Kind: Confirm, SubscriberID: 5, Expires: now.Add(-time.Second).Unix()})

	cases := map[string]struct {
		kind byte
		tok  string
		want error
	}{
		"empty":        {Manage, "", ErrInvalid},
		"garbage":      {Manage, "%%%%%%", ErrInvalid},
		"tampered":     {Manage, string(flipped), ErrInvalid},
		"wrong kind":   {Unsubscribe, good, ErrInvalid},
		"other secret": {Manage, other.Make(Token{Kind: Manage, SubscriberID: 5}), ErrInvalid},
		"truncated":    {Manage, good[:len(good)-2], ErrInvalid},
		"too long":     {Manage, strings.Repeat("A", MaxLen+1), ErrInvalid},
		"expired":      {Confirm, expired, ErrExpired},
		"bare id":      {Manage, "5", ErrInvalid},
	}
	for name, c := range cases {
		if _, err := s.Parse(c.kind, c.tok, now); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", name, err, c.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	s := NewSigner([]byte("0123456789abcdef0123456789abcdef"))
	f.Add(s.Make(Token{Kind: Manage, SubscriberID: 5}))
	f.Add(s.Make(Token{Kind: Unsubscribe, SubscriberID: 5, Lists: []int64{1, 2}}))
	f.Add("")
	f.Add("AAAA")
	f.Fuzz(func(t *testing.T, in string) {
		for _, k := range []byte{Confirm, Manage, Unsubscribe} {
			tok, err := s.Parse(k, in, time.Unix(1_700_000_000, 0))
			if err == nil {
				// Anything accepted must re-encode to the same string.
				if s.Make(tok) != in {
					t.Fatalf("accepted %q but it re-encodes differently", in)
				}
			}
		}
	})
}
