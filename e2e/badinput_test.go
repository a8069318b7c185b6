package e2e_test

// Bad input, end to end: whatever a reader, a bot or a script sends, Herald
// answers with a clear 4xx (never a 5xx), refuses what could reach a mail
// header, does not reveal which lists or addresses exist, and keeps the
// JSON API's error envelope on every error.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/heraldhq/herald/internal/apptest"
	"github.com/heraldhq/herald/internal/sqlstore/storetest"
	"github.com/heraldhq/herald/internal/token"
)

// badCase is one request and what must come back.
type badCase struct {
	name    string
	method  string
	path    string // relative to the instance's URL
	ctype   string
	hdr     map[string]string
	body    []byte
	auth    bool // send the instance's API token
	status  int
	field   string // for JSON errors: the field the error must name
	contain string // a substring the answer must hold
}

type badAnswer struct {
	status int
	header http.Header
	body   string
}

var badClient = &http.Client{
	Timeout:       30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

func badDo(t *testing.T, in *apptest.Instance, c badCase) badAnswer {
	t.Helper()
	req, err := http.NewRequest(c.method, in.URL+c.path, bytes.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	if c.ctype != "" {
		req.Header.Set("Content-Type", c.ctype)
	}
	if c.auth {
		req.Header.Set("Authorization", "Bearer "+in.Token)
	}
	for k, v := range c.hdr {
		req.Header.Set(k, v)
	}
	res, err := badClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %s %s: %v", c.name, c.method, c.path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	a := badAnswer{res.StatusCode, res.Header, string(b)}
	if a.status >= 500 {
		t.Errorf("%s: %s %s: status %d: %s", c.name, c.method, c.path, a.status, a.body)
	}
	if strings.HasPrefix(c.path, "/api/v1/") && a.status >= 400 {
		badEnvelope(t, c.name, a)
	}
	return a
}

// badEnvelope checks the API's error document: {"error": {"code",
// "message"[, "field"]}}, nothing more, as JSON.
func badEnvelope(t *testing.T, what string, a badAnswer) (code, field string) {
	t.Helper()
	if ct := a.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s: status %d with Content-Type %q, want JSON: %s", what, a.status, ct, a.body)
	}
	var doc map[string]map[string]any
	dec := json.NewDecoder(strings.NewReader(a.body))
	if err := dec.Decode(&doc); err != nil || len(doc) != 1 || doc["error"] == nil {
		t.Fatalf("%s: status %d: not an error envelope: %s (%v)", what, a.status, a.body, err)
	}
	e := doc["error"]
	for k, v := range e {
		if _, ok := v.(string); !ok || (k != "code" && k != "message" && k != "field") {
			t.Fatalf("%s: error member %q: %s", what, k, a.body)
		}
	}
	code, _ = e["code"].(string)
	msg, _ := e["message"].(string)
	field, _ = e["field"].(string)
	if code == "" || msg == "" {
		t.Fatalf("%s: error without code or message: %s", what, a.body)
	}
	return code, field
}

func badJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func badForm(v url.Values) []byte { return []byte(v.Encode()) }

func badMultipart(size int) (string, []byte) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	_ = mw.WriteField("email", "zoe@example.com")
	_ = mw.WriteField("lists", "daily")
	_ = mw.WriteField("name", strings.Repeat("z", size))
	_ = mw.Close()
	return mw.FormDataContentType(), b.Bytes()
}

const (
	badFormCT  = "application/x-www-form-urlencoded"
	badJSONCT  = "application/json"
	badFiveMB  = 5 << 20
	badInvalid = "Please enter a valid email address."
)

// TestBadInput runs the table on every database.
func TestBadInput(t *testing.T) {
	for dbName, dbURL := range storetest.URLs(t) {
		t.Run(dbName, func(t *testing.T) {
			in := apptest.Start(t, apptest.Options{DatabaseURL: dbURL})
			setupLists(t, in)
			var sub subscriber
			in.MustAPI(t, 201, "POST", "/subscribers", map[string]any{"email": "known@example.com", "lists": []string{"daily"}}, &sub)
			subPath := "/api/v1/subscribers/" + strconv.FormatInt(sub.ID, 10)
			mpCT, mpBody := badMultipart(badFiveMB)

			cases := []badCase{
				// Malformed and oversized bodies.
				{name: "malformed JSON", method: "POST", path: "/subscribe", ctype: badJSONCT, body: []byte(`{"email": "zoe@example.com",`), status: 400},
				{name: "JSON syntax error", method: "POST", path: "/subscribe", ctype: badJSONCT, body: []byte(`{"email" "zoe@example.com"}`), status: 400, contain: "Malformed JSON"},
				{name: "JSON trailing data", method: "POST", path: "/subscribe", ctype: badJSONCT, body: []byte(`{"email":"zoe@example.com","lists":"daily"} {}`), status: 400},
				{name: "JSON of the wrong shape", method: "POST", path: "/subscribe", ctype: badJSONCT, body: []byte(`["zoe@example.com"]`), status: 400},
				{name: "JSON wrong type", method: "POST", path: "/subscribe", ctype: badJSONCT, body: []byte(`{"email":5,"lists":"daily"}`), status: 400, field: "email"},
				{name: "JSON lists of numbers", method: "POST", path: "/subscribe", ctype: badJSONCT, body: []byte(`{"email":"zoe@example.com","lists":[1]}`), status: 400, field: "lists"},
				{name: "JSON unknown field", method: "POST", path: "/subscribe", ctype: badJSONCT, body: []byte(`{"email":"zoe@example.com","lists":"daily","admin":true}`), status: 400, field: "admin"},
				{name: "JSON empty body", method: "POST", path: "/subscribe", ctype: badJSONCT, status: 400},
				{name: "JSON huge number", method: "POST", path: "/subscribe", ctype: badJSONCT, body: []byte(`{"email":"zoe@example.com","lists":"daily","disclosure_version":1e400}`), status: 400},
				{name: "5 MB form", method: "POST", path: "/subscribe", ctype: badFormCT, body: badForm(url.Values{"email": {"zoe@example.com"}, "lists": {"daily"}, "name": {strings.Repeat("z", badFiveMB)}}), status: 413},
				{name: "5 MB JSON", method: "POST", path: "/subscribe", ctype: badJSONCT, body: badJSON(map[string]any{"email": "zoe@example.com", "lists": "daily", "name": strings.Repeat("z", badFiveMB)}), status: 413},
				{name: "5 MB multipart", method: "POST", path: "/subscribe", ctype: mpCT, body: mpBody, status: 413},
				{name: "5 MB API body", method: "POST", path: "/api/v1/lists", ctype: badJSONCT, auth: true, body: badJSON(map[string]any{"slug": "big", "name": "Big", "description": strings.Repeat("d", badFiveMB)}), status: 413},
				{name: "5 MB manage form", method: "POST", path: "/manage/" + in.App.Tokens.Make(token.ManageLink(sub.ID, time.Now())), ctype: badFormCT, body: badForm(url.Values{"action": {"save"}, "x": {strings.Repeat("x", badFiveMB)}}), status: 413},

				// Wrong content types.
				{name: "text/plain signup", method: "POST", path: "/subscribe", ctype: "text/plain", body: []byte("email=zoe@example.com&lists=daily"), status: 415},
				{name: "XML signup", method: "POST", path: "/subscribe", ctype: "application/xml", body: []byte("<email>zoe@example.com</email>"), status: 415},
				{name: "XML signup asking for JSON", method: "POST", path: "/subscribe", ctype: "application/xml", hdr: map[string]string{"Accept": "application/json"}, body: []byte("<x/>"), status: 415, contain: `"not_supported"`},
				{name: "text/plain to the API", method: "POST", path: "/api/v1/lists", ctype: "text/plain", auth: true, body: []byte(`{"slug":"x","name":"X"}`), status: 415},
				{name: "form to the API", method: "PATCH", path: "/api/v1/lists/daily", ctype: badFormCT, auth: true, body: []byte("name=X"), status: 415},
				{name: "unparseable content type", method: "POST", path: "/subscribe", ctype: "application/x-www-form-urlencoded; charset=\"", body: []byte("email=zoe%40example.com&lists=daily"), status: 400},

				// Invalid UTF-8.
				{name: "invalid UTF-8 email (form)", method: "POST", path: "/subscribe", ctype: badFormCT, body: []byte("email=zo%FFe%40example.com&lists=daily"), status: 422, contain: badInvalid},
				{name: "invalid UTF-8 email (JSON)", method: "POST", path: "/subscribe", ctype: badJSONCT, body: []byte("{\"email\":\"zo\xffe@example.com\",\"lists\":\"daily\"}"), status: 422, field: "email"},
				{name: "invalid UTF-8 name (form)", method: "POST", path: "/subscribe", ctype: badFormCT, body: []byte("email=zoe%40example.com&lists=daily&name=Zo%C3"), status: 422, contain: "UTF-8"},
				{name: "invalid UTF-8 name (API)", method: "POST", path: "/api/v1/subscribers", ctype: badJSONCT, auth: true, body: []byte(`{"email":"utf@example.com","name":"Zo\u00e9\ud800"}`), status: 201},
				{name: "invalid UTF-8 list slug", method: "POST", path: "/subscribe", ctype: badFormCT, body: []byte("email=zoe%40example.com&lists=dai%FFly"), status: 422, contain: "Unknown mailing list."},
				{name: "NUL in email", method: "POST", path: "/subscribe", ctype: badJSONCT, body: []byte(`{"email":"zoe\u0000@example.com","lists":"daily"}`), status: 422, field: "email"},
				{name: "NUL in list description", method: "POST", path: "/api/v1/lists", ctype: badJSONCT, auth: true, body: []byte(`{"slug":"nul","name":"NUL","description":"a\u0000b"}`), status: 422, field: "description"},
				{name: "NUL in disclosure", method: "POST", path: "/api/v1/disclosures", ctype: badJSONCT, auth: true, body: []byte(`{"text":"We \u0000 process"}`), status: 422, field: "text"},

				// Header injection: refused before it is stored, so it never reaches a mail.
				{name: "CRLF in name (form)", method: "POST", path: "/subscribe", ctype: badFormCT, body: badForm(url.Values{"email": {"eve@example.com"}, "name": {"Eve\r\nBcc: victim@example.com"}, "lists": {"daily"}}), status: 422, contain: "control characters"},
				{name: "CRLF in name (JSON)", method: "POST", path: "/subscribe", ctype: badJSONCT, body: badJSON(map[string]any{"email": "eve@example.com", "name": "Eve\r\nBcc: victim@example.com", "lists": []string{"daily"}}), status: 422, field: "name"},
				{name: "LF in name", method: "POST", path: "/subscribe", ctype: badJSONCT, body: badJSON(map[string]any{"email": "eve@example.com", "name": "Eve\nBcc: victim@example.com", "lists": "daily"}), status: 422, field: "name"},
				{name: "U+2028 in name", method: "POST", path: "/subscribe", ctype: badJSONCT, body: badJSON(map[string]any{"email": "eve@example.com", "name": "Eve\u2028Bcc: victim@example.com", "lists": "daily"}), status: 422, field: "name"},
				{name: "NEL in name", method: "POST", path: "/subscribe", ctype: badJSONCT, body: badJSON(map[string]any{"email": "eve@example.com", "name": "Eve\u0085Bcc: victim@example.com", "lists": "daily"}), status: 422, field: "name"},
				{name: "CRLF in email", method: "POST", path: "/subscribe", ctype: badFormCT, body: badForm(url.Values{"email": {"eve@example.com\r\nBcc: victim@example.com"}, "lists": {"daily"}}), status: 422, contain: badInvalid},
				{name: "display name in email", method: "POST", path: "/subscribe", ctype: badFormCT, body: badForm(url.Values{"email": {"Eve <eve@example.com>, victim@example.com"}, "lists": {"daily"}}), status: 422, contain: badInvalid},
				{name: "CRLF in name (API create)", method: "POST", path: "/api/v1/subscribers", ctype: badJSONCT, auth: true, body: badJSON(map[string]any{"email": "eve2@example.com", "name": "Eve\r\nBcc: victim@example.com", "lists": "daily"}), status: 422, field: "name"},
				{name: "CRLF in name (API update)", method: "PATCH", path: subPath, ctype: badJSONCT, auth: true, body: badJSON(map[string]any{"name": "Eve\r\nBcc: victim@example.com"}), status: 422, field: "name"},
				{name: "CRLF in email (API update)", method: "PATCH", path: subPath, ctype: badJSONCT, auth: true, body: badJSON(map[string]any{"email": "known@example.com\r\nBcc: victim@example.com"}), status: 422, field: "email"},
				{name: "CRLF in list name", method: "POST", path: "/api/v1/lists", ctype: badJSONCT, auth: true, body: badJSON(map[string]any{"slug": "evil", "name": "Evil\r\nBcc: victim@example.com"}), status: 422, field: "name"},

				// Lists.
				{name: "no list", method: "POST", path: "/subscribe", ctype: badFormCT, body: badForm(url.Values{"email": {"zoe@example.com"}}), status: 422, contain: "Please select at least one mailing list."},
				{name: "too many lists", method: "POST", path: "/subscribe", ctype: badJSONCT, body: badJSON(map[string]any{"email": "zoe@example.com", "lists": manySlugs(150)}), status: 422, field: "lists"},

				// Addresses.
				{name: "email of 300 characters", method: "POST", path: "/subscribe", ctype: badFormCT, body: badForm(url.Values{"email": {strings.Repeat("a", 288) + "@example.com"}, "lists": {"daily"}}), status: 422, contain: badInvalid},
				{name: "email of 300 characters (JSON)", method: "POST", path: "/subscribe", ctype: badJSONCT, body: badJSON(map[string]any{"email": strings.Repeat("a", 288) + "@example.com", "lists": "daily"}), status: 422, field: "email"},
				{name: "email of 300 characters (API)", method: "POST", path: "/api/v1/subscribers", ctype: badJSONCT, auth: true, body: badJSON(map[string]any{"email": strings.Repeat("a", 288) + "@example.com"}), status: 422, field: "email"},
				{name: "email without domain", method: "POST", path: "/subscribe", ctype: badJSONCT, body: badJSON(map[string]any{"email": "zoe@", "lists": "daily"}), status: 422, field: "email"},
				{name: "email with zero-width space", method: "POST", path: "/subscribe", ctype: badJSONCT, body: badJSON(map[string]any{"email": "zoe\u200b@example.com", "lists": "daily"}), status: 422, field: "email"},

				// The API: tokens.
				{name: "API without token", method: "GET", path: "/api/v1/lists", status: 401},
				{name: "API with a wrong token", method: "GET", path: "/api/v1/lists", hdr: map[string]string{"Authorization": "Bearer not-a-real-token"}, status: 401},
				{name: "API with an empty bearer", method: "GET", path: "/api/v1/subscribers", hdr: map[string]string{"Authorization": "Bearer "}, status: 401},
				{name: "API with basic auth", method: "GET", path: "/api/v1/lists", hdr: map[string]string{"Authorization": "Basic YWRtaW46YWRtaW4="}, status: 401},
				{name: "API with a huge token", method: "GET", path: "/api/v1/lists", hdr: map[string]string{"Authorization": "Bearer " + strings.Repeat("t", 8000)}, status: 401},
				{name: "API write without token", method: "POST", path: "/api/v1/lists", ctype: badJSONCT, body: []byte(`{"slug":"x","name":"X"}`), status: 401},

				// The API: routes.
				{name: "unknown API route", method: "GET", path: "/api/v1/nope", auth: true, status: 404},
				{name: "unknown API route without token", method: "GET", path: "/api/v1/nope", status: 404},
				{name: "unknown API version", method: "GET", path: "/api/v2/lists", auth: true, status: 404},
				{name: "unsupported method on an API route", method: "PUT", path: "/api/v1/lists", ctype: badJSONCT, auth: true, body: []byte(`{}`), status: 404},
				{name: "unsupported method without token", method: "DELETE", path: "/api/v1/outbox", status: 404},
				{name: "unknown list", method: "GET", path: "/api/v1/lists/no-such-list", auth: true, status: 404},
				{name: "unknown list id", method: "GET", path: "/api/v1/lists/999999", auth: true, status: 404},
				{name: "list id beyond int64", method: "GET", path: "/api/v1/lists/99999999999999999999999", auth: true, status: 404},
				{name: "list slug with NUL", method: "GET", path: "/api/v1/lists/da%00ily", auth: true, status: 404},
				{name: "list slug with invalid UTF-8", method: "GET", path: "/api/v1/lists/da%FFily", auth: true, status: 404},
				{name: "PATCH a list slug with invalid UTF-8", method: "PATCH", path: "/api/v1/lists/%FF", ctype: badJSONCT, auth: true, body: []byte(`{"name":"X"}`), status: 404},
				{name: "DELETE a list slug with NUL", method: "DELETE", path: "/api/v1/lists/%00", auth: true, status: 404},
				{name: "unknown subscriber", method: "GET", path: "/api/v1/subscribers/999999", auth: true, status: 404},
				{name: "subscriber id not a number", method: "GET", path: "/api/v1/subscribers/abc", auth: true, status: 404},
				{name: "subscriber id negative", method: "GET", path: "/api/v1/subscribers/-1", auth: true, status: 404},
				{name: "disclosure version not a number", method: "GET", path: "/api/v1/disclosures/x", auth: true, status: 404},
				{name: "unknown outbox message", method: "GET", path: "/api/v1/outbox/999999", auth: true, status: 404},

				// The API: query parameters.
				{name: "negative limit", method: "GET", path: "/api/v1/subscribers?limit=-1", auth: true, status: 400, field: "limit"},
				{name: "limit not a number", method: "GET", path: "/api/v1/subscribers?limit=ten", auth: true, status: 400, field: "limit"},
				{name: "limit too large", method: "GET", path: "/api/v1/subscribers?limit=100000", auth: true, status: 400, field: "limit"},
				{name: "limit beyond int", method: "GET", path: "/api/v1/outbox?limit=99999999999999999999", auth: true, status: 400, field: "limit"},
				{name: "negative offset", method: "GET", path: "/api/v1/outbox?offset=-5", auth: true, status: 400, field: "offset"},
				{name: "offset not a number", method: "GET", path: "/api/v1/jobs?offset=1e3", auth: true, status: 400, field: "offset"},
				{name: "bad subscriber status filter", method: "GET", path: "/api/v1/subscribers?status=bogus", auth: true, status: 400, field: "status"},
				{name: "bad job status filter", method: "GET", path: "/api/v1/jobs?status=bogus", auth: true, status: 400, field: "status"},
				{name: "bad visibility filter", method: "GET", path: "/api/v1/lists?visibility=secret", auth: true, status: 400, field: "visibility"},
				{name: "search with NUL", method: "GET", path: "/api/v1/subscribers?q=%00", auth: true, status: 400, field: "q"},
				{name: "search with invalid UTF-8", method: "GET", path: "/api/v1/subscribers?q=%FF%FE", auth: true, status: 400, field: "q"},
				{name: "email filter with invalid UTF-8", method: "GET", path: "/api/v1/subscribers?email=zo%FF%40example.com", auth: true, status: 400, field: "email"},
				{name: "list filter with NUL", method: "GET", path: "/api/v1/subscribers?list=%00", auth: true, status: 400, field: "list"},
				{name: "outbox filter with invalid UTF-8", method: "GET", path: "/api/v1/outbox?to=%FF", auth: true, status: 400, field: "to"},
				{name: "outbox filter with NUL", method: "GET", path: "/api/v1/outbox?to=a%00b", auth: true, status: 400, field: "to"},
				{name: "query name with invalid UTF-8", method: "GET", path: "/api/v1/lists?%FF=1", auth: true, status: 400},

				// A site's back end relays signups with its API token.
				{name: "relay fields without a token", method: "POST", path: "/subscribe", ctype: badJSONCT, body: []byte(`{"email":"relay@example.com","lists":["daily"],"ip":"203.0.113.7"}`), status: 403, field: "ip"},
				{name: "relay with a bad IP and NUL in the user agent", method: "POST", path: "/subscribe", ctype: badJSONCT, auth: true, body: []byte(`{"email":"relay@example.com","lists":["daily"],"ip":"not an ip","user_agent":"Mozilla\u0000/5.0 \ud800\u0007"}`), status: 200},

				// The API: bodies.
				{name: "PATCH list with an unknown field", method: "PATCH", path: "/api/v1/lists/daily", ctype: badJSONCT, auth: true, body: []byte(`{"colour":"red"}`), status: 400, field: "colour"},
				{name: "PATCH subscriber with an unknown field", method: "PATCH", path: subPath, ctype: badJSONCT, auth: true, body: []byte(`{"nickname":"Zed"}`), status: 400, field: "nickname"},
				{name: "PATCH subscription with an unknown field", method: "PATCH", path: subPath, ctype: badJSONCT, auth: true, body: []byte(`{"subscriptions":[{"list":"daily","status":"confirmed","when":"now"}]}`), status: 400},
				{name: "PATCH list with a wrong type", method: "PATCH", path: "/api/v1/lists/daily", ctype: badJSONCT, auth: true, body: []byte(`{"name":42}`), status: 400, field: "name"},
				{name: "PATCH list with malformed JSON", method: "PATCH", path: "/api/v1/lists/daily", ctype: badJSONCT, auth: true, body: []byte(`{"name":`), status: 400},
				{name: "PATCH list with an invalid value", method: "PATCH", path: "/api/v1/lists/daily", ctype: badJSONCT, auth: true, body: []byte(`{"visibility":"secret"}`), status: 422, field: "visibility"},
				{name: "POST list with a duplicate slug", method: "POST", path: "/api/v1/lists", ctype: badJSONCT, auth: true, body: []byte(`{"slug":"daily","name":"Again"}`), status: 409, field: "slug"},
				{name: "POST list with an all-digit slug", method: "POST", path: "/api/v1/lists", ctype: badJSONCT, auth: true, body: []byte(`{"slug":"2026","name":"Year"}`), status: 422, field: "slug"},
				{name: "POST subscriber with a duplicate email", method: "POST", path: "/api/v1/subscribers", ctype: badJSONCT, auth: true, body: []byte(`{"email":"KNOWN@example.com"}`), status: 409, field: "email"},
				{name: "POST subscriber with a bad status", method: "POST", path: "/api/v1/subscribers", ctype: badJSONCT, auth: true, body: []byte(`{"email":"st@example.com","status":"unsubscribed"}`), status: 422, field: "status"},
				{name: "POST subscriber to an unknown list", method: "POST", path: "/api/v1/subscribers", ctype: badJSONCT, auth: true, body: []byte(`{"email":"ul@example.com","lists":["nope"]}`), status: 422, field: "lists"},
				{name: "POST subscriber with attributes of the wrong type", method: "POST", path: "/api/v1/subscribers", ctype: badJSONCT, auth: true, body: []byte(`{"email":"at@example.com","attributes":[1,2]}`), status: 400, field: "attributes"},
				{name: "POST subscriber with huge attributes", method: "POST", path: "/api/v1/subscribers", ctype: badJSONCT, auth: true, body: badJSON(map[string]any{"email": "big@example.com", "attributes": map[string]string{"x": strings.Repeat("x", 20000)}}), status: 422, field: "attributes"},
				{name: "POST empty disclosure", method: "POST", path: "/api/v1/disclosures", ctype: badJSONCT, auth: true, body: []byte(`{"text":"   "}`), status: 422, field: "text"},
			}
			for _, c := range cases {
				a := badDo(t, in, c)
				if a.status != c.status {
					t.Errorf("%s: status %d, want %d: %.300s", c.name, a.status, c.status, a.body)
					continue
				}
				if c.contain != "" && !strings.Contains(a.body, c.contain) {
					t.Errorf("%s: answer lacks %q: %.500s", c.name, c.contain, a.body)
				}
				if c.field != "" {
					if _, field := badEnvelope(t, c.name, a); field != c.field {
						t.Errorf("%s: error names field %q, want %q: %s", c.name, field, c.field, a.body)
					}
				}
				if c.status == 401 && a.header.Get("WWW-Authenticate") == "" {
					t.Errorf("%s: 401 without WWW-Authenticate", c.name)
				}
			}

			// Invalid UTF-8 in the source URL is dropped, not stored: the
			// signup itself succeeds and the ledger holds valid text.
			a := badDo(t, in, badCase{name: "invalid UTF-8 source", method: "POST", path: "/subscribe", ctype: badFormCT,
				body: []byte("email=source%40example.com&lists=daily&source=https%3A%2F%2Fnews.example%2F%FF%FE")})
			if a.status != 200 {
				t.Fatalf("signup with an invalid source URL: %d: %s", a.status, a.body)
			}
			src := findSubscriber(t, in, "source@example.com")
			var consents struct {
				Data []struct {
					SourceURL string `json:"source_url"`
					UserAgent string `json:"user_agent"`
				} `json:"data"`
			}
			in.MustAPI(t, 200, "GET", fmt.Sprintf("/subscribers/%d/consents", src.ID), nil, &consents)
			if len(consents.Data) == 0 || !utf8.ValidString(consents.Data[0].SourceURL) || strings.Contains(consents.Data[0].SourceURL, "\ufffd") {
				t.Fatalf("consent events: %+v", consents.Data)
			}
			// The relayed user agent is stored as clean text, the bad IP ignored.
			relay := findSubscriber(t, in, "relay@example.com")
			in.MustAPI(t, 200, "GET", fmt.Sprintf("/subscribers/%d/consents", relay.ID), nil, &consents)
			if len(consents.Data) == 0 || !utf8.ValidString(consents.Data[0].UserAgent) || strings.ContainsAny(consents.Data[0].UserAgent, "\x00\x07") {
				t.Fatalf("relayed consent: %+v", consents.Data)
			}
			// A name that JSON decoding repaired is stored as valid UTF-8.
			utf := findSubscriber(t, in, "utf@example.com")
			if !utf8.ValidString(utf.Name) {
				t.Fatalf("stored name %q", utf.Name)
			}

			badNoEnumeration(t, in)
			badTokens(t, in, sub.ID)
			badNothingReachesMail(t, in)
		})
	}
}

func manySlugs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "list-" + strconv.Itoa(i)
	}
	return out
}

// badNoEnumeration: an unknown list and a private one get the very same
// answer, as do addresses in every state.
func badNoEnumeration(t *testing.T, in *apptest.Instance) {
	t.Helper()
	for _, ct := range []string{badFormCT, badJSONCT} {
		body := func(list string) []byte {
			if ct == badFormCT {
				return badForm(url.Values{"email": {"enum@example.com"}, "lists": {list}})
			}
			return badJSON(map[string]any{"email": "enum@example.com", "lists": []string{list}})
		}
		unknown := badDo(t, in, badCase{name: "unknown list", method: "POST", path: "/subscribe", ctype: ct, body: body("nope")})
		private := badDo(t, in, badCase{name: "private list", method: "POST", path: "/subscribe", ctype: ct, body: body("vip")})
		if unknown.status != 422 || private.status != 422 {
			t.Fatalf("%s: unknown list %d, private list %d; want 422", ct, unknown.status, private.status)
		}
		if unknown.body != private.body {
			t.Fatalf("%s: an unknown and a private list are told apart:\n%s\n---\n%s", ct, unknown.body, private.body)
		}
		if !strings.Contains(unknown.body, "Unknown mailing list.") {
			t.Fatalf("%s: unknown list: %s", ct, unknown.body)
		}
	}
	// The same success answer for a new, a pending and an operator-added
	// confirmed address, and for a bot that filled the honeypot.
	in.MustAPI(t, 201, "POST", "/subscribers", map[string]any{"email": "confirmed@example.com", "lists": []string{"daily"}, "status": "confirmed"}, nil)
	var answers []string
	for _, v := range []url.Values{
		{"email": {"brand-new@example.com"}, "lists": {"daily"}},
		{"email": {"brand-new@example.com"}, "lists": {"daily"}},
		{"email": {"confirmed@example.com"}, "lists": {"daily"}},
		{"email": {"bot@example.com"}, "lists": {"daily"}, "website": {"http://spam.example"}},
	} {
		a := badDo(t, in, badCase{name: "success", method: "POST", path: "/subscribe", ctype: badFormCT, hdr: map[string]string{"Accept": "application/json"}, body: badForm(v)})
		if a.status != 200 {
			t.Fatalf("signup %v: %d: %s", v, a.status, a.body)
		}
		answers = append(answers, a.body)
	}
	for _, a := range answers[1:] {
		if a != answers[0] {
			t.Fatalf("success answers differ:\n%s\n%s", answers[0], a)
		}
	}
}

// badTokens: forged, truncated, tampered, wrong-kind and expired reader
// links never work and never fail with a 5xx.
func badTokens(t *testing.T, in *apptest.Instance, subID int64) {
	t.Helper()
	tokens := in.App.Tokens
	manage := tokens.Make(token.Token{Kind: token.Manage, SubscriberID: subID})
	unsub := tokens.Make(token.Token{Kind: token.Unsubscribe, SubscriberID: subID})
	other := token.NewSigner([]byte("someone else's secret, 32 bytes long"))
	past := time.Now().Add(-time.Hour).Unix()
	tampered := []byte(manage)
	tampered[len(tampered)/2] ^= 1
	for _, c := range []struct {
		name, path string
		status     int
	}{
		{"expired confirm link", "/confirm/" + tokens.Make(token.Token{Kind: token.Confirm, SubscriberID: subID, Nonce: 1, Expires: past}), 410},
		{"expired confirm link for nobody", "/confirm/" + tokens.Make(token.Token{Kind: token.Confirm, SubscriberID: 1, Expires: past}), 410},
		{"stale confirm link", "/confirm/" + tokens.Make(token.Token{Kind: token.Confirm, SubscriberID: subID, Nonce: 12345, Expires: time.Now().Add(time.Hour).Unix()}), 410},
		{"forged confirm link", "/confirm/" + other.Make(token.Token{Kind: token.Confirm, SubscriberID: subID, Nonce: 1, Expires: time.Now().Add(time.Hour).Unix()}), 404},
		{"random confirm link", "/confirm/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 404},
		{"manage link on confirm", "/confirm/" + manage, 404},
		{"manage link past its 90 days", "/manage/" + tokens.Make(token.ManageLink(subID, time.Now().Add(-token.ManageTTL-time.Minute))), 410},
		{"manage link from before links had a lifetime", "/manage/" + manage, 410},
		{"truncated manage link", "/manage/" + manage[:len(manage)-3], 404},
		{"tampered manage link", "/manage/" + string(tampered), 404},
		{"forged manage link", "/manage/" + other.Make(token.Token{Kind: token.Manage, SubscriberID: subID}), 404},
		{"manage link with padding", "/manage/" + manage + "==", 404},
		{"manage link with a bare id", "/manage/" + strconv.FormatInt(subID, 10), 404},
		{"manage link of 5000 characters", "/manage/" + strings.Repeat("A", 5000), 404},
		{"manage link with NUL", "/manage/%00" + manage, 404},
		{"unsubscribe link as manage", "/manage/" + unsub, 404},
		{"truncated unsubscribe link", "/unsubscribe/" + unsub[:10], 404},
		{"forged unsubscribe link", "/unsubscribe/" + other.Make(token.Token{Kind: token.Unsubscribe, SubscriberID: subID}), 404},
		{"unsubscribe link with an email", "/unsubscribe/known@example.com", 404},
	} {
		for _, method := range []string{"GET", "POST"} {
			var body []byte
			ctype := ""
			if method == "POST" {
				ctype, body = badFormCT, []byte("List-Unsubscribe=One-Click&action=unsubscribe_all")
			}
			a := badDo(t, in, badCase{name: c.name, method: method, path: c.path, ctype: ctype, body: body})
			if a.status != c.status {
				t.Errorf("%s %s: status %d, want %d: %.300s", method, c.name, a.status, c.status, a.body)
			}
		}
	}
	// None of that unsubscribed the reader.
	var s subscriber
	in.MustAPI(t, 200, "GET", "/subscribers/"+strconv.FormatInt(subID, 10), nil, &s)
	if s.status("daily") == "unsubscribed" {
		t.Fatalf("a bad link unsubscribed the reader: %+v", s)
	}
}

// badNothingReachesMail lets the worker send every queued mail, then
// checks that no message in the outbox carries an injected header.
func badNothingReachesMail(t *testing.T, in *apptest.Instance) {
	t.Helper()
	// A name with line breaks only at its edges is trimmed and accepted.
	a := badDo(t, in, badCase{name: "trimmed name", method: "POST", path: "/subscribe", ctype: badFormCT,
		body: badForm(url.Values{"email": {"trim@example.com"}, "name": {"\r\nTrim\r\n"}, "lists": {"daily"}})})
	if a.status != 200 {
		t.Fatalf("trimmed name: %d", a.status)
	}
	type msg struct {
		ID  int64  `json:"id"`
		To  string `json:"to"`
		Raw string `json:"raw"`
	}
	var page struct {
		Data []msg `json:"data"`
	}
	apptest.Eventually(t, "the confirmation mail to trim@example.com", func() bool {
		in.MustAPI(t, 200, "GET", "/outbox?to="+url.QueryEscape("trim@example.com"), nil, &page)
		return len(page.Data) == 1
	})
	apptest.Eventually(t, "the queue to drain", func() bool {
		var pending, running struct {
			Total int `json:"total"`
		}
		in.MustAPI(t, 200, "GET", "/jobs?status=pending", nil, &pending)
		in.MustAPI(t, 200, "GET", "/jobs?status=running", nil, &running)
		return pending.Total+running.Total == 0
	})
	var failed struct {
		Data []struct {
			Kind      string `json:"kind"`
			LastError string `json:"last_error"`
		} `json:"data"`
	}
	in.MustAPI(t, 200, "GET", "/jobs?status=failed", nil, &failed)
	for _, j := range failed.Data {
		t.Errorf("job %s failed: %s", j.Kind, j.LastError)
	}
	in.MustAPI(t, 200, "GET", "/outbox?limit=1000", nil, &page)
	if len(page.Data) == 0 {
		t.Fatal("the outbox is empty")
	}
	for _, m := range page.Data {
		var full msg
		in.MustAPI(t, 200, "GET", "/outbox/"+strconv.FormatInt(m.ID, 10), nil, &full)
		lower := strings.ToLower(full.Raw)
		if strings.Contains(lower, "bcc: victim") || strings.Contains(lower, "victim@example.com") || strings.Contains(full.To, "victim") {
			t.Fatalf("message %d to %s carries the injection:\n%s", m.ID, full.To, full.Raw)
		}
		headers, _, _ := strings.Cut(full.Raw, "\r\n\r\n")
		for _, line := range strings.Split(headers, "\r\n") {
			if strings.HasPrefix(strings.ToLower(line), "bcc:") {
				t.Fatalf("message %d has a Bcc header: %q", m.ID, line)
			}
		}
		if full.To == "trim@example.com" && !strings.Contains(headers, "Trim") {
			t.Fatalf("the trimmed name is missing from the mail:\n%s", headers)
		}
	}
}

// TestSignupRateLimit: the per-IP limit, with and without a trusted proxy.
func TestSignupRateLimit(t *testing.T) {
	signup := func(in *apptest.Instance, email, xff string, asJSON bool) badAnswer {
		hdr := map[string]string{}
		if xff != "" {
			hdr["X-Forwarded-For"] = xff
		}
		c := badCase{name: "signup " + email, method: "POST", path: "/subscribe", ctype: badFormCT, hdr: hdr,
			body: badForm(url.Values{"email": {email}, "lists": {"daily"}})}
		if asJSON {
			c.ctype, c.body = badJSONCT, badJSON(map[string]any{"email": email, "lists": []string{"daily"}})
		}
		return badDo(t, in, c)
	}
	want429 := func(what string, a badAnswer) {
		t.Helper()
		if a.status != 429 {
			t.Fatalf("%s: status %d, want 429: %.300s", what, a.status, a.body)
		}
		ra, err := strconv.Atoi(a.header.Get("Retry-After"))
		if err != nil || ra < 1 || ra > 60 {
			t.Fatalf("%s: Retry-After %q, want 1–60 seconds", what, a.header.Get("Retry-After"))
		}
	}

	t.Run("direct", func(t *testing.T) {
		in := apptest.Start(t, apptest.Options{Args: []string{"--signup-limit", "3/min"}})
		setupLists(t, in)
		for i := range 3 {
			if a := signup(in, fmt.Sprintf("r%d@example.com", i), "", i%2 == 0); a.status != 200 {
				t.Fatalf("signup %d: %d: %s", i+1, a.status, a.body)
			}
		}
		a := signup(in, "r4@example.com", "", true)
		want429("4th signup (JSON)", a)
		if code, _ := badEnvelope(t, "4th signup", a); code != "rate_limited" {
			t.Fatalf("4th signup: code %q", code)
		}
		a = signup(in, "r5@example.com", "", false)
		want429("5th signup (form)", a)
		if !strings.Contains(a.body, "Too many signups") {
			t.Fatalf("the 429 page does not say why: %s", a.body)
		}
		// X-Forwarded-For from a peer that is not a trusted proxy is ignored.
		want429("untrusted X-Forwarded-For", signup(in, "r6@example.com", "198.51.100.7", false))
		want429("untrusted X-Forwarded-For chain", signup(in, "r7@example.com", "198.51.100.8, 203.0.113.9", true))
		// The signups refused were not recorded.
		var page struct {
			Total int `json:"total"`
		}
		in.MustAPI(t, 200, "GET", "/subscribers?email=r4%40example.com", nil, &page)
		if page.Total != 0 {
			t.Fatalf("a rate-limited signup was recorded")
		}
	})

	t.Run("behind a trusted proxy", func(t *testing.T) {
		in := apptest.Start(t, apptest.Options{Args: []string{"--signup-limit", "3/min", "--trusted-proxies", "127.0.0.1/32"}})
		setupLists(t, in)
		const a, b = "198.51.100.1", "198.51.100.2"
		for i := range 3 {
			if r := signup(in, fmt.Sprintf("a%d@example.com", i), a, false); r.status != 200 {
				t.Fatalf("signup %d from %s: %d", i+1, a, r.status)
			}
		}
		want429("4th signup from "+a, signup(in, "a4@example.com", a, false))
		// Another reader behind the same proxy has a budget of their own.
		if r := signup(in, "b1@example.com", b, true); r.status != 200 {
			t.Fatalf("first signup from %s: %d: %s", b, r.status, r.body)
		}
		// The rightmost address the proxy added counts, not what the client
		// wrote in front of it.
		want429("spoofed X-Forwarded-For", signup(in, "a5@example.com", "203.0.113.50, "+a, false))
		// Trusted hops (here the proxy itself) are skipped.
		want429("through two proxies", signup(in, "a6@example.com", a+", 127.0.0.1", false))
		// The proxy's own requests are its own client.
		if r := signup(in, "p1@example.com", "", false); r.status != 200 {
			t.Fatalf("signup from the proxy itself: %d", r.status)
		}
		// Garbage in X-Forwarded-For falls back to the proxy.
		if r := signup(in, "g1@example.com", "not-an-ip", false); r.status != 200 && r.status != 429 {
			t.Fatalf("signup with a garbage X-Forwarded-For: %d", r.status)
		}
	})
}
