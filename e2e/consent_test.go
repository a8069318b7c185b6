package e2e_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/apptest"
)

// manageLine returns the text of the manage page's checkbox line for a
// list (tags stripped).
func manageLine(t *testing.T, page, slug string) string {
	t.Helper()
	re := regexp.MustCompile(`(?s)<label class="check"><input type="checkbox" name="lists" value="` + regexp.QuoteMeta(slug) + `"[^>]*>(.*?)</label>`)
	m := re.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no line for list %q on the manage page:\n%s", slug, page)
	}
	return regexp.MustCompile(`<[^>]+>`).ReplaceAllString(m[1], "")
}

// TestManagePageSaysWhatJoiningDoes (issue 14 item 10): the manage page
// tells, per list, whether ticking it joins at once (single opt-in) or
// sends a confirmation mail (double opt-in, or a list the reader left).
func TestManagePageSaysWhatJoiningDoes(t *testing.T) {
	in := apptest.Start(t, apptest.Options{})
	for _, l := range []map[string]any{
		{"slug": "daily", "name": "Daily"},
		{"slug": "weekly", "name": "Weekly"},
		{"slug": "sport", "name": "Sport", "optin": "single"},
		{"slug": "chess", "name": "Chess", "optin": "single"},
	} {
		in.MustAPI(t, 201, "POST", "/lists", l, nil)
	}
	id := addConfirmed(t, in, "reader@example.com", "", "daily", "chess")
	in.MustAPI(t, 200, "PATCH", "/subscribers/"+itoa(id), map[string]any{"subscriptions": []map[string]any{{"list": "chess", "status": "unsubscribed"}}}, nil)
	sub := findSubscriber(t, in, "reader@example.com")
	st, page := do(t, "GET", sub.ManageURL, "", nil)
	if st != 200 {
		t.Fatalf("manage page: %d", st)
	}
	if strings.Contains(page, "we will ask you to confirm by email") {
		t.Errorf("the page still promises a confirmation mail for every list")
	}
	for slug, want := range map[string]string{
		"sport":  "subscribed at once",
		"weekly": "we will email you a link to confirm",
		"chess":  "we will email you a link to confirm", // left before: rejoining needs confirmation
	} {
		if line := manageLine(t, page, slug); !strings.Contains(line, want) {
			t.Errorf("list %s: line %q does not say %q", slug, line, want)
		}
	}
	if line := manageLine(t, page, "daily"); strings.Contains(line, "tick to join") {
		t.Errorf("a list the reader is in says how to join it: %q", line)
	}
	// And it is true: ticking sport joins at once, weekly waits for the mail.
	st, _ = postForm(t, sub.ManageURL, map[string][]string{"action": {"save"}, "lists": {"daily", "sport", "weekly"}})
	if st != 200 {
		t.Fatalf("save: %d", st)
	}
	sub = findSubscriber(t, in, "reader@example.com")
	if sub.status("sport") != "confirmed" || sub.status("weekly") != "pending" {
		t.Errorf("after joining: sport %s (want confirmed), weekly %s (want pending)", sub.status("sport"), sub.status("weekly"))
	}
}
