// Package mailchimptest provides a fake of the parts of Mailchimp's
// Marketing API v3 that Herald uses, for tests: an httptest server that
// checks requests the way the API documentation describes, keeps
// audiences and members in memory, answers with Mailchimp's
// problem-details errors, records every request, and can be told to fail.
//
// It shares no code with package mailchimp on purpose (it computes
// subscriber hashes and parses bodies itself), so a mistake in the client
// is not mirrored here. Where the documentation leaves room the fake is
// stricter than Mailchimp, to catch client mistakes:
//   - the member path must hold the lower-case hex MD5 subscriber hash
//     (Mailchimp also accepts the address itself);
//   - unknown JSON fields are refused with "Invalid Resource";
//   - a new member given by PUT needs status_if_new.
package mailchimptest

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// DefaultAPIKey is the key a new Server accepts.
const DefaultAPIKey = "0123456789abcdef0123456789abcdef-us6"

// ConnectionLimit is Mailchimp's limit of simultaneous connections per
// account; the fake answers 429 beyond it.
const ConnectionLimit = 10

const (
	glossary       = "https://mailchimp.com/developer/marketing/docs/errors/"
	validateDetail = "The resource submitted could not be validated. For field-specific details, see the 'errors' array."
	maxBodyBytes   = 10 << 20
	maxBatch       = 500
)

// Server is a fake Mailchimp API. Its methods are safe for concurrent use.
type Server struct {
	srv    *httptest.Server
	apiKey string

	mu          sync.Mutex
	lists       map[string]*list
	requests    []Request
	faults      []*Fault
	compliance  map[string]bool // lower-cased address → in compliance state
	fake        map[string]bool // lower-cased address → "looks fake or invalid"
	inFlight    int
	maxInFlight int
	limit       int
	seq         int
}

// Request is one request the server received.
type Request struct {
	Method string
	Path   string // below the API root, e.g. "/lists/abc/members/<hash>"
	Query  url.Values
	Body   []byte
	User   string // Basic auth user name
	Status int    // the status answered
}

// DecodeJSON decodes the request body into v.
func (r Request) DecodeJSON(v any) error { return json.Unmarshal(r.Body, v) }

// Fault makes the server misbehave for matching requests, before it looks
// at them (after the API key check).
type Fault struct {
	Method string // match this method only; "" matches any
	Path   string // match paths starting with this (below the API root); "" matches any
	Times  int    // how many matching requests are affected: 0 means 1, -1 means all

	Delay      time.Duration // wait before answering (cut short when the client gives up)
	Status     int           // answer this status with a problem document; 0: answer normally after Delay
	RetryAfter string        // Retry-After header with Status
	Title      string        // problem title; default by status
	Detail     string        // problem detail; default by status
}

// Member is a member as the fake stores and returns it.
type Member struct {
	ID              string          `json:"id"`
	EmailAddress    string          `json:"email_address"`
	UniqueEmailID   string          `json:"unique_email_id"`
	Status          string          `json:"status"`
	MergeFields     map[string]any  `json:"merge_fields"`
	Interests       map[string]bool `json:"interests"`
	IPSignup        string          `json:"ip_signup"`
	TimestampSignup string          `json:"timestamp_signup"`
	IPOpt           string          `json:"ip_opt"`
	TimestampOpt    string          `json:"timestamp_opt"`
	Language        string          `json:"language"`
	LastChanged     string          `json:"last_changed"`
	ListID          string          `json:"list_id"`
}

type list struct {
	id, name   string
	webID      int
	members    map[string]*Member // by subscriber hash
	forgotten  map[string]bool    // subscriber hashes deleted permanently
	categories []*category
	webhooks   []*RegisteredWebhook
}

// RegisteredWebhook is a webhook registered on an audience of the fake.
type RegisteredWebhook struct {
	ID      string          `json:"id"`
	URL     string          `json:"url"`
	Events  map[string]bool `json:"events"`
	Sources map[string]bool `json:"sources"`
	ListID  string          `json:"list_id"`
}

type category struct {
	id, title string
	interests []interest
}

type interest struct{ id, name string }

// NewServer starts a fake accepting DefaultAPIKey; it is closed when the
// test ends.
func NewServer(tb testing.TB) *Server {
	tb.Helper()
	s := &Server{
		apiKey:     DefaultAPIKey,
		lists:      map[string]*list{},
		compliance: map[string]bool{},
		fake:       map[string]bool{},
		limit:      ConnectionLimit,
	}
	s.srv = httptest.NewServer(s.handler())
	tb.Cleanup(s.srv.Close)
	return s
}

// URL is the API root to give the client ("http://127.0.0.1:port/3.0").
func (s *Server) URL() string { return s.srv.URL + "/3.0" }

// APIKey is the key the server accepts.
func (s *Server) APIKey() string { return s.apiKey }

// SetAPIKey changes the accepted key.
func (s *Server) SetAPIKey(key string) { s.mu.Lock(); s.apiKey = key; s.mu.Unlock() }

// Close stops the server (NewServer arranges it at the end of the test).
func (s *Server) Close() { s.srv.Close() }

// AddList creates an audience.
func (s *Server) AddList(id, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	s.lists[id] = &list{id: id, name: name, webID: 100000 + s.seq, members: map[string]*Member{}, forgotten: map[string]bool{}}
}

// AddInterest adds an interest (group) to an audience's category, creating
// the category when needed. The audience must exist.
func (s *Server) AddInterest(listID, categoryID, categoryTitle, interestID, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.lists[listID]
	if l == nil {
		panic("mailchimptest: AddInterest: no list " + listID)
	}
	var c *category
	for _, x := range l.categories {
		if x.id == categoryID {
			c = x
		}
	}
	if c == nil {
		c = &category{id: categoryID, title: categoryTitle}
		l.categories = append(l.categories, c)
	}
	c.interests = append(c.interests, interest{id: interestID, name: name})
}

// PutMember stores a member directly (to set up a test). ID, ListID and
// missing maps are filled in.
func (s *Server) PutMember(listID string, m Member) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.lists[listID]
	if l == nil {
		panic("mailchimptest: PutMember: no list " + listID)
	}
	m.ID = hash(m.EmailAddress)
	m.ListID = listID
	if m.MergeFields == nil {
		m.MergeFields = map[string]any{}
	}
	if m.Interests == nil {
		m.Interests = map[string]bool{}
	}
	l.members[m.ID] = &m
}

// Member returns a copy of a member.
func (s *Server) Member(listID, email string) (Member, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.lists[listID]
	if l == nil {
		return Member{}, false
	}
	m := l.members[hash(email)]
	if m == nil {
		return Member{}, false
	}
	return copyMember(m), true
}

// Members returns copies of an audience's members, ordered by address.
func (s *Server) Members(listID string) []Member {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.lists[listID]
	if l == nil {
		return nil
	}
	out := make([]Member, 0, len(l.members))
	for _, m := range l.members {
		out = append(out, copyMember(m))
	}
	slices.SortFunc(out, func(a, b Member) int { return strings.Compare(a.EmailAddress, b.EmailAddress) })
	return out
}

// Forgotten reports whether the address was permanently deleted from the
// audience.
func (s *Server) Forgotten(listID, email string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.lists[listID]
	return l != nil && l.forgotten[hash(email)]
}

// SetComplianceState puts an address in compliance state in every
// audience: attempts to make it "subscribed" fail with "Member In
// Compliance State" until Confirm.
func (s *Server) SetComplianceState(email string) {
	s.mu.Lock()
	s.compliance[strings.ToLower(email)] = true
	s.mu.Unlock()
}

// MemberUnsubscribes acts as the person clicking Mailchimp's unsubscribe
// link: status "unsubscribed", and the address enters compliance state.
func (s *Server) MemberUnsubscribes(listID, email string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l := s.lists[listID]; l != nil {
		if m := l.members[hash(email)]; m != nil {
			m.Status = "unsubscribed"
			m.LastChanged = now()
		}
	}
	s.compliance[strings.ToLower(email)] = true
}

// Confirm acts as the person clicking Mailchimp's confirmation mail: a
// pending member becomes subscribed and leaves compliance state. It
// reports whether there was a pending member.
func (s *Server) Confirm(listID, email string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.lists[listID]
	if l == nil {
		return false
	}
	m := l.members[hash(email)]
	if m == nil || m.Status != "pending" {
		return false
	}
	m.Status = "subscribed"
	m.LastChanged = now()
	delete(s.compliance, strings.ToLower(email))
	return true
}

// SetFake makes the server refuse an address as "looks fake or invalid".
func (s *Server) SetFake(email string) {
	s.mu.Lock()
	s.fake[strings.ToLower(email)] = true
	s.mu.Unlock()
}

// Inject adds a fault. Faults apply in the order they were added.
func (s *Server) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Times == 0 {
		f.Times = 1
	}
	s.faults = append(s.faults, &f)
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() { s.mu.Lock(); s.faults = nil; s.mu.Unlock() }

// SetConnectionLimit changes how many simultaneous requests the server
// takes before answering 429 (default ConnectionLimit).
func (s *Server) SetConnectionLimit(n int) { s.mu.Lock(); s.limit = n; s.mu.Unlock() }

// Requests returns every request received so far, in the order they were
// answered.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// Count returns how many requests had this method ("" for any) and a path
// starting with pathPrefix.
func (s *Server) Count(method, pathPrefix string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.requests {
		if (method == "" || r.Method == method) && strings.HasPrefix(r.Path, pathPrefix) {
			n++
		}
	}
	return n
}

// ResetRequests forgets the recorded requests.
func (s *Server) ResetRequests() { s.mu.Lock(); s.requests = nil; s.mu.Unlock() }

// MaxInFlight is the largest number of requests the server was handling at
// once.
func (s *Server) MaxInFlight() int { s.mu.Lock(); defer s.mu.Unlock(); return s.maxInFlight }

// Hash is Mailchimp's subscriber hash, computed independently of the client.
func Hash(email string) string { return hash(email) }

func hash(email string) string {
	sum := md5.Sum([]byte(strings.ToLower(email)))
	return hex.EncodeToString(sum[:])
}

func now() string { return time.Now().UTC().Format("2006-01-02T15:04:05+00:00") }

func copyMember(m *Member) Member {
	c := *m
	c.MergeFields = make(map[string]any, len(m.MergeFields))
	for k, v := range m.MergeFields {
		c.MergeFields[k] = v
	}
	c.Interests = make(map[string]bool, len(m.Interests))
	for k, v := range m.Interests {
		c.Interests[k] = v
	}
	return c
}

// statusWriter remembers the status for the request log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (s *Server) handler() http.Handler {
	mux := http.NewServeMux()
	route := func(pattern string, methods map[string]http.HandlerFunc) {
		allow := make([]string, 0, len(methods))
		for m, h := range methods {
			mux.HandleFunc(m+" /3.0"+pattern, h)
			allow = append(allow, m)
		}
		slices.Sort(allow)
		mux.HandleFunc("/3.0"+pattern, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			problem(w, http.StatusMethodNotAllowed, "Method Not Allowed",
				"The requested method and resource are not compatible. See the Allow header for this resource's available methods.", nil)
		})
	}
	route("/ping", map[string]http.HandlerFunc{"GET": s.ping})
	route("/lists/{list}", map[string]http.HandlerFunc{"GET": s.getList, "POST": s.batch})
	route("/lists/{list}/interest-categories", map[string]http.HandlerFunc{"GET": s.categories})
	route("/lists/{list}/interest-categories/{cat}/interests/{interest}", map[string]http.HandlerFunc{"GET": s.getInterest})
	route("/lists/{list}/members/{hash}", map[string]http.HandlerFunc{"GET": s.getMember, "PUT": s.putMember, "PATCH": s.patchMember})
	route("/lists/{list}/webhooks", map[string]http.HandlerFunc{"GET": s.listWebhooks, "POST": s.createWebhook})
	route("/lists/{list}/webhooks/{id}", map[string]http.HandlerFunc{"DELETE": s.deleteWebhook})
	route("/lists/{list}/members/{hash}/actions/delete-permanent", map[string]http.HandlerFunc{"POST": s.deletePermanent})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { notFound(w) })

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		user, _, _ := r.BasicAuth()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			s.mu.Lock()
			s.requests = append(s.requests, Request{
				Method: r.Method,
				Path:   strings.TrimPrefix(r.URL.Path, "/3.0"),
				Query:  r.URL.Query(),
				Body:   body,
				User:   user,
				Status: sw.status,
			})
			s.mu.Unlock()
		}()
		s.serve(sw, r, mux)
	})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, mux http.Handler) {
	_, pass, ok := r.BasicAuth()
	s.mu.Lock()
	key := s.apiKey
	s.mu.Unlock()
	if !ok || pass == "" {
		problem(w, http.StatusUnauthorized, "API Key Missing", "Your request did not include an API key.", nil)
		return
	}
	if pass != key {
		problem(w, http.StatusUnauthorized, "API Key Invalid", "Your API key may be invalid, or you've attempted to access the wrong datacenter.", nil)
		return
	}

	s.mu.Lock()
	s.inFlight++
	s.maxInFlight = max(s.maxInFlight, s.inFlight)
	over := s.inFlight > s.limit
	f := s.takeFault(r)
	s.mu.Unlock()
	defer func() { s.mu.Lock(); s.inFlight--; s.mu.Unlock() }()
	if over {
		problem(w, http.StatusTooManyRequests, "Too Many Requests",
			fmt.Sprintf("You have exceeded the limit of %d simultaneous connections.", s.limit), nil)
		return
	}
	if f != nil {
		if f.Delay > 0 {
			t := time.NewTimer(f.Delay)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		if f.Status != 0 {
			if f.RetryAfter != "" {
				w.Header().Set("Retry-After", f.RetryAfter)
			}
			title, detail := f.Title, f.Detail
			if title == "" {
				title = http.StatusText(f.Status)
			}
			if detail == "" {
				detail = defaultDetail(f.Status)
			}
			problem(w, f.Status, title, detail, nil)
			return
		}
	}
	mux.ServeHTTP(w, r)
}

// takeFault returns the first fault matching r and uses it up once.
func (s *Server) takeFault(r *http.Request) *Fault {
	p := strings.TrimPrefix(r.URL.Path, "/3.0")
	for i, f := range s.faults {
		if (f.Method == "" || f.Method == r.Method) && strings.HasPrefix(p, f.Path) {
			c := *f
			if f.Times > 0 {
				f.Times--
				if f.Times == 0 {
					s.faults = slices.Delete(s.faults, i, i+1)
				}
			}
			return &c
		}
	}
	return nil
}

func defaultDetail(status int) string {
	switch status {
	case http.StatusTooManyRequests:
		return "You have exceeded the limit of 10 simultaneous connections."
	case http.StatusInternalServerError:
		return "An unexpected internal error has occurred. Please contact Support for more information."
	case http.StatusServiceUnavailable:
		return "This service is temporarily unavailable."
	case http.StatusNotFound:
		return "The requested resource could not be found."
	}
	return http.StatusText(status)
}

// fieldError is an entry of an "Invalid Resource" errors array.
type fieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func problem(w http.ResponseWriter, status int, title, detail string, errs []fieldError) {
	doc := map[string]any{
		"type":     glossary,
		"title":    title,
		"status":   status,
		"detail":   detail,
		"instance": fmt.Sprintf("%08x-fake", time.Now().UnixNano()&0xffffffff),
	}
	if len(errs) > 0 {
		doc["errors"] = errs
	}
	w.Header().Set("Content-Type", "application/problem+json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(doc)
}

func notFound(w http.ResponseWriter) {
	problem(w, http.StatusNotFound, "Resource Not Found", "The requested resource could not be found.", nil)
}

func invalid(w http.ResponseWriter, detail string, errs ...fieldError) {
	if detail == "" {
		detail = validateDetail
	}
	problem(w, http.StatusBadRequest, "Invalid Resource", detail, errs)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// decode reads a JSON body strictly. It answers and returns false on
// failure.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("trailing data")
	}
	if err == nil {
		return true
	}
	if strings.Contains(err.Error(), "unknown field") {
		invalid(w, "The resource submitted could not be validated: "+err.Error()+".")
		return false
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		invalid(w, "", fieldError{Field: te.Field, Message: "Schema describes " + te.Value + " where another type was expected."})
		return false
	}
	problem(w, http.StatusBadRequest, "JSON Parse Error", "We encountered an unspecified JSON parsing error.", nil)
	return false
}

func (s *Server) listOf(w http.ResponseWriter, r *http.Request) *list {
	l := s.lists[r.PathValue("list")]
	if l == nil {
		notFound(w)
	}
	return l
}

func (s *Server) ping(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"health_status": "Everything's Chimpy!"})
}

func (s *Server) getList(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.listOf(w, r)
	if l == nil {
		return
	}
	counts := map[string]int{}
	for _, m := range l.members {
		counts[m.Status]++
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"id":                  l.id,
		"web_id":              l.webID,
		"name":                l.name,
		"permission_reminder": "You signed up for updates on our website.",
		"double_optin":        false,
		"stats": map[string]int{
			"member_count":      counts["subscribed"],
			"unsubscribe_count": counts["unsubscribed"],
			"cleaned_count":     counts["cleaned"],
		},
	})
}

// page reads count and offset as Mailchimp does: count defaults to 10 and
// may not exceed 1000.
func page(w http.ResponseWriter, r *http.Request) (count, offset int, ok bool) {
	count, offset = 10, 0
	if v := r.URL.Query().Get("count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 1000 {
			invalid(w, "", fieldError{Field: "count", Message: "count must be between 0 and 1000"})
			return 0, 0, false
		}
		count = n
	}
	if v := r.URL.Query().Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			invalid(w, "", fieldError{Field: "offset", Message: "offset must be 0 or more"})
			return 0, 0, false
		}
		offset = n
	}
	return count, offset, true
}

func (s *Server) categories(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.listOf(w, r)
	if l == nil {
		return
	}
	count, offset, ok := page(w, r)
	if !ok {
		return
	}
	cats := []map[string]any{}
	for i, c := range l.categories {
		if i >= offset && len(cats) < count {
			cats = append(cats, map[string]any{"list_id": l.id, "id": c.id, "title": c.title, "display_order": i, "type": "checkboxes"})
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"list_id": l.id, "categories": cats, "total_items": len(l.categories)})
}

func (s *Server) getInterest(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.listOf(w, r)
	if l == nil {
		return
	}
	for _, c := range l.categories {
		if c.id != r.PathValue("cat") {
			continue
		}
		for i, in := range c.interests {
			if in.id == r.PathValue("interest") {
				writeJSON(w, http.StatusOK, map[string]any{
					"category_id": c.id, "list_id": l.id, "id": in.id, "name": in.name,
					"subscriber_count": "0", "display_order": i,
				})
				return
			}
		}
	}
	notFound(w)
}

func (s *Server) getMember(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.listOf(w, r)
	if l == nil {
		return
	}
	m := l.members[r.PathValue("hash")]
	if m == nil {
		notFound(w)
		return
	}
	writeJSON(w, http.StatusOK, m)
}

// memberRequest is a member in PUT, PATCH and batch bodies. Pointers tell
// absent from empty.
type memberRequest struct {
	EmailAddress    *string         `json:"email_address"`
	EmailType       *string         `json:"email_type"`
	Status          *string         `json:"status"`
	StatusIfNew     *string         `json:"status_if_new"`
	MergeFields     map[string]any  `json:"merge_fields"`
	Interests       map[string]bool `json:"interests"`
	Language        *string         `json:"language"`
	VIP             *bool           `json:"vip"`
	IPSignup        *string         `json:"ip_signup"`
	TimestampSignup *string         `json:"timestamp_signup"`
	IPOpt           *string         `json:"ip_opt"`
	TimestampOpt    *string         `json:"timestamp_opt"`
	Tags            []string        `json:"tags"`
}

func validStatus(s string) bool {
	switch s {
	case "subscribed", "unsubscribed", "cleaned", "pending", "transactional":
		return true
	}
	return false
}

const statusMessage = "Value must be one of: subscribed, unsubscribed, cleaned, pending, transactional"

// validAddress is a plain syntax check: one @, a dotted domain, no spaces.
func validAddress(a string) bool {
	at := strings.LastIndexByte(a, '@')
	if at < 1 || at == len(a)-1 || strings.Count(a, "@") != 1 || strings.ContainsAny(a, " \t\r\n<>,;\"") || len(a) > 254 {
		return false
	}
	d := a[at+1:]
	return strings.Contains(d, ".") && !strings.HasPrefix(d, ".") && !strings.HasSuffix(d, ".") && !strings.Contains(d, "..")
}

func validTime(v string) bool {
	if _, err := time.Parse(time.RFC3339, v); err == nil {
		return true
	}
	_, err := time.Parse("2006-01-02 15:04:05", v)
	return err == nil
}

// check validates the parts of a member request other than email and
// status. It returns the field errors.
func (l *list) check(m *memberRequest) (string, []fieldError) {
	var errs []fieldError
	for _, f := range []struct {
		name string
		v    *string
	}{{"ip_signup", m.IPSignup}, {"ip_opt", m.IPOpt}} {
		if f.v != nil && *f.v != "" && net.ParseIP(*f.v) == nil {
			errs = append(errs, fieldError{f.name, "This value is not a valid IP address."})
		}
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"timestamp_signup", m.TimestampSignup}, {"timestamp_opt", m.TimestampOpt}} {
		if f.v != nil && *f.v != "" && !validTime(*f.v) {
			errs = append(errs, fieldError{f.name, "This value is not a valid date-time."})
		}
	}
	for tag, v := range m.MergeFields {
		switch v.(type) {
		case string, float64, nil:
		default:
			if tag != "ADDRESS" {
				errs = append(errs, fieldError{"merge_fields." + tag, "Merge field values must be strings or numbers."})
			}
		}
	}
	if m.EmailType != nil && *m.EmailType != "html" && *m.EmailType != "text" {
		errs = append(errs, fieldError{"email_type", "Value must be one of: html, text"})
	}
	for id := range m.Interests {
		if !l.hasInterest(id) {
			return fmt.Sprintf("Invalid interest ID: '%s'.", id), nil
		}
	}
	return "", errs
}

func (l *list) hasInterest(id string) bool {
	for _, c := range l.categories {
		for _, in := range c.interests {
			if in.id == id {
				return true
			}
		}
	}
	return false
}

// refusal is the answer Mailchimp gives when a member may not get status:
// "" when it may.
func (s *Server) refusal(l *list, email, status string, exists bool) (title, detail string) {
	h := hash(email)
	if !exists && l.forgotten[h] && status != "pending" {
		return "Forgotten Email Not Subscribed",
			email + " was permanently deleted and cannot be re-imported. The contact must re-subscribe to get back on the list."
	}
	if status == "subscribed" && s.compliance[strings.ToLower(email)] {
		return "Member In Compliance State",
			email + " is in a compliance state due to unsubscribe, bounce, or compliance review and cannot be subscribed."
	}
	return "", ""
}

func fakeDetail(email string) string {
	return email + " looks fake or invalid, please enter a real email address."
}

// apply writes a request's fields into a member.
func apply(m *Member, req *memberRequest) {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&m.IPSignup, req.IPSignup)
	set(&m.TimestampSignup, req.TimestampSignup)
	set(&m.IPOpt, req.IPOpt)
	set(&m.TimestampOpt, req.TimestampOpt)
	set(&m.Language, req.Language)
	for k, v := range req.MergeFields {
		m.MergeFields[k] = v
	}
	for k, v := range req.Interests {
		m.Interests[k] = v
	}
	m.LastChanged = now()
}

func newMember(l *list, email string) *Member {
	h := hash(email)
	return &Member{
		ID:            h,
		EmailAddress:  email,
		UniqueEmailID: h[:10],
		MergeFields:   map[string]any{"FNAME": "", "LNAME": ""},
		Interests:     map[string]bool{},
		ListID:        l.id,
	}
}

func (s *Server) putMember(w http.ResponseWriter, r *http.Request) {
	var req memberRequest
	if !decode(w, r, &req) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.listOf(w, r)
	if l == nil {
		return
	}
	if req.EmailAddress == nil || *req.EmailAddress == "" {
		invalid(w, "", fieldError{"email_address", "This value should not be blank."})
		return
	}
	email := *req.EmailAddress
	if !validAddress(email) || s.fake[strings.ToLower(email)] {
		invalid(w, fakeDetail(email))
		return
	}
	h := r.PathValue("hash")
	if h != hash(email) {
		invalid(w, "The subscriber hash in the URL does not match the email address in the request: the hash must be the MD5 of the lower-case address.")
		return
	}
	for _, st := range []*string{req.Status, req.StatusIfNew} {
		if st != nil && !validStatus(*st) {
			invalid(w, "", fieldError{"status", statusMessage})
			return
		}
	}
	if detail, errs := l.check(&req); detail != "" || len(errs) > 0 {
		invalid(w, detail, errs...)
		return
	}
	m := l.members[h]
	exists := m != nil
	var status string
	switch {
	case exists && req.Status != nil:
		status = *req.Status
	case exists:
		status = m.Status
	case req.StatusIfNew != nil:
		status = *req.StatusIfNew
	default:
		invalid(w, "", fieldError{"status_if_new", "This value should not be blank."})
		return
	}
	if title, detail := s.refusal(l, email, status, exists); title != "" {
		problem(w, http.StatusBadRequest, title, detail, nil)
		return
	}
	if !exists {
		m = newMember(l, email)
		l.members[h] = m
		delete(l.forgotten, h)
	}
	m.EmailAddress = email
	m.Status = status
	apply(m, &req)
	writeJSON(w, http.StatusOK, m)
}

func (s *Server) patchMember(w http.ResponseWriter, r *http.Request) {
	var req memberRequest
	if !decode(w, r, &req) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.listOf(w, r)
	if l == nil {
		return
	}
	m := l.members[r.PathValue("hash")]
	if m == nil {
		notFound(w)
		return
	}
	if req.StatusIfNew != nil {
		invalid(w, "", fieldError{"status_if_new", "status_if_new is only for PUT."})
		return
	}
	if req.EmailAddress != nil && !validAddress(*req.EmailAddress) {
		invalid(w, fakeDetail(*req.EmailAddress))
		return
	}
	if req.Status != nil && !validStatus(*req.Status) {
		invalid(w, "", fieldError{"status", statusMessage})
		return
	}
	if detail, errs := l.check(&req); detail != "" || len(errs) > 0 {
		invalid(w, detail, errs...)
		return
	}
	if req.Status != nil {
		if title, detail := s.refusal(l, m.EmailAddress, *req.Status, true); title != "" {
			problem(w, http.StatusBadRequest, title, detail, nil)
			return
		}
		m.Status = *req.Status
	}
	apply(m, &req)
	writeJSON(w, http.StatusOK, m)
}

func (s *Server) deletePermanent(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.listOf(w, r)
	if l == nil {
		return
	}
	h := r.PathValue("hash")
	if l.members[h] == nil {
		notFound(w)
		return
	}
	delete(l.members, h)
	l.forgotten[h] = true
	w.WriteHeader(http.StatusNoContent)
}

// batchError is an entry of the batch answer's errors array.
type batchError struct {
	EmailAddress string `json:"email_address"`
	Error        string `json:"error"`
	ErrorCode    string `json:"error_code"`
	Field        string `json:"field,omitempty"`
	FieldMessage string `json:"field_message,omitempty"`
}

func (s *Server) batch(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Members        []memberRequest `json:"members"`
		UpdateExisting bool            `json:"update_existing"`
		SyncTags       bool            `json:"sync_tags"`
	}
	if !decode(w, r, &req) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.listOf(w, r)
	if l == nil {
		return
	}
	if req.Members == nil {
		invalid(w, "", fieldError{"members", "This value should not be blank."})
		return
	}
	if len(req.Members) > maxBatch {
		invalid(w, "", fieldError{"members", fmt.Sprintf("You may add or update at most %d members per request.", maxBatch)})
		return
	}
	skipDup := r.URL.Query().Get("skip_duplicate_check") == "true"
	created, updated := []*Member{}, []*Member{}
	errs := []batchError{}
	seen := map[string]bool{}
	for i := range req.Members {
		mr := &req.Members[i]
		email := ""
		if mr.EmailAddress != nil {
			email = *mr.EmailAddress
		}
		fail := func(msg, code, field, fieldMsg string) {
			errs = append(errs, batchError{EmailAddress: email, Error: msg, ErrorCode: code, Field: field, FieldMessage: fieldMsg})
		}
		if email == "" {
			fail("An email address must be provided.", "ERROR_GENERIC", "email_address", "This value should not be blank.")
			continue
		}
		if !validAddress(email) || s.fake[strings.ToLower(email)] {
			fail(fakeDetail(email), "ERROR_GENERIC", "email_address", "Invalid email address")
			continue
		}
		h := hash(email)
		if seen[h] {
			if !skipDup {
				fail(email+" appears more than once in this request.", "ERROR_GENERIC", "email_address", "Duplicate email address")
			}
			continue
		}
		seen[h] = true
		if mr.StatusIfNew != nil {
			fail("status_if_new is not accepted by batch subscribe; use status.", "ERROR_GENERIC", "status_if_new", "Unknown field")
			continue
		}
		if mr.Status == nil || !validStatus(*mr.Status) {
			fail("Invalid status for "+email+".", "ERROR_GENERIC", "status", statusMessage)
			continue
		}
		if detail, ferrs := l.check(mr); detail != "" || len(ferrs) > 0 {
			if detail == "" {
				detail = ferrs[0].Message
				fail(detail, "ERROR_GENERIC", ferrs[0].Field, ferrs[0].Message)
			} else {
				fail(detail, "ERROR_GENERIC", "interests", detail)
			}
			continue
		}
		m := l.members[h]
		exists := m != nil
		if exists && !req.UpdateExisting {
			fail(email+" is already a list member. Use PUT to insert or update list members.", "ERROR_CONTACT_EXISTS", "", "")
			continue
		}
		if title, detail := s.refusal(l, email, *mr.Status, exists); title != "" {
			fail(detail, "ERROR_GENERIC", "", "")
			continue
		}
		if !exists {
			m = newMember(l, email)
			l.members[h] = m
			delete(l.forgotten, h)
			created = append(created, m)
		} else {
			updated = append(updated, m)
		}
		m.EmailAddress = email
		m.Status = *mr.Status
		apply(m, mr)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"new_members":     created,
		"updated_members": updated,
		"errors":          errs,
		"total_created":   len(created),
		"total_updated":   len(updated),
		"error_count":     len(errs),
	})
}

// RegisteredWebhooks returns copies of an audience's webhooks.
func (s *Server) RegisteredWebhooks(listID string) []RegisteredWebhook {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.lists[listID]
	if l == nil {
		return nil
	}
	out := make([]RegisteredWebhook, len(l.webhooks))
	for i, w := range l.webhooks {
		out[i] = *w
	}
	return out
}

func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.listOf(w, r)
	if l == nil {
		return
	}
	hooks := make([]*RegisteredWebhook, len(l.webhooks))
	copy(hooks, l.webhooks)
	writeJSON(w, http.StatusOK, map[string]any{"webhooks": hooks, "list_id": l.id, "total_items": len(hooks)})
}

var webhookEvents = []string{"subscribe", "unsubscribe", "profile", "cleaned", "upemail", "campaign"}
var webhookSources = []string{"user", "admin", "api"}

// createWebhook checks the URL as Mailchimp does: with a GET that must
// answer 200, before the webhook is stored.
func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request) {
	var req struct {
		URL     *string         `json:"url"`
		Events  map[string]bool `json:"events"`
		Sources map[string]bool `json:"sources"`
	}
	if !decode(w, r, &req) {
		return
	}
	s.mu.Lock()
	l := s.listOf(w, r)
	s.mu.Unlock()
	if l == nil {
		return
	}
	if req.URL == nil || *req.URL == "" {
		invalid(w, "", fieldError{"url", "This value should not be blank."})
		return
	}
	u, err := url.Parse(*req.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		invalid(w, "", fieldError{"url", "This value is not a valid URL."})
		return
	}
	for k := range req.Events {
		if !slices.Contains(webhookEvents, k) {
			invalid(w, "", fieldError{"events." + k, "Unknown event."})
			return
		}
	}
	for k := range req.Sources {
		if !slices.Contains(webhookSources, k) {
			invalid(w, "", fieldError{"sources." + k, "Unknown source."})
			return
		}
	}
	if code := validateWebhookURL(r, *req.URL); code != http.StatusOK {
		invalid(w, "", fieldError{"url", fmt.Sprintf("We couldn't verify the URL is working. Please double check and try again. HTTP Code: %d", code)})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	hook := &RegisteredWebhook{ID: fmt.Sprintf("wh%08d", s.seq), URL: *req.URL, Events: map[string]bool{}, Sources: map[string]bool{}, ListID: l.id}
	for _, k := range webhookEvents {
		hook.Events[k] = req.Events[k]
	}
	for _, k := range webhookSources {
		hook.Sources[k] = req.Sources[k]
	}
	l.webhooks = append(l.webhooks, hook)
	writeJSON(w, http.StatusOK, hook)
}

// validateWebhookURL fetches the URL as Mailchimp's validator does and
// returns the status (0 when there was no answer).
func validateWebhookURL(r *http.Request, target string) int {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return 0
	}
	req.Header.Set("User-Agent", "MailChimp.com WebHook Validator")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.listOf(w, r)
	if l == nil {
		return
	}
	for i, h := range l.webhooks {
		if h.ID == r.PathValue("id") {
			l.webhooks = slices.Delete(l.webhooks, i, i+1)
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	notFound(w)
}
