package web

import (
	"crypto/subtle"
	"errors"
	"net/http"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/mcsync"
)

// Mailchimp's webhooks. Mailchimp signs nothing: the unguessable secret in
// the URL (GET /api/v1/integrations/mailchimp shows it as webhook_url) is
// what authenticates a post. Mailchimp checks the URL with a GET, which
// answers 200; events are form-encoded POSTs.

func (s *Server) mailchimpWebhookRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /webhooks/mailchimp/{secret}", s.mailchimpWebhookCheck)
	mux.HandleFunc("POST /webhooks/mailchimp/{secret}", s.mailchimpWebhook)
}

// webhookSecretOK compares the URL's secret with the stored one; a wrong
// secret and no connection look the same (404).
func (s *Server) webhookSecretOK(w http.ResponseWriter, r *http.Request) bool {
	secret, err := s.Mailchimp.Store.MailchimpWebhookSecret(r.Context())
	if err != nil {
		s.error(w, r, err)
		return false
	}
	got := r.PathValue("secret")
	if secret == "" || subtle.ConstantTimeCompare([]byte(got), []byte(secret)) != 1 {
		s.error(w, r, herald.Errorf(herald.ENOTFOUND, "Not found."))
		return false
	}
	return true
}

func (s *Server) mailchimpWebhookCheck(w http.ResponseWriter, r *http.Request) {
	if s.webhookSecretOK(w, r) {
		writeJSON(w, http.StatusOK, map[string]any{"ok": true})
	}
}

func (s *Server) mailchimpWebhook(w http.ResponseWriter, r *http.Request) {
	if !s.webhookSecretOK(w, r) {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			s.error(w, r, herald.Errorf(herald.ETOOLARGE, "The webhook is too large."))
			return
		}
		s.error(w, r, herald.Errorf(herald.EBADREQUEST, "The webhook's form could not be read."))
		return
	}
	res, err := s.Mailchimp.ApplyWebhook(r.Context(), r.PostForm)
	if errors.Is(err, mcsync.ErrBadWebhook) {
		s.error(w, r, herald.Errorf(herald.EBADREQUEST, "%s", err.Error()))
		return
	} else if err != nil {
		// Mailchimp retries on an error: a database hiccup loses nothing.
		s.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "replay": res.Replay, "stale": res.Stale, "ignored": res.Ignored, "changed": res.Changed})
}
