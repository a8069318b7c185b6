package web_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/apptest"
	"github.com/heraldhq/herald/internal/sqlstore"
	"github.com/heraldhq/herald/internal/token"
)

// Reader links have a lifetime and can be revoked; an expired one leads to
// a page that mails a fresh link (the same answer for any address), and an
// unsubscribe link unsubscribes however old it is without revealing more.
func TestReaderLinkLifetimeAndRevocation(t *testing.T) {
	in := apptest.Start(t, apptest.Options{Args: []string{"--confirm-window", "1h"}})
	ctx := context.Background()
	in.MustAPI(t, 201, "POST", "/lists", map[string]any{"slug": "daily", "name": "The Daily", "optin": "single"}, nil)
	var zoe struct{ ID int64 }
	in.MustAPI(t, 201, "POST", "/subscribers", map[string]any{"email": "zoe@example.com", "lists": []string{"daily"}, "status": "confirmed"}, &zoe)
	tokens := in.App.Tokens
	client := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	call := func(method, path string, form url.Values) (int, string) {
		t.Helper()
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, _ := http.NewRequest(method, in.URL+path, body)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	manageAt := func(issued time.Time) string { return "/manage/" + tokens.Make(token.ManageLink(zoe.ID, issued)) }
	expectExpired := func(what, path string) {
		t.Helper()
		code, page := call("GET", path, nil)
		if code != http.StatusGone || !strings.Contains(page, `action="/manage"`) || strings.Contains(page, "zoe@example.com") {
			t.Fatalf("%s: status %d, want 410 with the form for a fresh link and no address:\n%s", what, code, page)
		}
		if code, _ := call("POST", path, url.Values{"action": {"export"}}); code != http.StatusGone {
			t.Fatalf("%s: export answered %d, want 410", what, code)
		}
	}

	// Lifetime.
	if code, page := call("GET", manageAt(time.Now()), nil); code != 200 || !strings.Contains(page, "zoe@example.com") {
		t.Fatalf("fresh manage link: %d\n%s", code, page)
	}
	if code, _ := call("GET", manageAt(time.Now().Add(-token.ManageTTL+time.Hour)), nil); code != 200 {
		t.Fatalf("manage link near the end of its lifetime: %d", code)
	}
	expectExpired("manage link past its lifetime", manageAt(time.Now().Add(-token.ManageTTL-time.Hour)))
	expectExpired("manage link without a lifetime (made before links had one)", "/manage/"+tokens.Make(token.Token{Kind: token.Manage, SubscriberID: zoe.ID}))

	// Unsubscribe links: a fresh one shows the address and leads on; an
	// old one still unsubscribes, and shows nothing more.
	oldUnsub := "/unsubscribe/" + tokens.Make(token.UnsubscribeLink(zoe.ID, nil, 0, time.Now().Add(-2*365*24*time.Hour)))
	if code, page := call("GET", oldUnsub, nil); code != 200 || strings.Contains(page, "zoe@example.com") {
		t.Fatalf("old unsubscribe link: %d\n%s", code, page)
	}
	if code, page := call("GET", "/unsubscribe/"+tokens.Make(token.UnsubscribeLink(zoe.ID, nil, 0, time.Now())), nil); code != 200 || !strings.Contains(page, "zoe@example.com") {
		t.Fatalf("fresh unsubscribe link: %d\n%s", code, page)
	}

	// Revocation through the API: links issued before stop working,
	// links issued after work.
	before := manageAt(time.Now())
	unsubBefore := "/unsubscribe/" + tokens.Make(token.UnsubscribeLink(zoe.ID, nil, 0, time.Now()))
	time.Sleep(5 * time.Millisecond)
	in.MustAPI(t, 200, "POST", "/subscribers/"+itoa(zoe.ID)+"/revoke-links", nil, nil)
	time.Sleep(5 * time.Millisecond)
	expectExpired("manage link issued before the revocation", before)
	if code, page := call("GET", unsubBefore, nil); code != 200 || strings.Contains(page, "zoe@example.com") {
		t.Fatalf("revoked unsubscribe link shows the address: %d\n%s", code, page)
	}
	after := manageAt(time.Now())
	if code, _ := call("GET", after, nil); code != 200 {
		t.Fatalf("manage link issued after the revocation: %d", code)
	}

	// Asking for a fresh link: the same answer for a known, an unknown
	// and a just-served address; mail only to the known one, once per
	// window, through the queue.
	_, known := call("POST", "/manage", url.Values{"email": {"Zoe@Example.com"}})
	_, unknown := call("POST", "/manage", url.Values{"email": {"nobody@example.com"}})
	_, again := call("POST", "/manage", url.Values{"email": {"zoe@example.com"}})
	if !strings.Contains(known, "we have emailed it a fresh link") || known != unknown || known != again {
		t.Fatalf("answers differ:\nknown: %s\nunknown: %s\nagain: %s", known, unknown, again)
	}
	if code, _ := call("POST", "/manage", url.Values{"email": {"not an address"}}); code != http.StatusUnprocessableEntity {
		t.Fatalf("invalid address: %d", code)
	}
	var link string
	apptest.Eventually(t, "the fresh link in the outbox", func() bool {
		msgs, _, err := in.App.DB.Outbox(ctx, sqlstore.OutboxFilter{To: "zoe@example.com", Limit: 10})
		if err != nil || len(msgs) == 0 {
			return false
		}
		m, err := in.App.DB.GetOutbox(ctx, msgs[0].ID)
		if err != nil {
			return false
		}
		link = regexp.MustCompile(`/manage/[A-Za-z0-9_-]+`).FindString(apptest.Part([]byte(m.Raw), "text/html"))
		return link != ""
	})
	if code, page := call("GET", link, nil); code != 200 || !strings.Contains(page, "zoe@example.com") {
		t.Fatalf("mailed link: %d\n%s", code, page)
	}
	time.Sleep(300 * time.Millisecond) // the queue has had time to send a second mail, if one was queued
	if msgs, _, _ := in.App.DB.Outbox(ctx, sqlstore.OutboxFilter{Limit: 100}); len(msgs) != 1 {
		t.Fatalf("%d mails in the outbox, want 1 (one per window, none to unknown addresses): %+v", len(msgs), msgs)
	}

	// The reader withdraws every link from the manage page: that link dies
	// too, and a fresh one is mailed.
	if code, _ := call("POST", link, url.Values{"action": {"revoke_links"}}); code != 200 {
		t.Fatalf("withdraw links: %d", code)
	}
	expectExpired("the link used to withdraw", link)
	apptest.Eventually(t, "a second fresh link", func() bool {
		msgs, _, _ := in.App.DB.Outbox(ctx, sqlstore.OutboxFilter{To: "zoe@example.com", Limit: 10})
		return len(msgs) == 2
	})

	// An old unsubscribe link still unsubscribes.
	if code, page := call("POST", oldUnsub, url.Values{"List-Unsubscribe": {"One-Click"}}); code != 200 || strings.Contains(page, "/manage/") {
		t.Fatalf("one-click with an old link: %d\n%s", code, page)
	}
	sub, err := in.App.DB.GetSubscriber(ctx, zoe.ID)
	if err != nil || len(sub.Subscriptions) != 1 || sub.Subscriptions[0].Status != herald.StatusUnsubscribed {
		t.Fatalf("after one-click: %+v %v", sub, err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
