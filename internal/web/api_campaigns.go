package web

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/sender"
	"github.com/heraldhq/herald/internal/sqlstore"
)

// Campaign routes. Handlers change campaigns in the store; the sender
// (internal/sender, running in every `herald serve`) notices running and
// due campaigns by itself. Test messages are jobs, like all mail.

// campaignBodyLimit bounds campaign requests: body and layout may each
// be up to herald.MaxCampaignBody.
const campaignBodyLimit = 1 << 20

// campaignBody is POST /campaigns and PATCH /campaigns/{id}.
type campaignBody struct {
	Name    *string         `json:"name"`
	Subject *string         `json:"subject"`
	From    *string         `json:"from"`
	ReplyTo *string         `json:"reply_to"`
	Lists   json.RawMessage `json:"lists"`
	Format  *string         `json:"format"`
	Body    *string         `json:"body"`
	Layout  *string         `json:"layout"`
	SendAt  json.RawMessage `json:"send_at"` // RFC 3339 time or null
}

// sendAt parses send_at: set reports whether it was given, clear whether
// it was null.
func (b *campaignBody) sendAt() (t *time.Time, set, clear bool, err error) {
	if len(b.SendAt) == 0 {
		return nil, false, false, nil
	}
	if string(b.SendAt) == "null" {
		return nil, true, true, nil
	}
	var s string
	if err := json.Unmarshal(b.SendAt, &s); err != nil {
		return nil, false, false, &herald.Error{Code: herald.EBADREQUEST, Field: "send_at", Message: "send_at must be an RFC 3339 time, such as 2026-05-01T06:00:00Z, or null."}
	}
	v, err := time.Parse(time.RFC3339, strings.TrimSpace(s))
	if err != nil {
		return nil, false, false, herald.FieldError("send_at", "send_at must be an RFC 3339 time, such as 2026-05-01T06:00:00Z.")
	}
	v = v.UTC()
	return &v, true, false, nil
}

func (s *Server) senderConfig() *sender.Config { return sender.ConfigFrom(s.Config, s.Tokens) }

func (s *Server) apiListCampaigns(w http.ResponseWriter, r *http.Request) error {
	limit, offset, err := paging(r)
	if err != nil {
		return err
	}
	st := r.URL.Query().Get("status")
	switch st {
	case "", herald.CampaignDraft, herald.CampaignScheduled, herald.CampaignRunning, herald.CampaignPaused, herald.CampaignFinished, herald.CampaignCancelled:
	default:
		return &herald.Error{Code: herald.EBADREQUEST, Field: "status", Message: "status must be draft, scheduled, running, paused, finished or cancelled."}
	}
	cs, total, err := s.DB.FindCampaigns(r.Context(), sqlstore.CampaignFilter{Status: st, Limit: limit, Offset: offset})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, page{Data: cs, Total: total, Limit: limit, Offset: offset})
	return nil
}

func (s *Server) apiCreateCampaign(w http.ResponseWriter, r *http.Request) error {
	var b campaignBody
	if err := decodeJSON(w, r, campaignBodyLimit, &b); err != nil {
		return err
	}
	lists, err := slugList(b.Lists)
	if err != nil {
		return err
	}
	at, _, _, err := b.sendAt()
	if err != nil {
		return err
	}
	c := &herald.Campaign{Name: deref(b.Name), Subject: deref(b.Subject), From: deref(b.From), ReplyTo: deref(b.ReplyTo),
		Lists: lists, Format: deref(b.Format), Body: deref(b.Body), Layout: deref(b.Layout), SendAt: at}
	if err := s.DB.CreateCampaign(r.Context(), c); err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/campaigns/"+strconv.FormatInt(c.ID, 10))
	writeJSON(w, http.StatusCreated, c)
	return nil
}

func (s *Server) apiGetCampaign(w http.ResponseWriter, r *http.Request) error {
	return getByID(w, r, s.DB.GetCampaign)
}

func (s *Server) apiUpdateCampaign(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var b campaignBody
	if err := decodeJSON(w, r, campaignBodyLimit, &b); err != nil {
		return err
	}
	p := sqlstore.CampaignPatch{Name: b.Name, Subject: b.Subject, From: b.From, ReplyTo: b.ReplyTo, Format: b.Format, Body: b.Body, Layout: b.Layout}
	if len(b.Lists) > 0 {
		if p.Lists, err = slugList(b.Lists); err != nil {
			return err
		}
		if p.Lists == nil {
			p.Lists = []string{}
		}
	}
	if p.SendAt, _, p.ClearSendAt, err = b.sendAt(); err != nil {
		return err
	}
	c, err := s.DB.UpdateCampaign(r.Context(), id, p, sender.Check(r.Context(), s.DB, s.senderConfig()))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (s *Server) apiDeleteCampaign(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := s.DB.DeleteCampaign(r.Context(), id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// apiStartCampaign checks the campaign (its templates must render with
// the unsubscribe link and postal address) and starts it: at once, or at
// its send_at.
func (s *Server) apiStartCampaign(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	res, err := s.DB.StartCampaign(r.Context(), id, sender.Check(r.Context(), s.DB, s.senderConfig()))
	if err != nil {
		return err
	}
	if res.Fixed > 0 {
		s.Log.InfoContext(r.Context(), "campaign started", "campaign", id, "recipients", res.Campaign.Stats.Recipients, "fixed_in", res.Fixed.Round(time.Millisecond))
	}
	writeJSON(w, http.StatusOK, res.Campaign)
	return nil
}

func (s *Server) apiPauseCampaign(w http.ResponseWriter, r *http.Request) error {
	return s.campaignTransition(w, r, s.DB.PauseCampaign)
}

func (s *Server) apiResumeCampaign(w http.ResponseWriter, r *http.Request) error {
	return s.campaignTransition(w, r, s.DB.ResumeCampaign)
}

func (s *Server) apiCancelCampaign(w http.ResponseWriter, r *http.Request) error {
	return s.campaignTransition(w, r, s.DB.CancelCampaign)
}

func (s *Server) campaignTransition(w http.ResponseWriter, r *http.Request, fn func(context.Context, int64) (*herald.Campaign, error)) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	c, err := fn(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

// maxTestEmails bounds one test send.
const maxTestEmails = 20

// apiTestCampaign queues a test message per address (202): the queue
// sends them like all mail, and they show in the outbox when no SMTP
// server is configured. "subscriber" renders them for that reader (their
// name and attributes); their links are then test links (see
// sender.SendTest), since the mail goes to someone else.
func (s *Server) apiTestCampaign(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var b struct {
		Emails     []string `json:"emails"`
		Subscriber int64    `json:"subscriber"`
	}
	if err := decodeJSON(w, r, 64<<10, &b); err != nil {
		return err
	}
	if b.Subscriber < 0 {
		return herald.FieldError("subscriber", "The subscriber is a subscriber's id.")
	}
	c, err := s.DB.GetCampaign(r.Context(), id)
	if err != nil {
		return err
	}
	if len(b.Emails) == 0 || len(b.Emails) > maxTestEmails {
		return herald.FieldError("emails", "Give 1 to %d addresses to send the test to.", maxTestEmails)
	}
	emails := make([]string, 0, len(b.Emails))
	for _, e := range b.Emails {
		addr, _, err := herald.NormalizeEmail(e)
		if err != nil {
			return herald.FieldError("emails", "%q is not a valid email address.", e)
		}
		emails = append(emails, addr)
	}
	if _, err := sender.Prepare(r.Context(), s.DB, s.senderConfig(), c); err != nil {
		return err
	}
	if err := s.DB.EnqueueCampaignTests(r.Context(), id, emails, b.Subscriber); err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"queued": len(emails)})
	return nil
}

func (s *Server) apiResendFailed(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	n, c, err := s.DB.ResendFailed(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"queued": n, "campaign": c})
	return nil
}

// apiPreviewCampaign renders the campaign for a subscriber (?subscriber=ID)
// or for a sample reader.
func (s *Server) apiPreviewCampaign(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var subID int64
	if v := r.URL.Query().Get("subscriber"); v != "" {
		if subID, err = strconv.ParseInt(v, 10, 64); err != nil || subID <= 0 {
			return &herald.Error{Code: herald.EBADREQUEST, Field: "subscriber", Message: "subscriber must be a subscriber id."}
		}
	}
	c, err := s.DB.GetCampaign(r.Context(), id)
	if err != nil {
		return err
	}
	var rd *sender.Reader
	if subID > 0 {
		sub, err := s.DB.GetSubscriber(r.Context(), subID)
		if err != nil {
			return err
		}
		rd = &sender.Reader{ID: sub.ID, Email: sub.Email, Name: sub.Name, Attributes: sub.Attributes}
	}
	p, err := sender.Prepare(r.Context(), s.DB, s.senderConfig(), c)
	if err != nil {
		return err
	}
	pv, err := p.Preview(rd)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, pv)
	return nil
}

// apiCampaignDeliveries pages through the ledger by subscriber id.
func (s *Server) apiCampaignDeliveries(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	limit, err := queryInt(r, "limit", 100)
	if err != nil {
		return err
	}
	if limit > 1000 {
		return &herald.Error{Code: herald.EBADREQUEST, Field: "limit", Message: "limit must be at most 1000."}
	}
	if limit == 0 {
		limit = 100
	}
	after, err := queryInt(r, "after", 0)
	if err != nil {
		return err
	}
	st := r.URL.Query().Get("status")
	switch st {
	case "", herald.DeliveryPending, herald.DeliverySending, herald.DeliveryRetry, herald.DeliverySent, herald.DeliveryFailed, herald.DeliverySkipped:
	default:
		return &herald.Error{Code: herald.EBADREQUEST, Field: "status", Message: "status must be pending, sending, retry, sent, failed or skipped."}
	}
	ds, err := s.DB.Deliveries(r.Context(), id, sqlstore.DeliveryFilter{Status: st, After: int64(after), Limit: limit})
	if err != nil {
		return err
	}
	c, err := s.DB.GetCampaign(r.Context(), id)
	if err != nil {
		return err
	}
	ids, domain := s.DB.MessageIDs(), sender.MessageDomain(c, s.senderConfig())
	for i := range ds {
		if ds[i].Attempts > 0 || ds[i].Status == herald.DeliverySent {
			ds[i].MessageID = ids.Make(id, ds[i].SubscriberID, domain)
		}
	}
	var next *int64
	if len(ds) == limit {
		n := ds[len(ds)-1].SubscriberID
		next = &n
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": ds, "limit": limit, "next_after": next})
	return nil
}
