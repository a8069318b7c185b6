package sender

import (
	"context"
	"net/mail"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/sqlstore/storetest"
	"github.com/heraldhq/herald/internal/token"
)

// benchPrepared compiles the benchmark campaign (SampleNewsletter, default
// layout unless compact) with the given DKIM keys ("rsa", "ed25519").
func benchPrepared(b *testing.B, compact bool, keys ...string) *Prepared {
	b.Helper()
	ctx := context.Background()
	db := storetest.Open(b, storetest.URLs(b)["sqlite"])
	if err := db.CreateList(ctx, &herald.List{Slug: "daily", Name: "The Daily Briefing"}); err != nil {
		b.Fatal(err)
	}
	for i, algo := range keys {
		if _, err := GenerateDKIMKey(ctx, db, "planet.example", algo+string(rune('a'+i)), algo); err != nil {
			b.Fatal(err)
		}
	}
	c := &herald.Campaign{Name: "Bench", Subject: "This week at the Planet", Lists: []string{"daily"}, Body: SampleNewsletter(4300)}
	if compact {
		c.Body, c.Layout = SampleNewsletter(1200), CompactLayout
	}
	if err := db.CreateCampaign(ctx, c); err != nil {
		b.Fatal(err)
	}
	cfg := &Config{From: mail.Address{Name: "The Daily Planet", Address: "news@planet.example"}, Publisher: "The Daily Planet",
		PostalAddress: "1 Planet Square, Metropolis", BaseURL: "https://news.planet.example", Tokens: token.NewSigner([]byte("a secret of at least thirty-two bytes"))}
	p, err := Prepare(ctx, db, cfg, c)
	if err != nil {
		b.Fatal(err)
	}
	if p.Fallback() != "" {
		b.Fatalf("fallback: %s", p.Fallback())
	}
	return p
}

// benchCompose is the sender's per-message work apart from the network and
// the ledger: fill the template, make the two tokens and the Message-ID,
// build the MIME message, sign it when keys are set.
func benchCompose(b *testing.B, p *Prepared) {
	r := &Reader{ID: 123456, Email: "ada.lovelace+news@example.com", Name: "Ada Lovelace", Attributes: map[string]any{"city": "London"}}
	bufs := newBuffers()
	msg, err := p.message(r, nil, "", p.MessageID(r.ID), time.Now(), bufs)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if msg, err = p.message(r, nil, "", p.MessageID(r.ID), time.Now(), bufs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(msg)), "msg-bytes")
}

// BenchmarkCompose: a ~4.5 KB Markdown issue in the default layout.
func BenchmarkCompose(b *testing.B) { benchCompose(b, benchPrepared(b, false)) }

// BenchmarkComposeCompact: the ~4.7 KB message of `herald bench send`.
func BenchmarkComposeCompact(b *testing.B) { benchCompose(b, benchPrepared(b, true)) }

// BenchmarkComposeDKIM: signed with rsa-sha256 (2048 bits).
func BenchmarkComposeDKIM(b *testing.B) { benchCompose(b, benchPrepared(b, true, "rsa")) }

// BenchmarkComposeDKIMBoth: signed with rsa-sha256 and ed25519-sha256.
func BenchmarkComposeDKIMBoth(b *testing.B) {
	benchCompose(b, benchPrepared(b, true, "rsa", "ed25519"))
}
