package web

import (
	"context"
	_ "embed"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/service"
	"github.com/heraldhq/herald/internal/sqlstore"
	"github.com/heraldhq/herald/internal/token"
)

//go:embed openapi.json
var openapiJSON []byte

// route is one API endpoint; the OpenAPI test walks this table.
type route struct {
	method, path string // path as in OpenAPI, relative to /api/v1, e.g. /lists/{id}
	h            func(http.ResponseWriter, *http.Request) error
}

func (s *Server) routes() []route {
	return []route{
		{"GET", "/lists", s.apiListLists},
		{"POST", "/lists", s.apiCreateList},
		{"GET", "/lists/{id}", s.apiGetList},
		{"PATCH", "/lists/{id}", s.apiUpdateList},
		{"DELETE", "/lists/{id}", s.apiDeleteList},
		{"GET", "/subscribers", s.apiListSubscribers},
		{"POST", "/subscribers", s.apiCreateSubscriber},
		{"GET", "/subscribers/{id}", s.apiGetSubscriber},
		{"PATCH", "/subscribers/{id}", s.apiUpdateSubscriber},
		{"DELETE", "/subscribers/{id}", s.apiDeleteSubscriber},
		{"GET", "/subscribers/{id}/consents", s.apiConsents},
		{"GET", "/subscribers/{id}/export", s.apiExport},
		{"POST", "/subscribers/{id}/erase", s.apiErase},
		{"POST", "/subscribers/{id}/revoke-links", s.apiRevokeLinks},
		{"GET", "/disclosures", s.apiListDisclosures},
		{"POST", "/disclosures", s.apiCreateDisclosure},
		{"GET", "/disclosures/current", s.apiCurrentDisclosure},
		{"GET", "/disclosures/{version}", s.apiGetDisclosure},
		{"GET", "/outbox", s.apiListOutbox},
		{"GET", "/outbox/{id}", s.apiGetOutbox},
		{"GET", "/jobs", s.apiListJobs},
		{"GET", "/integrations/mailchimp", s.apiGetMailchimp},
		{"PUT", "/integrations/mailchimp", s.apiPutMailchimp},
		{"DELETE", "/integrations/mailchimp", s.apiDeleteMailchimp},
		{"POST", "/integrations/mailchimp/test", s.apiTestMailchimp},
		{"GET", "/lists/{id}/mailchimp", s.apiGetListMailchimp},
		{"PUT", "/lists/{id}/mailchimp", s.apiPutListMailchimp},
		{"DELETE", "/lists/{id}/mailchimp", s.apiDeleteListMailchimp},
		{"POST", "/lists/{id}/mailchimp/sync", s.apiSyncListMailchimp},
		{"POST", "/lists/{id}/import/mailchimp", s.apiImportMailchimp},
		{"POST", "/lists/{id}/import/csv", s.apiImportCSV}, // api_import.go
		{"GET", "/lists/{id}/export/mailchimp", s.apiExportMailchimp},
		{"GET", "/campaigns", s.apiListCampaigns},
		{"POST", "/campaigns", s.apiCreateCampaign},
		{"GET", "/campaigns/{id}", s.apiGetCampaign},
		{"PATCH", "/campaigns/{id}", s.apiUpdateCampaign},
		{"DELETE", "/campaigns/{id}", s.apiDeleteCampaign},
		{"POST", "/campaigns/{id}/start", s.apiStartCampaign},
		{"POST", "/campaigns/{id}/pause", s.apiPauseCampaign},
		{"POST", "/campaigns/{id}/resume", s.apiResumeCampaign},
		{"POST", "/campaigns/{id}/cancel", s.apiCancelCampaign},
		{"POST", "/campaigns/{id}/test", s.apiTestCampaign},
		{"POST", "/campaigns/{id}/resend-failed", s.apiResendFailed},
		{"GET", "/campaigns/{id}/preview", s.apiPreviewCampaign},
		{"GET", "/campaigns/{id}/deliveries", s.apiCampaignDeliveries},
		{"GET", "/tokens", s.apiListTokens},          // api_tokens.go
		{"DELETE", "/tokens/{id}", s.apiRevokeToken}, // api_tokens.go
	}
}

func (s *Server) allRoutes() []route {
	return append(s.routes(), s.feedRoutes()...) // api_feeds.go
}

func (s *Server) apiRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openapiJSON)
	})
	for _, rt := range s.allRoutes() {
		h := rt.h
		mux.Handle(rt.method+" /api/v1"+rt.path, s.authAPI(func(w http.ResponseWriter, r *http.Request) {
			if err := checkURLText(r); err != nil {
				s.error(w, r, err)
				return
			}
			if err := h(w, r); err != nil {
				s.error(w, r, err)
			}
		}))
	}
	mux.HandleFunc("/api/v1/", func(w http.ResponseWriter, r *http.Request) {
		s.error(w, r, herald.Errorf(herald.ENOTFOUND, "No such API route: %s %s.", r.Method, r.URL.Path))
	})
}

func pathID(r *http.Request, name string) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, herald.Errorf(herald.ENOTFOUND, "Not found.")
	}
	return id, nil
}

func queryInt(r *http.Request, name string, def int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, &herald.Error{Code: herald.EBADREQUEST, Field: name, Message: name + " must be a non-negative integer."}
	}
	return n, nil
}

func paging(r *http.Request) (limit, offset int, err error) {
	if limit, err = queryInt(r, "limit", 50); err != nil {
		return
	}
	if limit < 1 || limit > 1000 {
		return 0, 0, &herald.Error{Code: herald.EBADREQUEST, Field: "limit", Message: "limit must be from 1 to 1000."}
	}
	offset, err = queryInt(r, "offset", 0)
	return
}

type page struct {
	Data   any `json:"data"`
	Total  int `json:"total"`
	Limit  int `json:"limit"`
	Offset int `json:"offset"`
}

func apiMeta(r *http.Request) sqlstore.Meta {
	return sqlstore.Meta{Actor: herald.ActorOperator, IP: clientIP(r), UserAgent: r.UserAgent(), Detail: "api"}
}

// apiCaller is an API request's caller for the service layer: API tokens
// act as admins until tokens carry roles.
func apiCaller(r *http.Request) service.Caller {
	return service.Caller{Role: service.RoleAdmin, Meta: apiMeta(r)}
}

// --- lists ---

func (s *Server) apiListLists(w http.ResponseWriter, r *http.Request) error {
	vis := r.URL.Query().Get("visibility")
	if vis != "" && vis != herald.Public && vis != herald.Private {
		return &herald.Error{Code: herald.EBADREQUEST, Field: "visibility", Message: "visibility must be public or private."}
	}
	lists, err := s.DB.FindLists(r.Context(), sqlstore.ListFilter{Visibility: vis})
	if err != nil {
		return err
	}
	if lists == nil {
		lists = []*herald.List{}
	}
	writeJSON(w, http.StatusOK, page{Data: lists, Total: len(lists), Limit: len(lists)})
	return nil
}

type listBody struct {
	Slug        *string `json:"slug"`
	Name        *string `json:"name"`
	Description *string `json:"description"`
	Visibility  *string `json:"visibility"`
	OptIn       *string `json:"optin"`
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func (s *Server) apiCreateList(w http.ResponseWriter, r *http.Request) error {
	var b listBody
	if err := decodeJSON(w, r, 64<<10, &b); err != nil {
		return err
	}
	l := &herald.List{Slug: deref(b.Slug), Name: deref(b.Name), Description: deref(b.Description), Visibility: deref(b.Visibility), OptIn: deref(b.OptIn)}
	if err := s.DB.CreateList(r.Context(), l); err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/lists/"+strconv.FormatInt(l.ID, 10))
	writeJSON(w, http.StatusCreated, l)
	return nil
}

func (s *Server) apiGetList(w http.ResponseWriter, r *http.Request) error {
	l, err := s.DB.GetList(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, l)
	return nil
}

func (s *Server) apiUpdateList(w http.ResponseWriter, r *http.Request) error {
	var b listBody
	if err := decodeJSON(w, r, 64<<10, &b); err != nil {
		return err
	}
	l, err := s.DB.UpdateList(r.Context(), r.PathValue("id"), sqlstore.ListPatch{Slug: b.Slug, Name: b.Name, Description: b.Description, Visibility: b.Visibility, OptIn: b.OptIn})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, l)
	return nil
}

func (s *Server) apiDeleteList(w http.ResponseWriter, r *http.Request) error {
	if err := s.DB.DeleteList(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// --- subscribers ---

// subscriberView adds the reader's links, which operators may pass on.
type subscriberView struct {
	*herald.Subscriber
	ManageURL      string `json:"manage_url"`
	UnsubscribeURL string `json:"unsubscribe_url"`
}

func (s *Server) view(sub *herald.Subscriber) subscriberView {
	return subscriberView{
		Subscriber:     sub,
		ManageURL:      s.manageURL(sub.ID),
		UnsubscribeURL: s.Config.BaseURL + "/unsubscribe/" + s.Tokens.Make(token.UnsubscribeLink(sub.ID, nil, 0, time.Now())),
	}
}

func (s *Server) apiListSubscribers(w http.ResponseWriter, r *http.Request) error {
	limit, offset, err := paging(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	switch q.Get("status") {
	case "", herald.StatusPending, herald.StatusConfirmed, herald.StatusUnsubscribed:
	default:
		return &herald.Error{Code: herald.EBADREQUEST, Field: "status", Message: "status must be pending, confirmed or unsubscribed."}
	}
	subs, total, err := s.DB.FindSubscribers(r.Context(), sqlstore.SubscriberFilter{
		Email: q.Get("email"), List: q.Get("list"), Status: q.Get("status"), Q: q.Get("q"), Limit: limit, Offset: offset,
	})
	if err != nil {
		return err
	}
	views := make([]subscriberView, len(subs))
	for i, sub := range subs {
		views[i] = s.view(sub)
	}
	writeJSON(w, http.StatusOK, page{Data: views, Total: total, Limit: limit, Offset: offset})
	return nil
}

func (s *Server) apiCreateSubscriber(w http.ResponseWriter, r *http.Request) error {
	var b struct {
		Email      string          `json:"email"`
		Name       string          `json:"name"`
		Attributes map[string]any  `json:"attributes"`
		Lists      json.RawMessage `json:"lists"`
		Status     string          `json:"status"`
	}
	if err := decodeJSON(w, r, 64<<10, &b); err != nil {
		return err
	}
	lists, err := slugList(b.Lists)
	if err != nil {
		return err
	}
	sub, err := s.Rules.AddSubscriber(r.Context(), apiCaller(r), service.NewSubscriber{Email: b.Email, Name: b.Name, Attributes: b.Attributes, Lists: lists, Status: b.Status}, s.signupOptions())
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/subscribers/"+strconv.FormatInt(sub.ID, 10))
	writeJSON(w, http.StatusCreated, s.view(sub))
	return nil
}

// slugList accepts "a", "a,b" or ["a","b"].
func slugList(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var one string
	var many []string
	if json.Unmarshal(raw, &one) == nil {
		return splitSlugs([]string{one}), nil
	}
	if json.Unmarshal(raw, &many) == nil {
		return splitSlugs(many), nil
	}
	return nil, &herald.Error{Code: herald.EBADREQUEST, Field: "lists", Message: "lists must be a slug or an array of slugs."}
}

func (s *Server) apiGetSubscriber(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	sub, err := s.DB.GetSubscriber(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.view(sub))
	return nil
}

func (s *Server) apiUpdateSubscriber(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var b struct {
		Email         *string        `json:"email"`
		Name          *string        `json:"name"`
		Attributes    map[string]any `json:"attributes"`
		Subscriptions []struct {
			List   string `json:"list"`
			Status string `json:"status"`
		} `json:"subscriptions"`
	}
	if err := decodeJSON(w, r, 64<<10, &b); err != nil {
		return err
	}
	p := service.SubscriberPatch{Email: b.Email, Name: b.Name, Attributes: b.Attributes}
	for _, c := range b.Subscriptions {
		p.Subscriptions = append(p.Subscriptions, service.SubscriptionChange{List: c.List, Status: c.Status})
	}
	sub, err := s.Rules.UpdateSubscriber(r.Context(), apiCaller(r), id, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.view(sub))
	return nil
}

// apiDeleteSubscriber erases: the ledger may only lose a person's events
// through erasure, so deleting is erasing.
func (s *Server) apiDeleteSubscriber(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := s.Rules.Erase(r.Context(), apiCaller(r), id, "deleted by operator"); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) apiErase(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := s.Rules.Erase(r.Context(), apiCaller(r), id, "erased by operator"); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"erased": true})
	return nil
}

func (s *Server) apiConsents(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	ev, err := s.DB.Consents(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, page{Data: ev, Total: len(ev), Limit: len(ev)})
	return nil
}

func (s *Server) apiExport(w http.ResponseWriter, r *http.Request) error {
	return getByID(w, r, s.DB.Export)
}

// getByID answers GET …/{id} with what get returns for the numeric id.
func getByID[T any](w http.ResponseWriter, r *http.Request, get func(context.Context, int64) (T, error)) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	v, err := get(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// --- disclosures ---

func (s *Server) apiListDisclosures(w http.ResponseWriter, r *http.Request) error {
	ds, err := s.DB.Disclosures(r.Context())
	if err != nil {
		return err
	}
	if ds == nil {
		ds = []*herald.Disclosure{}
	}
	writeJSON(w, http.StatusOK, page{Data: ds, Total: len(ds), Limit: len(ds)})
	return nil
}

func (s *Server) apiCreateDisclosure(w http.ResponseWriter, r *http.Request) error {
	var b struct {
		Text string `json:"text"`
	}
	if err := decodeJSON(w, r, 64<<10, &b); err != nil {
		return err
	}
	d, err := s.DB.CreateDisclosure(r.Context(), b.Text)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, d)
	return nil
}

func (s *Server) apiCurrentDisclosure(w http.ResponseWriter, r *http.Request) error {
	d, err := s.DB.CurrentDisclosure(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

func (s *Server) apiGetDisclosure(w http.ResponseWriter, r *http.Request) error {
	v, err := strconv.Atoi(r.PathValue("version"))
	if err != nil || v <= 0 {
		return herald.Errorf(herald.ENOTFOUND, "Disclosure not found.")
	}
	d, err := s.DB.GetDisclosure(r.Context(), v)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

// --- outbox and jobs ---

func (s *Server) apiListOutbox(w http.ResponseWriter, r *http.Request) error {
	limit, offset, err := paging(r)
	if err != nil {
		return err
	}
	msgs, total, err := s.DB.Outbox(r.Context(), sqlstore.OutboxFilter{To: r.URL.Query().Get("to"), Limit: limit, Offset: offset})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, page{Data: msgs, Total: total, Limit: limit, Offset: offset})
	return nil
}

func (s *Server) apiGetOutbox(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	m, err := s.DB.GetOutbox(r.Context(), id)
	if err != nil {
		return err
	}
	// The decoded text comes before the raw message, so that the first link
	// a reader of this JSON finds is the unbroken one.
	writeJSON(w, http.StatusOK, struct {
		ID        int64     `json:"id"`
		To        string    `json:"to"`
		Subject   string    `json:"subject"`
		CreatedAt time.Time `json:"created_at"`
		Text      string    `json:"text"`
		Raw       string    `json:"raw"`
	}{m.ID, m.To, m.Subject, m.CreatedAt, textBody([]byte(m.Raw)), m.Raw})
	return nil
}

func (s *Server) apiListJobs(w http.ResponseWriter, r *http.Request) error {
	limit, offset, err := paging(r)
	if err != nil {
		return err
	}
	st := r.URL.Query().Get("status")
	if st != "" && st != herald.JobPending && st != herald.JobRunning && st != herald.JobFailed {
		return &herald.Error{Code: herald.EBADREQUEST, Field: "status", Message: "status must be pending, running or failed."}
	}
	jobs, total, err := s.DB.Jobs(r.Context(), sqlstore.JobFilter{Status: st, Limit: limit, Offset: offset})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, page{Data: jobs, Total: total, Limit: limit, Offset: offset})
	return nil
}
