package sqlstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/sqlstore"
	"github.com/heraldhq/herald/internal/sqlstore/storetest"
)

func TestAPITokensListUseRevoke(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		db.Now = func() time.Time { return now }

		site, siteRaw, err := db.NewAPIToken(ctx, " site backend ")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(siteRaw, sqlstore.APITokenPrefix) || site.Name != "site backend" || site.Role != "admin" || site.ID == 0 {
			t.Fatalf("new token: %+v %q", site, siteRaw)
		}
		now = now.Add(time.Hour)
		ciRaw, err := db.CreateAPIToken(ctx, "ci")
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := db.NewAPIToken(ctx, "  "); herald.ErrorCode(err) != herald.EINVALID {
			t.Fatalf("empty name: %v", err)
		}

		list, err := db.ListAPITokens(ctx)
		if err != nil || len(list) != 2 {
			t.Fatalf("list: %v %d", err, len(list))
		}
		if list[0].ID != site.ID || !list[0].CreatedAt.Equal(now.Add(-time.Hour)) || list[0].LastUsedAt != nil || list[1].Name != "ci" {
			t.Fatalf("list: %+v %+v", list[0], list[1])
		}

		// The first use is recorded; uses within the next minute are not
		// written again; a use a minute later is.
		used, err := db.UseAPIToken(ctx, siteRaw)
		if err != nil || used.ID != site.ID || used.LastUsedAt == nil || !used.LastUsedAt.Equal(now) {
			t.Fatalf("use: %v %+v", err, used)
		}
		first := now
		lastUse := func() time.Time {
			t.Helper()
			l, err := db.ListAPITokens(ctx)
			if err != nil || l[0].LastUsedAt == nil {
				t.Fatalf("last use: %v %+v", err, l)
			}
			return *l[0].LastUsedAt
		}
		now = now.Add(59 * time.Second)
		if _, err := db.UseAPIToken(ctx, siteRaw); err != nil {
			t.Fatal(err)
		}
		if got := lastUse(); !got.Equal(first) {
			t.Fatalf("a use within the minute was written: %v, want %v", got, first)
		}
		now = now.Add(2 * time.Second)
		if _, err := db.UseAPIToken(ctx, siteRaw); err != nil {
			t.Fatal(err)
		}
		if got := lastUse(); !got.Equal(now) {
			t.Fatalf("a use after a minute: last use %v, want %v", got, now)
		}

		for _, bad := range []string{"", "hrld_nope", siteRaw + "x", strings.TrimPrefix(siteRaw, sqlstore.APITokenPrefix)} {
			if _, err := db.UseAPIToken(ctx, bad); herald.ErrorCode(err) != herald.EUNAUTHORIZED {
				t.Errorf("token %q: %v, want unauthorized", bad, err)
			}
		}

		// Revoked: gone from the list, no longer authenticates; the other stays.
		rev, err := db.RevokeAPIToken(ctx, site.ID)
		if err != nil || rev.Name != "site backend" {
			t.Fatalf("revoke: %v %+v", err, rev)
		}
		if _, err := db.UseAPIToken(ctx, siteRaw); herald.ErrorCode(err) != herald.EUNAUTHORIZED {
			t.Fatalf("revoked token still works: %v", err)
		}
		if _, err := db.RevokeAPIToken(ctx, site.ID); herald.ErrorCode(err) != herald.ENOTFOUND {
			t.Fatalf("revoke twice: %v", err)
		}
		if name, err := db.AuthenticateAPIToken(ctx, ciRaw); err != nil || name != "ci" {
			t.Fatalf("other token: %v %q", err, name)
		}
		if l, _ := db.ListAPITokens(ctx); len(l) != 1 || l[0].Name != "ci" {
			t.Fatalf("after revoke: %+v", l)
		}
	})
}
