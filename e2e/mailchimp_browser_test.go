package e2e_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/heraldhq/herald/internal/mailchimp/mailchimptest"
)

// TestBrowserMailchimpDisclosure: in real Chromium, the embedded form and
// the hosted page show the disclosure of a list connected to Mailchimp
// below the installation's, and the consent ledger records, per list, the
// version the reader saw.
func TestBrowserMailchimpDisclosure(t *testing.T) {
	b := newBrowserTab(t)
	in, _ := browserHerald(t, "--fetch-allow", "127.0.0.1/32") // the fake Mailchimp is on loopback
	fake := mailchimptest.NewServer(t)
	fake.AddList("aud1", "The Planet")
	connectMailchimp(t, in, fake, "daily")
	var link struct {
		Disclosure struct {
			Version int    `json:"version"`
			Text    string `json:"text"`
		} `json:"disclosure"`
	}
	in.MustAPI(t, http.StatusOK, "GET", "/lists/daily/mailchimp", nil, &link)
	global, globalText := browserDisclosure(t, in)
	articleURL, _ := browserArticle(t, in)

	wantLedger := func(email string) {
		t.Helper()
		sub := browserFindSubscriber(t, in, email)
		got := map[string]int{}
		for _, e := range mcConsents(t, in, sub.ID) {
			if e.Kind == "signup_request" {
				got[strings.Join(e.Lists, ",")] = e.DisclosureVersion
			}
		}
		if got["daily"] != link.Disclosure.Version || got["sport"] != global || len(got) != 2 {
			t.Errorf("%s: signup events by list → disclosure version %v, want daily → %d, sport → %d", email, got, link.Disclosure.Version, global)
		}
	}

	// The embedded form.
	const form = ".herald-signup form.herald-form"
	if st := b.Navigate(articleURL); st != http.StatusOK {
		t.Fatalf("GET %s: %d", articleURL, st)
	}
	b.Text(form)
	if got := b.Text(form + ` .herald-disclosure[data-list="daily"]`); !browserSameText(got, link.Disclosure.Text) || !strings.Contains(got, "Mailchimp") {
		t.Errorf("embedded form: daily's disclosure = %q, want %q", got, link.Disclosure.Text)
	}
	if got := b.Text(form + " .herald-disclosure"); !browserSameText(got, globalText) {
		t.Errorf("embedded form: first disclosure = %q, want the installation's", got)
	}
	b.Do("signing up to both lists in the embedded form",
		chromedp.SendKeys(chromedp.CSS(form+` input[type=email]`), "embedded.mc@example.com"),
		chromedp.Click(chromedp.CSS(form+` input[name=lists][value=daily]`)),
		chromedp.Click(chromedp.CSS(form+` input[name=lists][value=sport]`)),
		chromedp.Click(chromedp.CSS(form+` button[type=submit]`)),
	)
	b.Text(".herald-signup .herald-ok")
	wantLedger("embedded.mc@example.com")

	// The hosted page.
	if st := b.Navigate(in.URL + "/subscribe"); st != http.StatusOK {
		t.Fatalf("GET /subscribe: %d", st)
	}
	if got := b.Text(`form .disclosure[data-list="daily"]`); !browserSameText(got, link.Disclosure.Text) {
		t.Errorf("signup page: daily's disclosure = %q", got)
	}
	if got := b.Value(`input[name=list_disclosure]`); got != fmt.Sprintf("daily:%d", link.Disclosure.Version) {
		t.Errorf("signup page posts list_disclosure %q", got)
	}
	b.Do("signing up to both lists on the signup page",
		chromedp.SendKeys(chromedp.CSS(`form input[type=email]`), "hosted.mc@example.com"),
		chromedp.Click(chromedp.CSS(`form input[name=lists][value=daily]`)),
		chromedp.Click(chromedp.CSS(`form input[name=lists][value=sport]`)),
	)
	browserClickNavigate(b, `form button[type=submit]`)
	wantLedger("hosted.mc@example.com")
	b.AssertClean()
}
