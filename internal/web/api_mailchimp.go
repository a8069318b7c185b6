package web

import (
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/mailchimp"
	"github.com/heraldhq/herald/internal/mcsync"
	"github.com/heraldhq/herald/internal/mcsync/mcstore"
)

// The Mailchimp integration's API: the account connection, each list's
// link to an audience, bulk sync, and audience import.

type mailchimpConnectionView struct {
	APIKeyHint string                   `json:"api_key_hint"`
	BaseURL    string                   `json:"base_url"`
	APIURL     string                   `json:"api_url"`
	WebhookURL string                   `json:"webhook_url"`
	Lists      []*mcstore.MailchimpLink `json:"lists"`
	CreatedAt  time.Time                `json:"created_at"`
	UpdatedAt  time.Time                `json:"updated_at"`
}

func (s *Server) connectionView(r *http.Request, c *mcstore.MailchimpConnection) (mailchimpConnectionView, error) {
	v := mailchimpConnectionView{APIKeyHint: c.KeyHint, BaseURL: c.BaseURL, WebhookURL: s.Mailchimp.WebhookURL(c.WebhookSecret),
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
	if cl, err := s.Mailchimp.NewClient(c.APIKey, c.BaseURL); err == nil {
		v.APIURL = cl.BaseURL()
	}
	links, err := s.Mailchimp.Store.MailchimpLinks(r.Context())
	if links == nil {
		links = []*mcstore.MailchimpLink{}
	}
	v.Lists = links
	return v, err
}

func (s *Server) apiGetMailchimp(w http.ResponseWriter, r *http.Request) error {
	c, err := s.Mailchimp.Store.MailchimpConnection(r.Context())
	if err != nil {
		return err
	}
	v, err := s.connectionView(r, c)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) apiPutMailchimp(w http.ResponseWriter, r *http.Request) error {
	var b struct {
		APIKey  *string `json:"api_key"`
		BaseURL *string `json:"base_url"`
	}
	if err := decodeJSON(w, r, 64<<10, &b); err != nil {
		return err
	}
	ctx := r.Context()
	key, base := "", ""
	if cur, err := s.Mailchimp.Store.MailchimpConnection(ctx); err == nil {
		key, base = cur.APIKey, cur.BaseURL
	} else if herald.ErrorCode(err) != herald.ENOTFOUND {
		if b.APIKey == nil {
			return err
		}
	}
	if b.APIKey != nil {
		key = strings.TrimSpace(*b.APIKey)
		if key == "" || len(key) > 200 {
			return herald.FieldError("api_key", "api_key must be your Mailchimp API key (it ends with the data centre, e.g. -us6).")
		}
	}
	if b.BaseURL != nil {
		nb := strings.TrimRight(strings.TrimSpace(*b.BaseURL), "/")
		// The key goes wherever base_url says: whoever changes where it
		// goes must know the key. (Errors never repeat the URL, which may
		// hold credentials.)
		if err := s.Mailchimp.CheckBaseURL(ctx, nb); err != nil {
			return herald.FieldError("base_url", "%s", err.Error())
		}
		if nb != base && b.APIKey == nil && key != "" {
			return herald.FieldError("api_key", "Changing base_url needs api_key in the same request: the key is sent to the new address.")
		}
		base = nb
	}
	if key == "" {
		return herald.FieldError("api_key", "api_key is required to connect Mailchimp.")
	}
	if _, err := s.Mailchimp.NewClient(key, base); err != nil {
		field := "api_key"
		if b.BaseURL != nil && !errors.Is(err, mailchimp.ErrInvalidAPIKey) {
			field = "base_url"
		}
		return herald.FieldError(field, "%s", strings.TrimPrefix(err.Error(), "mailchimp: "))
	}
	c, err := s.Mailchimp.Store.SetMailchimpConnection(ctx, b.APIKey, &base)
	if err != nil {
		return err
	}
	v, err := s.connectionView(r, c)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) apiDeleteMailchimp(w http.ResponseWriter, r *http.Request) error {
	if err := s.Mailchimp.Store.DeleteMailchimpConnection(r.Context()); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) apiTestMailchimp(w http.ResponseWriter, r *http.Request) error {
	res, err := s.Mailchimp.Test(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// unreachable answers 502 when Mailchimp cannot be asked.
func (s *Server) unreachable(w http.ResponseWriter, err error) {
	writeJSON(w, http.StatusBadGateway, map[string]any{"error": map[string]any{
		"code": "mailchimp_unreachable", "message": strings.TrimPrefix(err.Error(), mcsync.ErrUnreachable.Error()+": ") + " (nothing was changed)"}})
}

func validMailchimpID(field, id string) error {
	if id == "" || len(id) > 100 || strings.ContainsFunc(id, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_')
	}) {
		return herald.FieldError(field, "%s must be a Mailchimp id (letters, digits, - and _).", field)
	}
	return nil
}

func (s *Server) apiGetListMailchimp(w http.ResponseWriter, r *http.Request) error {
	k, err := s.Mailchimp.Store.MailchimpLink(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, k)
	return nil
}

func (s *Server) apiPutListMailchimp(w http.ResponseWriter, r *http.Request) error {
	var b struct {
		AudienceID string  `json:"audience_id"`
		InterestID string  `json:"interest_id"`
		Delivery   string  `json:"delivery"`
		Disclosure *string `json:"disclosure"`
	}
	if err := decodeJSON(w, r, 64<<10, &b); err != nil {
		return err
	}
	ctx := r.Context()
	l, err := s.DB.GetList(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	b.AudienceID, b.InterestID = strings.TrimSpace(b.AudienceID), strings.TrimSpace(b.InterestID)
	if err := validMailchimpID("audience_id", b.AudienceID); err != nil {
		return err
	}
	if b.InterestID != "" {
		if err := validMailchimpID("interest_id", b.InterestID); err != nil {
			return err
		}
	}
	switch b.Delivery {
	case "", mcstore.DeliveryMailchimp, mcstore.DeliveryHerald:
	default:
		return herald.FieldError("delivery", "delivery must be mailchimp (Mailchimp sends the list's campaigns) or herald.")
	}
	if _, err := s.Mailchimp.Store.MailchimpConnection(ctx); herald.ErrorCode(err) == herald.ENOTFOUND {
		return herald.Errorf(herald.ECONFLICT, "Connect Mailchimp first: PUT /api/v1/integrations/mailchimp with an API key.")
	} else if err != nil {
		return err
	}
	audience, category, interest, err := s.Mailchimp.CheckLink(ctx, b.AudienceID, b.InterestID)
	if errors.Is(err, mcsync.ErrUnreachable) {
		s.unreachable(w, err)
		return nil
	} else if err != nil {
		return err
	}
	text := mcsync.DisclosureText(s.Config.PublisherName, l.Name)
	if b.Disclosure != nil {
		text = strings.TrimSpace(*b.Disclosure)
		if !strings.Contains(strings.ToLower(text), "mailchimp") {
			return herald.FieldError("disclosure", "The disclosure of a list connected to Mailchimp must name Mailchimp as the processor readers' details are transferred to.")
		}
	}
	k, _, err := s.Mailchimp.Store.PutMailchimpLink(ctx, r.PathValue("id"), mcstore.MailchimpLinkInput{
		AudienceID: b.AudienceID, AudienceName: audience, InterestID: b.InterestID, CategoryID: category, InterestName: interest,
		Delivery: b.Delivery, DisclosureText: text,
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, k)
	return nil
}

func (s *Server) apiDeleteListMailchimp(w http.ResponseWriter, r *http.Request) error {
	if err := s.Mailchimp.Store.DeleteMailchimpLink(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) apiSyncListMailchimp(w http.ResponseWriter, r *http.Request) error {
	k, err := s.Mailchimp.Store.StartMailchimpSync(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, k)
	return nil
}

// apiImportMailchimp imports an uploaded Mailchimp audience export
// (multipart/form-data: one or more "file" parts — the zip, or its
// subscribed, unsubscribed and cleaned CSV files — and optional "group"
// fields "Column=Group:slug"); see apiImport (api_import.go).
func (s *Server) apiImportMailchimp(w http.ResponseWriter, r *http.Request) error {
	return s.apiImport(w, r, mcsync.FormatMailchimp)
}

func saveUpload(path string, src io.Reader) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, src); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// apiExportMailchimp streams a list as Mailchimp's audience export: the zip
// of its subscribed, unsubscribed and cleaned files, or one of them as CSV
// with ?file=subscribed|unsubscribed|cleaned.
func (s *Server) apiExportMailchimp(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	l, err := s.DB.GetList(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	kind := mailchimp.KindUnknown
	if f := r.URL.Query().Get("file"); f != "" {
		if kind = mailchimp.KindFromName(f); kind == mailchimp.KindUnknown || kind.String() != f {
			return &herald.Error{Code: herald.EBADREQUEST, Field: "file", Message: "file is subscribed, unsubscribed or cleaned (or absent, for the zip of all three)."}
		}
	}
	// Headers go out before the first row: an error past this point can
	// only cut the download short (and is logged).
	if kind == mailchimp.KindUnknown {
		w.Header().Set("Content-Type", "application/zip")
		w.Header().Set("Content-Disposition", `attachment; filename="mailchimp_export_`+l.Slug+`.zip"`)
		_, err = mcsync.Export(ctx, s.DB, l.Slug, w)
	} else {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="`+kind.String()+`_members_export_`+l.Slug+`.csv"`)
		_, err = mcsync.ExportCSV(ctx, s.DB, l.Slug, kind, w)
	}
	if err != nil && ctx.Err() == nil {
		s.Log.ErrorContext(ctx, "mailchimp export cut short", "list", l.Slug, "err", err)
	}
	return nil
}
