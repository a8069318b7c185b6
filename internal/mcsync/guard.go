package mcsync

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/heraldhq/herald/internal/mailchimp"
	"github.com/heraldhq/herald/internal/netguard"
)

// Where the API key may be sent. The key authenticates every call, so the
// API base URL decides who receives it: Mailchimp's own API
// (https://<dc>.api.mailchimp.com), or a host the operator allowed by
// putting all of its addresses inside HERALD_FETCH_ALLOW (a stand-in for
// tests, a proxy of the operator's own). Every call also goes through the
// guarded client of internal/netguard, which refuses internal addresses
// when connecting — after DNS, and on every redirect.

// ErrBaseURLCredentials refuses a base URL with a user name or password.
// Its text does not repeat the URL, so the secret is not echoed back or
// logged.
var ErrBaseURLCredentials = errors.New("base_url must not contain a user name or password: give the key as api_key")

// errBaseURL refuses a base URL that is not Mailchimp's and not allowed.
var errBaseURL = errors.New("base_url must be Mailchimp's API, https://<dc>.api.mailchimp.com/3.0; another host is accepted only when all of its addresses are inside " + netguard.Setting)

func (s *Service) guard() *netguard.Guard {
	if s.Guard == nil {
		return netguard.New(nil)
	}
	return s.Guard
}

// httpClient is the guarded HTTP client of API calls to base: for
// Mailchimp's own API any public address, for another (allowed) host only
// the allowed networks, so that a name that resolves elsewhere later (DNS
// rebinding) does not receive the key.
func (s *Service) httpClient(base string) *http.Client {
	s.hcOnce.Do(func() {
		s.hc = s.guard().Client(0, mailchimp.MaxConnections)
		s.hcAllowed = s.guard().AllowedOnly().Client(0, mailchimp.MaxConnections)
	})
	if base == "" {
		return s.hc
	}
	if u, err := url.Parse(base); err == nil && mailchimp.IsAPIURL(u) {
		return s.hc
	}
	return s.hcAllowed
}

// CheckBaseURL says whether the API key may be sent to base ("" means the
// key's data centre at Mailchimp). Its errors never contain the URL.
func (s *Service) CheckBaseURL(ctx context.Context, base string) error {
	if base == "" {
		return nil
	}
	u, err := url.Parse(base)
	if err != nil {
		return errors.New("base_url is not a valid URL")
	}
	if u.User != nil {
		return ErrBaseURLCredentials
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("base_url must be an absolute http or https URL")
	}
	if mailchimp.IsAPIURL(u) {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if ok, _ := s.guard().HostAllowed(ctx, u.Hostname()); ok {
		return nil
	}
	return errBaseURL
}
