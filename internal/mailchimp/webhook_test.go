package mailchimp

import (
	"errors"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/mailchimp/mailchimptest"
)

var fired = time.Date(2009, 3, 26, 21, 35, 57, 0, time.UTC)

func TestParseWebhook(t *testing.T) {
	with := func(h mailchimptest.Webhook, f func(*mailchimptest.Webhook)) url.Values {
		h.FiredAt = fired
		if f != nil {
			f(&h)
		}
		return h.Form()
	}
	for _, tc := range []struct {
		name string
		form url.Values
		want Event
	}{
		{
			name: "subscribe",
			form: with(mailchimptest.SubscribeWebhook("a6b5da1054", "api@mailchimp.com", "Mailchimp", "API", "10.20.10.30"), func(h *mailchimptest.Webhook) {
				h.Data["merges.INTERESTS"] = "Group1, Group2"
				h.Groupings = []mailchimptest.Grouping{{ID: "1", UniqueID: "u1", Name: "Topics", Groups: []string{"Politics", "Sport"}}}
			}),
			want: Event{
				Type: EventSubscribe, FiredAt: fired, ListID: "a6b5da1054", ID: mailchimptest.Hash("api@mailchimp.com")[:10], WebID: "12345",
				Email: "api@mailchimp.com", EmailType: "html", FirstName: "Mailchimp", LastName: "API",
				Merges:    map[string]string{"EMAIL": "api@mailchimp.com", "FNAME": "Mailchimp", "LNAME": "API", "INTERESTS": "Group1, Group2"},
				Interests: []string{"Group1", "Group2"},
				Groupings: []Grouping{{ID: "1", UniqueID: "u1", Name: "Topics", Groups: []string{"Politics", "Sport"}}},
				IPOpt:     "10.20.10.30", IPSignup: "10.20.10.30",
			},
		},
		{
			name: "unsubscribe by abuse report",
			form: with(mailchimptest.UnsubscribeWebhook("a6b5da1054", "api+unsub@mailchimp.com", "unsub", "abuse", "cb398d21d2"), nil),
			want: Event{
				Type: EventUnsubscribe, FiredAt: fired, ListID: "a6b5da1054", ID: mailchimptest.Hash("api+unsub@mailchimp.com")[:10], WebID: "12345",
				Email: "api+unsub@mailchimp.com", EmailType: "html", Action: ActionUnsub, Reason: ReasonAbuse, CampaignID: "cb398d21d2",
				Merges: map[string]string{"EMAIL": "api+unsub@mailchimp.com"},
			},
		},
		{
			name: "unsubscribe by deletion",
			form: with(mailchimptest.UnsubscribeWebhook("a6b5da1054", "x@herald.test", "delete", "manual", ""), func(h *mailchimptest.Webhook) {
				delete(h.Data, "merges.EMAIL")
				h.Data["id"], h.Data["web_id"], h.Data["email_type"] = "", "", ""
			}),
			want: Event{Type: EventUnsubscribe, FiredAt: fired, ListID: "a6b5da1054", Email: "x@herald.test", Action: ActionDelete, Reason: ReasonManual},
		},
		{
			name: "unsubscribe with a reason Herald does not know",
			form: with(mailchimptest.UnsubscribeWebhook("l1", "x@herald.test", "", "spring-cleaning", ""), func(h *mailchimptest.Webhook) {
				h.Data = map[string]string{"email": "x@herald.test", "reason": "spring-cleaning"}
			}),
			want: Event{Type: EventUnsubscribe, FiredAt: fired, ListID: "l1", Email: "x@herald.test", Action: ActionUnsub, Reason: "spring-cleaning"},
		},
		{
			name: "profile with an address merge field",
			form: with(mailchimptest.ProfileWebhook("l1", "p@herald.test", "Ann", "Lee"), func(h *mailchimptest.Webhook) {
				h.Data = map[string]string{"email": "p@herald.test", "merges.FNAME": "Ann", "merges.ADDRESS.city": "Oslo"}
			}),
			want: Event{Type: EventProfile, FiredAt: fired, ListID: "l1", Email: "p@herald.test", FirstName: "Ann",
				Merges: map[string]string{"FNAME": "Ann", "ADDRESS.city": "Oslo"}},
		},
		{
			name: "upemail",
			form: with(mailchimptest.UpemailWebhook("a6b5da1054", "api+old@mailchimp.com", "api+new@mailchimp.com"), nil),
			want: Event{Type: EventUpemail, FiredAt: fired, ListID: "a6b5da1054", Email: "api+new@mailchimp.com",
				OldEmail: "api+old@mailchimp.com", NewEmail: "api+new@mailchimp.com", NewID: mailchimptest.Hash("api+new@mailchimp.com")[:10]},
		},
		{
			name: "cleaned",
			form: with(mailchimptest.CleanedWebhook("a6b5da1054", "api+cleaned@mailchimp.com", "hard", "4fjk2ma9xd"), nil),
			want: Event{Type: EventCleaned, FiredAt: fired, ListID: "a6b5da1054", Email: "api+cleaned@mailchimp.com", Reason: ReasonHard, CampaignID: "4fjk2ma9xd"},
		},
		{
			name: "campaign",
			form: with(mailchimptest.CampaignWebhook("a6b5da1054", "5aa2102003", "Test Campaign Subject"), nil),
			want: Event{Type: EventCampaign, FiredAt: fired, ListID: "a6b5da1054", ID: "5aa2102003", Subject: "Test Campaign Subject", Status: "sent"},
		},
		{
			name: "raw form as Mailchimp documents it",
			form: mustParseQuery(t, "type=subscribe&fired_at=2009-03-26+21%3A35%3A57&data%5Bid%5D=8a25ff1d98&data%5Blist_id%5D=a6b5da1054"+
				"&data%5Bemail%5D=api%40mailchimp.com&data%5Bemail_type%5D=html&data%5Bmerges%5D%5BEMAIL%5D=api%40mailchimp.com"+
				"&data%5Bmerges%5D%5BFNAME%5D=Mailchimp&data%5Bmerges%5D%5BLNAME%5D=API&data%5Bmerges%5D%5BINTERESTS%5D=Group1%2CGroup2"+
				"&data%5Bip_opt%5D=10.20.10.30&data%5Bip_signup%5D=10.20.10.30"),
			want: Event{
				Type: EventSubscribe, FiredAt: fired, ListID: "a6b5da1054", ID: "8a25ff1d98", Email: "api@mailchimp.com", EmailType: "html",
				FirstName: "Mailchimp", LastName: "API", Interests: []string{"Group1", "Group2"},
				Merges: map[string]string{"EMAIL": "api@mailchimp.com", "FNAME": "Mailchimp", "LNAME": "API", "INTERESTS": "Group1,Group2"},
				IPOpt:  "10.20.10.30", IPSignup: "10.20.10.30",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseWebhook(tc.form)
			if err != nil {
				t.Fatalf("ParseWebhook: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ParseWebhook =\n%+v\nwant\n%+v", got, tc.want)
			}
		})
	}
}

func mustParseQuery(t *testing.T, s string) url.Values {
	t.Helper()
	v, err := url.ParseQuery(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestParseWebhookErrors(t *testing.T) {
	good := func() url.Values {
		h := mailchimptest.UnsubscribeWebhook("a6b5da1054", "x@herald.test", "unsub", "manual", "")
		h.FiredAt = fired
		return h.Form()
	}
	for _, tc := range []struct {
		name    string
		change  func(url.Values)
		wantErr string
		unknown bool
	}{
		{"missing type", func(f url.Values) { f.Del("type") }, "missing type", false},
		{"unknown type", func(f url.Values) { f.Set("type", "birthday") }, "unknown webhook type", true},
		{"missing fired_at", func(f url.Values) { f.Del("fired_at") }, "missing fired_at", false},
		{"fired_at in RFC 3339", func(f url.Values) { f.Set("fired_at", "2009-03-26T21:35:57Z") }, "fired_at", false},
		{"fired_at impossible", func(f url.Values) { f.Set("fired_at", "2009-02-30 21:35:57") }, "fired_at", false},
		{"missing list id", func(f url.Values) { f.Del("data[list_id]") }, "missing data[list_id]", false},
		{"bad list id", func(f url.Values) { f.Set("data[list_id]", "../../x") }, "data[list_id]", false},
		{"missing email", func(f url.Values) { f.Del("data[email]") }, "missing data[email]", false},
		{"bad email", func(f url.Values) { f.Set("data[email]", "not an address") }, "not an email address", false},
		{"upemail without old email", func(f url.Values) {
			f.Set("type", "upemail")
			f.Set("data[new_email]", "n@herald.test")
		}, "missing data[old_email]", false},
		{"upemail with bad new email", func(f url.Values) {
			f.Set("type", "upemail")
			f.Set("data[old_email]", "o@herald.test")
			f.Set("data[new_email]", "n@")
		}, "data[new_email]", false},
		{"grouping index too large", func(f url.Values) { f.Set("data[merges][GROUPINGS][99999999999][id]", "1") }, "grouping index", false},
		{"grouping malformed", func(f url.Values) { f.Set("data[merges][GROUPINGS][0]", "1") }, "malformed", false},
		{"merges malformed", func(f url.Values) { f.Set("data[merges][FNAME", "1") }, "malformed", false},
		{"huge field", func(f url.Values) { f.Set("data[merges][NOTE]", strings.Repeat("x", 5000)) }, "longer than", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := good()
			tc.change(f)
			_, err := ParseWebhook(f)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("ParseWebhook = %v, want an error containing %q", err, tc.wantErr)
			}
			if errors.Is(err, ErrUnknownEvent) != tc.unknown {
				t.Errorf("errors.Is(ErrUnknownEvent) = %v", !tc.unknown)
			}
		})
	}
	if _, err := ParseWebhook(nil); err == nil {
		t.Error("ParseWebhook(nil) succeeded")
	}
}

func TestWebhookRequestHelper(t *testing.T) {
	h := mailchimptest.CleanedWebhook("l1", "c@herald.test", "abuse", "")
	r := mailchimptest.NewWebhookRequest("/webhooks/mailchimp/secret", h.Form())
	if err := r.ParseForm(); err != nil {
		t.Fatal(err)
	}
	ev, err := ParseWebhook(r.PostForm)
	if err != nil || ev.Type != EventCleaned || ev.Reason != ReasonAbuse || ev.Email != "c@herald.test" {
		t.Fatalf("ParseWebhook = %+v, %v", ev, err)
	}
	if r.UserAgent() != mailchimptest.WebhookUserAgent {
		t.Errorf("User-Agent = %q", r.UserAgent())
	}
}

// FuzzParseWebhook feeds arbitrary form bodies: ParseWebhook must never
// panic, and what it accepts must hold what Herald relies on.
func FuzzParseWebhook(f *testing.F) {
	for _, h := range []mailchimptest.Webhook{
		mailchimptest.SubscribeWebhook("a6b5da1054", "api@mailchimp.com", "Mailchimp", "API", "10.20.10.30"),
		mailchimptest.UnsubscribeWebhook("a6b5da1054", "api+unsub@mailchimp.com", "unsub", "manual", "cb398d21d2"),
		mailchimptest.UpemailWebhook("a6b5da1054", "api+old@mailchimp.com", "api+new@mailchimp.com"),
		mailchimptest.CleanedWebhook("a6b5da1054", "api+cleaned@mailchimp.com", "hard", "4fjk2ma9xd"),
	} {
		h.FiredAt = fired
		f.Add(h.Form().Encode())
	}
	f.Fuzz(func(t *testing.T, body string) {
		form, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		ev, err := ParseWebhook(form)
		if err != nil {
			return
		}
		switch ev.Type {
		case EventSubscribe, EventUnsubscribe, EventProfile, EventCleaned, EventUpemail:
			if !validEmail(ev.Email) {
				t.Fatalf("accepted %s event with email %q", ev.Type, ev.Email)
			}
		case EventCampaign:
		default:
			t.Fatalf("accepted type %q", ev.Type)
		}
		if ev.Type == EventUpemail && (!validEmail(ev.OldEmail) || ev.NewEmail != ev.Email) {
			t.Fatalf("upemail %q → %q", ev.OldEmail, ev.NewEmail)
		}
		if ev.ListID == "" || ev.FiredAt.IsZero() || ev.FiredAt.Location() != time.UTC {
			t.Fatalf("accepted event without list or time: %+v", ev)
		}
		if ev.Type == EventUnsubscribe && ev.Action == "" {
			t.Fatal("unsubscribe without action")
		}
	})
}
