package mailchimp

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// EventType is the "type" of a Mailchimp webhook.
type EventType string

// The webhook types Mailchimp sends.
const (
	EventSubscribe   EventType = "subscribe"
	EventUnsubscribe EventType = "unsubscribe"
	EventProfile     EventType = "profile"
	EventUpemail     EventType = "upemail" // address changed
	EventCleaned     EventType = "cleaned" // hard bounce or abuse report
	EventCampaign    EventType = "campaign"
)

// Values of Event.Action (unsubscribe) and Event.Reason.
const (
	ActionUnsub  = "unsub"  // unsubscribed, still in the audience
	ActionDelete = "delete" // deleted from the audience
	ReasonManual = "manual" // the person or an admin did it
	ReasonAbuse  = "abuse"  // spam complaint (unsubscribe and cleaned)
	ReasonHard   = "hard"   // hard bounce (cleaned)
)

// ErrUnknownEvent is wrapped by ParseWebhook for a type it does not know;
// a handler should answer 200 and ignore such events, as Mailchimp may add
// types.
var ErrUnknownEvent = errors.New("mailchimp: unknown webhook type")

// Event is one parsed webhook. Fields a type does not carry are empty.
type Event struct {
	Type    EventType
	FiredAt time.Time // UTC

	ListID    string // data[list_id]: the audience
	ID        string // data[id]: the member's id, or the campaign's for "campaign"
	WebID     string // data[web_id]
	Email     string // data[email]; for upemail the new address
	EmailType string // "html" or "text"

	OldEmail string // upemail: data[old_email]
	NewEmail string // upemail: data[new_email]
	NewID    string // upemail: data[new_id]

	Action     string // unsubscribe: ActionUnsub or ActionDelete
	Reason     string // unsubscribe: ReasonManual/ReasonAbuse; cleaned: ReasonHard/ReasonAbuse; campaign: free text
	CampaignID string // unsubscribe and cleaned: the campaign that caused it

	FirstName string // data[merges][FNAME]
	LastName  string // data[merges][LNAME]
	// Merges holds every merge field by tag (EMAIL, FNAME, …). Nested
	// fields such as an address become "ADDRESS.addr1". GROUPINGS are in
	// Groupings instead.
	Merges    map[string]string
	Interests []string   // data[merges][INTERESTS], split at commas
	Groupings []Grouping // data[merges][GROUPINGS][n][…]

	IPOpt    string // where the member confirmed
	IPSignup string // where the member signed up

	Subject string // campaign: the subject line
	Status  string // campaign: e.g. "sent"
}

// Grouping is an interest category and the member's groups in it.
type Grouping struct {
	ID       string
	UniqueID string
	Name     string
	Groups   []string
}

// webhookTimeLayout is fired_at's format, in UTC.
const webhookTimeLayout = "2006-01-02 15:04:05"

// Limits that keep a hostile post from costing much.
const (
	maxWebhookFieldLen = 4096
	maxGroupings       = 100
)

// ParseWebhook reads one of Mailchimp's form-encoded webhook posts
// (r.PostForm). It checks what Herald acts on (type, time, audience,
// addresses) and returns an error for missing or malformed fields; it
// never panics. A "campaign" event parses without error and carries
// nothing a subscriber sync needs; an unknown type wraps ErrUnknownEvent.
// Unknown values of action and reason are kept, not refused, so a new
// reason on Mailchimp's side never loses an unsubscribe.
func ParseWebhook(form url.Values) (Event, error) {
	var ev Event
	get := func(key string) string { return strings.TrimSpace(form.Get(key)) }

	for key, vs := range form {
		for _, v := range vs {
			if len(v) > maxWebhookFieldLen {
				return Event{}, fmt.Errorf("mailchimp webhook: field %.40q is longer than %d bytes", key, maxWebhookFieldLen)
			}
		}
	}

	typ := get("type")
	switch EventType(typ) {
	case EventSubscribe, EventUnsubscribe, EventProfile, EventUpemail, EventCleaned, EventCampaign:
		ev.Type = EventType(typ)
	case "":
		return Event{}, errors.New("mailchimp webhook: missing type")
	default:
		return Event{}, fmt.Errorf("%w %.40q", ErrUnknownEvent, typ)
	}

	firedAt := get("fired_at")
	if firedAt == "" {
		return Event{}, errors.New("mailchimp webhook: missing fired_at")
	}
	t, err := time.Parse(webhookTimeLayout, firedAt)
	if err != nil {
		return Event{}, fmt.Errorf("mailchimp webhook: fired_at %.40q is not a time like 2009-03-26 21:35:57", firedAt)
	}
	ev.FiredAt = t.UTC()

	ev.ListID = get("data[list_id]")
	if ev.ListID == "" {
		return Event{}, errors.New("mailchimp webhook: missing data[list_id]")
	}
	if requireID("list id", ev.ListID) != nil {
		return Event{}, fmt.Errorf("mailchimp webhook: data[list_id] %.40q is not a Mailchimp id", ev.ListID)
	}

	ev.ID = get("data[id]")
	ev.WebID = get("data[web_id]")
	ev.Email = get("data[email]")
	ev.EmailType = get("data[email_type]")
	ev.IPOpt = get("data[ip_opt]")
	ev.IPSignup = get("data[ip_signup]")
	ev.Reason = get("data[reason]")
	ev.CampaignID = get("data[campaign_id]")

	switch ev.Type {
	case EventSubscribe, EventUnsubscribe, EventProfile, EventCleaned:
		if err := checkEmail("data[email]", ev.Email); err != nil {
			return Event{}, err
		}
	case EventUpemail:
		ev.OldEmail = get("data[old_email]")
		ev.NewEmail = get("data[new_email]")
		ev.NewID = get("data[new_id]")
		if err := checkEmail("data[old_email]", ev.OldEmail); err != nil {
			return Event{}, err
		}
		if err := checkEmail("data[new_email]", ev.NewEmail); err != nil {
			return Event{}, err
		}
		ev.Email = ev.NewEmail
	case EventCampaign:
		ev.Subject = get("data[subject]")
		ev.Status = get("data[status]")
	}

	if ev.Type == EventUnsubscribe {
		ev.Action = get("data[action]")
		if ev.Action == "" {
			ev.Action = ActionUnsub
		}
	}

	if err := parseMerges(form, &ev); err != nil {
		return Event{}, err
	}
	return ev, nil
}

func checkEmail(field, v string) error {
	if v == "" {
		return fmt.Errorf("mailchimp webhook: missing %s", field)
	}
	if !validEmail(v) {
		return fmt.Errorf("mailchimp webhook: %s %.80q is not an email address", field, v)
	}
	return nil
}

// parseMerges collects data[merges][…] keys: flat merge fields, nested
// ones (an address), and the GROUPINGS array.
func parseMerges(form url.Values, ev *Event) error {
	const prefix = "data[merges]["
	groupings := map[int]*Grouping{}
	for key, vs := range form {
		if !strings.HasPrefix(key, prefix) || len(vs) == 0 {
			continue
		}
		parts, ok := splitBrackets(key[len(prefix)-1:])
		if !ok || len(parts) == 0 || parts[0] == "" {
			return fmt.Errorf("mailchimp webhook: malformed field name %.60q", key)
		}
		v := strings.TrimSpace(vs[0])
		if parts[0] == "GROUPINGS" {
			if len(parts) != 3 {
				return fmt.Errorf("mailchimp webhook: malformed field name %.60q", key)
			}
			n, err := strconv.Atoi(parts[1])
			if err != nil || n < 0 || n >= maxGroupings {
				return fmt.Errorf("mailchimp webhook: bad grouping index in %.60q", key)
			}
			g := groupings[n]
			if g == nil {
				g = &Grouping{}
				groupings[n] = g
			}
			switch parts[2] {
			case "id":
				g.ID = v
			case "unique_id":
				g.UniqueID = v
			case "name":
				g.Name = v
			case "groups":
				g.Groups = splitList(v)
			}
			continue
		}
		if ev.Merges == nil {
			ev.Merges = make(map[string]string)
		}
		ev.Merges[strings.Join(parts, ".")] = v
	}
	if len(ev.Merges) > 0 {
		ev.FirstName = ev.Merges["FNAME"]
		ev.LastName = ev.Merges["LNAME"]
		ev.Interests = splitList(ev.Merges["INTERESTS"])
	}
	if len(groupings) > 0 {
		idx := make([]int, 0, len(groupings))
		for n := range groupings {
			idx = append(idx, n)
		}
		slices.Sort(idx)
		for _, n := range idx {
			ev.Groupings = append(ev.Groupings, *groupings[n])
		}
	}
	return nil
}

// splitBrackets splits "[a][b][c]" into a, b, c.
func splitBrackets(s string) ([]string, bool) {
	var parts []string
	for s != "" {
		if s[0] != '[' {
			return nil, false
		}
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return nil, false
		}
		part := s[1:end]
		if strings.ContainsAny(part, "[") {
			return nil, false
		}
		parts = append(parts, part)
		s = s[end+1:]
		if len(parts) > 4 {
			return nil, false
		}
	}
	return parts, true
}

// splitList splits Mailchimp's comma-separated group lists, dropping
// empty entries.
func splitList(s string) []string { return appendList(nil, s) }

func appendList(out []string, s string) []string {
	for s != "" {
		part := s
		if i := strings.IndexByte(s, ','); i >= 0 {
			part, s = s[:i], s[i+1:]
		} else {
			s = ""
		}
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// Change is what a webhook event means for Herald's subscriptions to the
// lists connected to the event's audience.
type Change int

// Changes a webhook can bring.
const (
	ChangeNone         Change = iota // campaign events: nothing to do
	ChangeSubscribed                 // subscribed through Mailchimp (its form, an admin, another integration)
	ChangeUnsubscribed               // left the audience, or was deleted from it
	ChangeComplaint                  // unsubscribed or cleaned after a spam complaint: suppress the address
	ChangeBounced                    // cleaned after a hard bounce: suppress the address
	ChangeProfile                    // names, merge fields or groups changed
	ChangeEmail                      // the address changed from OldEmail to NewEmail
)

func (c Change) String() string {
	switch c {
	case ChangeSubscribed:
		return "subscribed"
	case ChangeUnsubscribed:
		return "unsubscribed"
	case ChangeComplaint:
		return "complaint"
	case ChangeBounced:
		return "bounced"
	case ChangeProfile:
		return "profile"
	case ChangeEmail:
		return "email"
	}
	return "none"
}

// Change classifies the event. Webhooks also report changes Herald made
// itself through the API, so acting on them must be idempotent.
func (ev Event) Change() Change {
	switch ev.Type {
	case EventSubscribe:
		return ChangeSubscribed
	case EventUnsubscribe:
		if ev.Reason == ReasonAbuse {
			return ChangeComplaint
		}
		return ChangeUnsubscribed
	case EventCleaned:
		if ev.Reason == ReasonAbuse {
			return ChangeComplaint
		}
		// "hard", and any reason Mailchimp may add: the address is gone.
		return ChangeBounced
	case EventProfile:
		return ChangeProfile
	case EventUpemail:
		return ChangeEmail
	}
	return ChangeNone
}

// InInterest reports whether the event puts the member in the interest
// named interestName of the interest category categoryID (the category's
// API id, Interest.CategoryID; Mailchimp's webhooks name groups, not
// interest ids). known is false when the event says nothing about that
// category, which is not the same as leaving it.
func (ev Event) InInterest(categoryID, interestName string) (in, known bool) {
	for _, g := range ev.Groupings {
		if categoryID == "" || (g.UniqueID != categoryID && g.ID != categoryID) {
			continue
		}
		for _, name := range g.Groups {
			if strings.EqualFold(name, interestName) {
				return true, true
			}
		}
		return false, true
	}
	return false, false
}
