package token

import (
	"testing"
	"time"
)

// TestMakerMatchesMake: a Maker's tokens are Make's, and Parse takes them.
func TestMakerMatchesMake(t *testing.T) {
	s := NewSigner([]byte("a secret of at least thirty-two bytes"))
	for _, kind := range []byte{Confirm, Manage, Unsubscribe} {
		m := s.Maker(kind)
		for i, tok := range []Token{
			{Kind: kind, SubscriberID: 1},
			{Kind: kind, SubscriberID: 1 << 40, Nonce: 12345, Expires: time.Now().Add(time.Hour).Unix()},
			{Kind: kind, SubscriberID: 77, CampaignID: 9, Lists: []int64{3, 1 << 33, 5}},
		} {
			got := string(m.Append([]byte("prefix/"), tok))
			if want := "prefix/" + s.Make(tok); got != want {
				t.Fatalf("kind %c case %d: Maker %q, Make %q", kind, i, got, want)
			}
			if _, err := s.Parse(kind, got[len("prefix/"):], time.Now()); err != nil {
				t.Fatalf("kind %c case %d: %v", kind, i, err)
			}
		}
	}
}

func BenchmarkMake(b *testing.B) {
	s := NewSigner([]byte("a secret of at least thirty-two bytes"))
	tok := Token{Kind: Unsubscribe, SubscriberID: 123456, CampaignID: 42, Lists: []int64{1, 2}}
	b.Run("Make", func(b *testing.B) {
		for b.Loop() {
			_ = s.Make(tok)
		}
	})
	b.Run("Maker", func(b *testing.B) {
		m := s.Maker(Unsubscribe)
		var buf []byte
		for b.Loop() {
			buf = m.Append(buf[:0], tok)
		}
	})
}
