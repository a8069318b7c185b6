package herald

import (
	"net/mail"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// List visibility and opt-in modes.
const (
	Public  = "public"
	Private = "private"
	Double  = "double"
	Single  = "single"
)

// Subscription statuses.
const (
	StatusPending      = "pending"
	StatusConfirmed    = "confirmed"
	StatusUnsubscribed = "unsubscribed"
)

// Consent event kinds. The ledger is append-only: a change of mind is a new
// event, never an edit of an old one.
const (
	ConsentSignup       = "signup_request"
	ConsentConfirm      = "confirmation"
	ConsentUnsubscribe  = "unsubscribe"
	ConsentPreferences  = "preference_change"
	ConsentImport       = "import"
	ConsentOperatorAdd  = "operator_add"
	ConsentErasure      = "erasure"
	ConsentProfileEdit  = "profile_change"
	ConsentResubscribed = "resubscribe_request"
)

// Actors that cause consent events.
const (
	ActorReader    = "reader"
	ActorOperator  = "operator"
	ActorMailchimp = "mailchimp"
	ActorSystem    = "system"
)

// List is a mailing list readers can subscribe to.
type List struct {
	ID              int64     `json:"id"`
	Slug            string    `json:"slug"`
	Name            string    `json:"name"`
	Description     string    `json:"description"`
	Visibility      string    `json:"visibility"`
	OptIn           string    `json:"optin"`
	SubscriberCount int       `json:"subscriber_count"`
	CreatedAt       time.Time `json:"created_at"`
	UpdatedAt       time.Time `json:"updated_at"`
}

var slugRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// Validate checks a list's fields, filling in defaults for empty enums.
func (l *List) Validate() error {
	l.Slug = strings.TrimSpace(l.Slug)
	l.Name = strings.TrimSpace(l.Name)
	if l.Visibility == "" {
		l.Visibility = Public
	}
	if l.OptIn == "" {
		l.OptIn = Double
	}
	switch {
	case !slugRE.MatchString(l.Slug) || strings.Trim(l.Slug, "0123456789") == "":
		return FieldError("slug", "Slug must be 1–63 lower-case letters, digits or hyphens, starting with a letter or digit, with at least one letter.")
	case l.Name == "" || !utf8.ValidString(l.Name) || utf8.RuneCountInString(l.Name) > 200 || strings.ContainsAny(l.Name, "\r\n\x00"):
		return FieldError("name", "Name is required: one line of at most 200 characters.")
	case !utf8.ValidString(l.Description) || utf8.RuneCountInString(l.Description) > 2000 || strings.ContainsRune(l.Description, 0):
		return FieldError("description", "Description must be valid UTF-8 of at most 2000 characters, without NUL bytes.")
	case l.Visibility != Public && l.Visibility != Private:
		return FieldError("visibility", "Visibility must be public or private.")
	case l.OptIn != Double && l.OptIn != Single:
		return FieldError("optin", "Opt-in must be double or single.")
	}
	return nil
}

// Subscriber is one reader, identified by their email address.
type Subscriber struct {
	ID            int64          `json:"id"`
	Email         string         `json:"email"`
	Name          string         `json:"name"`
	Attributes    map[string]any `json:"attributes"`
	Subscriptions []Subscription `json:"subscriptions"`
	CreatedAt     time.Time      `json:"created_at"`
	UpdatedAt     time.Time      `json:"updated_at"`
}

// Subscription is one subscriber's relation to one list.
type Subscription struct {
	ListID         int64      `json:"-"`
	List           string     `json:"list"`
	ListName       string     `json:"list_name,omitempty"`
	Status         string     `json:"status"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	ConfirmedAt    *time.Time `json:"confirmed_at,omitempty"`
	UnsubscribedAt *time.Time `json:"unsubscribed_at,omitempty"`
}

// ConsentEvent is one entry of the append-only consent ledger.
type ConsentEvent struct {
	ID                int64     `json:"id"`
	SubscriberID      int64     `json:"subscriber_id"`
	Kind              string    `json:"kind"`
	Actor             string    `json:"actor"`
	CreatedAt         time.Time `json:"created_at"`
	IP                string    `json:"ip"`
	UserAgent         string    `json:"user_agent"`
	SourceURL         string    `json:"source_url"`
	Lists             []string  `json:"lists"`
	DisclosureID      int64     `json:"disclosure_id,omitempty"`
	DisclosureVersion int       `json:"disclosure_version,omitempty"`
	DisclosureHash    string    `json:"disclosure_hash,omitempty"`
	Detail            string    `json:"detail,omitempty"`
}

// Disclosure is a versioned text shown to readers when they sign up: who
// processes their data and why. Exactly one is current at a time.
type Disclosure struct {
	ID        int64     `json:"id"`
	Version   int       `json:"version"`
	Text      string    `json:"text"`
	Hash      string    `json:"hash"`
	Current   bool      `json:"current"`
	CreatedAt time.Time `json:"created_at"`
}

// OutboxMessage is a message kept by the built-in outbox transport.
type OutboxMessage struct {
	ID        int64     `json:"id"`
	To        string    `json:"to"`
	Subject   string    `json:"subject"`
	CreatedAt time.Time `json:"created_at"`
	Raw       string    `json:"raw,omitempty"`
}

// Job is a durable unit of background work.
type Job struct {
	ID          int64      `json:"id"`
	Kind        string     `json:"kind"`
	Payload     []byte     `json:"-"`
	Status      string     `json:"status"`
	Attempts    int        `json:"attempts"`
	MaxAttempts int        `json:"max_attempts"`
	RunAt       time.Time  `json:"run_at"`
	LastError   string     `json:"last_error,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	LeaseUntil  *time.Time `json:"-"`
}

// Job statuses.
const (
	JobPending = "pending"
	JobRunning = "running"
	JobFailed  = "failed"
)

// SignupRequest is what a reader (or a site's back end) submits to subscribe.
type SignupRequest struct {
	Email     string
	Name      string
	Lists     []string // slugs
	SourceURL string
	IP        string
	UserAgent string
	// DisclosureVersion is the version the form showed; 0 means "current".
	DisclosureVersion int
}

// MaxEmailLength is the longest address Herald accepts (RFC 5321 path limit).
const MaxEmailLength = 254

// NormalizeEmail validates an address and returns it trimmed, plus the key
// under which it is unique (lower-cased). It accepts only a bare addr-spec,
// as internal/mail can send it: no display name, no comments, no CR/LF.
// Internationalised addresses (RFC 6531: letters, digits and marks beyond
// ASCII, as in jürgen@bücher.example) are accepted; they are delivered
// through a relay that offers SMTPUTF8, and fail with that reason through
// one that does not. Invisible, spacing and control characters are not.
// Domains are not IDNA-normalised: bücher.example and
// xn--bcher-kva.example are different keys.
func NormalizeEmail(s string) (addr, key string, err error) {
	s = strings.TrimSpace(s)
	bad := FieldError("email", "Please enter a valid email address.")
	if s == "" || len(s) > MaxEmailLength || !utf8.ValidString(s) || strings.ContainsAny(s, " \t\r\n\x00<>,;\"()\\[]") {
		return "", "", bad
	}
	at := strings.LastIndexByte(s, '@')
	if at < 1 || at == len(s)-1 || len(s[:at]) > 64 {
		return "", "", bad
	}
	domain := s[at+1:]
	if !strings.Contains(domain, ".") && domain != "localhost" || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") {
		return "", "", bad
	}
	for i, r := range s {
		switch {
		case r < 0x21 || r == ':' || r == 0x7f:
			return "", "", bad
		case r >= 0x80 && !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.IsMark(r):
			// Look-alike punctuation (＠), spaces, invisible and
			// direction-changing characters, a decoder's U+FFFD.
			return "", "", bad
		case r >= 0x80 && i == 0 && unicode.IsMark(r):
			return "", "", bad
		}
	}
	a, perr := mail.ParseAddress(s)
	if perr != nil || a.Address != s {
		return "", "", bad
	}
	return s, strings.ToLower(s), nil
}

// CleanName validates a reader's display name: one line, valid UTF-8, at
// most 200 characters. It never lets control characters through, so a name
// cannot inject headers into mail.
func CleanName(s string) (string, error) {
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) {
		return "", FieldError("name", "Name must be valid UTF-8 text.")
	}
	if utf8.RuneCountInString(s) > 200 {
		return "", FieldError("name", "Name must be at most 200 characters.")
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' ||
			// Invisible and direction-changing characters let a name look
			// like something else in a mail client.
			(r >= '\u200b' && r <= '\u200f') || (r >= '\u202a' && r <= '\u202e') || (r >= '\u2066' && r <= '\u2069') || r == '\ufeff' {
			return "", FieldError("name", "Name must be one line of text without control characters.")
		}
	}
	return s, nil
}
