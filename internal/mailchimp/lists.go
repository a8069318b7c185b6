package mailchimp

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// List is the part of a Mailchimp audience that Herald shows and checks.
type List struct {
	ID                 string    `json:"id"`
	WebID              int64     `json:"web_id"`
	Name               string    `json:"name"`
	PermissionReminder string    `json:"permission_reminder"`
	DoubleOptin        bool      `json:"double_optin"`
	Stats              ListStats `json:"stats"`
}

// ListStats are Mailchimp's (cached) counts for an audience.
type ListStats struct {
	MemberCount      int `json:"member_count"`
	UnsubscribeCount int `json:"unsubscribe_count"`
	CleanedCount     int `json:"cleaned_count"`
}

// Interest is one group of an audience's interest category ("group" in
// Mailchimp's interface). Herald connects a list to one interest when
// several Herald lists share one audience.
type Interest struct {
	ID            string `json:"id"`
	CategoryID    string `json:"category_id"`
	CategoryTitle string `json:"-"`
	ListID        string `json:"list_id"`
	Name          string `json:"name"`
}

// Ping checks that the API answers and the key is accepted
// (GET /ping, "Everything's Chimpy!").
func (c *Client) Ping(ctx context.Context) error {
	var out struct {
		HealthStatus string `json:"health_status"`
	}
	return c.do(ctx, http.MethodGet, "/ping", nil, nil, &out)
}

// GetList returns an audience (GET /lists/{list_id}); IsNotFound when the
// account has no such audience.
func (c *Client) GetList(ctx context.Context, audienceID string) (List, error) {
	var l List
	if err := requireID("audience id", audienceID); err != nil {
		return l, err
	}
	q := url.Values{"fields": {"id,web_id,name,permission_reminder,double_optin,stats.member_count,stats.unsubscribe_count,stats.cleaned_count"}}
	err := c.do(ctx, http.MethodGet, pathf("/lists/%s", audienceID), q, nil, &l)
	return l, err
}

// GetInterest finds an interest by id in any of the audience's interest
// categories. Mailchimp addresses interests only below their category, so
// this lists the categories (GET /lists/{id}/interest-categories) and asks
// each one (GET …/interest-categories/{category_id}/interests/{interest_id}).
// It returns an error matching ErrNotFound when no category has it.
func (c *Client) GetInterest(ctx context.Context, audienceID, interestID string) (Interest, error) {
	if err := requireID("audience id", audienceID); err != nil {
		return Interest{}, err
	}
	if err := requireID("interest id", interestID); err != nil {
		return Interest{}, err
	}
	type category struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	}
	var cats []category
	const page = 1000 // Mailchimp's largest page
	for offset := 0; ; offset += page {
		var out struct {
			Categories []category `json:"categories"`
			TotalItems int        `json:"total_items"`
		}
		q := url.Values{"count": {strconv.Itoa(page)}, "offset": {strconv.Itoa(offset)}, "fields": {"categories.id,categories.title,total_items"}}
		if err := c.do(ctx, http.MethodGet, pathf("/lists/%s/interest-categories", audienceID), q, nil, &out); err != nil {
			return Interest{}, err
		}
		cats = append(cats, out.Categories...)
		if len(out.Categories) == 0 || len(cats) >= out.TotalItems {
			break
		}
	}
	for _, cat := range cats {
		var in Interest
		err := c.do(ctx, http.MethodGet, pathf("/lists/%s/interest-categories/%s/interests/%s", audienceID, cat.ID, interestID), nil, nil, &in)
		if IsNotFound(err) {
			continue
		}
		if err != nil {
			return Interest{}, err
		}
		in.CategoryTitle = cat.Title
		if in.CategoryID == "" {
			in.CategoryID = cat.ID
		}
		return in, nil
	}
	return Interest{}, &APIError{
		Method: http.MethodGet,
		Path:   pathf("/lists/%s/interest-categories", audienceID),
		Status: http.StatusNotFound,
		Title:  titleResourceNotFound,
		Detail: fmt.Sprintf("no interest category of audience %s has an interest %s", audienceID, interestID),
	}
}

// requireID refuses empty ids (which would change the meaning of a path:
// "/lists/" lists all audiences) and ids with characters Mailchimp never
// uses in them.
func requireID(what, id string) error {
	if id == "" {
		return fmt.Errorf("mailchimp: %s is empty", what)
	}
	if len(id) > 100 || strings.ContainsFunc(id, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_')
	}) {
		return fmt.Errorf("mailchimp: %s %q is not a Mailchimp id", what, id)
	}
	return nil
}
