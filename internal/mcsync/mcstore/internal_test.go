package mcstore

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/sqlstore"
)

// TestMailchimpKeyEncryptedAtRest: the API key is stored sealed with a key
// derived from the installation secret, and a different secret cannot
// open it.
func TestMailchimpKeyEncryptedAtRest(t *testing.T) {
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	db.SetSecret([]byte("installation secret of at least 32 bytes"))
	key := "fedcba9876543210fedcba9876543210-us21"
	if _, err := New(db).SetMailchimpConnection(ctx, &key, nil); err != nil {
		t.Fatal(err)
	}
	var enc, hint string
	if err := db.Read(ctx, func(tx *sqlstore.Tx) error {
		return tx.QueryRow(ctx, `SELECT api_key_enc, key_hint FROM mailchimp_connection`).Scan(&enc, &hint)
	}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(enc, "fedcba98") || strings.Contains(enc, key[:12]) || len(enc) < len(key) {
		t.Fatalf("the key is not sealed: %q", enc)
	}
	if strings.Contains(hint, key[:24]) {
		t.Fatalf("the hint gives the key away: %q", hint)
	}
	c, err := New(db).MailchimpConnection(ctx)
	if err != nil || c.APIKey != key {
		t.Fatalf("round trip: %v %+v", err, c)
	}
	db.SetSecret([]byte("another secret, also at least 32 bytes"))
	if _, err := New(db).MailchimpConnection(ctx); err != errUnseal {
		t.Fatalf("opened with the wrong secret: %v", err)
	}
	// Setting the key again works, and keeps the registered webhook URL.
	key2 := "00112233445566778899aabbccddeeff-us21"
	c2, err := New(db).SetMailchimpConnection(ctx, &key2, nil)
	if err != nil || c2.APIKey != key2 || c2.WebhookSecret != c.WebhookSecret {
		t.Fatalf("new key after a secret change: %v %+v (webhook secret was %q)", err, c2, c.WebhookSecret)
	}
}
