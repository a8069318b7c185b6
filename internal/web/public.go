package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/service"
	"github.com/heraldhq/herald/internal/sqlstore"
	"github.com/heraldhq/herald/internal/token"
)

const msgNoList = "Please select at least one mailing list."

func (s *Server) publicRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/subscribe", http.StatusFound)
	})
	mux.HandleFunc("GET /healthz", s.healthz)
	s.mailchimpWebhookRoutes(mux)
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=86400")
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /subscribe", s.subscribePage)
	mux.HandleFunc("POST /subscribe", s.subscribe)
	mux.HandleFunc("OPTIONS /subscribe", s.preflight)
	mux.HandleFunc("GET /subscribe/form.json", s.formJSON)
	mux.HandleFunc("OPTIONS /subscribe/form.json", s.preflight)
	mux.HandleFunc("GET /embed", s.embedPage)
	mux.HandleFunc("GET /embed.js", s.embedJS)
	mux.HandleFunc("GET /confirm/{token}", s.confirmPage)
	mux.HandleFunc("POST /confirm/{token}", s.confirm)
	s.readerLinkRoutes(mux)
	mux.HandleFunc("GET /manage/{token}", s.managePage)
	mux.HandleFunc("POST /manage/{token}", s.manage)
	mux.HandleFunc("GET /unsubscribe/{token}", s.unsubscribePage)
	mux.HandleFunc("POST /unsubscribe/{token}", s.unsubscribe)
	mux.HandleFunc("GET /test-link/{token}", s.testLink) // testlink.go
	mux.HandleFunc("POST /test-link/{token}", s.testLink)
	mux.HandleFunc("GET "+s.pages.cssPath, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		_, _ = w.Write(s.pages.css)
	})
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	if err := s.DB.Ping(r.Context()); err != nil {
		s.Log.ErrorContext(r.Context(), "health check", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "database unreachable"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) signupOptions() sqlstore.SignupOptions {
	return sqlstore.SignupOptions{ConfirmWindow: s.Config.ConfirmWindow, ConfirmTTL: s.Config.ConfirmTTL}
}

// listChoice is one checkbox on a reader page.
type listChoice struct {
	Slug, Name, Description string
	Checked, Pending        bool
	// JoinsAtOnce and ConfirmByMail say what ticking an unticked list on
	// the manage page does: a single opt-in list the reader never left
	// joins at once; any other needs the confirmation mail.
	JoinsAtOnce, ConfirmByMail bool
}

// listDisclosure is a list's own disclosure (lists connected to Mailchimp
// name it as the processor), shown below the installation's.
type listDisclosure struct {
	Slug       string
	Disclosure *herald.Disclosure
}

// listDisclosures returns the own disclosures of those of lists that have
// one, in the lists' order.
func (s *Server) listDisclosures(r *http.Request, lists []*herald.List) ([]listDisclosure, error) {
	byList, err := s.DB.ListDisclosures(r.Context())
	if err != nil {
		return nil, err
	}
	var out []listDisclosure
	for _, l := range lists {
		if d := byList[l.ID]; d != nil {
			out = append(out, listDisclosure{Slug: l.Slug, Disclosure: d})
		}
	}
	return out, nil
}

// disclosuresFor returns what a form that joins lists shows: the current
// disclosure and the lists' own. On failure it has answered the request.
func (s *Server) disclosuresFor(w http.ResponseWriter, r *http.Request, lists []*herald.List) (*herald.Disclosure, []listDisclosure, bool) {
	d, err := s.DB.CurrentDisclosure(r.Context())
	var listDiscs []listDisclosure
	if err == nil {
		listDiscs, err = s.listDisclosures(r, lists)
	}
	if err != nil {
		s.logIfInternal(r, err)
		s.message(w, http.StatusInternalServerError, "Something went wrong", "Please try again in a moment.")
		return nil, nil, false
	}
	return d, listDiscs, true
}

// parseListDisclosures reads the "slug:version" values of the form's
// list_disclosure fields.
func parseListDisclosures(vals []string) map[string]int {
	var out map[string]int
	for _, v := range vals {
		slug, ver, ok := strings.Cut(v, ":")
		n, err := strconv.Atoi(ver)
		if !ok || err != nil || n <= 0 || slug == "" {
			continue
		}
		if out == nil {
			out = map[string]int{}
		}
		out[slug] = n
	}
	return out
}

func splitSlugs(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// cleanSource keeps an http(s) URL of at most 2 KB, else nothing.
func cleanSource(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 2048 || !utf8.ValidString(s) {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	return u.String()
}

// subscribeForm is what a signup submits, from a form or JSON.
type subscribeForm struct {
	Email             string
	Name              string
	Lists             []string
	Source            string
	Honeypot          string
	DisclosureVersion int
	// ListDisclosures are the versions of lists' own disclosures the form
	// showed (lists connected to Mailchimp), by slug.
	ListDisclosures map[string]int
	// A site's back end relaying a reader's signup (with an API token) tells
	// the reader's own address and browser, for the consent ledger.
	ReaderIP, ReaderUA string
}

func (s *Server) subscribePage(w http.ResponseWriter, r *http.Request) {
	source := cleanSource(r.URL.Query().Get("source"))
	if source == "" {
		source = cleanSource(r.Referer())
	}
	s.renderSubscribe(w, r, http.StatusOK, subscribeForm{Lists: splitSlugs(r.URL.Query()["lists"]), Source: source}, nil, "")
}

func (s *Server) renderSubscribe(w http.ResponseWriter, r *http.Request, code int, f subscribeForm, formErr error, done string) {
	lists, err := s.DB.PublicLists(r.Context())
	if err != nil {
		s.logIfInternal(r, err)
		s.message(w, http.StatusInternalServerError, "Something went wrong", "Please try again in a moment.")
		return
	}
	d, listDiscs, ok := s.disclosuresFor(w, r, lists)
	if !ok {
		return
	}
	checked := map[string]bool{}
	for _, l := range f.Lists {
		checked[l] = true
	}
	choices := make([]listChoice, 0, len(lists))
	for _, l := range lists {
		choices = append(choices, listChoice{Slug: l.Slug, Name: l.Name, Description: l.Description, Checked: checked[l.Slug]})
	}
	data := map[string]any{
		"Action": "/subscribe", "Email": f.Email, "Name": f.Name, "Source": f.Source, "Lists": choices,
		"Disclosure": d, "ListDisclosures": listDiscs, "Done": done != "", "Message": done, "Field": "", "Error": "", "FieldMessage": "",
	}
	if formErr != nil {
		if field := herald.ErrorField(formErr); field == "email" || field == "lists" {
			data["Field"], data["FieldMessage"] = field, herald.ErrorMessage(formErr)
		} else {
			data["Error"] = herald.ErrorMessage(formErr)
		}
	}
	s.render(w, code, "subscribe", data)
}

// wantsJSON: the embedded form and site back ends speak JSON.
func wantsJSON(r *http.Request) bool {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return ct == "application/json" || strings.Contains(r.Header.Get("Accept"), "application/json")
}

func (s *Server) readSubscribe(w http.ResponseWriter, r *http.Request) (subscribeForm, error) {
	var f subscribeForm
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/json":
		var body struct {
			Email             string          `json:"email"`
			Name              string          `json:"name"`
			Lists             json.RawMessage `json:"lists"`
			Source            string          `json:"source"`
			Website           string          `json:"website"`
			IP                string          `json:"ip"`         // with an API token only
			UserAgent         string          `json:"user_agent"` // with an API token only
			DisclosureVersion int             `json:"disclosure_version"`
			ListDisclosures   map[string]int  `json:"list_disclosures"` // slug → version shown
		}
		if err := decodeJSON(w, r, 16<<10, &body); err != nil {
			return f, err
		}
		f = subscribeForm{Email: body.Email, Name: body.Name, Source: body.Source, Honeypot: body.Website, DisclosureVersion: body.DisclosureVersion,
			ReaderIP: body.IP, ReaderUA: body.UserAgent, ListDisclosures: body.ListDisclosures}
		if len(body.Lists) > 0 && string(body.Lists) != "null" {
			var one string
			var many []string
			if json.Unmarshal(body.Lists, &one) == nil {
				f.Lists = splitSlugs([]string{one})
			} else if json.Unmarshal(body.Lists, &many) == nil {
				f.Lists = splitSlugs(many)
			} else {
				return f, &herald.Error{Code: herald.EBADREQUEST, Field: "lists", Message: "lists must be a slug or an array of slugs."}
			}
		}
	case "application/x-www-form-urlencoded", "multipart/form-data", "":
		r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
		var err error
		if ct == "multipart/form-data" {
			err = r.ParseMultipartForm(16 << 10)
		} else {
			err = r.ParseForm()
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return f, herald.Errorf(herald.ETOOLARGE, "The form is too large.")
			}
			return f, herald.Errorf(herald.EBADREQUEST, "The form could not be read.")
		}
		f = subscribeForm{
			Email: r.PostForm.Get("email"), Name: r.PostForm.Get("name"), Lists: splitSlugs(r.PostForm["lists"]),
			Source: r.PostForm.Get("source"), Honeypot: r.PostForm.Get("website"),
		}
		f.DisclosureVersion, _ = strconv.Atoi(r.PostForm.Get("disclosure_version"))
		f.ListDisclosures = parseListDisclosures(r.PostForm["list_disclosure"])
	default:
		return f, herald.Errorf(herald.EUNSUPPORTED, "Send the signup as a form or as application/json.")
	}
	if f.Source = cleanSource(f.Source); f.Source == "" {
		f.Source = cleanSource(r.Referer())
	}
	return f, nil
}

func (s *Server) subscribe(w http.ResponseWriter, r *http.Request) {
	s.cors(w, r)
	asJSON := wantsJSON(r)
	fail := func(f subscribeForm, err error) {
		s.logIfInternal(r, err)
		if asJSON {
			s.error(w, r, err)
			return
		}
		code := status(herald.ErrorCode(err))
		if code == http.StatusInternalServerError {
			s.message(w, code, "Something went wrong", "We could not record your signup. Please try again in a moment.")
			return
		}
		s.renderSubscribe(w, r, code, f, err, "")
	}
	backend := s.trustedBackend(r)
	if _, ok := s.originAllowed(r); !ok && !backend {
		if asJSON {
			s.error(w, r, errForeignOrigin)
		} else {
			s.message(w, http.StatusForbidden, "This form cannot be used here", errForeignOrigin.Message)
		}
		return
	}
	f, err := s.readSubscribe(w, r)
	if err != nil {
		fail(f, err)
		return
	}
	ip, ua := clientIP(r), r.UserAgent()
	if backend {
		if a, err := netip.ParseAddr(strings.TrimSpace(f.ReaderIP)); err == nil {
			ip = a.String()
		}
		if f.ReaderUA != "" {
			// Stored in the consent ledger: valid text only (PostgreSQL
			// refuses NUL, and a control character is no browser's name).
			ua = strings.Map(func(r rune) rune {
				if unicode.IsControl(r) {
					return -1
				}
				return r
			}, strings.ToValidUTF8(f.ReaderUA, "?"))
		}
	} else if f.ReaderIP != "" || f.ReaderUA != "" {
		fail(f, &herald.Error{Code: herald.EFORBIDDEN, Field: "ip", Message: "Only a site back end with an API token may pass ip and user_agent."})
		return
	}
	if !backend {
		if ok, wait := s.signupLimiter.allow(ip, time.Now()); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
			fail(f, herald.Errorf(herald.ERATELIMIT, "Too many signups from your network. Please try again in a minute."))
			return
		}
	}
	lists, err := s.DB.PublicLists(r.Context())
	if err != nil {
		fail(f, err)
		return
	}
	done := successMessage(lists, f.Lists)
	if f.Honeypot != "" {
		// Bots get the success answer and nothing else.
		s.subscribed(w, r, asJSON, f, done)
		return
	}
	if len(f.Lists) == 0 {
		// Checked before the address, so the reader sees the list error
		// even when the address is also missing.
		fail(f, herald.FieldError("lists", msgNoList))
		return
	}
	_, err = s.Rules.SignupShown(r.Context(), service.Caller{Role: service.RoleReader}, herald.SignupRequest{
		Email: f.Email, Name: f.Name, Lists: f.Lists, SourceURL: f.Source,
		IP: ip, UserAgent: ua, DisclosureVersion: f.DisclosureVersion,
	}, f.ListDisclosures, s.signupOptions())
	if err != nil {
		fail(f, err)
		return
	}
	s.subscribed(w, r, asJSON, f, done)
}

// trustedBackend: a signup relayed by the publisher's site with an API
// token is not rate-limited per IP (every reader would share the site's
// address) and may name the reader's IP and user agent.
func (s *Server) trustedBackend(r *http.Request) bool {
	if r.Header.Get("Authorization") == "" {
		return false
	}
	_, _, err := s.authenticate(r) // a wrong token counts as a failed attempt
	return err == nil
}

// successMessage is the same whatever state the address is in; it depends
// only on the public opt-in modes of the chosen lists.
func successMessage(lists []*herald.List, chosen []string) string {
	for _, l := range lists {
		for _, c := range chosen {
			if l.Slug == c && l.OptIn == herald.Double {
				return "Thank you! Please check your inbox and click the link in the email we sent to confirm your subscription."
			}
		}
	}
	return "Thank you for subscribing! If your address needs confirming, we have sent you an email: please check your inbox."
}

func (s *Server) subscribed(w http.ResponseWriter, r *http.Request, asJSON bool, f subscribeForm, msg string) {
	if asJSON {
		writeJSON(w, http.StatusOK, map[string]any{"ok": true, "message": msg})
		return
	}
	s.renderSubscribe(w, r, http.StatusOK, f, nil, msg)
}

// cors lets the embedded form post from the publisher's article pages.
// No credentials are ever allowed, so a cross-origin post can do nothing
// that a direct one could not.
func (s *Server) cors(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return
	}
	for _, o := range s.Config.CORSOrigins {
		if o == "*" || strings.EqualFold(o, origin) {
			h := w.Header()
			if o == "*" {
				h.Set("Access-Control-Allow-Origin", "*")
			} else {
				h.Set("Access-Control-Allow-Origin", origin)
				h.Add("Vary", "Origin")
			}
			h.Set("Access-Control-Allow-Methods", "GET, POST")
			h.Set("Access-Control-Allow-Headers", "Content-Type, Accept")
			h.Set("Access-Control-Max-Age", "86400")
			return
		}
	}
}

func (s *Server) preflight(w http.ResponseWriter, r *http.Request) {
	s.cors(w, r)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) formJSON(w http.ResponseWriter, r *http.Request) {
	s.cors(w, r)
	lists, err := s.DB.PublicLists(r.Context())
	if err != nil {
		s.error(w, r, err)
		return
	}
	d, err := s.DB.CurrentDisclosure(r.Context())
	if err != nil {
		s.error(w, r, err)
		return
	}
	byList, err := s.DB.ListDisclosures(r.Context())
	if err != nil {
		s.error(w, r, err)
		return
	}
	type disclosure struct {
		Version int    `json:"version"`
		Text    string `json:"text"`
	}
	type list struct {
		Slug        string `json:"slug"`
		Name        string `json:"name"`
		Description string `json:"description"`
		OptIn       string `json:"optin"`
		// Disclosure is the list's own (it names Mailchimp when the list
		// is connected to it), shown with the installation's.
		Disclosure *disclosure `json:"disclosure,omitempty"`
	}
	out := make([]list, 0, len(lists))
	for _, l := range lists {
		x := list{Slug: l.Slug, Name: l.Name, Description: l.Description, OptIn: l.OptIn}
		if ld := byList[l.ID]; ld != nil {
			x.Disclosure = &disclosure{ld.Version, ld.Text}
		}
		out = append(out, x)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"publisher":  s.Config.PublisherName,
		"action":     s.Config.BaseURL + "/subscribe",
		"lists":      out,
		"disclosure": map[string]any{"version": d.Version, "text": d.Text},
	})
}

func (s *Server) embedSnippet() string {
	b := s.Config.BaseURL
	return fmt.Sprintf(`<div class="herald-signup" data-herald-lists="">
  <a href="%s/subscribe">Sign up to our free newsletters</a>
</div>
<script src="%s/embed.js" async></script>`, b, b)
}

func (s *Server) embedPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, http.StatusOK, "embed", map[string]any{"Snippet": s.embedSnippet()})
}

func (s *Server) embedJS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(s.pages.js)
}

// parseToken checks a reader token and renders the page for a bad one.
func (s *Server) parseToken(w http.ResponseWriter, r *http.Request, kind byte) (token.Token, bool) {
	t, err := s.Tokens.Parse(kind, r.PathValue("token"), time.Now())
	switch {
	case errors.Is(err, token.ErrExpired):
		s.message(w, http.StatusGone, "This link has expired", "Please sign up again to receive a fresh confirmation email.")
		return t, false
	case err != nil:
		s.message(w, http.StatusNotFound, "This link is not valid", "Please check that you copied the whole link from the email.")
		return t, false
	}
	return t, true
}

// parseConfirm checks a confirmation token. Nonce 0 is the store's word for
// "whatever is current", which no genuine link carries.
func (s *Server) parseConfirm(w http.ResponseWriter, r *http.Request) (token.Token, bool) {
	t, ok := s.parseToken(w, r, token.Confirm)
	if ok && t.Nonce == 0 {
		s.message(w, http.StatusNotFound, "This link is not valid", "Please check that you copied the whole link from the email.")
		return t, false
	}
	return t, ok
}

// manageURL is a freshly issued manage link.
func (s *Server) manageURL(subID int64) string {
	return s.Config.BaseURL + "/manage/" + s.Tokens.Make(token.ManageLink(subID, time.Now()))
}

func (s *Server) meta(r *http.Request, detail string) sqlstore.Meta {
	return sqlstore.Meta{Actor: herald.ActorReader, IP: clientIP(r), UserAgent: r.UserAgent(), Detail: detail}
}

// reader is the caller of a change a reader makes from a link of theirs.
func (s *Server) reader(r *http.Request, detail string) service.Caller {
	return service.Caller{Role: service.RoleReader, Meta: s.meta(r, detail)}
}

func (s *Server) confirmPage(w http.ResponseWriter, r *http.Request) { s.confirmation(w, r, false) }

func (s *Server) confirm(w http.ResponseWriter, r *http.Request) { s.confirmation(w, r, true) }

// confirmation shows a confirmation link's page (GET: one button, no
// change) or confirms (POST).
func (s *Server) confirmation(w http.ResponseWriter, r *http.Request, confirm bool) {
	t, ok := s.parseConfirm(w, r)
	if !ok {
		return
	}
	pc, err := s.DB.GetConfirmation(r.Context(), t.SubscriberID, t.Nonce)
	if err == nil && confirm {
		_, err = s.Rules.Confirm(r.Context(), s.reader(r, ""), t.SubscriberID, t.Nonce)
	}
	if herald.ErrorCode(err) == herald.EGONE {
		s.message(w, http.StatusGone, "This link has already been used", "Your subscription is already confirmed, or the link was replaced by a newer one.")
		return
	} else if err != nil {
		s.logIfInternal(r, err)
		s.message(w, http.StatusInternalServerError, "Something went wrong", "Please try again in a moment.")
		return
	}
	names := make([]string, len(pc.Lists))
	for i, l := range pc.Lists {
		names[i] = l.ListName
	}
	data := map[string]any{"Email": pc.Subscriber.Email, "Lists": names, "Action": r.URL.Path, "Done": confirm}
	if confirm {
		data["ManageURL"] = s.manageURL(t.SubscriberID)
	}
	s.render(w, http.StatusOK, "confirm", data)
}

func (s *Server) managePage(w http.ResponseWriter, r *http.Request) {
	t, ok := s.parseManage(w, r)
	if !ok {
		return
	}
	s.renderManage(w, r, t.SubscriberID, http.StatusOK, "", nil)
}

func (s *Server) renderManage(w http.ResponseWriter, r *http.Request, subID int64, code int, msg string, formErr error) {
	sub, err := s.DB.GetSubscriber(r.Context(), subID)
	if herald.ErrorCode(err) == herald.ENOTFOUND {
		s.message(w, http.StatusNotFound, "Nothing to manage", "We hold no subscriptions for this link: the data may have been erased.")
		return
	} else if err != nil {
		s.logIfInternal(r, err)
		s.message(w, http.StatusInternalServerError, "Something went wrong", "Please try again in a moment.")
		return
	}
	public, err := s.DB.PublicLists(r.Context())
	if err != nil {
		s.logIfInternal(r, err)
		s.message(w, http.StatusInternalServerError, "Something went wrong", "Please try again in a moment.")
		return
	}
	var choices []listChoice
	shown := map[string]bool{}
	for _, x := range sub.Subscriptions {
		if x.Status == herald.StatusUnsubscribed {
			continue
		}
		shown[x.List] = true
		choices = append(choices, listChoice{Slug: x.List, Name: x.ListName, Checked: true, Pending: x.Status == herald.StatusPending})
	}
	// What joining does follows the store's rule (subscribeLists): a
	// single opt-in list confirms at once unless the reader left it before
	// or the address is suppressed; everything else asks for confirmation.
	left := map[string]bool{}
	for _, x := range sub.Subscriptions {
		if x.Status == herald.StatusUnsubscribed {
			left[x.List] = true
		}
	}
	suppressed, err := s.DB.IsSuppressed(r.Context(), sub.Email)
	if err != nil {
		s.logIfInternal(r, err)
		s.message(w, http.StatusInternalServerError, "Something went wrong", "Please try again in a moment.")
		return
	}
	var joinable []*herald.List
	for _, l := range public {
		if !shown[l.Slug] {
			atOnce := l.OptIn == herald.Single && !left[l.Slug] && !suppressed
			choices = append(choices, listChoice{Slug: l.Slug, Name: l.Name, Description: l.Description, JoinsAtOnce: atOnce, ConfirmByMail: !atOnce})
			joinable = append(joinable, l)
		}
	}
	// Joining a list here is a consent like a signup: the reader sees the
	// disclosures that apply (a list connected to Mailchimp names it), and
	// the ledger records the versions shown.
	d, listDiscs, ok := s.disclosuresFor(w, r, joinable)
	if !ok {
		return
	}
	data := map[string]any{"Email": sub.Email, "Lists": choices, "Action": r.URL.Path, "Message": msg, "Error": "",
		"Disclosure": d, "ListDisclosures": listDiscs, "Joinable": len(joinable) > 0}
	if formErr != nil {
		data["Error"] = herald.ErrorMessage(formErr)
	}
	s.render(w, code, "manage", data)
}

// readPageForm reads a reader page's small form (at most 16 KB); when it
// cannot, it answers with a page saying so and returns false.
func (s *Server) readPageForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			s.message(w, http.StatusRequestEntityTooLarge, "The form is too large", "Please go back and try again.")
			return false
		}
		s.message(w, http.StatusBadRequest, "The form could not be read", "Please go back and try again.")
		return false
	}
	return true
}

func (s *Server) manage(w http.ResponseWriter, r *http.Request) {
	t, ok := s.parseManage(w, r)
	if !ok {
		return
	}
	if !s.readPageForm(w, r) {
		return
	}
	ctx := r.Context()
	var err error
	msg := ""
	switch r.PostForm.Get("action") {
	case "save":
		var res *sqlstore.SignupResult
		version, _ := strconv.Atoi(r.PostForm.Get("disclosure_version"))
		res, err = s.Rules.ChangePreferences(ctx, s.reader(r, "manage page"), t.SubscriberID, service.Preferences{
			Lists: splitSlugs(r.PostForm["lists"]), DisclosureVersion: version, ListDisclosures: parseListDisclosures(r.PostForm["list_disclosure"])},
			s.signupOptions())
		msg = "Your choices are saved."
		if err == nil && res != nil && res.MailQueued {
			msg = "Your choices are saved. We sent you an email to confirm the newsletters you joined."
		}
	case "unsubscribe_all":
		_, err = s.DB.Unsubscribe(ctx, t.SubscriberID, nil, s.meta(r, "manage page: unsubscribe from all"))
		msg = "You are unsubscribed from all newsletters."
	case "export":
		var exp *sqlstore.Export
		if exp, err = s.DB.Export(ctx, t.SubscriberID); err == nil {
			w.Header().Set("Content-Disposition", `attachment; filename="my-newsletter-data.json"`)
			writeJSON(w, http.StatusOK, exp)
			return
		}
	case "revoke_links":
		if err = s.revokeLinks(w, r, t.SubscriberID); err == nil {
			return
		}
	case "erase":
		if r.PostForm.Get("confirm_erase") != "yes" {
			s.renderManage(w, r, t.SubscriberID, http.StatusUnprocessableEntity, "", herald.FieldError("confirm_erase", "Tick the box to confirm that you want your data erased."))
			return
		}
		if err = s.Rules.Erase(ctx, s.reader(r, ""), t.SubscriberID, "erased by reader"); err == nil {
			s.message(w, http.StatusOK, "Your data is erased", "We deleted your subscriptions and history. We keep only a one-way fingerprint of your address so that we never email it again unless you sign up anew.")
			return
		}
	default:
		s.renderManage(w, r, t.SubscriberID, http.StatusBadRequest, "", herald.Errorf(herald.EBADREQUEST, "Unknown action."))
		return
	}
	if herald.ErrorCode(err) == herald.ENOTFOUND {
		s.message(w, http.StatusNotFound, "Nothing to manage", "We hold no subscriptions for this link: the data may have been erased.")
		return
	}
	if err != nil {
		code := status(herald.ErrorCode(err))
		if code == http.StatusInternalServerError {
			s.logIfInternal(r, err)
			s.message(w, code, "Something went wrong", "Please try again in a moment.")
			return
		}
		s.renderManage(w, r, t.SubscriberID, code, "", err)
		return
	}
	s.renderManage(w, r, t.SubscriberID, http.StatusOK, msg, nil)
}

func (s *Server) listNames(r *http.Request, ids []int64) []string {
	names, err := s.DB.ListNames(r.Context(), ids)
	s.logIfInternal(r, err)
	return names
}

func (s *Server) unsubscribePage(w http.ResponseWriter, r *http.Request) {
	t, ok := s.parseToken(w, r, token.Unsubscribe)
	if !ok {
		return
	}
	// Any genuine unsubscribe link unsubscribes, however old; only a fresh
	// one shows the address.
	fresh, ok := s.linkFresh(w, r, t, time.Now())
	if !ok {
		return
	}
	if !fresh {
		s.render(w, http.StatusOK, "unsubscribe", map[string]any{"Done": false, "Lists": s.listNames(r, t.Lists), "Action": r.URL.Path})
		return
	}
	sub, err := s.DB.GetSubscriber(r.Context(), t.SubscriberID)
	if herald.ErrorCode(err) == herald.ENOTFOUND {
		s.render(w, http.StatusOK, "unsubscribe", map[string]any{"Done": true, "Lists": s.listNames(r, t.Lists)})
		return
	} else if err != nil {
		s.logIfInternal(r, err)
		s.message(w, http.StatusInternalServerError, "Something went wrong", "Please try again in a moment.")
		return
	}
	s.render(w, http.StatusOK, "unsubscribe", map[string]any{"Done": false, "Email": sub.Email, "Lists": s.listNames(r, t.Lists), "Action": r.URL.Path})
}

// unsubscribe is RFC 8058 one-click: any POST to a valid link (the mail
// client sends List-Unsubscribe=One-Click, form-encoded or multipart)
// unsubscribes at once, with no cookie or CSRF token, answers 200 without
// redirect, and is idempotent.
func (s *Server) unsubscribe(w http.ResponseWriter, r *http.Request) {
	t, ok := s.parseToken(w, r, token.Unsubscribe)
	if !ok {
		return
	}
	detail := "unsubscribe page"
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "multipart/form-data" {
		_ = r.ParseMultipartForm(16 << 10)
	} else {
		_ = r.ParseForm()
	}
	if r.PostForm.Get("List-Unsubscribe") == "One-Click" && r.Header.Get("Sec-Fetch-Mode") != "navigate" {
		detail = "one-click (RFC 8058)"
	}
	if t.CampaignID != 0 {
		detail += fmt.Sprintf(", campaign %d", t.CampaignID)
	}
	_, err := s.DB.Unsubscribe(r.Context(), t.SubscriberID, t.Lists, s.meta(r, detail))
	if err != nil && herald.ErrorCode(err) != herald.ENOTFOUND {
		s.logIfInternal(r, err)
		s.message(w, http.StatusInternalServerError, "Something went wrong", "Please try again in a moment.")
		return
	}
	data := map[string]any{"Done": true, "Lists": s.listNames(r, t.Lists)}
	// A fresh link leads on to the preferences page; an old or revoked
	// one only unsubscribes (it must never extend a leaked link's reach).
	if err == nil {
		if fresh, ok := s.linkFresh(w, r, t, time.Now()); !ok {
			return
		} else if fresh {
			data["ManageURL"] = s.manageURL(t.SubscriberID)
		}
	}
	s.render(w, http.StatusOK, "unsubscribe", data)
}
