package e2e_test

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/apptest"
	"github.com/heraldhq/herald/internal/sqlstore"
	"github.com/heraldhq/herald/internal/sqlstore/storetest"
)

// onInstance points a link minted by one instance at another (their base
// URLs differ in the port only).
func onInstance(t *testing.T, link string, in *apptest.Instance) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil || link == "" {
		t.Fatalf("link %q: %v", link, err)
	}
	base, _ := url.Parse(in.URL)
	u.Scheme, u.Host = base.Scheme, base.Host
	return u.String()
}

// TestMigrateToKeepsLinks: links mailed by a SQLite installation (confirm,
// manage, unsubscribe) work on the PostgreSQL installation it was copied
// into.
func TestMigrateToKeepsLinks(t *testing.T) {
	pg := os.Getenv("HERALD_TEST_POSTGRES_URL")
	if pg == "" {
		t.Skip("HERALD_TEST_POSTGRES_URL is not set")
	}
	ctx := context.Background()
	dbPath := filepath.Join(t.TempDir(), "herald.db")
	smtp := apptest.StartSMTP(t)
	in := apptest.Start(t, apptest.Options{DatabaseURL: "sqlite:" + dbPath, Args: []string{"--smtp-url", smtp.URL()}})
	setupLists(t, in)
	const pending = "ann.pending@example.com"
	if code, _ := postForm(t, in.URL+"/subscribe", url.Values{"email": {pending}, "lists": {"daily"}}); code != 200 {
		t.Fatalf("signup: %d", code)
	}
	apptest.Eventually(t, "the confirmation mail", func() bool { return len(smtp.To(pending)) == 1 })
	confirm := apptest.Link(smtp.To(pending)[0].Text(), "/confirm/")
	addConfirmed(t, in, "bob.reader@example.com", "Bob", "sport", "daily")
	bob := findSubscriber(t, in, "bob.reader@example.com")
	if err := in.App.DB.SeedSubscribers(ctx, "daily", 1000, "seeded"); err != nil {
		t.Fatal(err)
	}
	in.Stop()

	src, err := sqlstore.Open(ctx, "sqlite:"+dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	target := storetest.PostgresSchema(t, pg)
	dst, err := sqlstore.Open(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if _, err := sqlstore.CopyToPostgres(ctx, src, dst, nil); err != nil {
		t.Fatal(err)
	}

	in2 := apptest.Start(t, apptest.Options{DatabaseURL: target, Args: []string{"--smtp-url", smtp.URL()}})
	code, page := do(t, "POST", onInstance(t, confirm, in2), "application/x-www-form-urlencoded", nil)
	if code != 200 || !strings.Contains(page, "You're subscribed") {
		t.Fatalf("the confirmation link minted on SQLite, on PostgreSQL: %d", code)
	}
	if s := findSubscriber(t, in2, pending); s.status("daily") != "confirmed" {
		t.Fatalf("after confirming on PostgreSQL: %+v", s.Subscriptions)
	}
	if code, page := do(t, "GET", onInstance(t, bob.ManageURL, in2), "", nil); code != 200 || !strings.Contains(page, "The Daily Briefing") {
		t.Fatalf("the manage link minted on SQLite, on PostgreSQL: %d", code)
	}
	unsub := onInstance(t, bob.UnsubscribeURL, in2)
	if code, page := do(t, "GET", unsub, "", nil); code != 200 || !strings.Contains(page, "Unsubscribe") {
		t.Fatalf("the unsubscribe link minted on SQLite, on PostgreSQL: %d", code)
	}
	if code, _ := do(t, "POST", unsub, "application/x-www-form-urlencoded", nil); code != 200 {
		t.Fatalf("unsubscribing on PostgreSQL with the SQLite link: %d", code)
	}
	if s := findSubscriber(t, in2, bob.Email); s.status("daily") == "confirmed" && s.status("sport") == "confirmed" {
		t.Fatalf("still subscribed everywhere after the unsubscribe link: %+v", s.Subscriptions)
	}
	// A new reader gets a new id (the sequences moved past the copied ones).
	addConfirmed(t, in2, "new.reader@example.com", "", "daily")
}
