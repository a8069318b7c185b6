package herald

import (
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"
)

// Campaign statuses. A campaign is written as a draft, started (scheduled
// when its send_at is still ahead), sends while running, and ends finished
// or cancelled; paused campaigns keep their recipients and resume.
const (
	CampaignDraft     = "draft"
	CampaignScheduled = "scheduled"
	CampaignRunning   = "running"
	CampaignPaused    = "paused"
	CampaignFinished  = "finished"
	CampaignCancelled = "cancelled"
)

// Campaign body formats.
const (
	FormatMarkdown = "markdown"
	FormatHTML     = "html"
)

// Campaign is a newsletter issue sent to the union of its lists.
type Campaign struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	// Subject is the subject line; one line of text.
	Subject string `json:"subject"`
	// From is the sender, "Name <address>" or a bare address; empty means
	// the installation's HERALD_FROM.
	From string `json:"from"`
	// ReplyTo is an optional reply address, in the same forms as From.
	ReplyTo string `json:"reply_to"`
	// Lists are list slugs; the recipients are the union of their
	// confirmed subscribers.
	Lists  []string `json:"lists"`
	Format string   `json:"format"`
	// Body and Layout are html/template sources (see internal/render);
	// an empty Layout means the default layout.
	Body   string     `json:"body"`
	Layout string     `json:"layout"`
	SendAt *time.Time `json:"send_at"`
	Status string     `json:"status"`
	Stats  Stats      `json:"stats"`
	// LastError says why the sender could not send the campaign (a
	// template that fails for a reader, a list removed), when it could not.
	LastError  string     `json:"last_error,omitempty"`
	StartedAt  *time.Time `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`

	ListIDs []int64 `json:"-"`
}

// Stats is a campaign's progress. Pending counts recipients not yet sent,
// failed or skipped (including those waiting for a retry). Rate and ETA are
// given while the campaign runs.
type Stats struct {
	Recipients int64 `json:"recipients"`
	Sent       int64 `json:"sent"`
	Failed     int64 `json:"failed"`
	// Skipped recipients were in the recipient set when the campaign
	// started but had unsubscribed, been suppressed or erased by the time
	// their turn came.
	Skipped int64 `json:"skipped"`
	Pending int64 `json:"pending"`
	// Rate is messages per second over the last 10 to 20 seconds.
	Rate float64 `json:"rate"`
	// ETA is when the pending messages should be out at the current rate.
	ETA *time.Time `json:"eta"`
}

// Delivery statuses in the per-recipient ledger.
const (
	DeliveryPending = "pending" // not yet attempted
	DeliverySending = "sending" // claimed for a retry, leased
	DeliveryRetry   = "retry"   // a temporary failure; due again at NextAttemptAt
	DeliverySent    = "sent"
	DeliveryFailed  = "failed"
	DeliverySkipped = "skipped" // unsubscribed, suppressed or erased before their turn
)

// Delivery is one recipient's row of a campaign's ledger.
type Delivery struct {
	CampaignID    int64      `json:"campaign_id"`
	SubscriberID  int64      `json:"subscriber_id"`
	Status        string     `json:"status"`
	Attempts      int        `json:"attempts"`
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"`
	LastReply     string     `json:"last_reply"`
	// MessageID is derived, not stored (sqlstore.MessageIDs); "" until
	// the first attempt.
	MessageID string     `json:"message_id"`
	UpdatedAt *time.Time `json:"updated_at,omitempty"`
}

// Limits of campaign fields.
const (
	MaxCampaignName    = 200
	MaxCampaignSubject = 400
	MaxCampaignBody    = 512 << 10
	MaxCampaignLists   = 64
)

// Validate checks what can be checked without the database or the
// templates (internal/render checks those when the campaign starts), and
// fills in defaults.
func (c *Campaign) Validate() error {
	c.Name = strings.TrimSpace(c.Name)
	if c.Format == "" {
		c.Format = FormatMarkdown
	}
	switch {
	case c.Name == "" || !utf8.ValidString(c.Name) || utf8.RuneCountInString(c.Name) > MaxCampaignName || strings.ContainsAny(c.Name, "\r\n\x00"):
		return FieldError("name", "Name is required: one line of at most %d characters.", MaxCampaignName)
	case !utf8.ValidString(c.Subject) || utf8.RuneCountInString(c.Subject) > MaxCampaignSubject:
		return FieldError("subject", "Subject must be valid text of at most %d characters.", MaxCampaignSubject)
	case hasControl(c.Subject):
		return FieldError("subject", "Subject must be one line: line breaks and control characters are not allowed.")
	case c.Format != FormatMarkdown && c.Format != FormatHTML:
		return FieldError("format", "Format must be markdown or html.")
	case !utf8.ValidString(c.Body) || len(c.Body) > MaxCampaignBody:
		return FieldError("body", "Body must be valid UTF-8 of at most %d KB.", MaxCampaignBody>>10)
	case !utf8.ValidString(c.Layout) || len(c.Layout) > MaxCampaignBody:
		return FieldError("layout", "Layout must be valid UTF-8 of at most %d KB.", MaxCampaignBody>>10)
	case len(c.Lists) > MaxCampaignLists:
		return FieldError("lists", "A campaign can go to at most %d lists.", MaxCampaignLists)
	}
	var err error
	if c.From, err = cleanAddress(c.From, "from"); err != nil {
		return err
	}
	if c.ReplyTo, err = cleanAddress(c.ReplyTo, "reply_to"); err != nil {
		return err
	}
	seen := map[string]bool{}
	lists := c.Lists[:0]
	for _, l := range c.Lists {
		if l = strings.TrimSpace(l); l != "" && !seen[l] {
			seen[l] = true
			lists = append(lists, l)
		}
	}
	c.Lists = lists
	return nil
}

// ValidateForSending checks what a campaign needs before it can start.
func (c *Campaign) ValidateForSending() error {
	if err := c.Validate(); err != nil {
		return err
	}
	switch {
	case len(c.Lists) == 0:
		return FieldError("lists", "Choose at least one list to send the campaign to.")
	case strings.TrimSpace(c.Subject) == "":
		return FieldError("subject", "A campaign needs a subject.")
	case strings.TrimSpace(c.Body) == "":
		return FieldError("body", "A campaign needs a body.")
	}
	return nil
}

// ParseAddress parses "Name <address>" or a bare address, refusing CR, LF
// and other control characters (which would inject headers).
func ParseAddress(s string) (*mail.Address, error) {
	if hasControl(s) {
		return nil, FieldError("", "line breaks and control characters are not allowed")
	}
	a, err := mail.ParseAddress(s)
	if err != nil || !strings.Contains(a.Address, "@") {
		return nil, FieldError("", "%q is not an address like `Daily News <news@example.com>`", s)
	}
	if _, _, err := NormalizeEmail(a.Address); err != nil {
		return nil, FieldError("", "%q is not a valid address", a.Address)
	}
	return a, nil
}

func cleanAddress(s, field string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	if _, err := ParseAddress(s); err != nil {
		e := err.(*Error)
		e.Field = field
		if hasControl(s) {
			e.Message = "The address must be one line: line breaks and control characters are not allowed."
		}
		return "", e
	}
	return s, nil
}

func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' {
			return true
		}
	}
	return false
}
