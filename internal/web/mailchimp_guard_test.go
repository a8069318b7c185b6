package web_test

import (
	"context"
	"github.com/heraldhq/herald/internal/mcsync/mcstore"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/heraldhq/herald/internal/mailchimp/mailchimptest"
)

// The stored Mailchimp key goes only where whoever knows it says: changing
// base_url needs the key again; base_url must be Mailchimp's API unless the
// host is inside HERALD_FETCH_ALLOW; credentials in it are refused and not
// echoed; and calls never reach an internal address that is not allowed.
func TestMailchimpKeyCannotBeRedirected(t *testing.T) {
	var stolen atomic.Int32 // requests that reached the attacker's server
	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			stolen.Add(1)
		}
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"account_id":"x"}`))
	}))
	defer attacker.Close()
	fake := mailchimptest.NewServer(t)
	attackerBase := attacker.URL + "/x"
	put := func(ts *testServer, body string) *httptest.ResponseRecorder {
		t.Helper()
		return ts.do(t, "PUT", "/api/v1/integrations/mailchimp", http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer " + ts.apiKey}}, body)
	}
	testConn := func(ts *testServer) *httptest.ResponseRecorder {
		t.Helper()
		return ts.do(t, "POST", "/api/v1/integrations/mailchimp/test", http.Header{"Authorization": {"Bearer " + ts.apiKey}}, "")
	}

	t.Run("allowed stand-in", func(t *testing.T) {
		ts := newTestServer(t, "--fetch-allow", "127.0.0.1/32")
		if rec := put(ts, `{"api_key":"`+fake.APIKey()+`","base_url":"`+fake.URL()+`"}`); rec.Code != 200 {
			t.Fatalf("connect to the allowed stand-in: %d %s", rec.Code, rec.Body)
		}
		// Only base_url, keeping the stored key: refused, nothing changes.
		rec := put(ts, `{"base_url":"`+attackerBase+`"}`)
		if field, msg := errorMessage(t, rec); rec.Code != 422 || field != "api_key" || !strings.Contains(msg, "api_key") {
			t.Fatalf("base_url change without the key: %d %s", rec.Code, rec.Body)
		}
		c, err := mcstore.New(ts.db).MailchimpConnection(context.Background())
		if err != nil || c.BaseURL != fake.URL() {
			t.Fatalf("stored connection changed: %+v %v", c, err)
		}
		if rec := testConn(ts); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"ok":true`) {
			t.Fatalf("test of the stand-in: %d %s", rec.Code, rec.Body)
		}
		// The same URL again without the key is no change, and fine.
		if rec := put(ts, `{"base_url":"`+fake.URL()+`/"}`); rec.Code != 200 {
			t.Fatalf("unchanged base_url: %d %s", rec.Code, rec.Body)
		}
		// Credentials in the URL: refused, never echoed.
		rec = put(ts, `{"api_key":"k-us6","base_url":"https://admin:hunter2@us6.api.mailchimp.com/3.0"}`)
		if field, _ := errorMessage(t, rec); rec.Code != 422 || field != "base_url" || strings.Contains(rec.Body.String(), "hunter2") {
			t.Fatalf("URL with credentials: %d %s", rec.Code, rec.Body)
		}
		rec = put(ts, `{"api_key":"k-us6","base_url":"http://admin:hunter2@[::1"}`)
		if rec.Code != 422 || strings.Contains(rec.Body.String(), "hunter2") {
			t.Fatalf("malformed URL with credentials: %d %s", rec.Code, rec.Body)
		}
	})

	t.Run("no allowance", func(t *testing.T) {
		ts := newTestServer(t)
		for _, base := range []string{attackerBase, fake.URL(), "http://localhost:1/3.0", "http://169.254.169.254/latest", "http://us6.api.mailchimp.com/3.0", "https://us6.api.mailchimp.com:8443/3.0", "https://us6.api.mailchimp.com.evil.example/3.0"} {
			rec := put(ts, `{"api_key":"`+fake.APIKey()+`","base_url":"`+base+`"}`)
			if field, msg := errorMessage(t, rec); rec.Code != 422 || field != "base_url" || !strings.Contains(msg, "HERALD_FETCH_ALLOW") {
				t.Errorf("%s without allowance: %d %s", base, rec.Code, rec.Body)
			}
		}
		// Mailchimp's own API is accepted.
		if rec := put(ts, `{"api_key":"0123456789abcdef-us6","base_url":"https://us6.api.mailchimp.com/3.0"}`); rec.Code != 200 {
			t.Fatalf("Mailchimp's API: %d %s", rec.Code, rec.Body)
		}
		// A connection stored earlier (before this check) with an internal
		// base URL is not used: the test reports it and sends nothing.
		base := attackerBase
		if _, err := mcstore.New(ts.db).SetMailchimpConnection(context.Background(), nil, &base); err != nil {
			t.Fatal(err)
		}
		if rec := testConn(ts); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"ok":false`) || !strings.Contains(rec.Body.String(), "HERALD_FETCH_ALLOW") {
			t.Fatalf("test of a stored internal base URL: %d %s", rec.Code, rec.Body)
		}
	})
	if n := stolen.Load(); n != 0 {
		t.Fatalf("the key reached the attacker's server %d times", n)
	}
}
