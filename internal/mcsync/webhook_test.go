package mcsync_test

import (
	"context"
	"errors"
	"net/url"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/mailchimp/mailchimptest"
	"github.com/heraldhq/herald/internal/mcsync"
	"github.com/heraldhq/herald/internal/sqlstore"
	"github.com/heraldhq/herald/internal/sqlstore/storetest"
)

// TestHostileWebhooks: whatever a post holds, applying it is an error of
// the post (ErrBadWebhook) or works: never a database error.
func TestHostileWebhooks(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		e.list("daily", herald.Double)
		e.connect("daily", "aud1", "")
		base := mailchimptest.UnsubscribeWebhook("aud1", "x@example.com", "unsub", "manual", "c1").Form()
		e.signup("x@example.com", "X", "daily")
		for i, mutate := range []func(url.Values){
			func(f url.Values) { f.Set("data[reason]", "abuse\xff\x00\xfe") },
			func(f url.Values) { f.Set("data[campaign_id]", "\x00") },
			func(f url.Values) { f.Set("data[action]", string([]byte{0xc3, 0x28})) },
			func(f url.Values) { f.Set("data[merges][FNAME]", "A\x00B\xff"); f.Set("type", "profile") },
			func(f url.Values) { f.Set("data[ip_opt]", "\xff\xff\x00 not an ip"); f.Set("type", "subscribe") },
			func(f url.Values) {
				f.Set("type", "upemail")
				f.Set("data[old_email]", "x@example.com")
				f.Set("data[new_email]", "y\xff@example.com")
			},
			func(f url.Values) { f.Set("fired_at", "2026-13-45 99:99:99") },
			func(f url.Values) { f.Set("data[list_id]", "aud1'; DROP TABLE subscribers; --") },
			func(f url.Values) { f.Del("data[email]") },
			func(f url.Values) { f.Set("type", "nonsense") },
		} {
			form := url.Values{}
			for k, v := range base {
				form[k] = append([]string(nil), v...)
			}
			mutate(form)
			_, err := e.svc.ApplyWebhook(ctx, form)
			if err != nil && !errors.Is(err, mcsync.ErrBadWebhook) {
				t.Errorf("post %d: %v", i, err)
			}
		}
	})
}
