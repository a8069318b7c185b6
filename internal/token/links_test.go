package token

import (
	"testing"
	"time"
)

func TestReaderLinkFreshness(t *testing.T) {
	s := NewSigner([]byte("a secret of at least thirty-two bytes!"))
	now := time.Now()
	for _, c := range []struct {
		name    string
		tok     Token
		revoked int64
		fresh   bool
	}{
		{"manage, new", ManageLink(1, now), 0, true},
		{"manage, 89 days", ManageLink(1, now.Add(-89*24*time.Hour)), 0, true},
		{"manage, 91 days", ManageLink(1, now.Add(-91*24*time.Hour)), 0, false},
		{"manage, without issue time", Token{Kind: Manage, SubscriberID: 1}, 0, false},
		{"manage, revoked after", ManageLink(1, now.Add(-time.Minute)), now.UnixMilli(), false},
		{"manage, revoked at", ManageLink(1, now), now.UnixMilli(), false},
		{"manage, issued after revocation", ManageLink(1, now), now.Add(-time.Millisecond).UnixMilli(), true},
		{"unsubscribe, new", UnsubscribeLink(1, []int64{2}, 3, now), 0, true},
		{"unsubscribe, a year", UnsubscribeLink(1, nil, 0, now.Add(-365*24*time.Hour)), 0, false},
	} {
		parsed, err := s.Parse(c.tok.Kind, s.Make(c.tok), now)
		if c.tok.Kind == Manage && !c.tok.Issued().IsZero() && now.Sub(c.tok.Issued()) > ManageTTL {
			if err != ErrExpired {
				t.Errorf("%s: Parse: %v, want ErrExpired", c.name, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: Parse: %v", c.name, err)
			continue
		}
		if got := parsed.Fresh(now, c.revoked); got != c.fresh {
			t.Errorf("%s: Fresh = %v, want %v", c.name, got, c.fresh)
		}
	}
	// An unsubscribe link never expires for unsubscribing.
	old := UnsubscribeLink(1, nil, 0, now.Add(-10*365*24*time.Hour))
	if _, err := s.Parse(Unsubscribe, s.Make(old), now); err != nil {
		t.Errorf("ten-year-old unsubscribe link: %v", err)
	}
}
