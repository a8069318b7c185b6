package e2e_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/apptest"
	"github.com/heraldhq/herald/internal/sqlstore/storetest"
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

type disclosureView struct {
	Version int    `json:"version"`
	Text    string `json:"text"`
	Hash    string `json:"hash"`
}

type consentView struct {
	Kind              string `json:"kind"`
	DisclosureVersion int    `json:"disclosure_version"`
	DisclosureHash    string `json:"disclosure_hash"`
}

// TestDisclosureFollowsSettings (issue 14 item 8): the generated
// disclosure names the publisher of HERALD_FROM, gets a new version when a
// restart changes it, keeps readers' consent events on the version they
// saw, and never replaces a disclosure the publisher wrote.
func TestDisclosureFollowsSettings(t *testing.T) {
	for name, dbURL := range storetest.URLs(t) {
		t.Run(name, func(t *testing.T) {
			start := func(from string) *apptest.Instance {
				// --publisher-name "" leaves the name to HERALD_FROM.
				return apptest.Start(t, apptest.Options{DatabaseURL: dbURL, Args: []string{"--publisher-name", "", "--from", from}})
			}
			current := func(in *apptest.Instance) disclosureView {
				var d disclosureView
				in.MustAPI(t, 200, "GET", "/disclosures/current", nil, &d)
				return d
			}
			in := start("Herald <newsletter@localhost>")
			d1 := current(in)
			if d1.Version != 1 || !strings.HasPrefix(d1.Text, "Herald uses your email address") {
				t.Fatalf("first start: %+v", d1)
			}
			in.MustAPI(t, 201, "POST", "/lists", map[string]any{"slug": "daily", "name": "Daily", "optin": "single"}, nil)
			st, _ := postForm(t, in.URL+"/subscribe", map[string][]string{"email": {"early@example.com"}, "lists": {"daily"}})
			if st != 200 {
				t.Fatalf("signup: %d", st)
			}
			in.Stop()

			in = start("The Daily Planet <news@planet.example>")
			d2 := current(in)
			if d2.Version != 2 || !strings.HasPrefix(d2.Text, "The Daily Planet uses your email address") ||
				!strings.Contains(d2.Text, "The Daily Planet's own Herald server") || strings.Contains(d2.Text, "Herald's own") {
				t.Fatalf("after a restart with another publisher: %+v", d2)
			}
			st, page := do(t, "GET", in.URL+"/subscribe", "", nil)
			if st != 200 || !strings.Contains(page, "The Daily Planet uses your email address") {
				t.Fatalf("the signup page does not show the new text (%d)", st)
			}
			// The same settings again: no new version.
			in.Stop()
			in = start("The Daily Planet <news@planet.example>")
			if d := current(in); d.Version != 2 {
				t.Fatalf("a restart with the same settings made version %d", d.Version)
			}
			st, _ = postForm(t, in.URL+"/subscribe", map[string][]string{"email": {"late@example.com"}, "lists": {"daily"}})
			if st != 200 {
				t.Fatalf("signup: %d", st)
			}
			// Each reader's ledger names the version and hash they saw.
			for email, want := range map[string]disclosureView{"early@example.com": d1, "late@example.com": d2} {
				var cs struct{ Data []consentView }
				in.MustAPI(t, 200, "GET", "/subscribers/"+itoa(findSubscriber(t, in, email).ID)+"/consents", nil, &cs)
				if len(cs.Data) == 0 || cs.Data[0].DisclosureVersion != want.Version || cs.Data[0].DisclosureHash != want.Hash {
					t.Errorf("%s: consent events %+v, want version %d hash %s", email, cs.Data, want.Version, want.Hash)
				}
			}

			// The publisher writes their own: restarts with other settings leave it.
			var own disclosureView
			in.MustAPI(t, 201, "POST", "/disclosures", map[string]any{"text": "Planet Media Ltd keeps your address to send you our newsletters."}, &own)
			in.Stop()
			in = start("Someone Else <news@else.example>")
			if d := current(in); d.Version != own.Version || d.Text != own.Text {
				t.Fatalf("a restart replaced the publisher's disclosure: %+v, want %+v", d, own)
			}
			var all struct{ Data []disclosureView }
			in.MustAPI(t, 200, "GET", "/disclosures", nil, &all)
			for _, d := range all.Data {
				if strings.Contains(d.Text, "Someone Else") {
					t.Fatalf("a version naming the new publisher was stored: %+v", d)
				}
			}
		})
	}
}

// TestTestSendLinks (issue 14 item 11): the links of a test send work —
// rendered for a chosen subscriber, their name shows but the links open a
// page that says they belong to a test and act on nobody; a test to an
// address Herald does not know gets the same test links, not dead ones.
func TestTestSendLinks(t *testing.T) {
	smtpSrv := apptest.StartSMTP(t)
	in := apptest.Start(t, apptest.Options{Args: []string{"--smtp-url", smtpSrv.URL(), "--from", "The Daily Planet <news@planet.example>"}})
	in.MustAPI(t, 201, "POST", "/lists", map[string]any{"slug": "daily", "name": "The Daily Briefing"}, nil)
	bo := addConfirmed(t, in, "bo@example.com", "Bo Th", "daily")
	var c campaignView
	in.MustAPI(t, 201, "POST", "/campaigns", map[string]any{"name": "Issue 7", "subject": "The news", "lists": []string{"daily"},
		"body": "# Hello {{.Reader.FirstName | default \"reader\"}}\n\nThe news.\n"}, &c)
	cid := itoa(c.ID)

	// An unknown subscriber is a clear 422, not a queued job that fails.
	var e struct {
		Error struct{ Field string } `json:"error"`
	}
	in.MustAPI(t, 422, "POST", "/campaigns/"+cid+"/test", map[string]any{"emails": []string{"editor@example.com"}, "subscriber": 999999}, &e)
	if e.Error.Field != "subscriber" {
		t.Errorf("unknown subscriber: field %q", e.Error.Field)
	}

	in.MustAPI(t, 202, "POST", "/campaigns/"+cid+"/test", map[string]any{"emails": []string{"editor@example.com"}, "subscriber": bo}, nil)
	in.MustAPI(t, 202, "POST", "/campaigns/"+cid+"/test", map[string]any{"emails": []string{"stranger@example.com"}}, nil)
	apptest.Eventually(t, "the test messages", func() bool {
		return len(smtpSrv.To("editor@example.com")) == 1 && len(smtpSrv.To("stranger@example.com")) == 1
	})
	ed := smtpSrv.To("editor@example.com")[0]
	if !strings.Contains(ed.HTML(), "Hello Bo") || !strings.Contains(ed.Header("To"), "editor@example.com") {
		t.Errorf("the test for a chosen reader is not rendered for them, to the editor: To %q\n%s", ed.Header("To"), ed.HTML())
	}
	for _, m := range []apptest.Message{ed, smtpSrv.To("stranger@example.com")[0]} {
		if lu := m.Header("List-Unsubscribe"); !strings.Contains(lu, "/test-link/") {
			t.Errorf("List-Unsubscribe %q is not a test link", lu)
		}
		// The footer's unsubscribe and preferences links, both test links.
		if len(apptest.LinkAll(m.Text(), "/test-link/")) != 2 || strings.Contains(m.Text(), "/unsubscribe/") || strings.Contains(m.Text(), "/manage/") {
			t.Fatalf("links of the test message:\n%s", m.Text())
		}
		for _, l := range apptest.LinkAll(m.Text(), "/test-link/") {
			st, page := do(t, "GET", l, "", nil)
			if st != 200 || !strings.Contains(page, "test send of the campaign “Issue 7”") || !strings.Contains(page, "nothing has been changed") {
				t.Errorf("GET %s: %d\n%s", l, st, page)
			}
			st, _ = postForm(t, l, map[string][]string{"List-Unsubscribe": {"One-Click"}})
			if st != 200 {
				t.Errorf("one-click POST to a test link: %d", st)
			}
		}
	}
	if s := findSubscriber(t, in, "bo@example.com"); s.status("daily") != "confirmed" {
		t.Fatalf("a test link acted on the reader: daily is %s", s.status("daily"))
	}
	// A forged or tampered test link is refused like any other.
	st, _ := do(t, "GET", in.URL+"/test-link/AAAA", "", nil)
	if st != 404 {
		t.Errorf("forged test link: %d", st)
	}
}

// TestGenericCSVImportInventsNoConsent (issue 14 item 9): a plain CSV is
// refused as a Mailchimp export; imported as the generic format, its
// readers are confirmed with an "imported without opt-in evidence" event,
// "name" is the name (not an attribute), other columns are attributes, and
// a later Mailchimp export shows no opt-in or confirmation time.
func TestGenericCSVImportInventsNoConsent(t *testing.T) {
	for name, dbURL := range storetest.URLs(t) {
		t.Run(name, func(t *testing.T) {
			in := apptest.Start(t, apptest.Options{DatabaseURL: dbURL})
			in.MustAPI(t, 201, "POST", "/lists", map[string]any{"slug": "daily", "name": "Daily"}, nil)
			plain := "email,name,city\nann@example.com,Ann Lee,Paris\n"
			if st, body := uploadFile(t, in, "/lists/daily/import/mailchimp", "subscribed_members_export_1.csv", plain); st != 422 || !strings.Contains(body, "import/csv") {
				t.Fatalf("a plain CSV as a Mailchimp export: %d %s", st, body)
			}
			if st, body := uploadFile(t, in, "/lists/daily/import/csv", "people.csv", plain); st != 200 || !strings.Contains(body, `"added":1`) {
				t.Fatalf("generic import: %d %s", st, body)
			}
			var sub struct {
				ID         int64
				Name       string
				Attributes map[string]any
			}
			var page struct{ Data []json.RawMessage }
			in.MustAPI(t, 200, "GET", "/subscribers?email=ann@example.com", nil, &page)
			if len(page.Data) != 1 {
				t.Fatalf("subscriber: %d found", len(page.Data))
			}
			if err := json.Unmarshal(page.Data[0], &sub); err != nil {
				t.Fatal(err)
			}
			if sub.Name != "Ann Lee" || sub.Attributes["city"] != "Paris" || sub.Attributes["name"] != nil {
				t.Errorf("subscriber: %+v", sub)
			}
			if s := findSubscriber(t, in, "ann@example.com"); s.status("daily") != "confirmed" {
				t.Errorf("status %q", s.status("daily"))
			}
			var cs struct {
				Data []struct {
					Kind   string `json:"kind"`
					Actor  string `json:"actor"`
					Detail string `json:"detail"`
				}
			}
			in.MustAPI(t, 200, "GET", "/subscribers/"+itoa(sub.ID)+"/consents", nil, &cs)
			if len(cs.Data) != 1 || cs.Data[0].Kind != "import" || !strings.HasPrefix(cs.Data[0].Detail, "imported without opt-in evidence") {
				t.Errorf("ledger: %+v", cs.Data)
			}
			// The export: OPTIN_TIME and CONFIRM_TIME empty.
			req, _ := http.NewRequest("GET", in.URL+"/api/v1/lists/daily/export/mailchimp?file=subscribed", nil)
			req.Header.Set("Authorization", "Bearer "+in.Token)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			recs, err := csv.NewReader(res.Body).ReadAll()
			res.Body.Close()
			if err != nil || len(recs) != 2 {
				t.Fatalf("export: %v %v", recs, err)
			}
			for i, h := range recs[0] {
				if (h == "OPTIN_TIME" || h == "CONFIRM_TIME" || h == "OPTIN_IP" || h == "CONFIRM_IP") && recs[1][i] != "" {
					t.Errorf("export has %s = %q for a reader imported without evidence", h, recs[1][i])
				}
			}
		})
	}
}

// uploadFile posts one file as multipart/form-data to an API route.
func uploadFile(t *testing.T, in *apptest.Instance, path, name, content string) (int, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	w, _ := mw.CreateFormFile("file", name)
	w.Write([]byte(content))
	mw.Close()
	req, _ := http.NewRequest("POST", in.URL+"/api/v1"+path, &b)
	req.Header.Set("Authorization", "Bearer "+in.Token)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}
