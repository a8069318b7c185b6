package mailchimp

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Status is a member's subscription status in a Mailchimp audience.
type Status string

// The statuses Mailchimp accepts.
const (
	StatusSubscribed    Status = "subscribed"
	StatusUnsubscribed  Status = "unsubscribed"
	StatusCleaned       Status = "cleaned"
	StatusPending       Status = "pending" // Mailchimp sends its own confirmation mail
	StatusTransactional Status = "transactional"
)

// Valid reports whether s is one of the statuses Mailchimp accepts.
func (s Status) Valid() bool {
	switch s {
	case StatusSubscribed, StatusUnsubscribed, StatusCleaned, StatusPending, StatusTransactional:
		return true
	}
	return false
}

// MaxBatchSize is the number of members Mailchimp takes in one batch
// subscribe call; BatchUpsert splits larger slices.
const MaxBatchSize = 500

// SubscriberHash is Mailchimp's id for a member: the hex MD5 of the
// lower-cased address.
func SubscriberHash(email string) string {
	sum := md5.Sum([]byte(strings.ToLower(email)))
	return hex.EncodeToString(sum[:])
}

// Member is what Herald tells Mailchimp about one subscriber: the address,
// status, names and the consent metadata of the signup and confirmation.
type Member struct {
	Email string
	// StatusIfNew is the status a member gets when the address is not in
	// the audience yet. UpsertMember requires it or Status.
	StatusIfNew Status
	// Status, when set, is also applied to an existing member. Setting
	// "subscribed" on someone who unsubscribed through Mailchimp fails
	// with ErrComplianceState.
	Status Status

	FirstName string // merge field FNAME, sent only when not empty
	LastName  string // merge field LNAME, sent only when not empty
	// MergeFields are further merge fields by tag; they override FNAME and
	// LNAME from the name fields. An empty value clears the field.
	MergeFields map[string]string
	// Interests sets interest (group) membership by interest id.
	Interests map[string]bool

	IPSignup        string    // where the signup form was submitted
	TimestampSignup time.Time // when (zero: not sent)
	IPOpt           string    // where the confirmation was clicked
	TimestampOpt    time.Time // when (zero: not sent)
	Language        string    // optional, e.g. "en"
}

// memberBody is the JSON of a member in PUT and batch requests.
type memberBody struct {
	EmailAddress    string            `json:"email_address"`
	StatusIfNew     Status            `json:"status_if_new,omitempty"`
	Status          Status            `json:"status,omitempty"`
	MergeFields     map[string]string `json:"merge_fields,omitempty"`
	Interests       map[string]bool   `json:"interests,omitempty"`
	IPSignup        string            `json:"ip_signup,omitempty"`
	TimestampSignup string            `json:"timestamp_signup,omitempty"`
	IPOpt           string            `json:"ip_opt,omitempty"`
	TimestampOpt    string            `json:"timestamp_opt,omitempty"`
	Language        string            `json:"language,omitempty"`
}

func (m *Member) validate() error {
	email := strings.TrimSpace(m.Email)
	if email == "" {
		return fmt.Errorf("mailchimp: member has no email address")
	}
	if !validEmail(email) {
		return fmt.Errorf("mailchimp: %q is not an email address", email)
	}
	if m.StatusIfNew != "" && !m.StatusIfNew.Valid() {
		return fmt.Errorf("mailchimp: invalid status_if_new %q", m.StatusIfNew)
	}
	if m.Status != "" && !m.Status.Valid() {
		return fmt.Errorf("mailchimp: invalid status %q", m.Status)
	}
	if m.StatusIfNew == "" && m.Status == "" {
		return fmt.Errorf("mailchimp: member %s has no status", email)
	}
	return nil
}

func (m *Member) body() memberBody {
	b := memberBody{
		EmailAddress: strings.TrimSpace(m.Email),
		StatusIfNew:  m.StatusIfNew,
		Status:       m.Status,
		Interests:    m.Interests,
		IPSignup:     m.IPSignup,
		IPOpt:        m.IPOpt,
		Language:     m.Language,
	}
	if !m.TimestampSignup.IsZero() {
		b.TimestampSignup = m.TimestampSignup.UTC().Format(time.RFC3339)
	}
	if !m.TimestampOpt.IsZero() {
		b.TimestampOpt = m.TimestampOpt.UTC().Format(time.RFC3339)
	}
	if m.FirstName != "" || m.LastName != "" || len(m.MergeFields) > 0 {
		b.MergeFields = make(map[string]string, len(m.MergeFields)+2)
		if m.FirstName != "" {
			b.MergeFields["FNAME"] = m.FirstName
		}
		if m.LastName != "" {
			b.MergeFields["LNAME"] = m.LastName
		}
		for k, v := range m.MergeFields {
			b.MergeFields[k] = v
		}
	}
	return b
}

// MemberInfo is a member as Mailchimp returns it.
type MemberInfo struct {
	ID              string // the subscriber hash
	EmailAddress    string
	UniqueEmailID   string
	Status          Status
	MergeFields     map[string]any
	Interests       map[string]bool
	IPSignup        string
	TimestampSignup time.Time
	IPOpt           string
	TimestampOpt    time.Time
	LastChanged     time.Time
	ListID          string
}

// memberJSON is MemberInfo on the wire. Mailchimp sends "" for unknown
// timestamps, which time.Time cannot decode, so they arrive as strings.
type memberJSON struct {
	ID              string          `json:"id"`
	EmailAddress    string          `json:"email_address"`
	UniqueEmailID   string          `json:"unique_email_id"`
	Status          Status          `json:"status"`
	MergeFields     map[string]any  `json:"merge_fields"`
	Interests       map[string]bool `json:"interests"`
	IPSignup        string          `json:"ip_signup"`
	TimestampSignup string          `json:"timestamp_signup"`
	IPOpt           string          `json:"ip_opt"`
	TimestampOpt    string          `json:"timestamp_opt"`
	LastChanged     string          `json:"last_changed"`
	ListID          string          `json:"list_id"`
}

func (j *memberJSON) info() MemberInfo {
	return MemberInfo{
		ID:              j.ID,
		EmailAddress:    j.EmailAddress,
		UniqueEmailID:   j.UniqueEmailID,
		Status:          j.Status,
		MergeFields:     j.MergeFields,
		Interests:       j.Interests,
		IPSignup:        j.IPSignup,
		TimestampSignup: parseAPITime(j.TimestampSignup),
		IPOpt:           j.IPOpt,
		TimestampOpt:    parseAPITime(j.TimestampOpt),
		LastChanged:     parseAPITime(j.LastChanged),
		ListID:          j.ListID,
	}
}

// parseAPITime reads Mailchimp's ISO 8601 timestamps ("2015-09-16T17:26:43+00:00");
// anything else is the zero time.
func parseAPITime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC()
	}
	if t, err := time.Parse(csvTimeLayout, s); err == nil {
		return t
	}
	return time.Time{}
}

func memberPath(audienceID, email string) string {
	return pathf("/lists/%s/members/%s", audienceID, memberHash(email))
}

// hashRef marks a member named by its subscriber hash (ByHash).
const hashRef = "md5:"

// ByHash names a member by its subscriber hash where a method takes an
// address: for a member whose address Herald no longer holds (an erased
// reader, an old address). UpdateMemberStatus, SetInterest, Unsubscribe
// and DeletePermanent accept it.
func ByHash(hash string) string { return hashRef + strings.ToLower(hash) }

func memberHash(email string) string {
	if h, ok := strings.CutPrefix(email, hashRef); ok && !strings.Contains(h, "@") {
		return h
	}
	return SubscriberHash(strings.TrimSpace(email))
}

// UpsertMember adds or updates one member
// (PUT /lists/{list_id}/members/{subscriber_hash}). This is idempotent, so
// the job queue may repeat it freely.
func (c *Client) UpsertMember(ctx context.Context, audienceID string, m Member) (MemberInfo, error) {
	if err := requireID("audience id", audienceID); err != nil {
		return MemberInfo{}, err
	}
	if m.StatusIfNew == "" {
		m.StatusIfNew = m.Status
	}
	if err := m.validate(); err != nil {
		return MemberInfo{}, err
	}
	var out memberJSON
	if err := c.do(ctx, http.MethodPut, memberPath(audienceID, m.Email), nil, m.body(), &out); err != nil {
		return MemberInfo{}, err
	}
	return out.info(), nil
}

// GetMember returns one member (GET /lists/{list_id}/members/{subscriber_hash});
// IsNotFound when the address is not in the audience.
func (c *Client) GetMember(ctx context.Context, audienceID, email string) (MemberInfo, error) {
	if err := requireID("audience id", audienceID); err != nil {
		return MemberInfo{}, err
	}
	if strings.TrimSpace(email) == "" {
		return MemberInfo{}, fmt.Errorf("mailchimp: empty email address")
	}
	var out memberJSON
	if err := c.do(ctx, http.MethodGet, memberPath(audienceID, email), nil, nil, &out); err != nil {
		return MemberInfo{}, err
	}
	return out.info(), nil
}

// UpdateMemberStatus changes an existing member's status
// (PATCH /lists/{list_id}/members/{subscriber_hash}); IsNotFound when the
// address is not in the audience.
func (c *Client) UpdateMemberStatus(ctx context.Context, audienceID, email string, status Status) error {
	if !status.Valid() {
		return fmt.Errorf("mailchimp: invalid status %q", status)
	}
	return c.patchMember(ctx, audienceID, email, struct {
		Status Status `json:"status"`
	}{status})
}

// SetInterest adds a member to an interest (group) or removes them from it
// (PATCH … {"interests": {id: on}}), leaving their status alone.
func (c *Client) SetInterest(ctx context.Context, audienceID, email, interestID string, on bool) error {
	if err := requireID("interest id", interestID); err != nil {
		return err
	}
	return c.patchMember(ctx, audienceID, email, struct {
		Interests map[string]bool `json:"interests"`
	}{map[string]bool{interestID: on}})
}

func (c *Client) patchMember(ctx context.Context, audienceID, email string, body any) error {
	if err := requireID("audience id", audienceID); err != nil {
		return err
	}
	if strings.TrimSpace(email) == "" {
		return fmt.Errorf("mailchimp: empty email address")
	}
	return c.do(ctx, http.MethodPatch, memberPath(audienceID, email), nil, body, nil)
}

// Link is a Herald list's connection to Mailchimp: an audience, and
// optionally one interest (group) of it when several Herald lists share
// the audience.
type Link struct {
	AudienceID string
	InterestID string
}

// Unsubscribe propagates leaving a Herald list: when the list is an
// interest group the member leaves the group and stays subscribed to the
// audience (other lists may use it); otherwise the member is unsubscribed.
// A member unknown to Mailchimp gives an error matching ErrNotFound, which
// callers may treat as done.
func (c *Client) Unsubscribe(ctx context.Context, link Link, email string) error {
	if link.InterestID != "" {
		return c.SetInterest(ctx, link.AudienceID, email, link.InterestID, false)
	}
	return c.UpdateMemberStatus(ctx, link.AudienceID, email, StatusUnsubscribed)
}

// DeletePermanent erases a member and their data from the audience
// (POST /lists/{list_id}/members/{subscriber_hash}/actions/delete-permanent).
// Mailchimp then refuses to re-add the address through the API
// (ErrForgotten). Unknown members give ErrNotFound.
func (c *Client) DeletePermanent(ctx context.Context, audienceID, email string) error {
	if err := requireID("audience id", audienceID); err != nil {
		return err
	}
	if strings.TrimSpace(email) == "" {
		return fmt.Errorf("mailchimp: empty email address")
	}
	return c.do(ctx, http.MethodPost, memberPath(audienceID, email)+"/actions/delete-permanent", nil, nil, nil)
}

// BatchResult sums up a BatchUpsert.
type BatchResult struct {
	Created int
	Updated int
	// Errors are the members Mailchimp refused; the others were applied.
	Errors []*MemberError
}

// MemberError is one member refused in a batch. It matches
// ErrComplianceState, ErrForgotten and ErrInvalidAddress with errors.Is
// when its message says so.
type MemberError struct {
	Index        int    `json:"-"` // position in the slice given to BatchUpsert; -1 when the address matched none
	Email        string `json:"email_address"`
	Message      string `json:"error"`
	Code         string `json:"error_code"` // e.g. "ERROR_CONTACT_EXISTS", "ERROR_GENERIC"
	Field        string `json:"field"`
	FieldMessage string `json:"field_message"`
}

func (e *MemberError) Error() string {
	s := "mailchimp: " + e.Email + ": " + e.Message
	if e.Field != "" {
		s += " (" + e.Field + ": " + e.FieldMessage + ")"
	}
	return s
}

// Is matches the sentinels by Mailchimp's wording, as batch errors carry
// no title.
func (e *MemberError) Is(target error) bool {
	switch target {
	case ErrComplianceState:
		return containsFold(e.Message, complianceStatePhrase)
	case ErrForgotten:
		return containsFold(e.Message, forgottenPhrase)
	case ErrInvalidAddress:
		return invalidAddressMessage(e.Message) || e.Field == emailAddressFieldName
	}
	return false
}

// BatchUpsert adds or updates many members with Mailchimp's batch
// subscribe (POST /lists/{list_id} with "update_existing": true), at most
// MaxBatchSize per request, one request after the other. Each member's
// Status (or StatusIfNew when Status is empty) applies to new and existing
// members alike.
//
// Members Mailchimp refuses are returned in BatchResult.Errors, not as an
// error. An error means a request failed as a whole; the result then
// counts the chunks that succeeded before it, and as the call is
// idempotent the caller can simply repeat it.
func (c *Client) BatchUpsert(ctx context.Context, audienceID string, members []Member) (BatchResult, error) {
	var res BatchResult
	if err := requireID("audience id", audienceID); err != nil {
		return res, err
	}
	bodies := make([]memberBody, len(members))
	index := make(map[string]int, len(members))
	for i := range members {
		m := members[i]
		if m.Status == "" {
			m.Status = m.StatusIfNew
		}
		m.StatusIfNew = ""
		if err := m.validate(); err != nil {
			return res, fmt.Errorf("member %d: %w", i, err)
		}
		bodies[i] = m.body()
		key := strings.ToLower(bodies[i].EmailAddress)
		if _, dup := index[key]; !dup {
			index[key] = i
		}
	}
	type request struct {
		Members        []memberBody `json:"members"`
		UpdateExisting bool         `json:"update_existing"`
	}
	var answer struct {
		Errors       []*MemberError `json:"errors"`
		TotalCreated int            `json:"total_created"`
		TotalUpdated int            `json:"total_updated"`
		ErrorCount   int            `json:"error_count"`
	}
	for start := 0; start < len(bodies); start += MaxBatchSize {
		end := min(start+MaxBatchSize, len(bodies))
		answer.Errors, answer.TotalCreated, answer.TotalUpdated = nil, 0, 0
		err := c.do(ctx, http.MethodPost, pathf("/lists/%s", audienceID), nil,
			request{Members: bodies[start:end], UpdateExisting: true}, &answer)
		if err != nil {
			return res, fmt.Errorf("batch of members %d to %d: %w", start, end-1, err)
		}
		res.Created += answer.TotalCreated
		res.Updated += answer.TotalUpdated
		for _, me := range answer.Errors {
			if me == nil {
				continue
			}
			me.Index = -1
			if i, ok := index[strings.ToLower(strings.TrimSpace(me.Email))]; ok {
				me.Index = i
			}
			res.Errors = append(res.Errors, me)
		}
	}
	return res, nil
}
