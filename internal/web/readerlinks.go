package web

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/token"
)

// Reader links: a manage link opens the preferences page for
// token.ManageTTL after it was issued (every mail carries a fresh one) and
// until the reader's links are revoked; an expired or revoked one leads to
// a page that mails a fresh link to the address the reader types, with the
// same answer whether or not Herald knows it.

const (
	msgLinkSent = "If this address is subscribed to any of our newsletters, we have emailed it a fresh link to your preferences. It can take a few minutes to arrive; check your spam folder too."
	msgLinkOld  = "Links to your preferences work for 90 days, and every email we send you brings a fresh one. Enter your address and we will email you a new link."
)

func (s *Server) readerLinkRoutes(mux *http.ServeMux) {
	s.linkLimiter = newLimiter(s.Config.SignupLimit)
	mux.HandleFunc("GET /manage", s.manageLinkPage)
	mux.HandleFunc("POST /manage", s.requestManageLink)
}

// parseManage checks a manage link: genuine, not expired, issued after the
// reader's links were last revoked. An expired or revoked link gets the
// page that offers a fresh one (410); on any failure it has answered.
func (s *Server) parseManage(w http.ResponseWriter, r *http.Request) (token.Token, bool) {
	now := time.Now()
	t, err := s.Tokens.Parse(token.Manage, r.PathValue("token"), now)
	if err != nil && !errors.Is(err, token.ErrExpired) {
		s.message(w, http.StatusNotFound, "This link is not valid", "Please check that you copied the whole link from the email.")
		return t, false
	}
	if err == nil {
		fresh, ok := s.linkFresh(w, r, t, now)
		if !ok {
			return t, false
		}
		if fresh {
			return t, true
		}
	}
	s.renderManageLink(w, http.StatusGone, "This link has expired", msgLinkOld, "", "")
	return t, false
}

// linkFresh reports whether a genuine manage or unsubscribe link may open
// the reader's pages (token.Token.Fresh). ok is false when it has answered
// (a database failure).
func (s *Server) linkFresh(w http.ResponseWriter, r *http.Request, t token.Token, now time.Time) (fresh, ok bool) {
	revoked, err := s.DB.LinksRevokedBefore(r.Context(), t.SubscriberID)
	if err != nil {
		s.logIfInternal(r, err)
		s.message(w, http.StatusInternalServerError, "Something went wrong", "Please try again in a moment.")
		return false, false
	}
	return t.Fresh(now, revoked), true
}

func (s *Server) renderManageLink(w http.ResponseWriter, code int, title, msg, email, formErr string) {
	s.render(w, code, "managelink", map[string]any{"Title": title, "Message": msg, "Email": email, "Error": formErr, "Done": false})
}

// manageLinkPage: GET /manage asks for the address to mail a link to.
func (s *Server) manageLinkPage(w http.ResponseWriter, r *http.Request) {
	s.renderManageLink(w, http.StatusOK, "Manage your subscriptions", "Enter your address and we will email you a link to your preferences.", "", "")
}

// requestManageLink: POST /manage mails a fresh link through the durable
// queue. The answer is the same whether the address is known, unknown,
// suppressed, or was sent a link a moment ago (at most one per
// HERALD_CONFIRM_WINDOW); requests are limited per client IP like signups.
func (s *Server) requestManageLink(w http.ResponseWriter, r *http.Request) {
	if !s.readPageForm(w, r) {
		return
	}
	email := strings.TrimSpace(r.PostForm.Get("email"))
	addr, err := herald.ParseAddress(email)
	if err != nil || strings.ContainsAny(email, "<>") {
		s.renderManageLink(w, http.StatusUnprocessableEntity, "Manage your subscriptions", "Enter your address and we will email you a link to your preferences.", "",
			"Please enter a valid email address, such as name@example.com.")
		return
	}
	if ok, wait := s.linkLimiter.allow(clientIP(r), time.Now()); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		s.message(w, http.StatusTooManyRequests, "Too many requests", "Too many requests from your network. Please try again in a minute.")
		return
	}
	if err := s.DB.RequestManageLink(r.Context(), addr.Address, s.Config.ConfirmWindow); err != nil {
		s.logIfInternal(r, err)
		s.message(w, http.StatusInternalServerError, "Something went wrong", "Please try again in a moment.")
		return
	}
	s.render(w, http.StatusOK, "managelink", map[string]any{"Title": "Check your inbox", "Message": msgLinkSent, "Done": true})
}

// revokeLinks is the manage page's "sign out of every link": every link
// sent so far stops opening the reader's pages (this one too), and a fresh
// link is mailed to the reader.
func (s *Server) revokeLinks(w http.ResponseWriter, r *http.Request, subID int64) error {
	if _, err := s.DB.RevokeLinks(r.Context(), subID, true); err != nil {
		return err
	}
	s.message(w, http.StatusOK, "Every earlier link is withdrawn",
		"The links to this page in the emails we sent you no longer work, including the one you used. We have emailed you a fresh link; it can take a few minutes to arrive.")
	return nil
}

// apiRevokeLinks: POST /api/v1/subscribers/{id}/revoke-links.
func (s *Server) apiRevokeLinks(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	at, err := s.DB.RevokeLinks(r.Context(), id, false)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"revoked_at": at.UTC().Format(time.RFC3339Nano)})
	return nil
}
