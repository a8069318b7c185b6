package web_test

// Fuzz targets for the public surface and the JSON API. Each target builds
// one server (on a SQLite file in a temporary directory; and a second on
// PostgreSQL when HERALD_TEST_POSTGRES_URL is set, so that `go test` runs
// the seeds against both stores) and drives it through ServeHTTP, so one
// execution costs a request, not a start-up.
// Whatever arrives, the answer is never a 5xx or a panic, has the status
// the contract allows, and is well-formed (JSON that parses, the error
// envelope of the API, HTML that reflects nothing unescaped).
//
// Run one for a while with, e.g.:
//
//	go test -run XXX -fuzz FuzzSubscribe -fuzztime 60s -fuzzminimizetime 10s ./internal/web/
//
// (Coverage of a server with background goroutines is a little noisy, so
// the default minimisation of 60 s per new input mostly wastes time.)
//
// Seed corpora live in testdata/fuzz/<Target>/.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/service"
	"github.com/heraldhq/herald/internal/sqlstore"
	"github.com/heraldhq/herald/internal/sqlstore/storetest"
	"github.com/heraldhq/herald/internal/token"
	"github.com/heraldhq/herald/internal/web"
)

// fuzzSecret signs the reader tokens of fuzz servers; fixed, so that the
// checked-in seeds hold genuine tokens.
const fuzzSecret = "herald fuzz secret, at least 32 bytes"

// fuzzServer is one Herald web server for a fuzz target.
type fuzzServer struct {
	name   string // the database: sqlite or postgres
	srv    *web.Server
	db     *sqlstore.DB
	tokens *token.Signer
	apiKey string
	logs   *fuzzLog
	daily  *herald.List
}

// fuzzLog keeps what the server logged at error level: an internal error
// fails the run even when the answer hid it, and the log explains a 5xx.
type fuzzLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *fuzzLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buf.Len() > 64<<10 {
		l.buf.Reset()
	}
	return l.buf.Write(p)
}

func (l *fuzzLog) take() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.buf.String()
	l.buf.Reset()
	return s
}

// newFuzzServers starts a server on SQLite and, when configured, one on
// PostgreSQL; all sign reader tokens with fuzzSecret.
func newFuzzServers(f *testing.F) []*fuzzServer {
	f.Helper()
	out := []*fuzzServer{newFuzzServer(f, "sqlite", "sqlite:"+filepath.Join(f.TempDir(), "herald.db"))}
	if pg := os.Getenv("HERALD_TEST_POSTGRES_URL"); pg != "" {
		out = append(out, newFuzzServer(f, "postgres", storetest.PostgresSchema(f, pg)))
	}
	return out
}

func newFuzzServer(f *testing.F, name, dbURL string) *fuzzServer {
	f.Helper()
	ctx := context.Background()
	db := storetest.Open(f, dbURL)
	cfg, _, err := config.Load("serve", []string{
		"--database-url", dbURL, "--signup-limit", "0", "--base-url", "http://herald.test",
		"--publisher-name", "The Daily Planet", "--confirm-window", "0s",
	}, nil)
	if err != nil {
		f.Fatal(err)
	}
	fs := &fuzzServer{name: name, db: db, tokens: token.NewSigner([]byte(fuzzSecret)), logs: &fuzzLog{}}
	log := slog.New(slog.NewTextHandler(fs.logs, &slog.HandlerOptions{Level: slog.LevelError}))
	fs.srv = web.New(db, cfg, fs.tokens, log, services(db, cfg, log))
	for _, l := range []*herald.List{
		{Slug: "daily", Name: "The Daily Briefing", Description: "Top stories every morning"},
		{Slug: "sport", Name: "Sport", OptIn: herald.Single},
		{Slug: "vip", Name: "VIP", Visibility: herald.Private},
	} {
		if err := db.CreateList(ctx, l); err != nil {
			f.Fatal(err)
		}
	}
	if fs.daily, err = db.GetList(ctx, "daily"); err != nil {
		f.Fatal(err)
	}
	if fs.apiKey, err = db.CreateAPIToken(ctx, "fuzz"); err != nil {
		f.Fatal(err)
	}
	return fs
}

// headerValue drops what a real HTTP server would refuse in a header
// value (controls other than tab), so the fuzzer explores handlers rather
// than requests that never reach them.
func headerValue(s string) string {
	return strings.Map(func(r rune) rune {
		if (r < 0x20 && r != '\t') || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

// serve runs one request through the server and checks what every answer
// must satisfy.
func (fs *fuzzServer) serve(t *testing.T, method, target string, hdr http.Header, body []byte) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, bytes.NewReader(body))
	for k, vs := range hdr {
		for _, v := range vs {
			req.Header.Add(k, headerValue(v))
		}
	}
	rec := httptest.NewRecorder()
	start := time.Now()
	fs.srv.ServeHTTP(rec, req) // a panic that escapes fails the fuzz run
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("%s: %s %s took %v", fs.name, method, target, d)
	}
	if rec.Code >= 500 {
		t.Fatalf("%s: %s %s: status %d\nrequest headers: %q\nrequest body: %q\nresponse: %s\nlog: %s", fs.name, method, target, rec.Code, hdr, body, rec.Body, fs.logs.take())
	}
	if logged := fs.logs.take(); logged != "" {
		t.Fatalf("%s: %s %s: status %d, but the server logged an internal error:\n%s", fs.name, method, target, rec.Code, logged)
	}
	if rec.Code >= 400 {
		checkNoGoTypes(t, method+" "+target, rec.Body.String())
	}
	ct := rec.Header().Get("Content-Type")
	switch {
	case strings.HasPrefix(ct, "application/json"):
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%s %s: status %d, invalid JSON: %q", method, target, rec.Code, rec.Body)
		}
		if rec.Code >= 400 {
			checkErrorEnvelope(t, rec)
		}
	case strings.HasPrefix(ct, "text/html"):
		if strings.Contains(strings.ToLower(rec.Body.String()), "<script") {
			t.Fatalf("%s %s: the page holds a <script> (reflected input?):\n%s", method, target, rec.Body)
		}
		if redirect := rec.Code >= 300 && rec.Code < 400; !redirect && rec.Header().Get("Content-Security-Policy") == "" {
			t.Fatalf("%s %s: HTML without a Content-Security-Policy", method, target)
		}
	}
	return rec
}

// goTypeName matches what Go's own error texts would leak: a type from a
// package of ours or the standard library (web.subscribeBody, herald.Error,
// json.RawMessage), a composite type, or the decoder's "Go value" wording.
var goTypeName = regexp.MustCompile(`\b(main|web|herald|sqlstore|json|time|mailchimp|mcsync|http|url|netip)\.[A-Za-z_][A-Za-z0-9_]*|struct ?\{|\[\](string|int|int64|byte|uint8|any|interface)|map\[string\]|\binterface ?\{|\bGo (value|struct|type)|\bu?int(8|16|32|64)\b|\bfloat(32|64)\b`)

// checkNoGoTypes: an error answer speaks the client's language (JSON kinds
// and field names), never our internal types. The test server's host name
// is the one "package.name" look-alike a page may hold.
func checkNoGoTypes(t *testing.T, what, body string) {
	t.Helper()
	for _, m := range goTypeName.FindAllString(body, -1) {
		if m == "herald.test" {
			continue
		}
		t.Fatalf("%s: the error answer names an internal type (%q):\n%s", what, m, body)
	}
}

// statusOf is the contract's status for each error code.
var statusOf = map[string]int{
	herald.EINVALID: 422, herald.EBADREQUEST: 400, herald.ENOTFOUND: 404, herald.ECONFLICT: 409,
	herald.EUNAUTHORIZED: 401, herald.EFORBIDDEN: 403, herald.ERATELIMIT: 429, herald.ETOOLARGE: 413,
	herald.EGONE: 410, herald.EUNSUPPORTED: 415,
}

// checkErrorEnvelope: {"error": {"code", "message"[, "field"]}} and nothing
// else, with the code that matches the status.
func checkErrorEnvelope(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	var doc map[string]map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil || len(doc) != 1 || doc["error"] == nil {
		t.Fatalf("status %d: not an error envelope: %s (%v)", rec.Code, rec.Body, err)
	}
	e := doc["error"]
	code, _ := e["code"].(string)
	msg, _ := e["message"].(string)
	if code == "" || msg == "" {
		t.Fatalf("status %d: error without code or message: %s", rec.Code, rec.Body)
	}
	for k, v := range e {
		if s, ok := v.(string); !ok || (k != "code" && k != "message" && k != "field") || (k == "field" && s == "") {
			t.Fatalf("status %d: unexpected error member %q: %s", rec.Code, k, rec.Body)
		}
	}
	if want, ok := statusOf[code]; !ok || want != rec.Code {
		t.Fatalf("status %d with error code %q (want status %d): %s", rec.Code, code, want, rec.Body)
	}
}

// The two success answers of POST /subscribe: which one depends only on
// the opt-in mode of the lists chosen, never on the address.
var successAnswers = []string{
	"Thank you! Please check your inbox and click the link in the email we sent to confirm your subscription.",
	"Thank you for subscribing! If your address needs confirming, we have sent you an email: please check your inbox.",
}

func multipartBody(fields ...string) (ctype string, body []byte) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	_ = mw.SetBoundary("HeraldFuzzBoundary")
	for i := 0; i+1 < len(fields); i += 2 {
		_ = mw.WriteField(fields[i], fields[i+1])
	}
	_ = mw.Close()
	return mw.FormDataContentType(), b.Bytes()
}

// FuzzSubscribe posts arbitrary signups: any body, content type and Accept.
func FuzzSubscribe(f *testing.F) {
	servers := newFuzzServers(f)
	const form, js = "application/x-www-form-urlencoded", "application/json"
	f.Add(form, "", []byte("email=zoe%40example.com&name=Zo%C3%AB&lists=daily&lists=sport&source=https%3A%2F%2Fnews.example%2Fa"))
	f.Add(form, "application/json", []byte("email=zoe%40example.com&lists=daily,sport"))
	f.Add(form, "", []byte("email=zoe%40example.com"))
	f.Add(form, "", []byte("email=%3Cscript%3Ealert(1)%3C%2Fscript%3E&lists=daily&name=%3Cscript%3E"))
	f.Add(form, "", []byte("email=eve%40example.com&name=Eve%0D%0ABcc%3A+victim%40example.com&lists=daily"))
	f.Add(form, "", []byte("email=eve%40example.com&lists=vip"))
	f.Add(form, "", []byte("email=bot%40example.com&lists=nope&website=http%3A%2F%2Fspam.example"))
	f.Add(form, "", []byte("email=%FF%FE&name=%C3&source=%00&lists=%FF"))
	f.Add(form, "", []byte("%zz=1&&=&email"))
	f.Add(form+"; charset=\"", "", []byte("email=a%40b.c&lists=daily"))
	f.Add(form, "", []byte("email=z%40example.com&lists=daily&"+strings.Repeat("x", 17<<10)))
	mct, mbody := multipartBody("email", "zoe@example.com", "name", "Zoë", "lists", "daily", "lists", "sport", "disclosure_version", "1")
	f.Add(mct, "", mbody)
	f.Add("multipart/form-data", "", mbody)
	f.Add("multipart/form-data; boundary=HeraldFuzzBoundary", "", mbody[:len(mbody)/2])
	f.Add(js, "", []byte(`{"email":"zoe@example.com","name":"Zoë","lists":["daily","sport"],"source":"https://news.example/a","disclosure_version":1}`))
	f.Add(js+"; charset=utf-8", "", []byte(`{"email":"zoe@example.com","lists":"daily,sport"}`))
	f.Add(js, "", []byte(`{"email":"zoe@example.com","lists":[1,2]}`))
	f.Add(js, "", []byte(`{"email":"zoe@example.com","lists":["daily"],"unknown":true}`))
	f.Add(js, "", []byte(`{"email":"zoe@example.com","lists":["daily"],"ip":"203.0.113.9","user_agent":"x"}`))
	f.Add(js, "", []byte(`{"email":"zoe@example.com","lists":["daily"]} {"again":1}`))
	f.Add(js, "", []byte(`{"email":"zoe@example.com","disclosure_version":1e400}`))
	f.Add(js, "", []byte(`{"email":"eve@example.com","name":"Eve\r\nBcc: victim@example.com","lists":["daily"]}`))
	f.Add(js, "", []byte(`{"email":"\u0000@example.com","name":"\ud800","lists":["daily\u0000"]}`))
	f.Add(js, "", []byte(`[`))
	f.Add(js, "", []byte(`[]`))
	f.Add(js, "", []byte(`"x"`))
	f.Add(js, "", []byte(`42`))
	f.Add(js, "", []byte(`true`))
	f.Add(js, "", []byte(`null`))
	f.Add(js, "", []byte(`{"email":["zoe@example.com"],"lists":["daily"]}`))
	f.Add(js, "", []byte(`{"email":"zoe@example.com","lists":["daily"],"disclosure_version":"1"}`))
	f.Add(js, "", []byte(`{"email":"zoe@example.com","lists":["daily"],"disclosure_version":1.5}`))
	f.Add(js, "", []byte(`{"email":"zoe@example.com","lists":["daily"],"list_disclosures":["daily"]}`))
	f.Add(js, "", []byte(`{"email":"zoe@example.com","lists":["daily"],"list_disclosures":{"daily":"x"}}`))
	f.Add(js, "", []byte(``))
	f.Add("text/plain", "", []byte("email=zoe@example.com"))
	f.Add("text/plain", "application/json", []byte("email=zoe@example.com"))
	f.Add("", "", []byte("email=zoe%40example.com&lists=daily"))
	f.Add("\xff/\x00", "*/*", []byte("\x00\x01\x02"))
	f.Fuzz(func(t *testing.T, ctype, accept string, body []byte) {
		hdr := http.Header{}
		if ctype != "" {
			hdr.Set("Content-Type", ctype)
		}
		if accept != "" {
			hdr.Set("Accept", accept)
		}
		for _, fs := range servers {
			checkSubscribe(t, fs.serve(t, "POST", "/subscribe", hdr, body))
		}
	})
}

// checkSubscribe: the outcomes POST /subscribe may have, each well formed.
func checkSubscribe(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	switch rec.Code {
	case 200, 400, 403, 413, 415, 422:
	default:
		t.Fatalf("status %d is not an outcome of POST /subscribe: %s", rec.Code, rec.Body)
	}
	ct := rec.Header().Get("Content-Type")
	asJSON := strings.HasPrefix(ct, "application/json")
	if !asJSON && !strings.HasPrefix(ct, "text/html") {
		t.Fatalf("status %d: answer of type %q", rec.Code, ct)
	}
	switch {
	case rec.Code == 200 && asJSON:
		var ok struct {
			OK      bool   `json:"ok"`
			Message string `json:"message"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &ok); err != nil || !ok.OK || !isSuccessAnswer(ok.Message) {
			t.Fatalf("200 is not the success answer: %s", rec.Body)
		}
	case rec.Code == 200:
		page := rec.Body.String()
		if !strings.Contains(page, "Check your inbox") || !(strings.Contains(page, successAnswers[0]) || strings.Contains(page, successAnswers[1])) {
			t.Fatalf("200 is not the success page:\n%s", page)
		}
	case rec.Code == 403:
		// Only a site's back end (with an API token) may name the reader's IP.
		if !strings.Contains(rec.Body.String(), "API token") {
			t.Fatalf("403 without the reason: %s", rec.Body)
		}
	case !asJSON:
		if page := rec.Body.String(); !strings.Contains(page, `class="error"`) && !strings.Contains(page, `class="field-error"`) {
			t.Fatalf("status %d page shows no error:\n%s", rec.Code, page)
		}
	}
}

func isSuccessAnswer(s string) bool { return s == successAnswers[0] || s == successAnswers[1] }

// FuzzReaderTokens opens and posts to the reader links with arbitrary
// tokens: genuine ones (of every kind, current, stale, expired, for people
// who do not exist) and mutations of them. Nobody without the secret gets
// past the signature: a token that does not verify is always a 404, an
// expired one a 410.
func FuzzReaderTokens(f *testing.F) {
	servers := newFuzzServers(f)
	ctx := context.Background()
	var sub int64
	var nonce uint64
	for i, fs := range servers {
		res, err := service.New(fs.db).Signup(ctx, service.Caller{}, herald.SignupRequest{Email: "zoe@example.com", Name: "Zoë", Lists: []string{"daily", "sport"}, IP: "192.0.2.1"},
			sqlstore.SignupOptions{ConfirmTTL: time.Hour})
		if err != nil {
			f.Fatal(err)
		}
		n, err := fs.db.ConfirmNonce(ctx, res.SubscriberID)
		if err != nil {
			f.Fatal(err)
		}
		if i == 0 { // the seeds' tokens are genuine on the first server
			sub, nonce = res.SubscriberID, n
		}
	}
	fs := servers[0]
	week := time.Now().Add(7 * 24 * time.Hour).Unix()
	confirm := fs.tokens.Make(token.Token{Kind: token.Confirm, SubscriberID: sub, Nonce: nonce, Expires: week})
	manage := fs.tokens.Make(token.ManageLink(sub, time.Now()))
	unsub := fs.tokens.Make(token.UnsubscribeLink(sub, []int64{fs.daily.ID}, 7, time.Now()))
	other := token.NewSigner([]byte("another secret, just as long as ours"))
	const (
		rConfirm = iota
		rManage
		rUnsubscribe
	)
	seeds := []struct {
		route uint8
		tok   string
	}{
		{rConfirm, confirm},
		{rConfirm, fs.tokens.Make(token.Token{Kind: token.Confirm, SubscriberID: sub, Nonce: nonce + 1, Expires: week})}, // stale
		{rConfirm, fs.tokens.Make(token.Token{Kind: token.Confirm, SubscriberID: sub, Nonce: nonce, Expires: time.Now().Add(-time.Hour).Unix()})},
		{rConfirm, fs.tokens.Make(token.Token{Kind: token.Confirm, SubscriberID: 1 << 40, Nonce: 1, Expires: week})},
		{rConfirm, manage}, // wrong kind
		{rConfirm, other.Make(token.Token{Kind: token.Confirm, SubscriberID: sub, Nonce: nonce, Expires: week})},
		{rManage, manage},
		{rManage, fs.tokens.Make(token.Token{Kind: token.Manage, SubscriberID: 999999})},
		{rManage, fs.tokens.Make(token.Token{Kind: token.Manage, SubscriberID: sub, Expires: 1})},
		{rManage, fs.tokens.Make(token.Token{Kind: token.Manage, SubscriberID: sub})},                          // from before links had a lifetime
		{rManage, fs.tokens.Make(token.ManageLink(sub, time.Now().Add(-token.ManageTTL-time.Hour)))},           // past its lifetime
		{rUnsubscribe, fs.tokens.Make(token.UnsubscribeLink(sub, nil, 0, time.Now().Add(-2*token.ManageTTL)))}, // old, still unsubscribes
		{rManage, manage[:len(manage)-1]},
		{rManage, manage + "A"},
		{rManage, flip(manage, len(manage)/2)},
		{rUnsubscribe, unsub},
		{rUnsubscribe, fs.tokens.Make(token.Token{Kind: token.Unsubscribe, SubscriberID: sub})},
		{rUnsubscribe, fs.tokens.Make(token.Token{Kind: token.Unsubscribe, SubscriberID: 999999, Lists: []int64{1, 2, 3, 1 << 40}})},
		{rUnsubscribe, strings.ToUpper(unsub)},
		{rUnsubscribe, "../manage/" + manage},
		{rUnsubscribe, ""},
		{rUnsubscribe, ".."},
		{rUnsubscribe, strings.Repeat("A", 700)},
	}
	for _, s := range seeds {
		f.Add(s.route, false, s.tok, "")
		f.Add(s.route, true, s.tok, "")
	}
	f.Add(uint8(rUnsubscribe), true, unsub, "List-Unsubscribe=One-Click")
	f.Add(uint8(rManage), true, manage, "action=save&lists=daily&lists=sport")
	f.Add(uint8(rManage), true, manage, "action=save&lists=vip&lists=nope")
	f.Add(uint8(rManage), true, manage, "action=export")
	f.Add(uint8(rManage), true, manage, "action=erase")
	f.Add(uint8(rManage), true, manage, "action=%ZZ&lists=%FF")
	f.Add(uint8(rManage), true, manage, "action=unknown")
	f.Add(uint8(rManage), true, manage, "action=revoke_links")

	f.Fuzz(func(t *testing.T, route uint8, post bool, tok, body string) {
		kind, prefix := []byte{token.Confirm, token.Manage, token.Unsubscribe}[route%3], []string{"/confirm/", "/manage/", "/unsubscribe/"}[route%3]
		method := "GET"
		hdr := http.Header{}
		if post {
			method = "POST"
			hdr.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		target := prefix + url.PathEscape(tok)
		for _, fs := range servers {
			checkTokenAnswer(t, fs, kind, prefix, tok, fs.serve(t, method, target, hdr, []byte(body)))
		}
	})
}

// checkTokenAnswer: only genuine tokens get past the signature check.
func checkTokenAnswer(t *testing.T, fs *fuzzServer, kind byte, prefix, tok string, rec *httptest.ResponseRecorder) {
	t.Helper()
	if rec.Code >= 300 && rec.Code < 400 {
		// Only the mux cleaning a path with dot segments redirects.
		if p := prefix + tok; path.Clean(p) == p && !strings.HasSuffix(p, "/") {
			t.Fatalf("%s%s: redirect %d to %q", prefix, tok, rec.Code, rec.Header().Get("Location"))
		}
		return
	}
	_, err := fs.tokens.Parse(kind, tok, time.Now())
	switch {
	case errors.Is(err, token.ErrExpired):
		if rec.Code != 410 {
			t.Fatalf("%s%s: expired token, status %d, want 410", prefix, tok, rec.Code)
		}
	case err != nil:
		if rec.Code != 404 {
			t.Fatalf("%s%s: forged token, status %d, want 404: %s", prefix, tok, rec.Code, rec.Body)
		}
	default:
		switch rec.Code {
		case 200, 400, 404, 410, 422:
		default:
			t.Fatalf("%s%s: genuine token, status %d", prefix, tok, rec.Code)
		}
	}
}

// flip changes one character of a token to another of its alphabet.
func flip(s string, i int) string {
	b := []byte(s)
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

// FuzzAPIJSON sends arbitrary JSON bodies to the API's write routes with a
// valid token (and, as a site's back end would, to POST /subscribe).
func FuzzAPIJSON(f *testing.F) {
	servers := newFuzzServers(f)
	ctx := context.Background()
	for _, fs := range servers {
		if _, err := service.New(fs.db).Signup(ctx, service.Caller{}, herald.SignupRequest{Email: "zoe@example.com", Lists: []string{"daily"}}, sqlstore.SignupOptions{ConfirmTTL: time.Hour}); err != nil {
			f.Fatal(err)
		}
	}
	routes := []struct{ method, path string }{
		{"POST", "/api/v1/lists"},
		{"PATCH", "/api/v1/lists/1"},
		{"POST", "/api/v1/subscribers"},
		{"PATCH", "/api/v1/subscribers/1"},
		{"POST", "/api/v1/disclosures"},
		{"POST", "/subscribe"},
	}
	for i, bodies := range [][]string{
		{`{"slug":"world","name":"World","description":"News from everywhere","visibility":"public","optin":"single"}`,
			`{"slug":"World News","name":""}`, `{"slug":"daily","name":"Again"}`, `{"slug":"x","name":"X\r\nBcc: v@example.com"}`,
			`{"slug":"y","name":"Y","description":"a\u0000b"}`, `{"slug":"2026","name":"Year"}`, `{"slug":null}`, `{"slug":1}`},
		{`{"name":"Renamed"}`, `{"visibility":"secret"}`, `{"optin":"single","description":""}`, `{"slug":"sport"}`, `{}`, `{"colour":"red"}`, `null`, `[]`},
		{`{"email":"new@example.com","name":"New","lists":["daily","vip"],"status":"confirmed","attributes":{"plan":"pro","n":1}}`,
			`{"email":"zoe@example.com"}`, `{"email":"bad"}`, `{"email":"a@example.com","lists":"daily,nope"}`,
			`{"email":"b@example.com","attributes":{"deep":[[[[[[[[[[]]]]]]]]]]}}`, `{"email":"c@example.com","status":"unsubscribed"}`,
			`{"email":"d@example.com","attributes":"x"}`, `{"email":"e@example.com","lists":{"a":1}}`},
		{`{"name":"Zoë R."}`, `{"email":"zoe.new@example.com"}`, `{"subscriptions":[{"list":"sport","status":"confirmed"}]}`,
			`{"subscriptions":[{"list":"nope","status":"confirmed"}]}`, `{"subscriptions":[{"list":"daily","status":"gone"}]}`,
			`{"attributes":null}`, `{"name":"Eve\nBcc: v@example.com"}`, `{"email":null,"name":null}`},
		{`{"text":"We, the Daily Planet, process your address to send you newsletters."}`, `{"text":""}`, `{"text":"a\u0000"}`, `{"text":5}`},
		{`{"email":"relay@example.com","lists":["daily"],"ip":"203.0.113.7","user_agent":"Mozilla/5.0"}`,
			`{"email":"relay@example.com","lists":["daily"],"ip":"not an ip","user_agent":"\u0000\ud800"}`},
	} {
		for _, b := range bodies {
			f.Add(uint8(i), []byte(b))
		}
	}
	f.Add(uint8(0), []byte(`{"slug":"x","name":"`+strings.Repeat("é", 40000)+`"}`))
	f.Add(uint8(2), []byte(`{"email":`))
	f.Add(uint8(3), []byte("\xff\xfe"))
	for i := range routes {
		for _, b := range []string{`[]`, `"x"`, `1`, `false`, `[{"email":"a@example.com"}]`} {
			f.Add(uint8(i), []byte(b))
		}
	}
	f.Add(uint8(0), []byte(`{"slug":["x"],"name":{"a":1}}`))
	f.Add(uint8(2), []byte(`{"email":"f@example.com","attributes":[1,2]}`))
	f.Add(uint8(3), []byte(`{"subscriptions":{"list":"daily"}}`))
	f.Add(uint8(3), []byte(`{"subscriptions":[{"list":1,"status":true}]}`))
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		rt := routes[int(route)%len(routes)]
		for _, fs := range servers {
			hdr := http.Header{"Authorization": {"Bearer " + fs.apiKey}, "Content-Type": {"application/json"}}
			checkAPIAnswer(t, rt.method, rt.path, fs.serve(t, rt.method, rt.path, hdr, body))
		}
	})
}

// checkAPIAnswer: JSON, with a status the API may give a write.
func checkAPIAnswer(t *testing.T, method, path string, rec *httptest.ResponseRecorder) {
	t.Helper()
	if !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		t.Fatalf("%s %s: status %d, answer of type %q", method, path, rec.Code, rec.Header().Get("Content-Type"))
	}
	switch rec.Code {
	case 200, 201:
		var v map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
			t.Fatalf("%s %s: %d with a body that is not an object: %s", method, path, rec.Code, rec.Body)
		}
	case 400, 404, 409, 413, 415, 422:
	default:
		t.Fatalf("%s %s: status %d: %s", method, path, rec.Code, rec.Body)
	}
}
