package mailchimp

import (
	"net/url"
	"strings"
)

// IsAPIURL reports whether u is on Mailchimp's own API: https to
// <dc>.api.mailchimp.com (a data centre such as us6) on the default port,
// without credentials. Herald sends the API key only there unless the
// operator allows another host.
func IsAPIURL(u *url.URL) bool {
	if u == nil || u.Scheme != "https" || u.User != nil || (u.Port() != "" && u.Port() != "443") {
		return false
	}
	dc, ok := strings.CutSuffix(strings.ToLower(u.Hostname()), ".api.mailchimp.com")
	return ok && validDataCenter(dc)
}
