package mcsync_test

import (
	"context"
	"strings"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/mailchimp/mailchimptest"
	"github.com/heraldhq/herald/internal/mcsync/mcstore"
	"github.com/heraldhq/herald/internal/sqlstore"
	"github.com/heraldhq/herald/internal/sqlstore/storetest"
)

// TestConnectionTest: the connection test says clearly what is wrong — a
// bad key, an unreachable Mailchimp, an unknown audience or interest.
func TestConnectionTest(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		e.fake.AddList("aud1b", "Audience one b")
		e.list("daily", herald.Double)
		e.list("sport", herald.Double)
		e.connect("daily", "aud1", "")
		e.connect("sport", "aud1b", "")
		res, err := e.svc.Test(ctx)
		if err != nil || !res.OK {
			t.Fatalf("good connection: %v %+v", err, res)
		}
		check := func(what string, wantOK bool, want ...string) {
			t.Helper()
			res, err := e.svc.Test(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var all []string
			for _, c := range res.Checks {
				all = append(all, c.Check+" "+c.List+": "+c.Message)
			}
			text := strings.Join(all, "\n")
			if res.OK != wantOK {
				t.Errorf("%s: ok %v\n%s", what, res.OK, text)
			}
			for _, w := range want {
				if !strings.Contains(text, w) {
					t.Errorf("%s: no %q in\n%s", what, w, text)
				}
			}
		}
		// Links that no longer match Mailchimp (audience or interest deleted there).
		if _, _, err := mcstore.New(db).PutMailchimpLink(ctx, "sport", mcstore.MailchimpLinkInput{AudienceID: "gone", DisclosureText: "Mailchimp processes it."}); err != nil {
			t.Fatal(err)
		}
		check("unknown audience", false, `Mailchimp has no audience "gone"`)
		if _, _, err := mcstore.New(db).PutMailchimpLink(ctx, "sport", mcstore.MailchimpLinkInput{AudienceID: "aud1b", InterestID: "nope", CategoryID: "c", InterestName: "x", DisclosureText: "Mailchimp processes it."}); err != nil {
			t.Fatal(err)
		}
		check("unknown interest", false, `has no interest (group) "nope"`)
		e.fake.SetAPIKey("another-key-us6")
		check("bad key", false, "rejected the API key")
		e.fake.SetAPIKey(mailchimptest.DefaultAPIKey)
		base := "http://127.0.0.1:1/3.0"
		if _, err := mcstore.New(db).SetMailchimpConnection(ctx, nil, &base); err != nil {
			t.Fatal(err)
		}
		check("unreachable", false, "unreachable at http://127.0.0.1:1/3.0")
	})
}
