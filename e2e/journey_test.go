// Package e2e_test drives whole Herald instances over HTTP, with real
// databases (SQLite, and PostgreSQL when HERALD_TEST_POSTGRES_URL is set),
// a real SMTP server and, in browser_test.go, real headless Chromium.
package e2e_test

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/apptest"
	"github.com/heraldhq/herald/internal/sqlstore/storetest"
	"github.com/heraldhq/herald/internal/token"
)

type subscription struct {
	List   string `json:"list"`
	Status string `json:"status"`
}

type subscriber struct {
	ID             int64          `json:"id"`
	Email          string         `json:"email"`
	Name           string         `json:"name"`
	Subscriptions  []subscription `json:"subscriptions"`
	ManageURL      string         `json:"manage_url"`
	UnsubscribeURL string         `json:"unsubscribe_url"`
}

func (s subscriber) status(list string) string {
	for _, x := range s.Subscriptions {
		if x.List == list {
			return x.Status
		}
	}
	return ""
}

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func do(t *testing.T, method, u, ctype string, body io.Reader) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	res, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func postForm(t *testing.T, u string, v url.Values) (int, string) {
	t.Helper()
	return do(t, "POST", u, "application/x-www-form-urlencoded", strings.NewReader(v.Encode()))
}

func findSubscriber(t *testing.T, in *apptest.Instance, email string) subscriber {
	t.Helper()
	var page struct {
		Data []subscriber `json:"data"`
	}
	in.MustAPI(t, 200, "GET", "/subscribers?email="+url.QueryEscape(email), nil, &page)
	if len(page.Data) != 1 {
		t.Fatalf("subscriber %s: found %d", email, len(page.Data))
	}
	return page.Data[0]
}

func setupLists(t *testing.T, in *apptest.Instance) {
	t.Helper()
	for _, l := range []map[string]any{
		{"slug": "daily", "name": "The Daily Briefing", "description": "Top stories every morning"},
		{"slug": "sport", "name": "Sport", "optin": "single"},
		{"slug": "vip", "name": "VIP", "visibility": "private"},
	} {
		in.MustAPI(t, 201, "POST", "/lists", l, nil)
	}
}

// TestReaderJourney is the whole reader journey over HTTP, on every
// database, with mail going to a real SMTP server.
func TestReaderJourney(t *testing.T) {
	for name, dbURL := range storetest.URLs(t) {
		t.Run(name, func(t *testing.T) {
			smtp := apptest.StartSMTP(t)
			in := apptest.Start(t, apptest.Options{DatabaseURL: dbURL, Args: []string{"--smtp-url", smtp.URL()}})
			setupLists(t, in)
			const email = "zoe.reader@example.com"

			// No list ticked: 422 and the exact message.
			code, body := postForm(t, in.URL+"/subscribe", url.Values{"email": {email}})
			if code != 422 || !strings.Contains(body, "Please select at least one mailing list.") {
				t.Fatalf("no list: %d", code)
			}
			// Invalid address, unknown list, private list: 422.
			for _, v := range []url.Values{
				{"email": {"not-an-address"}, "lists": {"daily"}},
				{"email": {email}, "lists": {"nope"}},
				{"email": {email}, "lists": {"vip"}},
			} {
				if code, _ := postForm(t, in.URL+"/subscribe", v); code != 422 {
					t.Fatalf("%v: status %d, want 422", v, code)
				}
			}
			// Sign up, from an article.
			code, first := postForm(t, in.URL+"/subscribe", url.Values{"email": {email}, "name": {"Zoë"}, "lists": {"daily", "sport"},
				"source": {"https://news.example/2026/11/article"}})
			if code != 200 || !strings.Contains(first, "check your inbox") {
				t.Fatalf("signup: %d", code)
			}
			apptest.Eventually(t, "the confirmation mail", func() bool { return len(smtp.To(email)) == 1 })
			mail := smtp.To(email)[0]
			if !strings.Contains(mail.Header("Subject"), "Confirm your subscription") || !strings.Contains(mail.Header("To"), "Zoë") {
				t.Fatalf("confirmation mail headers: %q / %q", mail.Header("Subject"), mail.Header("To"))
			}
			link := apptest.Link(mail.Text(), "/confirm/")
			if link == "" {
				t.Fatalf("no confirmation link in %q", mail.Text())
			}
			sub := findSubscriber(t, in, email)
			if sub.status("daily") != "pending" || sub.status("sport") != "confirmed" {
				t.Fatalf("after signup: %+v", sub.Subscriptions)
			}
			// The same answer whatever the address's state: signing up again,
			// already pending, gives the same page and no second mail.
			_, again := postForm(t, in.URL+"/subscribe", url.Values{"email": {email}, "name": {"Zoë"}, "lists": {"daily", "sport"},
				"source": {"https://news.example/2026/11/article"}})
			if again != first {
				t.Fatal("second signup answered differently from the first")
			}
			// GET shows a button and changes nothing.
			code, page := do(t, "GET", link, "", nil)
			if code != 200 || !strings.Contains(page, "<form method=\"post\"") {
				t.Fatalf("GET confirm: %d", code)
			}
			if findSubscriber(t, in, email).status("daily") != "pending" {
				t.Fatal("GET on the confirmation link changed the subscription")
			}
			// POST confirms, once.
			code, page = do(t, "POST", link, "application/x-www-form-urlencoded", nil)
			if code != 200 || !strings.Contains(page, "You're subscribed") {
				t.Fatalf("POST confirm: %d %s", code, page)
			}
			if code, _ := do(t, "POST", link, "application/x-www-form-urlencoded", nil); code != 410 {
				t.Fatalf("second POST confirm: %d, want 410", code)
			}
			sub = findSubscriber(t, in, email)
			if sub.status("daily") != "confirmed" {
				t.Fatalf("after confirm: %+v", sub.Subscriptions)
			}
			// Both are freshly issued (they differ in their issue time) and
			// open this reader's page.
			manage := apptest.Link(page, "/manage/")
			if manage == "" || !sameReaderLink(t, in, manage, sub.ManageURL) {
				t.Fatalf("manage link on the confirmation page %q, API says %q", manage, sub.ManageURL)
			}
			// Manage page: leave sport, keep daily.
			if code, page := do(t, "GET", manage, "", nil); code != 200 || !strings.Contains(page, "The Daily Briefing") {
				t.Fatalf("manage page: %d", code)
			}
			if code, _ := postForm(t, manage, url.Values{"action": {"save"}, "lists": {"daily"}}); code != 200 {
				t.Fatalf("save preferences: %d", code)
			}
			if s := findSubscriber(t, in, email); s.status("sport") != "unsubscribed" || s.status("daily") != "confirmed" {
				t.Fatalf("after leaving sport: %+v", s.Subscriptions)
			}
			// Download my data.
			code, body = postForm(t, manage, url.Values{"action": {"export"}})
			var exp struct {
				Profile  subscriber        `json:"profile"`
				Consents []json.RawMessage `json:"consent_events"`
				Messages []json.RawMessage `json:"messages"`
			}
			if code != 200 || json.Unmarshal([]byte(body), &exp) != nil || exp.Profile.Email != email || len(exp.Consents) < 4 {
				t.Fatalf("export: %d %s", code, body)
			}

			// One-click unsubscribe (RFC 8058): GET changes nothing.
			unsub := sub.UnsubscribeURL
			if code, page := do(t, "GET", unsub, "", nil); code != 200 || !strings.Contains(page, "Unsubscribe") {
				t.Fatalf("GET unsubscribe: %d", code)
			}
			if findSubscriber(t, in, email).status("daily") != "confirmed" {
				t.Fatal("GET on the unsubscribe link changed something")
			}
			code, _ = do(t, "POST", unsub, "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
			if code != 200 {
				t.Fatalf("one-click POST: %d, want 200 without redirect", code)
			}
			if s := findSubscriber(t, in, email); s.status("daily") != "unsubscribed" {
				t.Fatalf("after one-click: %+v", s.Subscriptions)
			}
			// Idempotent, multipart too.
			var mp bytes.Buffer
			mw := multipart.NewWriter(&mp)
			_ = mw.WriteField("List-Unsubscribe", "One-Click")
			mw.Close()
			if code, _ := do(t, "POST", unsub, mw.FormDataContentType(), &mp); code != 200 {
				t.Fatalf("multipart one-click again: %d", code)
			}
			var consents struct {
				Data []struct {
					Kind, IP, SourceURL string
					DisclosureVersion   int    `json:"disclosure_version"`
					DisclosureHash      string `json:"disclosure_hash"`
					Source              string `json:"source_url"`
				} `json:"data"`
			}
			in.MustAPI(t, 200, "GET", "/subscribers/"+itoa(sub.ID)+"/consents", nil, &consents)
			if c := consents.Data[0]; c.Kind != "signup_request" || c.Source != "https://news.example/2026/11/article" || c.DisclosureVersion != 1 || len(c.DisclosureHash) != 64 {
				t.Fatalf("first consent event: %+v", c)
			}
			kinds := ""
			for _, c := range consents.Data {
				kinds += c.Kind + " "
			}
			if !strings.Contains(kinds, "confirmation") || !strings.Contains(kinds, "unsubscribe") || !strings.Contains(kinds, "preference_change") && !strings.Contains(kinds, "unsubscribe unsubscribe") {
				t.Fatalf("ledger: %s", kinds)
			}

			// Erase: gone, suppressed, and no mail until a new confirmation.
			code, _ = postForm(t, manage, url.Values{"action": {"erase"}, "confirm_erase": {"yes"}})
			if code != 200 {
				t.Fatalf("erase: %d", code)
			}
			if code := in.API(t, "GET", "/subscribers/"+itoa(sub.ID), nil, nil); code != 404 {
				t.Fatalf("after erase: %d", code)
			}
			if code, _ := do(t, "GET", manage, "", nil); code != 404 {
				t.Fatalf("manage after erase: %d", code)
			}
			if sup, _ := in.App.DB.IsSuppressed(t.Context(), email); !sup {
				t.Fatal("erased address is not suppressed")
			}
			// Signing up again to a single opt-in list needs confirming now.
			postForm(t, in.URL+"/subscribe", url.Values{"email": {email}, "lists": {"sport"}})
			if s := findSubscriber(t, in, email); s.status("sport") != "pending" {
				t.Fatalf("after erasure, signup to a single opt-in list: %+v", s.Subscriptions)
			}
			apptest.Eventually(t, "a new confirmation mail", func() bool { return len(smtp.To(email)) == 2 })
		})
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestBackendSignup: a site's back end relays signups with an API token:
// no per-IP limit, and the reader's IP and browser go into the ledger;
// without a token those fields are refused.
func TestBackendSignup(t *testing.T) {
	in := apptest.Start(t, apptest.Options{Args: []string{"--signup-limit", "1/hour"}})
	setupLists(t, in)
	post := func(token, body string) int {
		req, _ := http.NewRequest("POST", in.URL+"/subscribe", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	for i := range 3 {
		body := `{"email":"relay` + strconv.Itoa(i) + `@example.com","lists":["daily"],"ip":"198.51.100.7","user_agent":"Reader Browser/1.0","source":"https://news.example/a"}`
		if code := post(in.Token, body); code != 200 {
			t.Fatalf("relayed signup %d: %d", i, code)
		}
	}
	if code := post("", `{"email":"x@example.com","lists":["daily"],"ip":"198.51.100.7"}`); code != 403 {
		t.Fatalf("ip without a token: %d, want 403", code)
	}
	sub := findSubscriber(t, in, "relay2@example.com")
	var consents struct {
		Data []struct {
			IP        string `json:"ip"`
			UserAgent string `json:"user_agent"`
		} `json:"data"`
	}
	in.MustAPI(t, 200, "GET", "/subscribers/"+itoa(sub.ID)+"/consents", nil, &consents)
	if c := consents.Data[0]; c.IP != "198.51.100.7" || c.UserAgent != "Reader Browser/1.0" {
		t.Fatalf("ledger: %+v", c)
	}
}

// sameReaderLink reports whether two manage URLs are genuine, fresh links
// to the same reader's page.
func sameReaderLink(t *testing.T, in *apptest.Instance, a, b string) bool {
	t.Helper()
	parse := func(u string) (token.Token, bool) {
		i := strings.LastIndex(u, "/manage/")
		if i < 0 {
			return token.Token{}, false
		}
		tok, err := in.App.Tokens.Parse(token.Manage, u[i+len("/manage/"):], time.Now())
		return tok, err == nil && tok.Fresh(time.Now(), 0)
	}
	ta, okA := parse(a)
	tb, okB := parse(b)
	return okA && okB && ta.SubscriberID == tb.SubscriberID && strings.HasPrefix(a, in.URL) && strings.HasPrefix(b, in.URL)
}
