package mcsync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/mailchimp"
	"github.com/heraldhq/herald/internal/mcsync/mcstore"
)

func decodeJob(job herald.Job, v any) error {
	if err := json.Unmarshal(job.Payload, v); err != nil {
		return fmt.Errorf("bad payload: %w", err)
	}
	return nil
}

// ErrBadWebhook wraps the reason a webhook post is malformed (HTTP 400).
var ErrBadWebhook = errors.New("malformed Mailchimp webhook")

// ApplyWebhook applies one of Mailchimp's form-encoded webhook posts. Types
// Herald does not act on (campaign, and any Mailchimp may add) are
// accepted and ignored; a malformed post wraps ErrBadWebhook.
func (s *Service) ApplyWebhook(ctx context.Context, form url.Values) (*mcstore.MailchimpEventResult, error) {
	// Text that goes into the ledger must be valid UTF-8 without NUL
	// (PostgreSQL refuses both): a hostile post gets a 400 or is stored
	// cleaned, never a 500.
	clean := make(url.Values, len(form))
	for k, vs := range form {
		for _, v := range vs {
			clean[k] = append(clean[k], strings.ToValidUTF8(strings.ReplaceAll(v, "\x00", ""), "\uFFFD"))
		}
	}
	ev, err := mailchimp.ParseWebhook(clean)
	if errors.Is(err, mailchimp.ErrUnknownEvent) {
		return &mcstore.MailchimpEventResult{Ignored: "unknown event type"}, nil
	} else if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadWebhook, err)
	}
	change := ev.Change()
	if change == mailchimp.ChangeNone {
		return &mcstore.MailchimpEventResult{Ignored: "nothing to do for " + string(ev.Type) + " events"}, nil
	}
	e := mcstore.MailchimpEvent{
		// Mailchimp signs nothing; the whole post identifies a delivery,
		// so a retried post is recognised. Keyed, so it reveals nothing.
		Key:        s.DB.SuppressionHash("mailchimp webhook " + form.Encode()),
		Type:       string(ev.Type),
		Change:     change.String(),
		FiredAt:    ev.FiredAt,
		AudienceID: ev.ListID,
		Email:      ev.Email,
		OldEmail:   ev.OldEmail,
		FirstName:  ev.FirstName,
		LastName:   ev.LastName,
		Action:     ev.Action,
		Reason:     ev.Reason,
		CampaignID: ev.CampaignID,
		IP:         firstNonEmpty(ev.IPOpt, ev.IPSignup),
	}
	if _, ok := ev.Merges["FNAME"]; ok {
		e.HasName = true
	}
	if _, ok := ev.Merges["LNAME"]; ok {
		e.HasName = true
	}
	if len(ev.Groupings) > 0 {
		e.Groups = map[string][]string{}
		for _, g := range ev.Groupings {
			for _, id := range []string{g.ID, g.UniqueID} {
				if id = strings.TrimSpace(id); id != "" {
					e.Groups[id] = g.Groups
				}
			}
		}
	}
	return s.Store.ApplyMailchimpEvent(ctx, e)
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// Check is one line of a connection test.
type Check struct {
	Check   string `json:"check"` // api_key, audience, interest, webhook
	List    string `json:"list,omitempty"`
	OK      bool   `json:"ok"`
	Message string `json:"message"`
}

// TestResult is the outcome of testing the connection.
type TestResult struct {
	OK      bool    `json:"ok"`
	BaseURL string  `json:"base_url"`
	Checks  []Check `json:"checks"`
}

// Test checks the stored connection: that Mailchimp answers and accepts
// the key, and that every connected list's audience and interest exist.
// It reports each problem in words; err is for Herald's own failures.
func (s *Service) Test(ctx context.Context) (*TestResult, error) {
	conn, err := s.Store.MailchimpConnection(ctx)
	if err != nil {
		return nil, err
	}
	res := &TestResult{OK: true}
	add := func(c Check) {
		res.Checks = append(res.Checks, c)
		if !c.OK {
			res.OK = false
		}
	}
	c, err := s.NewClient(conn.APIKey, conn.BaseURL)
	if err != nil {
		add(Check{Check: "api_key", Message: "The API key is not usable: " + err.Error()})
		return res, nil
	}
	res.BaseURL = c.BaseURL()
	if err := c.Ping(ctx); err != nil {
		add(Check{Check: "api_key", Message: reachMessage(err, c.BaseURL())})
		return res, nil
	}
	add(Check{Check: "api_key", OK: true, Message: "Mailchimp answers at " + c.BaseURL() + " and accepts the key."})
	links, err := s.Store.MailchimpLinks(ctx)
	if err != nil {
		return nil, err
	}
	for _, k := range links {
		name, _, iname, err := checkTarget(ctx, c, k.AudienceID, k.InterestID)
		if err != nil {
			add(Check{Check: targetCheck(err), List: k.List, Message: herald.ErrorMessage(err)})
			continue
		}
		msg := fmt.Sprintf("Audience %s (%s) exists.", k.AudienceID, name)
		if k.InterestID != "" {
			msg = fmt.Sprintf("Audience %s (%s) and its interest %s (%s) exist.", k.AudienceID, name, k.InterestID, iname)
		}
		add(Check{Check: "audience", List: k.List, OK: true, Message: msg})
		switch {
		case k.WebhookID != "":
			add(Check{Check: "webhook", List: k.List, OK: true, Message: "Herald's webhook is registered on the audience (id " + k.WebhookID + ")."})
		case k.WebhookError != "":
			add(Check{Check: "webhook", List: k.List, Message: "Herald's webhook is not registered: " + k.WebhookError})
		default:
			add(Check{Check: "webhook", List: k.List, OK: true, Message: "Herald's webhook is being registered."})
		}
	}
	return res, nil
}

// errTarget tells which of audience and interest a check refused.
type errTarget struct {
	err  *herald.Error
	what string
}

func (e *errTarget) Error() string { return e.err.Error() }
func (e *errTarget) Unwrap() error { return e.err }

func targetCheck(err error) string {
	var t *errTarget
	if errors.As(err, &t) {
		return t.what
	}
	return "api_key"
}

// ErrUnreachable wraps failures to reach Mailchimp (network, 5xx, 429).
var ErrUnreachable = errors.New("Mailchimp could not be reached")

// reachMessage explains a failed call in the words of the connection test.
func reachMessage(err error, base string) string {
	var ne *mailchimp.NetworkError
	switch {
	case mailchimp.IsAuth(err):
		return "Mailchimp rejected the API key (bad, revoked, or for another data centre): " + err.Error()
	case errors.As(err, &ne):
		return "Mailchimp is unreachable at " + base + ": " + ne.Err.Error()
	case mailchimp.IsRetryable(err):
		return "Mailchimp answered with an error; try again later: " + err.Error()
	}
	return err.Error()
}

// CheckLink asks Mailchimp whether the audience (and interest) exist, for
// connecting a list. It returns the audience's name and the interest's
// category and name. Refusals are herald errors on the field concerned;
// an unreachable Mailchimp wraps ErrUnreachable.
func (s *Service) CheckLink(ctx context.Context, audienceID, interestID string) (audience, categoryID, interest string, err error) {
	c, err := s.Client(ctx)
	if err != nil {
		return "", "", "", err
	}
	a, cat, in, err := checkTarget(ctx, c, audienceID, interestID)
	if err != nil {
		return "", "", "", err
	}
	return a, cat, in, nil
}

func checkTarget(ctx context.Context, c *mailchimp.Client, audienceID, interestID string) (audience, categoryID, interest string, err error) {
	l, err := c.GetList(ctx, audienceID)
	switch {
	case mailchimp.IsNotFound(err):
		return "", "", "", &errTarget{&herald.Error{Code: herald.EINVALID, Field: "audience_id",
			Message: fmt.Sprintf("Mailchimp has no audience %q in this account.", audienceID)}, "audience"}
	case err != nil:
		return "", "", "", callError(err, c.BaseURL())
	}
	if interestID == "" {
		return l.Name, "", "", nil
	}
	in, err := c.GetInterest(ctx, audienceID, interestID)
	switch {
	case mailchimp.IsNotFound(err):
		return "", "", "", &errTarget{&herald.Error{Code: herald.EINVALID, Field: "interest_id",
			Message: fmt.Sprintf("Audience %q has no interest (group) %q.", audienceID, interestID)}, "interest"}
	case err != nil:
		return "", "", "", callError(err, c.BaseURL())
	}
	return l.Name, in.CategoryID, in.Name, nil
}

func callError(err error, base string) error {
	switch {
	case mailchimp.IsAuth(err):
		return herald.Errorf(herald.ECONFLICT, "%s", reachMessage(err, base)+" — fix it with PUT /api/v1/integrations/mailchimp.")
	case mailchimp.IsRetryable(err):
		return fmt.Errorf("%w: %s", ErrUnreachable, reachMessage(err, base))
	}
	return herald.Errorf(herald.EINVALID, "Mailchimp refused: %s", err.Error())
}

// DisclosureText is the signup disclosure of a list connected to
// Mailchimp: it says what Herald keeps and what goes to Mailchimp. It
// stands on its own, since the ledger records one version per list.
func DisclosureText(publisher, listName string) string {
	return fmt.Sprintf("%s is sent with Mailchimp (Intuit Inc., USA). %s keeps your email address (and your name, if you give it) "+
		"to manage your subscriptions, and transfers them to Mailchimp, together with when and from which IP address you signed up and confirmed; "+
		"Mailchimp processes them on %s's behalf to send you this newsletter. "+
		"We record when and where you signed up as proof of your consent. You can unsubscribe at any time with the link in every email.",
		listName, publisher, publisher)
}
