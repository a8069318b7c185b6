package mailchimptest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// WebhookUserAgent is the User-Agent of Mailchimp's webhook posts.
const WebhookUserAgent = "MailChimp"

// Webhook builds the form of a Mailchimp webhook post, with the field names
// Mailchimp uses ("data[merges][FNAME]", …).
type Webhook struct {
	Type    string    // subscribe, unsubscribe, profile, upemail, cleaned, campaign
	FiredAt time.Time // formatted "2006-01-02 15:04:05" in UTC; zero: now
	ListID  string
	// Data holds the other data[…] fields by their path with dots:
	// "email" for data[email], "merges.FNAME" for data[merges][FNAME],
	// "merges.ADDRESS.city" for data[merges][ADDRESS][city]. Empty values
	// are left out.
	Data map[string]string
	// Groupings become data[merges][GROUPINGS][n][id|unique_id|name|groups].
	Groupings []Grouping
}

// Grouping is one interest category in a webhook.
type Grouping struct {
	ID, UniqueID, Name string
	Groups             []string
}

// Form encodes the webhook as Mailchimp posts it.
func (h Webhook) Form() url.Values {
	f := url.Values{}
	f.Set("type", h.Type)
	t := h.FiredAt
	if t.IsZero() {
		t = time.Now()
	}
	f.Set("fired_at", t.UTC().Format("2006-01-02 15:04:05"))
	if h.ListID != "" {
		f.Set("data[list_id]", h.ListID)
	}
	for k, v := range h.Data {
		if v != "" {
			f.Set("data["+strings.ReplaceAll(k, ".", "][")+"]", v)
		}
	}
	for i, g := range h.Groupings {
		p := "data[merges][GROUPINGS][" + strconv.Itoa(i) + "]"
		f.Set(p+"[id]", g.ID)
		f.Set(p+"[unique_id]", g.UniqueID)
		f.Set(p+"[name]", g.Name)
		f.Set(p+"[groups]", strings.Join(g.Groups, ","))
	}
	return f
}

// memberData is the data Mailchimp sends about a member.
func memberData(email, first, last string) map[string]string {
	h := hash(email)
	return map[string]string{
		"id":           h[:10],
		"web_id":       "12345",
		"email":        email,
		"email_type":   "html",
		"merges.EMAIL": email,
		"merges.FNAME": first,
		"merges.LNAME": last,
	}
}

// SubscribeWebhook is a "subscribe" event.
func SubscribeWebhook(listID, email, first, last, ip string) Webhook {
	d := memberData(email, first, last)
	d["ip_opt"], d["ip_signup"] = ip, ip
	return Webhook{Type: "subscribe", ListID: listID, Data: d}
}

// UnsubscribeWebhook is an "unsubscribe" event; action is "unsub" or
// "delete", reason "manual" or "abuse".
func UnsubscribeWebhook(listID, email, action, reason, campaignID string) Webhook {
	d := memberData(email, "", "")
	d["action"], d["reason"], d["campaign_id"] = action, reason, campaignID
	return Webhook{Type: "unsubscribe", ListID: listID, Data: d}
}

// ProfileWebhook is a "profile" event (merge fields changed).
func ProfileWebhook(listID, email, first, last string) Webhook {
	return Webhook{Type: "profile", ListID: listID, Data: memberData(email, first, last)}
}

// UpemailWebhook is an "upemail" event (the member changed address).
func UpemailWebhook(listID, oldEmail, newEmail string) Webhook {
	return Webhook{Type: "upemail", ListID: listID, Data: map[string]string{
		"new_id":    hash(newEmail)[:10],
		"new_email": newEmail,
		"old_email": oldEmail,
	}}
}

// CleanedWebhook is a "cleaned" event; reason is "hard" or "abuse".
func CleanedWebhook(listID, email, reason, campaignID string) Webhook {
	return Webhook{Type: "cleaned", ListID: listID, Data: map[string]string{
		"campaign_id": campaignID,
		"reason":      reason,
		"email":       email,
	}}
}

// CampaignWebhook is a "campaign" event (a campaign was sent).
func CampaignWebhook(listID, campaignID, subject string) Webhook {
	return Webhook{Type: "campaign", ListID: listID, Data: map[string]string{
		"id":      campaignID,
		"subject": subject,
		"status":  "sent",
	}}
}

// NewWebhookRequest returns a server-side request carrying the webhook as
// Mailchimp posts it, for handler tests with httptest.NewRecorder.
func NewWebhookRequest(target string, form url.Values) *http.Request {
	r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("User-Agent", WebhookUserAgent)
	return r
}

// PostWebhook posts the webhook to a running server, as Mailchimp does.
func PostWebhook(ctx context.Context, hc *http.Client, target string, form url.Values) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", WebhookUserAgent)
	if hc == nil {
		hc = http.DefaultClient
	}
	return hc.Do(req)
}
