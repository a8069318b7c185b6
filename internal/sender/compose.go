package sender

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	netmail "net/mail"
	"strings"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/mail"
	"github.com/heraldhq/herald/internal/render"
	"github.com/heraldhq/herald/internal/sqlstore"
	"github.com/heraldhq/herald/internal/token"
)

// Config is what composing a campaign's messages needs from the
// installation.
type Config struct {
	From          netmail.Address // default sender (HERALD_FROM)
	Publisher     string
	PostalAddress string
	BaseURL       string // without trailing slash
	// FeedbackID, when set, is the sender id of a Feedback-ID header
	// (campaign:list:kind:sender) for mailbox providers' feedback loops.
	FeedbackID string
	Tokens     *token.Signer
}

// ConfigFrom takes the installation's settings.
func ConfigFrom(c *config.Config, tokens *token.Signer) *Config {
	return &Config{From: c.From, Publisher: c.PublisherName, PostalAddress: c.PostalAddress, BaseURL: c.BaseURL, FeedbackID: c.FeedbackID, Tokens: tokens}
}

// Prepared is a campaign ready to be sent: templates compiled once,
// sender, headers and DKIM signer set up. It is safe for concurrent use.
type Prepared struct {
	Campaign *herald.Campaign
	tpl      *render.Template
	from     netmail.Address
	replyTo  *netmail.Address
	domain   string
	headers  []mail.Header // the same for every reader
	signer   *mail.DKIMSigner
	cfg      *Config
	ids      *sqlstore.MessageIDs
}

// Prepare compiles a campaign. It fails with an EINVALID error (field and
// message an editor can act on) when the campaign cannot be sent: a
// broken template, a rendered message without the unsubscribe link or the
// postal address, a bad sender address, no lists.
func Prepare(ctx context.Context, db *sqlstore.DB, cfg *Config, c *herald.Campaign) (*Prepared, error) {
	if len(c.ListIDs) == 0 {
		return nil, herald.FieldError("lists", "Choose at least one list to send the campaign to.")
	}
	names, err := db.ListNames(ctx, c.ListIDs)
	if err != nil {
		return nil, err
	}
	if len(names) != len(c.ListIDs) {
		return nil, herald.FieldError("lists", "A list of this campaign no longer exists.")
	}
	// Lists whose Mailchimp link says Mailchimp delivers them get no
	// campaign from Herald (ECONFLICT naming them).
	if err := db.CheckHeraldDelivers(ctx, c.ListIDs); err != nil {
		return nil, err
	}
	p := &Prepared{Campaign: c, cfg: cfg, from: cfg.From, ids: db.MessageIDs()}
	if c.From != "" {
		a, err := herald.ParseAddress(c.From)
		if err != nil {
			return nil, herald.FieldError("from", "%s", herald.ErrorMessage(err))
		}
		p.from = *a
	}
	if c.ReplyTo != "" {
		a, err := herald.ParseAddress(c.ReplyTo)
		if err != nil {
			return nil, herald.FieldError("reply_to", "%s", herald.ErrorMessage(err))
		}
		p.replyTo = a
	}
	p.domain = domainOf(p.from.Address)
	date := time.Now().UTC()
	if c.StartedAt != nil {
		date = *c.StartedAt
	}
	p.tpl, err = render.Compile(render.Campaign{ID: c.ID, Name: c.Name, Subject: c.Subject, Format: c.Format, Body: c.Body, Layout: c.Layout, Date: date},
		render.Publisher{Name: cfg.Publisher, PostalAddress: cfg.PostalAddress, BaseURL: cfg.BaseURL}, names)
	if err != nil {
		return nil, err
	}
	// The message must build: this catches a subject or name that the
	// mail package refuses, before a single reader is tried.
	if _, err := p.message(&Reader{Email: "reader@example.com", Name: "Test Reader"}, nil, "", "x@"+p.domain, time.Now(), newBuffers()); err != nil {
		return nil, herald.FieldError("subject", "The message cannot be built: %v", err)
	}
	p.headers = []mail.Header{
		{Name: "List-Id", Value: listID(names, c.Lists, p.domain)},
		{Name: "List-Unsubscribe-Post", Value: "List-Unsubscribe=One-Click"},
	}
	if cfg.FeedbackID != "" {
		p.headers = append(p.headers, mail.Header{Name: "Feedback-ID", Value: fmt.Sprintf("c%d:%s:newsletter:%s", c.ID, c.Lists[0], cfg.FeedbackID)})
	}
	if p.signer, err = loadSigner(ctx, db, p.domain); err != nil {
		return nil, err
	}
	return p, nil
}

// listID is the List-Id field (RFC 2919): the lists' names as the phrase,
// their slugs under the sender's domain as the id.
func listID(names, slugs []string, domain string) string {
	phrase := strings.Join(names, ", ")
	var b strings.Builder
	for _, r := range phrase {
		if r == '"' || r == '\\' {
			continue
		}
		b.WriteRune(r)
	}
	return `"` + b.String() + `" <` + strings.Join(slugs, ".") + "." + domain + ">"
}

// Signer returns the campaign's DKIM signer (nil when none applies).
func (p *Prepared) Signer() *mail.DKIMSigner { return p.signer }

// From is the campaign's sender.
func (p *Prepared) From() netmail.Address { return p.from }

// Fallback says why messages are rendered in full ("" when they come from
// pre-rendered chunks).
func (p *Prepared) Fallback() string { return p.tpl.Fallback() }

// Reader is the recipient of one message.
type Reader struct {
	ID         int64
	Email      string
	Name       string
	Attributes map[string]any
	// TestLinks gives the message test links (TestURLs) instead of the
	// reader's own: for test sends that go to someone else. A Reader
	// without an ID always gets test links.
	TestLinks bool
	// To, when set, is the address the message goes to instead of Email
	// (a test send rendered for a reader, to an editor).
	To string
}

// ReaderFrom turns a claimed recipient into a Reader.
func ReaderFrom(r *sqlstore.Recipient) *Reader {
	rd := &Reader{ID: r.SubscriberID, Email: r.Email, Name: r.Name}
	if a := r.Attributes; a != "" && a != "{}" {
		_ = json.Unmarshal([]byte(a), &rd.Attributes)
	}
	return rd
}

// buffers are one worker's reusable buffers and token makers.
type buffers struct {
	html, text    bytes.Buffer
	out           []byte
	headers       []mail.Header
	rdr           render.Reader
	url, lu       []byte
	unsub, manage *token.Maker
}

func newBuffers() *buffers { return &buffers{out: make([]byte, 0, 16<<10)} }

// MessageID is the Message-ID (without brackets) of the campaign's message
// to a reader: the same on every attempt, so that a message sent twice (a
// crash, a lost reply) can be recognised as one (see sqlstore.MessageIDs).
func (p *Prepared) MessageID(subscriberID int64) string {
	return p.ids.Make(p.Campaign.ID, subscriberID, p.domain)
}

// MessageDomain is the domain of a campaign's Message-IDs: its sender's.
func MessageDomain(c *herald.Campaign, cfg *Config) string {
	if c.From != "" {
		if a, err := herald.ParseAddress(c.From); err == nil {
			return domainOf(a.Address)
		}
	}
	return domainOf(cfg.From.Address)
}

func domainOf(addr string) string {
	return strings.ToLower(addr[strings.LastIndexByte(addr, '@')+1:])
}

// URLs returns the reader's unsubscribe (one-click, for the lists of this
// campaign) and preferences links, issued now.
func (p *Prepared) URLs(subscriberID int64) (unsub, manage string) {
	t, now := p.cfg.Tokens, time.Now()
	unsub = p.cfg.BaseURL + "/unsubscribe/" + t.Make(token.UnsubscribeLink(subscriberID, p.Campaign.ListIDs, p.Campaign.ID, now))
	manage = p.cfg.BaseURL + "/manage/" + t.Make(token.ManageLink(subscriberID, now))
	return unsub, manage
}

// message builds the reader's message into bufs.out and returns it (valid
// until the next use of bufs).
func (p *Prepared) message(r *Reader, extra []mail.Header, subjectPrefix, msgID string, date time.Time, bufs *buffers) ([]byte, error) {
	var unsub, manage string
	if r.ID == 0 || r.TestLinks {
		unsub, manage = p.TestURLs(r.ID)
	} else {
		if bufs.unsub == nil {
			bufs.unsub, bufs.manage = p.cfg.Tokens.Maker(token.Unsubscribe), p.cfg.Tokens.Maker(token.Manage)
		}
		bufs.url = append(append(bufs.url[:0], p.cfg.BaseURL...), "/unsubscribe/"...)
		// Fresh links in every message, issued at its Date: the reader's
		// newest mail always holds a manage link that works.
		bufs.url = bufs.unsub.Append(bufs.url, token.UnsubscribeLink(r.ID, p.Campaign.ListIDs, p.Campaign.ID, date))
		unsub = string(bufs.url)
		bufs.url = append(append(bufs.url[:0], p.cfg.BaseURL...), "/manage/"...)
		bufs.url = bufs.manage.Append(bufs.url, token.ManageLink(r.ID, date))
		manage = string(bufs.url)
	}
	bufs.html.Reset()
	bufs.text.Reset()
	bufs.rdr = render.Reader{ID: r.ID, Email: r.Email, Name: r.Name, Attributes: r.Attributes, UnsubscribeURL: unsub, ManageURL: manage}
	if err := p.tpl.Render(&bufs.rdr, &bufs.html, &bufs.text); err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	bufs.headers = append(bufs.headers[:0], p.headers...)
	bufs.lu = append(append(append(bufs.lu[:0], '<'), unsub...), '>')
	bufs.headers = append(bufs.headers, mail.Header{Name: "List-Unsubscribe", Value: string(bufs.lu)})
	bufs.headers = append(bufs.headers, extra...)
	m := mail.Message{
		From:      p.from,
		To:        []netmail.Address{{Name: r.Name, Address: cmp.Or(r.To, r.Email)}},
		ReplyTo:   p.replyTo,
		Subject:   subjectPrefix + p.Campaign.Subject,
		Headers:   bufs.headers,
		Text:      bufs.text.String(),
		HTML:      bufs.html.String(),
		MessageID: msgID,
		Date:      date,
	}
	out, err := m.AppendBytes(bufs.out[:0])
	if err != nil {
		return nil, err
	}
	bufs.out = out
	if p.signer != nil {
		return p.signer.Sign(out)
	}
	return out, nil
}

// Compose builds the campaign's message to a reader, as the engine sends
// it (signed when a DKIM key applies).
func (p *Prepared) Compose(r *Reader) ([]byte, error) {
	b, err := p.message(r, nil, "", p.MessageID(r.ID), time.Now(), newBuffers())
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), b...), nil
}

// TestURLs are the unsubscribe and preferences links of test sends and
// previews: signed test-link tokens that open a page saying what the link
// would do for a real reader (GET /test-link/{token}), and that never act
// on anyone, whoever the message was rendered for (subscriberID, 0 for a
// sample reader).
func (p *Prepared) TestURLs(subscriberID int64) (unsub, manage string) {
	t := token.Token{Kind: token.TestLink, SubscriberID: subscriberID, CampaignID: p.Campaign.ID, Lists: p.Campaign.ListIDs}
	t.Nonce = token.TestUnsubscribe
	unsub = p.cfg.BaseURL + "/test-link/" + p.cfg.Tokens.Make(t)
	t.Nonce = token.TestManage
	manage = p.cfg.BaseURL + "/test-link/" + p.cfg.Tokens.Make(t)
	return unsub, manage
}

// Preview is one rendered message, for editors.
type Preview struct {
	Subject   string `json:"subject"`
	From      string `json:"from"`
	To        string `json:"to"`
	HTML      string `json:"html"`
	Text      string `json:"text"`
	Fallback  string `json:"fallback,omitempty"` // why messages are rendered in full, if they are
	MessageID string `json:"message_id"`
}

// Preview renders the campaign for a reader (a sample reader when r is nil).
func (p *Prepared) Preview(r *Reader) (*Preview, error) {
	if r == nil {
		r = &Reader{Email: "reader@example.com", Name: "Sample Reader"}
	}
	unsub, manage := p.TestURLs(r.ID)
	if r.ID != 0 && !r.TestLinks {
		unsub, manage = p.URLs(r.ID)
	}
	html, text, err := p.tpl.Preview(&render.Reader{ID: r.ID, Email: r.Email, Name: r.Name, Attributes: r.Attributes, UnsubscribeURL: unsub, ManageURL: manage})
	if err != nil {
		return nil, herald.Errorf(herald.EINVALID, "The campaign cannot be rendered for this reader: %v", err)
	}
	return &Preview{
		Subject: p.Campaign.Subject, From: p.from.String(), To: (&netmail.Address{Name: r.Name, Address: r.Email}).String(),
		HTML: html, Text: text, Fallback: p.tpl.Fallback(), MessageID: p.MessageID(r.ID),
	}, nil
}

// Check returns a function that vets a campaign by preparing it: what
// StartCampaign and UpdateCampaign call before they store a change.
func Check(ctx context.Context, db *sqlstore.DB, cfg *Config) func(*herald.Campaign) error {
	return func(c *herald.Campaign) error {
		_, err := Prepare(ctx, db, cfg, c)
		return err
	}
}
