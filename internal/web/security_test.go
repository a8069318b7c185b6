package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/sqlstore"
	"github.com/heraldhq/herald/internal/sqlstore/storetest"
	"github.com/heraldhq/herald/internal/token"
	"github.com/heraldhq/herald/internal/web"
)

// testServer is a server on a fresh SQLite file with one public list,
// "daily", and an API token; args are extra configuration flags.
type testServer struct {
	srv    *web.Server
	db     *sqlstore.DB
	tokens *token.Signer
	apiKey string
}

func newTestServer(t *testing.T, args ...string) *testServer {
	t.Helper()
	dbURL := "sqlite:" + filepath.Join(t.TempDir(), "herald.db")
	db := storetest.Open(t, dbURL)
	cfg, _, err := config.Load("serve", append([]string{
		"--database-url", dbURL, "--signup-limit", "0", "--base-url", "https://news.example.com",
		"--publisher-name", "The Daily Planet", "--confirm-window", "0s",
	}, args...), nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{db: db, tokens: token.NewSigner([]byte(fuzzSecret))}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ts.srv = web.New(db, cfg, ts.tokens, log, services(db, cfg, log))
	if err := db.CreateList(context.Background(), &herald.List{Slug: "daily", Name: "The Daily Briefing"}); err != nil {
		t.Fatal(err)
	}
	if ts.apiKey, err = db.CreateAPIToken(context.Background(), "test"); err != nil {
		t.Fatal(err)
	}
	return ts
}

func (ts *testServer) do(t *testing.T, method, target string, hdr http.Header, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	rec := httptest.NewRecorder()
	ts.srv.ServeHTTP(rec, req)
	return rec
}

func errorMessage(t *testing.T, rec *httptest.ResponseRecorder) (field, msg string) {
	t.Helper()
	var doc struct {
		Error struct{ Code, Message, Field string }
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatalf("status %d: not JSON: %s", rec.Code, rec.Body)
	}
	return doc.Error.Field, doc.Error.Message
}

// A JSON body of the wrong shape is described in JSON's terms: neither the
// public signup nor the API names a Go type.
func TestJSONErrorsNameNoGoTypes(t *testing.T) {
	ts := newTestServer(t)
	js := http.Header{"Content-Type": {"application/json"}}
	api := http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer " + ts.apiKey}}
	for _, c := range []struct {
		name, method, path string
		hdr                http.Header
		body               string
		field, msg         string
	}{
		{"array to /subscribe", "POST", "/subscribe", js, `[]`, "", "The request body must be a JSON object."},
		{"string to /subscribe", "POST", "/subscribe", js, `"x"`, "", "The request body must be a JSON object."},
		{"number to /subscribe", "POST", "/subscribe", js, `7`, "", "The request body must be a JSON object."},
		{"array email", "POST", "/subscribe", js, `{"email":["a@example.com"],"lists":["daily"]}`, "email", `Field "email" must be a string, not an array.`},
		{"string version", "POST", "/subscribe", js, `{"email":"a@example.com","disclosure_version":"1"}`, "disclosure_version", `Field "disclosure_version" must be a whole number within range, not a string.`},
		{"array to the API", "POST", "/api/v1/lists", api, `[]`, "", "The request body must be a JSON object."},
		{"string to the API", "POST", "/api/v1/subscribers", api, `"x"`, "", "The request body must be a JSON object."},
		{"object attributes", "POST", "/api/v1/subscribers", api, `{"email":"b@example.com","attributes":[1]}`, "attributes", `Field "attributes" must be an object, not an array.`},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := ts.do(t, c.method, c.path, c.hdr, c.body)
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", rec.Code, rec.Body)
			}
			field, msg := errorMessage(t, rec)
			if msg != c.msg || field != c.field {
				t.Fatalf("error (field %q) %q, want (field %q) %q", field, msg, c.field, c.msg)
			}
			checkNoGoTypes(t, c.name, rec.Body.String())
		})
	}
}

// With HERALD_CORS_ORIGINS set, a browser post from a page of another site
// is refused before anything is written, as a form as well as JSON; the
// hosted page (Herald's own origin), listed origins and clients that name
// no origin at all are served.
func TestSubscribeRefusesUnlistedOrigins(t *testing.T) {
	ts := newTestServer(t, "--cors-origins", "https://blog.example.org,http://localhost:3000")
	form := "lists=daily"
	formCT := "application/x-www-form-urlencoded"
	for i, c := range []struct {
		name, ctype, body, origin, referer string
		want                               int
	}{
		{"form from an unlisted origin", formCT, form, "https://evil.example", "", 403},
		{"JSON from an unlisted origin", "application/json", `{"lists":["daily"]}`, "https://evil.example", "", 403},
		{"form with an unlisted Referer only", formCT, form, "", "https://evil.example/article?x=1", 403},
		{"form from a sandboxed page", formCT, form, "null", "", 403},
		{"lookalike host", formCT, form, "https://blog.example.org.evil.example", "", 403},
		{"other scheme", formCT, form, "http://blog.example.org", "", 403},
		{"form from a listed origin", formCT, form, "https://blog.example.org", "", 200},
		{"listed origin with explicit default port", formCT, form, "https://blog.example.org:443", "", 200},
		{"listed origin with a port", formCT, form, "http://localhost:3000", "", 200},
		{"Referer on a listed origin", formCT, form, "", "https://blog.example.org/2026/story", 200},
		{"the hosted page", formCT, form, "https://news.example.com", "https://news.example.com/subscribe", 200},
		{"no Origin, no Referer", formCT, form, "", "", 200},
	} {
		t.Run(c.name, func(t *testing.T) {
			hdr := http.Header{"Content-Type": {c.ctype}}
			if c.origin != "" {
				hdr.Set("Origin", c.origin)
			}
			if c.referer != "" {
				hdr.Set("Referer", c.referer)
			}
			email := fmt.Sprintf("reader%d@example.com", i)
			body := c.body + "&email=" + url.QueryEscape(email)
			if c.ctype == "application/json" {
				body = strings.Replace(c.body, "{", `{"email":"`+email+`",`, 1)
			}
			rec := ts.do(t, "POST", "/subscribe", hdr, body)
			if rec.Code != c.want {
				t.Fatalf("status %d, want %d: %s", rec.Code, c.want, rec.Body)
			}
			// A refused post wrote nothing; an allowed one signed the reader up.
			_, err := ts.db.SubscriberByEmail(context.Background(), email)
			if got := err == nil; got != (c.want == 200) {
				t.Fatalf("status %d, but the subscriber exists: %v (%v)", rec.Code, got, err)
			}
			if c.want == 403 && c.origin != "" && c.origin != "null" && strings.Contains(rec.Body.String(), c.origin) {
				t.Fatalf("the refusal echoes the origin: %s", rec.Body)
			}
		})
	}
}

// With the default (*), any origin may post.
func TestSubscribeAnyOriginByDefault(t *testing.T) {
	ts := newTestServer(t)
	hdr := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Origin": {"https://anywhere.example"}}
	if rec := ts.do(t, "POST", "/subscribe", hdr, "email=zoe%40example.com&lists=daily"); rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
}
