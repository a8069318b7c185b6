package e2e_test

// Browser tests: a real headless Chromium drives the reader pages of a
// whole Herald (apptest.Start) — the hosted signup page, the embeddable
// form on another origin, the preferences page and the confirmation link —
// as PRODUCT.md §3 describes them. Run with: go test ./e2e/ -run Browser

import (
	"bytes"
	"fmt"
	"html"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/heraldhq/herald/internal/apptest"
)

// browserNoListMsg is the exact message of PRODUCT.md §3 for a signup
// without a list.
const browserNoListMsg = "Please select at least one mailing list."

// browserHerald starts Herald with a real SMTP server and three lists: a
// public double opt-in "daily", a public single opt-in "sport" and a
// private "vip" that readers must never see.
func browserHerald(t *testing.T, args ...string) (*apptest.Instance, *apptest.SMTPServer) {
	t.Helper()
	smtp := apptest.StartSMTP(t)
	in := apptest.Start(t, apptest.Options{Args: append([]string{"--smtp-url", smtp.URL()}, args...)})
	for _, l := range []map[string]string{
		{"slug": "daily", "name": "The Daily Briefing", "description": "The day's news every morning.", "visibility": "public", "optin": "double"},
		{"slug": "sport", "name": "Sport Weekly", "visibility": "public", "optin": "single"},
		{"slug": "vip", "name": "VIP Insiders", "visibility": "private", "optin": "double"},
	} {
		in.MustAPI(t, http.StatusCreated, "POST", "/lists", l, nil)
	}
	return in, smtp
}

type browserSubscriber struct {
	ID            int64  `json:"id"`
	Email         string `json:"email"`
	ManageURL     string `json:"manage_url"`
	Subscriptions []struct {
		List   string `json:"list"`
		Status string `json:"status"`
	} `json:"subscriptions"`
}

// browserFindSubscriber looks the address up through the API.
func browserFindSubscriber(t *testing.T, in *apptest.Instance, email string) browserSubscriber {
	t.Helper()
	var page struct {
		Data []browserSubscriber `json:"data"`
	}
	in.MustAPI(t, http.StatusOK, "GET", "/subscribers?email="+url.QueryEscape(email), nil, &page)
	if len(page.Data) != 1 {
		t.Fatalf("GET /subscribers?email=%s: %d subscribers, want 1", email, len(page.Data))
	}
	return page.Data[0]
}

// browserStatuses maps list slug → subscription status of the address.
func browserStatuses(t *testing.T, in *apptest.Instance, email string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, s := range browserFindSubscriber(t, in, email).Subscriptions {
		out[s.List] = s.Status
	}
	return out
}

func browserWantStatuses(t *testing.T, in *apptest.Instance, email string, want map[string]string) {
	t.Helper()
	got := browserStatuses(t, in, email)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("subscriptions of %s = %v, want %v", email, got, want)
	}
}

// browserConfirmMail waits for the n-th mail to email and returns its
// confirmation link.
func browserConfirmMail(t *testing.T, in *apptest.Instance, smtp *apptest.SMTPServer, email string, n int) string {
	t.Helper()
	apptest.Eventually(t, fmt.Sprintf("mail #%d to %s", n, email), func() bool { return len(smtp.To(email)) >= n })
	msgs := smtp.To(email)
	if len(msgs) != n {
		t.Fatalf("%d mails to %s, want %d", len(msgs), email, n)
	}
	link := apptest.Link(msgs[n-1].Text(), "/confirm/")
	if !strings.HasPrefix(link, in.URL+"/confirm/") {
		t.Fatalf("mail #%d to %s has no confirmation link on %s:\n%s", n, email, in.URL, msgs[n-1].Text())
	}
	return link
}

// browserDisclosure is the current consent disclosure text.
func browserDisclosure(t *testing.T, in *apptest.Instance) (version int, text string) {
	t.Helper()
	var d struct {
		Version int    `json:"version"`
		Text    string `json:"text"`
	}
	in.MustAPI(t, http.StatusOK, "GET", "/disclosures/current", nil, &d)
	if strings.TrimSpace(d.Text) == "" {
		t.Fatal("the current disclosure is empty")
	}
	return d.Version, d.Text
}

// browserSameText compares texts as the reader sees them (whitespace folded).
func browserSameText(a, b string) bool {
	return strings.Join(strings.Fields(a), " ") == strings.Join(strings.Fields(b), " ")
}

// browserWantBoxes checks the list checkboxes: exactly the public lists
// (by slug, in any order), with the given ones ticked.
func browserWantBoxes(t *testing.T, boxes []browserCheckbox, slugs []string, ticked ...string) {
	t.Helper()
	var got []string
	for _, b := range boxes {
		got = append(got, b.Value)
		if !b.Visible {
			t.Errorf("checkbox %q is not visible", b.Value)
		}
		if want := slices.Contains(ticked, b.Value); b.Checked != want {
			t.Errorf("checkbox %q (%q) ticked = %v, want %v", b.Value, b.Label, b.Checked, want)
		}
		if b.Value == "daily" && !strings.Contains(b.Label, "The Daily Briefing") {
			t.Errorf("checkbox daily has label %q, want the list's name", b.Label)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, slugs) {
		t.Fatalf("checkboxes for lists %v, want %v", got, slugs)
	}
}

// browserButton selects the button that reads exactly text.
func browserButton(text string) chromedp.JSPath {
	return browserByText("button", text)
}

// browserByText selects the first element of that tag whose text, with
// whitespace folded, is exactly text.
func browserByText(tag, text string) chromedp.JSPath {
	return chromedp.JSPath(fmt.Sprintf(`Array.from(document.querySelectorAll(%q)).find(function (e) { return e.textContent.replace(/\s+/g, " ").trim() === %q; })`, tag, text))
}

// Hosted signup page: GET /subscribe, errors in place, success, mail.
func TestBrowserSignupPage(t *testing.T) {
	b := newBrowserTab(t)
	in, smtp := browserHerald(t)
	const email = "reader.one@example.com"

	if st := b.Navigate(in.URL + "/subscribe"); st != http.StatusOK {
		t.Fatalf("GET /subscribe: status %d", st)
	}
	browserWantBoxes(t, b.Checkboxes(`form input[type=checkbox][name=lists]`), []string{"daily", "sport"})
	if body := b.Text("main"); strings.Contains(body, "VIP") || strings.Contains(body, "vip") {
		t.Errorf("the signup page shows the private list:\n%s", body)
	}
	version, disclosure := browserDisclosure(t, in)
	if got := b.Text("form .disclosure"); !browserSameText(got, disclosure) {
		t.Errorf("disclosure shown = %q, want the current one %q", got, disclosure)
	}
	if got := b.Value(`input[name=disclosure_version]`); got != fmt.Sprint(version) {
		t.Errorf("the form sends disclosure version %q, want %d", got, version)
	}

	// An address but no list: 422, and the message beside the lists.
	b.Do("typing the address", chromedp.SendKeys(chromedp.ID("email"), email))
	if st := browserClickNavigate(b, browserButton("Subscribe")); st != http.StatusUnprocessableEntity {
		t.Errorf("submitting without a list: status %d, want 422", st)
	}
	if got := b.Text("form fieldset.lists #lists-error"); got != browserNoListMsg {
		t.Errorf("error beside the lists = %q, want %q", got, browserNoListMsg)
	}
	if got := b.Value("#email"); got != email {
		t.Errorf("after the error the address field holds %q, want %q kept", got, email)
	}
	if n := b.Eval("counting errors", `document.querySelectorAll(".error, .field-error").length`); n != "1" {
		t.Errorf("%s error messages shown, want only the one beside the lists", n)
	}
	browserWantBoxes(t, b.Checkboxes(`form input[type=checkbox][name=lists]`), []string{"daily", "sport"})

	// The same answer to a plain form post, as a site's back end would see it.
	res, err := browserHTTP.PostForm(in.URL+"/subscribe", url.Values{"email": {email}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(body), browserNoListMsg) {
		t.Errorf("plain POST /subscribe without a list: status %d, want 422 with %q", res.StatusCode, browserNoListMsg)
	}

	// Tick "daily" and submit: the success page and a confirmation mail.
	b.Do("ticking daily", chromedp.Click(chromedp.CSS(`input[name=lists][value=daily]`)))
	if st := browserClickNavigate(b, browserButton("Subscribe")); st != http.StatusOK {
		t.Errorf("submitting with daily: status %d, want 200", st)
	}
	if got := b.Text("main"); !strings.Contains(strings.ToLower(got), "check your inbox") {
		t.Errorf("success page says %q, want it to contain \"check your inbox\"", got)
	}
	browserConfirmMail(t, in, smtp, email, 1)
	browserWantStatuses(t, in, email, map[string]string{"daily": "pending"})

	// A linking page may pre-select lists.
	if st := b.Navigate(in.URL + "/subscribe?lists=daily"); st != http.StatusOK {
		t.Fatalf("GET /subscribe?lists=daily: status %d", st)
	}
	browserWantBoxes(t, b.Checkboxes(`form input[type=checkbox][name=lists]`), []string{"daily", "sport"}, "daily")

	b.AssertClean("status of 422")
}

// browserHTTP is for the tests' own plain requests: never wait forever.
var browserHTTP = &http.Client{Timeout: browserStepTimeout}

// browserArticle serves article pages on their own origin (another port)
// with the embed snippet that Herald's /embed page hands out: one as
// pasted, and one that pre-selects "sport" the way /embed documents.
func browserArticle(t *testing.T, in *apptest.Instance) (articleURL, preselectURL string) {
	t.Helper()
	res, err := browserHTTP.Get(in.URL + "/embed")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := regexp.MustCompile(`(?s)<pre><code>(.*?)</code></pre>`).FindSubmatch(page)
	if res.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("GET /embed: status %d, no snippet in:\n%s", res.StatusCode, page)
	}
	snippet := html.UnescapeString(string(m[1]))
	for _, want := range []string{`class="herald-signup"`, `data-herald-lists=""`, `<script src="` + in.URL + `/embed.js" async></script>`, in.URL + "/subscribe"} {
		if !strings.Contains(snippet, want) {
			t.Fatalf("the embed snippet lacks %s:\n%s", want, snippet)
		}
	}
	attr := regexp.MustCompile(`Pre-select lists with <code>(data-[a-z-]+)=`).FindSubmatch(page)
	if attr == nil {
		t.Fatalf("GET /embed does not say how to pre-select lists:\n%s", page)
	}
	preselected := strings.Replace(snippet, `data-herald-lists=""`, string(attr[1])+`="sport" data-herald-lists=""`, 1)
	if string(attr[1]) == "data-herald-lists" {
		preselected = strings.Replace(snippet, `data-herald-lists=""`, `data-herald-lists="sport"`, 1)
	}
	article := func(title, snippet string) string {
		return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>` + title + ` · The Daily Planet</title></head>
<body><article><h1>` + title + `</h1>
<p>The vote was close, and the work starts in spring.</p></article>
<aside>` + snippet + `</aside></body></html>`
	}
	pages := map[string]string{
		"/2026/05/new-bridge": article("City council approves the new bridge", snippet),
		"/2026/05/derby":      article("Derby day ends in a draw", preselected),
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := pages[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, p)
	}))
	t.Cleanup(srv.Close)
	if srv.URL == in.URL {
		t.Fatal("the article must be on another origin than Herald")
	}
	return srv.URL + "/2026/05/new-bridge?utm_source=browser-test", srv.URL + "/2026/05/derby"
}

// Embedded form: rendered from Herald's JSON on another origin, posts
// cross-origin, shows Herald's messages in place.
func TestBrowserEmbeddedForm(t *testing.T) {
	b := newBrowserTab(t)
	in, smtp := browserHerald(t)
	articleURL, preselectURL := browserArticle(t, in)
	const email = "embedded.reader@example.com"
	const form = ".herald-signup form.herald-form"

	if st := b.Navigate(articleURL); st != http.StatusOK {
		t.Fatalf("GET %s: status %d", articleURL, st)
	}
	b.Text(form) // waits for the script to fetch /subscribe/form.json and render
	if !b.Requested(in.URL + "/subscribe/form.json") {
		t.Errorf("the form did not come from %s/subscribe/form.json", in.URL)
	}
	browserWantBoxes(t, b.Checkboxes(form+` input[type=checkbox][name=lists]`), []string{"daily", "sport"})
	if got := b.Text(form); strings.Contains(got, "VIP") {
		t.Errorf("the embedded form shows the private list:\n%s", got)
	}
	version, disclosure := browserDisclosure(t, in)
	if got := b.Text(form + " .herald-disclosure"); !browserSameText(got, disclosure) {
		t.Errorf("disclosure shown = %q, want %q", got, disclosure)
	}

	// No list: the message beside the lists, and the page stays.
	b.Do("typing the address and submitting without a list",
		chromedp.SendKeys(chromedp.CSS(form+` input[type=email]`), email),
		chromedp.Click(chromedp.CSS(form+` button[type=submit]`)),
	)
	if got := b.Text(form + " fieldset.herald-lists .herald-error"); got != browserNoListMsg {
		t.Errorf("inline error beside the lists = %q, want %q", got, browserNoListMsg)
	}
	b.Screenshot(t.TempDir(), "embedded-form-error.png")
	if n := b.Eval("counting visible errors", `Array.from(document.querySelectorAll(".herald-error")).filter(function (e) { return !e.hidden; }).length`); n != "1" {
		t.Errorf("%s error messages shown, want only the one beside the lists", n)
	}

	// Tick a list and submit: the success message in place.
	b.Do("ticking daily and submitting",
		chromedp.Click(chromedp.CSS(form+` input[name=lists][value=daily]`)),
		chromedp.Click(chromedp.CSS(form+` button[type=submit]`)),
	)
	if got := b.Text(".herald-signup .herald-ok"); !strings.Contains(strings.ToLower(got), "check your inbox") {
		t.Errorf("inline success message = %q, want it to contain \"check your inbox\"", got)
	}
	if loc := b.Eval("reading the location", `location.href`); loc != articleURL {
		t.Errorf("the reader left the article: now at %s", loc)
	}

	// Herald recorded a pending signup whose consent names the article.
	browserWantStatuses(t, in, email, map[string]string{"daily": "pending"})
	sub := browserFindSubscriber(t, in, email)
	var consents struct {
		Data []struct {
			Kind              string   `json:"kind"`
			SourceURL         string   `json:"source_url"`
			Lists             []string `json:"lists"`
			UserAgent         string   `json:"user_agent"`
			DisclosureVersion int      `json:"disclosure_version"`
		} `json:"data"`
	}
	in.MustAPI(t, http.StatusOK, "GET", fmt.Sprintf("/subscribers/%d/consents", sub.ID), nil, &consents)
	if len(consents.Data) == 0 {
		t.Fatal("no consent event recorded")
	}
	for _, ev := range consents.Data {
		if ev.SourceURL != articleURL {
			t.Errorf("consent event %s has source_url %q, want the article %q", ev.Kind, ev.SourceURL, articleURL)
		}
		if !slices.Contains(ev.Lists, "daily") {
			t.Errorf("consent event %s lists %v, want daily", ev.Kind, ev.Lists)
		}
		if !strings.Contains(ev.UserAgent, "Chrome") {
			t.Errorf("consent event %s user agent %q, want the browser's", ev.Kind, ev.UserAgent)
		}
		if ev.DisclosureVersion != version {
			t.Errorf("consent event %s disclosure version %d, want the one shown, %d", ev.Kind, ev.DisclosureVersion, version)
		}
	}
	browserConfirmMail(t, in, smtp, email, 1)

	// An article may pre-select lists, as /embed documents.
	if st := b.Navigate(preselectURL); st != http.StatusOK {
		t.Fatalf("GET %s: status %d", preselectURL, st)
	}
	b.Text(form)
	browserWantBoxes(t, b.Checkboxes(form+` input[type=checkbox][name=lists]`), []string{"daily", "sport"}, "sport")

	if cors := b.CORSProblems(); len(cors) > 0 {
		t.Errorf("CORS errors: %q", cors)
	}
	// The failed signup answers 422 on purpose; anything else fails.
	b.AssertClean("status of 422")
}

// The detector of the test above is not blind: when Herald does not allow
// the article's origin, the browser refuses the cross-origin fetch, the
// harness reports a CORS error, and the reader keeps the plain link.
func TestBrowserEmbeddedFormCORSRefusalIsCaught(t *testing.T) {
	b := newBrowserTab(t)
	in, _ := browserHerald(t, "--cors-origins", "https://news.example.com")
	articleURL, _ := browserArticle(t, in)

	if st := b.Navigate(articleURL); st != http.StatusOK {
		t.Fatalf("GET %s: status %d", articleURL, st)
	}
	link := b.Text(`.herald-signup a[href$="/subscribe"]`)
	apptest.Eventually(t, "the browser to report the CORS refusal", func() bool { return len(b.CORSProblems()) > 0 })
	for _, p := range b.CORSProblems() {
		t.Logf("caught as expected: %s", p)
	}
	// The check that ends TestBrowserEmbeddedForm would have failed.
	if len(b.Unexpected("status of 422")) == 0 {
		t.Error("AssertClean would not have failed on the CORS refusal")
	}
	if n := b.Eval("counting forms", `document.querySelectorAll(".herald-form").length`); n != "0" {
		t.Errorf("%s embedded forms rendered despite the CORS refusal", n)
	}
	if link != "Sign up to our free newsletters" {
		t.Errorf("fallback link text = %q", link)
	}
}

// Preferences page: untick to leave, unsubscribe from all, tick to join
// again with double opt-in.
func TestBrowserManagePage(t *testing.T) {
	b := newBrowserTab(t)
	in, smtp := browserHerald(t)
	const email = "managing.reader@example.com"
	const boxes = `form input[type=checkbox][name=lists]`

	var sub browserSubscriber
	in.MustAPI(t, http.StatusCreated, "POST", "/subscribers",
		map[string]any{"email": email, "lists": []string{"daily", "sport"}, "status": "confirmed"}, &sub)
	if !strings.HasPrefix(sub.ManageURL, in.URL+"/manage/") {
		t.Fatalf("manage_url = %q", sub.ManageURL)
	}
	mailsBefore := len(smtp.To(email))

	if st := b.Navigate(sub.ManageURL); st != http.StatusOK {
		t.Fatalf("GET manage_url: status %d", st)
	}
	if got := b.Text("main"); !strings.Contains(got, email) || strings.Contains(got, "VIP") {
		t.Errorf("the manage page should name %s and not the private list:\n%s", email, got)
	}
	browserWantBoxes(t, b.Checkboxes(boxes), []string{"daily", "sport"}, "daily", "sport")
	b.Screenshot(t.TempDir(), "manage-page.png")

	// Untick daily and save.
	b.Do("unticking daily", chromedp.Click(chromedp.CSS(`input[name=lists][value=daily]`)))
	if st := browserClickNavigate(b, browserButton("Save my choices")); st != http.StatusOK {
		t.Errorf("saving: status %d", st)
	}
	if got := b.Text(".notice"); !strings.Contains(got, "choices are saved") {
		t.Errorf("after saving the page says %q, want the choices saved", got)
	}
	browserWantStatuses(t, in, email, map[string]string{"daily": "unsubscribed", "sport": "confirmed"})
	browserWantBoxes(t, b.Checkboxes(boxes), []string{"daily", "sport"}, "sport")

	// Unsubscribe from all.
	if st := browserClickNavigate(b, browserButton("Unsubscribe from all")); st != http.StatusOK {
		t.Errorf("unsubscribing from all: status %d", st)
	}
	if got := b.Text(".notice"); !strings.Contains(got, "unsubscribed from all") {
		t.Errorf("after unsubscribing from all the page says %q", got)
	}
	browserWantStatuses(t, in, email, map[string]string{"daily": "unsubscribed", "sport": "unsubscribed"})
	browserWantBoxes(t, b.Checkboxes(boxes), []string{"daily", "sport"})

	// Tick daily again: double opt-in applies, so it is pending and a
	// confirmation mail goes out.
	b.Do("ticking daily", chromedp.Click(chromedp.CSS(`input[name=lists][value=daily]`)))
	if st := browserClickNavigate(b, browserButton("Save my choices")); st != http.StatusOK {
		t.Errorf("saving: status %d", st)
	}
	if got := b.Text(".notice"); !strings.Contains(got, "sent you an email to confirm") {
		t.Errorf("after joining a double opt-in list the page says %q, want it to mention the confirmation mail", got)
	}
	browserWantStatuses(t, in, email, map[string]string{"daily": "pending", "sport": "unsubscribed"})
	cbs := b.Checkboxes(boxes)
	browserWantBoxes(t, cbs, []string{"daily", "sport"}, "daily")
	for _, c := range cbs {
		if c.Value == "daily" && !strings.Contains(c.Label, "waiting for your confirmation") {
			t.Errorf("daily's label %q does not say it waits for confirmation", c.Label)
		}
	}
	browserConfirmMail(t, in, smtp, email, mailsBefore+1)

	b.AssertClean()
}

// The signup page on a phone and on a desktop: screenshots, and no part
// of the form runs off the side of a phone screen.
func TestBrowserSignupPageScreens(t *testing.T) {
	b := newBrowserTab(t)
	in, _ := browserHerald(t)
	dir := t.TempDir()
	for _, s := range []struct {
		name          string
		width, height int64
		opts          []chromedp.EmulateViewportOption
	}{
		{"phone", 375, 740, []chromedp.EmulateViewportOption{chromedp.EmulateMobile}},
		{"desktop", 1280, 900, nil},
	} {
		b.Do("emulating a "+s.name, chromedp.EmulateViewport(s.width, s.height, s.opts...))
		for _, state := range []struct{ name, submit string }{{"empty", ""}, {"error", "nobody@example.com"}} {
			if st := b.Navigate(in.URL + "/subscribe"); st != http.StatusOK {
				t.Fatalf("GET /subscribe: status %d", st)
			}
			if state.submit != "" {
				b.Do("typing the address", chromedp.SendKeys(chromedp.ID("email"), state.submit))
				browserClickNavigate(b, browserButton("Subscribe"))
				b.Text("#lists-error")
			}
			// Nothing may be wider than the screen (no sideways scrolling),
			// and every control must lie within it.
			overflow := b.Eval("measuring the page", `(function () {
				var w = document.documentElement.clientWidth, bad = [];
				if (document.documentElement.scrollWidth > w) bad.push("page " + document.documentElement.scrollWidth + "px wide");
				document.querySelectorAll("input:not([type=hidden]), button, label, .disclosure, h1").forEach(function (e) {
					if (e.closest("[aria-hidden=true]")) return; // the honeypot is off-screen on purpose
					var r = e.getBoundingClientRect();
					if (r.width > 0 && (r.left < 0 || r.right > w + 0.5)) bad.push(e.tagName + (e.id ? "#" + e.id : "") + " spans " + r.left + "–" + r.right);
				});
				return bad.join("; ");
			})()`)
			if overflow != "" {
				t.Errorf("%s (%dpx), %s form: runs off the screen: %s", s.name, s.width, state.name, overflow)
			}
			shot := b.Screenshot(dir, fmt.Sprintf("signup-%s-%s-%dx%d.png", state.name, s.name, s.width, s.height))
			img, err := png.Decode(bytes.NewReader(shot))
			if err != nil {
				t.Fatalf("%s screenshot is not a PNG: %v", s.name, err)
			}
			if b := img.Bounds(); b.Dx() < int(s.width) || b.Dy() < 100 {
				t.Errorf("%s screenshot is %dx%d, want at least %d wide", s.name, b.Dx(), b.Dy(), s.width)
			}
		}
	}
	b.AssertClean("status of 422")
}

// The confirmation link: GET shows one button and changes nothing; the
// button confirms and offers the preferences page.
func TestBrowserConfirmLink(t *testing.T) {
	b := newBrowserTab(t)
	in, smtp := browserHerald(t)
	const email = "confirming.reader@example.com"

	res, err := browserHTTP.PostForm(in.URL+"/subscribe", url.Values{"email": {email}, "lists": {"daily"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("POST /subscribe: status %d", res.StatusCode)
	}
	link := browserConfirmMail(t, in, smtp, email, 1)

	if st := b.Navigate(link); st != http.StatusOK {
		t.Fatalf("GET the confirmation link: status %d", st)
	}
	if got := b.Text("h1"); got != "Confirm your subscription" {
		t.Errorf("confirm page heading %q", got)
	}
	if got := b.Text("main"); !strings.Contains(got, email) || !strings.Contains(got, "The Daily Briefing") {
		t.Errorf("the confirm page should name the address and the list:\n%s", got)
	}
	if n := b.Eval("counting buttons", `document.querySelectorAll("button, input[type=submit], input[type=button]").length`); n != "1" {
		t.Errorf("the confirm page has %s buttons, want exactly one", n)
	}
	if m := b.Eval("reading the form method", `document.querySelector("form").method`); m != "post" {
		t.Errorf("the confirm button submits with %q, want post", m)
	}
	browserWantStatuses(t, in, email, map[string]string{"daily": "pending"}) // GET changed nothing

	if st := browserClickNavigate(b, chromedp.CSS("button")); st != http.StatusOK {
		t.Errorf("confirming: status %d", st)
	}
	if got := b.Text("h1"); got != "You're subscribed" {
		t.Errorf("after confirming the heading is %q, want \"You're subscribed\"", got)
	}
	browserWantStatuses(t, in, email, map[string]string{"daily": "confirmed"})

	manage := browserByText("a", "Manage your subscriptions")
	if href := b.Eval("reading the manage link", string(manage)+`.href`); !strings.HasPrefix(href, in.URL+"/manage/") {
		t.Errorf("the manage link points to %q", href)
	}
	if st := browserClickNavigate(b, manage); st != http.StatusOK {
		t.Fatalf("following \"Manage your subscriptions\": status %d", st)
	}
	if got := b.Text("h1"); got != "Your subscriptions" {
		t.Errorf("the manage link leads to a page headed %q", got)
	}
	browserWantBoxes(t, b.Checkboxes(`form input[type=checkbox][name=lists]`), []string{"daily", "sport"}, "daily")

	// The link is single-use.
	if st := b.Navigate(link); st != http.StatusGone {
		t.Errorf("reopening the used confirmation link: status %d, want 410", st)
	}
	if got := b.Text("h1"); !strings.Contains(got, "already been used") {
		t.Errorf("reopening the used confirmation link shows %q", got)
	}
	b.AssertClean("status of 410")
}
