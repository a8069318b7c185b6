package e2e_test

// Herald with Mailchimp as the marketing platform, end to end: a whole
// Herald (apptest) against the fake Mailchimp API, on SQLite and
// PostgreSQL.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/apptest"
	"github.com/heraldhq/herald/internal/mailchimp/mailchimptest"
	"github.com/heraldhq/herald/internal/sqlstore/storetest"
)

type consentEvent struct {
	Kind              string   `json:"kind"`
	Actor             string   `json:"actor"`
	Lists             []string `json:"lists"`
	DisclosureVersion int      `json:"disclosure_version"`
	Detail            string   `json:"detail"`
	CreatedAt         string   `json:"created_at"`
}

// okRequests counts the fake's 2xx answers to method on path, and all its
// answers.
func mcOK(fake *mailchimptest.Server, method, path string) (ok, all int) {
	for _, r := range fake.Requests() {
		if r.Method == method && r.Path == path {
			all++
			if r.Status >= 200 && r.Status < 300 {
				ok++
			}
		}
	}
	return ok, all
}

func mcMemberPath(audience, email string) string {
	return "/lists/" + audience + "/members/" + mailchimptest.Hash(email)
}

// connectMailchimp connects the instance to the fake and a list to aud1,
// and waits for Herald's webhook to be registered (the fake checks the URL
// with a GET first, as Mailchimp does). It returns the webhook URL.
func connectMailchimp(t *testing.T, in *apptest.Instance, fake *mailchimptest.Server, slug string) string {
	t.Helper()
	var conn struct {
		WebhookURL string `json:"webhook_url"`
		APIKeyHint string `json:"api_key_hint"`
	}
	in.MustAPI(t, 200, "PUT", "/integrations/mailchimp", map[string]any{"api_key": fake.APIKey(), "base_url": fake.URL()}, &conn)
	if conn.WebhookURL == "" || strings.Contains(conn.APIKeyHint, fake.APIKey()[:16]) {
		t.Fatalf("connection: %+v", conn)
	}
	in.MustAPI(t, 200, "PUT", "/lists/"+slug+"/mailchimp", map[string]any{"audience_id": "aud1"}, nil)
	apptest.Eventually(t, "Herald's webhook registered on the audience", func() bool {
		for _, h := range fake.RegisteredWebhooks("aud1") {
			if h.URL == conn.WebhookURL && h.Events["unsubscribe"] && h.Events["cleaned"] {
				return true
			}
		}
		return false
	})
	return conn.WebhookURL
}

func mcOutboxLink(t *testing.T, in *apptest.Instance, to, substr string) string {
	t.Helper()
	var link string
	apptest.Eventually(t, "mail to "+to, func() bool {
		var box struct {
			Data []struct {
				ID int64 `json:"id"`
			} `json:"data"`
		}
		in.API(t, "GET", "/outbox?to="+url.QueryEscape(to), nil, &box)
		if len(box.Data) == 0 {
			return false
		}
		var msg struct {
			Text string `json:"text"`
		}
		in.API(t, "GET", fmt.Sprintf("/outbox/%d", box.Data[0].ID), nil, &msg)
		link = apptest.Link(msg.Text, substr)
		return link != ""
	})
	return link
}

func mcSubscriber(t *testing.T, in *apptest.Instance, email string) *subscriber {
	t.Helper()
	var p struct {
		Data []subscriber `json:"data"`
	}
	in.MustAPI(t, 200, "GET", "/subscribers?email="+url.QueryEscape(email), nil, &p)
	if len(p.Data) == 0 {
		return nil
	}
	return &p.Data[0]
}

func mcConsents(t *testing.T, in *apptest.Instance, id int64) []consentEvent {
	t.Helper()
	var p struct {
		Data []consentEvent `json:"data"`
	}
	in.MustAPI(t, 200, "GET", fmt.Sprintf("/subscribers/%d/consents", id), nil, &p)
	return p.Data
}

// TestMailchimpJourney: a reader signs up on the hosted page for a list
// connected to Mailchimp (and one that is not), sees the list's own
// disclosure naming Mailchimp, confirms, unsubscribes with one click and
// erases their data; each change reaches the fake Mailchimp exactly once
// through 429s (with and without Retry-After), 5xx and a slow answer;
// Herald refuses to send a campaign to the list Mailchimp delivers.
func TestMailchimpJourney(t *testing.T) {
	for name, dbURL := range storetest.URLs(t) {
		t.Run(name, func(t *testing.T) {
			fake := mailchimptest.NewServer(t)
			fake.AddList("aud1", "The Planet")
			in := apptest.Start(t, apptest.Options{DatabaseURL: dbURL, Args: []string{"--postal-address", "1 Planet Square, Metropolis", "--fetch-allow", "127.0.0.1/32"}})
			in.App.Web.Mailchimp.Backoff = 100 * time.Millisecond
			in.MustAPI(t, 201, "POST", "/lists", map[string]any{"slug": "daily", "name": "The Daily Briefing"}, nil)
			in.MustAPI(t, 201, "POST", "/lists", map[string]any{"slug": "local", "name": "Local News"}, nil)
			connectMailchimp(t, in, fake, "daily")
			var link struct {
				Disclosure struct {
					Version int    `json:"version"`
					Text    string `json:"text"`
				} `json:"disclosure"`
			}
			in.MustAPI(t, 200, "GET", "/lists/daily/mailchimp", nil, &link)

			// The signup page shows the list's disclosure with its version.
			_, page := do(t, "GET", in.URL+"/subscribe", "", nil)
			if !strings.Contains(page, "is sent with Mailchimp") || !strings.Contains(page, fmt.Sprintf(`value="daily:%d"`, link.Disclosure.Version)) {
				t.Fatalf("the signup page does not show the Mailchimp disclosure of daily:\n%s", page)
			}
			var form struct {
				Lists []struct {
					Slug       string `json:"slug"`
					Disclosure *struct {
						Version int `json:"version"`
					} `json:"disclosure"`
				} `json:"lists"`
			}
			_, fj := do(t, "GET", in.URL+"/subscribe/form.json", "", nil)
			_ = json.Unmarshal([]byte(fj), &form)
			for _, l := range form.Lists {
				if (l.Slug == "daily") != (l.Disclosure != nil) {
					t.Errorf("form.json: list %s disclosure %+v", l.Slug, l.Disclosure)
				}
			}

			email := "Rita.Reader@Example.com"
			path := mcMemberPath("aud1", email)
			fake.Inject(mailchimptest.Fault{Method: "PUT", Path: path, Status: 429})
			fake.Inject(mailchimptest.Fault{Method: "PUT", Path: path, Status: 503, RetryAfter: "1"})
			fake.Inject(mailchimptest.Fault{Method: "PUT", Path: path, Status: 429, RetryAfter: "1"})
			fake.Inject(mailchimptest.Fault{Method: "PUT", Path: path, Delay: 400 * time.Millisecond})
			code, _ := do(t, "POST", in.URL+"/subscribe", "application/x-www-form-urlencoded", strings.NewReader(url.Values{
				"email": {email}, "name": {"Rita Reader"}, "lists": {"daily", "local"},
				"list_disclosure": {fmt.Sprintf("daily:%d", link.Disclosure.Version)}, "source": {"https://news.example/story"},
			}.Encode()))
			if code != 200 {
				t.Fatalf("signup: %d", code)
			}
			if n := fake.Count("", "/lists/aud1/members"); n != 0 {
				t.Fatalf("Mailchimp heard of a reader before confirmation: %d requests", n)
			}
			confirm := mcOutboxLink(t, in, email, "/confirm/")
			if code, _ := do(t, "POST", confirm, "application/x-www-form-urlencoded", nil); code != 200 {
				t.Fatalf("confirm: %d", code)
			}
			apptest.Eventually(t, "the member upserted", func() bool {
				m, ok := fake.Member("aud1", email)
				return ok && m.Status == "subscribed"
			})
			m, _ := fake.Member("aud1", email)
			if m.MergeFields["FNAME"] != "Rita" || m.MergeFields["LNAME"] != "Reader" || m.IPSignup != "127.0.0.1" || m.IPOpt != "127.0.0.1" ||
				m.TimestampSignup == "" || m.TimestampOpt == "" {
				t.Errorf("member: %+v", m)
			}
			if ok, all := mcOK(fake, "PUT", path); ok != 1 || all != 4 {
				t.Fatalf("upsert reached Mailchimp %d times in %d requests, want once in 4", ok, all)
			}
			sub := mcSubscriber(t, in, email)
			byList := map[string]int{}
			for _, e := range mcConsents(t, in, sub.ID) {
				if e.Kind == "signup_request" {
					byList[strings.Join(e.Lists, ",")] = e.DisclosureVersion
				}
			}
			if byList["daily"] != link.Disclosure.Version || byList["local"] == 0 || byList["local"] == link.Disclosure.Version {
				t.Fatalf("signup events record the disclosures %v (daily's is %d)", byList, link.Disclosure.Version)
			}

			// Herald refuses to send a campaign to the list Mailchimp delivers.
			var camp struct {
				ID int64 `json:"id"`
			}
			in.MustAPI(t, 201, "POST", "/campaigns", map[string]any{"name": "Morning", "subject": "Hello", "lists": []string{"daily"}, "body": "Hello {{.Name}}"}, &camp)
			var refusal struct {
				Error struct{ Message string } `json:"error"`
			}
			if code := in.API(t, "POST", fmt.Sprintf("/campaigns/%d/start", camp.ID), nil, &refusal); code != 409 || !strings.Contains(refusal.Error.Message, "delivered by Mailchimp") {
				t.Errorf("campaign to a Mailchimp-delivered list: %d %+v", code, refusal)
			}

			// One-click unsubscribe.
			fake.Inject(mailchimptest.Fault{Method: "PATCH", Path: path, Status: 502})
			if code, _ := do(t, "POST", sub.UnsubscribeURL, "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click")); code != 200 {
				t.Fatalf("one-click unsubscribe: %d", code)
			}
			apptest.Eventually(t, "the member unsubscribed", func() bool {
				m, _ := fake.Member("aud1", email)
				return m.Status == "unsubscribed"
			})
			// The manage page shows the disclosure of a list the reader
			// may join again, and joining records the version shown.
			_, manage := do(t, "GET", sub.ManageURL, "", nil)
			if !strings.Contains(manage, "is sent with Mailchimp") || !strings.Contains(manage, fmt.Sprintf(`value="daily:%d"`, link.Disclosure.Version)) {
				t.Fatalf("the manage page does not show the Mailchimp disclosure of daily:\n%s", manage)
			}
			if code, _ := do(t, "POST", sub.ManageURL, "application/x-www-form-urlencoded", strings.NewReader(url.Values{
				"action": {"save"}, "lists": {"daily"}, "list_disclosure": {fmt.Sprintf("daily:%d", link.Disclosure.Version)},
			}.Encode())); code != 200 {
				t.Fatalf("rejoin on the manage page: %d", code)
			}
			rejoined := 0
			for _, e := range mcConsents(t, in, sub.ID) {
				if e.Kind == "preference_change" && strings.Join(e.Lists, ",") == "daily" {
					rejoined = e.DisclosureVersion
				}
			}
			if rejoined != link.Disclosure.Version {
				t.Errorf("rejoining daily recorded disclosure version %d, want %d", rejoined, link.Disclosure.Version)
			}

			// Erasure.
			del := path + "/actions/delete-permanent"
			fake.Inject(mailchimptest.Fault{Method: "POST", Path: del, Status: 429})
			in.MustAPI(t, 200, "POST", fmt.Sprintf("/subscribers/%d/erase", sub.ID), nil, nil)
			apptest.Eventually(t, "the member deleted permanently", func() bool { return fake.Forgotten("aud1", email) })
			time.Sleep(300 * time.Millisecond)
			for _, c := range []struct{ method, path string }{{"PUT", path}, {"PATCH", path}, {"POST", del}} {
				if ok, _ := mcOK(fake, c.method, c.path); ok != 1 {
					t.Errorf("%s %s succeeded %d times, want exactly once", c.method, c.path, ok)
				}
			}
			for _, r := range fake.Requests() {
				if strings.Contains(r.Path, "/members/") && !strings.HasPrefix(r.Path, path) {
					t.Errorf("a request about someone else: %s %s", r.Method, r.Path)
				}
			}
			var failed struct {
				Total int `json:"total"`
			}
			in.MustAPI(t, 200, "GET", "/jobs?status=failed", nil, &failed)
			if failed.Total != 0 {
				t.Errorf("%d failed jobs", failed.Total)
			}
		})
	}
}

// TestMailchimpWebhooks: Mailchimp's webhooks, replayed and out of order,
// leave Herald in the right state, each is in the consent ledger (actor
// "mailchimp"), a wrong secret gets 404 and changes nothing, a malformed
// post gets 400, and nothing flows back to Mailchimp.
func TestMailchimpWebhooks(t *testing.T) {
	for name, dbURL := range storetest.URLs(t) {
		t.Run(name, func(t *testing.T) {
			fake := mailchimptest.NewServer(t)
			fake.AddList("aud1", "The Planet")
			in := apptest.Start(t, apptest.Options{DatabaseURL: dbURL, Args: []string{"--fetch-allow", "127.0.0.1/32"}})
			in.MustAPI(t, 201, "POST", "/lists", map[string]any{"slug": "daily", "name": "The Daily Briefing"}, nil)
			hook := connectMailchimp(t, in, fake, "daily")
			fake.ResetRequests()
			ctx := context.Background()
			post := func(target string, h mailchimptest.Webhook) int {
				t.Helper()
				res, err := mailchimptest.PostWebhook(ctx, nil, target, h.Form())
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				return res.StatusCode
			}
			status := func(email string) string {
				s := mcSubscriber(t, in, email)
				if s == nil {
					return "none"
				}
				return s.status("daily")
			}
			t0 := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
			at := func(h mailchimptest.Webhook, d time.Duration) mailchimptest.Webhook { h.FiredAt = t0.Add(d); return h }

			// Mailchimp's URL check, and the secret.
			if res, err := http.Get(hook); err != nil || res.StatusCode != 200 {
				t.Fatalf("GET webhook URL: %v %v", err, res)
			}
			wrong := regexp.MustCompile(`/webhooks/mailchimp/.*$`).ReplaceAllString(hook, "/webhooks/mailchimp/not-the-secret")
			sub := at(mailchimptest.SubscribeWebhook("aud1", "ann@example.com", "Ann", "Lee", "192.0.2.44"), 0)
			if code := post(wrong, sub); code != 404 || status("ann@example.com") != "none" {
				t.Fatalf("wrong secret: %d, %s", code, status("ann@example.com"))
			}
			if res, _ := http.Get(wrong); res.StatusCode != 404 {
				t.Fatalf("GET with a wrong secret: %d", res.StatusCode)
			}
			if code, _ := do(t, "POST", hook, "application/x-www-form-urlencoded", strings.NewReader("type=subscribe&data[email]=x")); code != 400 {
				t.Fatalf("malformed webhook: %d", code)
			}
			if code, _ := do(t, "POST", hook, "application/x-www-form-urlencoded", strings.NewReader("%zz")); code != 400 {
				t.Fatalf("unreadable form: %d", code)
			}

			// Subscribe (creates the reader), replayed.
			for range 2 {
				if code := post(hook, sub); code != 200 {
					t.Fatalf("subscribe: %d", code)
				}
			}
			ann := mcSubscriber(t, in, "ann@example.com")
			if ann == nil || ann.status("daily") != "confirmed" || ann.Name != "Ann Lee" {
				t.Fatalf("after subscribe: %+v", ann)
			}
			// Out of order: the unsubscribe (fired later) arrives first.
			unsub := at(mailchimptest.UnsubscribeWebhook("aud1", "ann@example.com", "unsub", "manual", "c1"), 2*time.Minute)
			resub := at(mailchimptest.SubscribeWebhook("aud1", "ann@example.com", "Ann", "Lee", ""), time.Minute)
			for _, h := range []mailchimptest.Webhook{unsub, resub, unsub, resub} {
				if code := post(hook, h); code != 200 {
					t.Fatalf("webhook: %d", code)
				}
			}
			if s := status("ann@example.com"); s != "unsubscribed" {
				t.Fatalf("after unsubscribe and an older subscribe: %s", s)
			}
			// Profile and address changes.
			post(hook, at(mailchimptest.ProfileWebhook("aud1", "ann@example.com", "Anne", "Lee-Smith"), 3*time.Minute))
			post(hook, at(mailchimptest.UpemailWebhook("aud1", "ann@example.com", "anne@example.org"), 4*time.Minute))
			post(hook, at(mailchimptest.ProfileWebhook("aud1", "anne@example.org", "Old", "Name"), 90*time.Second)) // stale
			anne := mcSubscriber(t, in, "anne@example.org")
			if anne == nil || anne.Name != "Anne Lee-Smith" || anne.ID != ann.ID {
				t.Fatalf("after profile and upemail: %+v", anne)
			}
			ev := mcConsents(t, in, ann.ID)
			kinds := []string{}
			for _, e := range ev {
				if e.Actor != "mailchimp" {
					t.Errorf("event by %q: %+v", e.Actor, e)
				}
				kinds = append(kinds, e.Kind)
			}
			want := "confirmation unsubscribe confirmation profile_change profile_change profile_change"
			if strings.Join(kinds, " ") != want {
				t.Fatalf("ledger %v, want %s (each event once, replays not again)", kinds, want)
			}
			if !strings.Contains(ev[2].Detail, "not applied") || !strings.Contains(ev[5].Detail, "not applied") {
				t.Errorf("stale events are not marked: %q / %q", ev[2].Detail, ev[5].Detail)
			}

			// Cleaned (hard bounce) and abuse reports suppress the address.
			post(hook, at(mailchimptest.SubscribeWebhook("aud1", "bob@example.com", "Bob", "", ""), 0))
			post(hook, at(mailchimptest.CleanedWebhook("aud1", "bob@example.com", "hard", "c2"), time.Minute))
			post(hook, at(mailchimptest.SubscribeWebhook("aud1", "cy@example.com", "Cy", "", ""), 0))
			post(hook, at(mailchimptest.UnsubscribeWebhook("aud1", "cy@example.com", "unsub", "abuse", "c3"), time.Minute))
			post(hook, at(mailchimptest.SubscribeWebhook("aud1", "bob@example.com", "Bob", "", ""), 30*time.Second)) // fired before the cleaning
			for _, e := range []string{"bob@example.com", "cy@example.com"} {
				s := mcSubscriber(t, in, e)
				if s == nil || s.status("daily") != "unsubscribed" {
					t.Errorf("%s: %+v", e, s)
				}
				sup, _ := in.App.DB.IsSuppressed(ctx, e)
				if !sup {
					t.Errorf("%s is not suppressed", e)
				}
			}
			// Campaign events and unknown audiences are accepted and ignored.
			if code := post(hook, mailchimptest.CampaignWebhook("aud1", "c9", "Hi")); code != 200 {
				t.Errorf("campaign webhook: %d", code)
			}
			if code := post(hook, mailchimptest.SubscribeWebhook("elsewhere", "dee@example.com", "", "", "")); code != 200 || mcSubscriber(t, in, "dee@example.com") != nil {
				t.Errorf("webhook of an unconnected audience: %d", code)
			}
			time.Sleep(300 * time.Millisecond)
			if n := len(fake.Requests()); n != 0 {
				t.Errorf("webhooks made Herald call Mailchimp %d times: %+v", n, fake.Requests())
			}
		})
	}
}
