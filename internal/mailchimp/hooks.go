package mailchimp

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
)

// WebhookInfo is a webhook registered on an audience.
type WebhookInfo struct {
	ID      string         `json:"id"`
	URL     string         `json:"url"`
	Events  WebhookEvents  `json:"events"`
	Sources WebhookSources `json:"sources"`
	ListID  string         `json:"list_id"`
}

// WebhookEvents are the event types a webhook reports.
type WebhookEvents struct {
	Subscribe   bool `json:"subscribe"`
	Unsubscribe bool `json:"unsubscribe"`
	Profile     bool `json:"profile"`
	Cleaned     bool `json:"cleaned"`
	Upemail     bool `json:"upemail"`
	Campaign    bool `json:"campaign"`
}

// WebhookSources are whose changes a webhook reports: the member's own,
// an admin's in Mailchimp, or any API client's (Herald's included).
type WebhookSources struct {
	User  bool `json:"user"`
	Admin bool `json:"admin"`
	API   bool `json:"api"`
}

// HeraldWebhookEvents are the events Herald acts on.
var HeraldWebhookEvents = WebhookEvents{Subscribe: true, Unsubscribe: true, Profile: true, Cleaned: true, Upemail: true}

// ListWebhooks returns the audience's webhooks (GET /lists/{list_id}/webhooks).
func (c *Client) ListWebhooks(ctx context.Context, audienceID string) ([]WebhookInfo, error) {
	if err := requireID("audience id", audienceID); err != nil {
		return nil, err
	}
	var out struct {
		Webhooks []WebhookInfo `json:"webhooks"`
	}
	err := c.do(ctx, http.MethodGet, pathf("/lists/%s/webhooks", audienceID), nil, nil, &out)
	return out.Webhooks, err
}

// CreateWebhook registers target for the events Herald acts on, from all
// sources (POST /lists/{list_id}/webhooks). Changes made by other API
// clients matter too, so Herald's own changes come back as well: handlers
// must be idempotent. Mailchimp checks the URL with a GET before it
// accepts it, so Herald's handler must already answer.
func (c *Client) CreateWebhook(ctx context.Context, audienceID, target string) (WebhookInfo, error) {
	if err := requireID("audience id", audienceID); err != nil {
		return WebhookInfo{}, err
	}
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return WebhookInfo{}, fmt.Errorf("mailchimp: webhook URL %q must be an absolute http or https URL", target)
	}
	in := WebhookInfo{URL: target, Events: HeraldWebhookEvents, Sources: WebhookSources{User: true, Admin: true, API: true}}
	var out WebhookInfo
	err = c.do(ctx, http.MethodPost, pathf("/lists/%s/webhooks", audienceID), nil, struct {
		URL     string         `json:"url"`
		Events  WebhookEvents  `json:"events"`
		Sources WebhookSources `json:"sources"`
	}{in.URL, in.Events, in.Sources}, &out)
	return out, err
}

// DeleteWebhook removes a webhook (DELETE /lists/{list_id}/webhooks/{webhook_id}).
func (c *Client) DeleteWebhook(ctx context.Context, audienceID, webhookID string) error {
	if err := requireID("audience id", audienceID); err != nil {
		return err
	}
	if err := requireID("webhook id", webhookID); err != nil {
		return err
	}
	return c.do(ctx, http.MethodDelete, pathf("/lists/%s/webhooks/%s", audienceID, webhookID), nil, nil, nil)
}

// Syncer is what Herald's sync jobs need from Mailchimp. *Client
// implements it; job tests may substitute their own.
type Syncer interface {
	UpsertMember(ctx context.Context, audienceID string, m Member) (MemberInfo, error)
	BatchUpsert(ctx context.Context, audienceID string, members []Member) (BatchResult, error)
	Unsubscribe(ctx context.Context, link Link, email string) error
	DeletePermanent(ctx context.Context, audienceID, email string) error
}

var _ Syncer = (*Client)(nil)
