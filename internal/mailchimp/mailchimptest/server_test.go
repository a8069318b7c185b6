package mailchimptest

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// call sends a raw request and decodes the JSON answer.
func call(t *testing.T, s *Server, method, path, key, body string) (int, http.Header, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.SetBasicAuth("anyone", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var doc map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatalf("%s %s: answer is not JSON: %q", method, path, raw)
		}
	}
	return resp.StatusCode, resp.Header, doc
}

func TestServerChecks(t *testing.T) {
	s := NewServer(t)
	s.AddList("l1", "List")
	s.AddInterest("l1", "c1", "Cat", "i1", "Interest")
	s.PutMember("l1", Member{EmailAddress: "old@herald.test", Status: "subscribed"})
	key := s.APIKey()
	h := Hash("a@herald.test")
	member := "/lists/l1/members/" + h
	for _, tc := range []struct {
		name, method, path, key, body string
		status                        int
		title                         string
	}{
		{"no key", "GET", "/ping", "", "", 401, "API Key Missing"},
		{"wrong key", "GET", "/ping", "nope-us6", "", 401, "API Key Invalid"},
		{"ping", "GET", "/ping", key, "", 200, ""},
		{"unknown path", "GET", "/nothing", key, "", 404, "Resource Not Found"},
		{"wrong method", "DELETE", "/ping", key, "", 405, "Method Not Allowed"},
		{"unknown list", "GET", "/lists/zz", key, "", 404, "Resource Not Found"},
		{"bad JSON", "PUT", member, key, `{"email_address":`, 400, "JSON Parse Error"},
		{"empty body", "PUT", member, key, ``, 400, "JSON Parse Error"},
		{"unknown field", "PUT", member, key, `{"email_address":"a@herald.test","status_if_new":"subscribed","merge_field":{}}`, 400, "Invalid Resource"},
		{"wrong type", "PUT", member, key, `{"email_address":"a@herald.test","status_if_new":true}`, 400, "Invalid Resource"},
		{"no email", "PUT", member, key, `{"status_if_new":"subscribed"}`, 400, "Invalid Resource"},
		{"bad email", "PUT", "/lists/l1/members/" + Hash("a@"), key, `{"email_address":"a@","status_if_new":"subscribed"}`, 400, "Invalid Resource"},
		{"hash mismatch", "PUT", member, key, `{"email_address":"b@herald.test","status_if_new":"subscribed"}`, 400, "Invalid Resource"},
		{"email instead of hash", "PUT", "/lists/l1/members/a@herald.test", key, `{"email_address":"a@herald.test","status_if_new":"subscribed"}`, 400, "Invalid Resource"},
		{"bad status", "PUT", member, key, `{"email_address":"a@herald.test","status_if_new":"active"}`, 400, "Invalid Resource"},
		{"no status for new member", "PUT", member, key, `{"email_address":"a@herald.test","status":"subscribed"}`, 400, "Invalid Resource"},
		{"unknown interest", "PUT", member, key, `{"email_address":"a@herald.test","status_if_new":"subscribed","interests":{"i9":true}}`, 400, "Invalid Resource"},
		{"bad IP", "PUT", member, key, `{"email_address":"a@herald.test","status_if_new":"subscribed","ip_opt":"1.2.3"}`, 400, "Invalid Resource"},
		{"bad timestamp", "PUT", member, key, `{"email_address":"a@herald.test","status_if_new":"subscribed","timestamp_opt":"yesterday"}`, 400, "Invalid Resource"},
		{"good PUT", "PUT", member, key, `{"email_address":"a@herald.test","status_if_new":"subscribed","interests":{"i1":true},"ip_opt":"::1","timestamp_opt":"2024-01-02 03:04:05","merge_fields":{"FNAME":"A"}}`, 200, ""},
		{"status only for existing member", "PUT", member, key, `{"email_address":"a@herald.test","status":"unsubscribed"}`, 200, ""},
		{"PATCH unknown member", "PATCH", "/lists/l1/members/" + Hash("x@herald.test"), key, `{"status":"unsubscribed"}`, 404, "Resource Not Found"},
		{"PATCH status_if_new", "PATCH", member, key, `{"status_if_new":"subscribed"}`, 400, "Invalid Resource"},
		{"batch over 500", "POST", "/lists/l1", key, `{"members":[` + strings.TrimSuffix(strings.Repeat(`{"email_address":"a@herald.test","status":"subscribed"},`, 501), ",") + `]}`, 400, "Invalid Resource"},
		{"batch without members", "POST", "/lists/l1", key, `{}`, 400, "Invalid Resource"},
		{"delete-permanent unknown", "POST", "/lists/l1/members/" + Hash("x@herald.test") + "/actions/delete-permanent", key, "", 404, "Resource Not Found"},
		{"interest in other category", "GET", "/lists/l1/interest-categories/c2/interests/i1", key, "", 404, "Resource Not Found"},
		{"categories count too large", "GET", "/lists/l1/interest-categories?count=1001", key, "", 400, "Invalid Resource"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, hdr, doc := call(t, s, tc.method, tc.path, tc.key, tc.body)
			if status != tc.status {
				t.Fatalf("status %d, want %d (%v)", status, tc.status, doc)
			}
			if tc.title == "" {
				return
			}
			if doc["title"] != tc.title || doc["status"] != float64(tc.status) || doc["detail"] == "" || doc["type"] == "" || doc["instance"] == "" {
				t.Errorf("problem document %v, want title %q", doc, tc.title)
			}
			if ct := hdr.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
				t.Errorf("Content-Type %q", ct)
			}
			if status == 405 && hdr.Get("Allow") != "GET" {
				t.Errorf("Allow %q", hdr.Get("Allow"))
			}
		})
	}
	if m, _ := s.Member("l1", "a@herald.test"); m.Status != "unsubscribed" || !m.Interests["i1"] || m.MergeFields["FNAME"] != "A" {
		t.Errorf("member = %+v", m)
	}
	if got := s.Count("", "/ping"); got != 4 {
		t.Errorf("Count(/ping) = %d, want 4 (bad keys are recorded too)", got)
	}
}

func TestServerBatch(t *testing.T) {
	s := NewServer(t)
	s.AddList("l1", "List")
	s.PutMember("l1", Member{EmailAddress: "old@herald.test", Status: "subscribed"})
	s.SetComplianceState("gone@herald.test")
	body := `{"members":[
		{"email_address":"new@herald.test","status":"subscribed"},
		{"email_address":"old@herald.test","status":"subscribed"},
		{"email_address":"gone@herald.test","status":"subscribed"},
		{"email_address":"gone@herald.test","status":"pending"},
		{"email_address":"bad@","status":"subscribed"},
		{"email_address":"x@herald.test","status":"active"},
		{"email_address":"y@herald.test","status_if_new":"subscribed"}
	],"update_existing":false}`
	status, _, doc := call(t, s, "POST", "/lists/l1", s.APIKey(), body)
	if status != 200 {
		t.Fatalf("status %d: %v", status, doc)
	}
	if doc["total_created"] != 1.0 || doc["total_updated"] != 0.0 || doc["error_count"] != 6.0 {
		t.Fatalf("answer %v", doc)
	}
	codes := map[string]string{}
	for _, e := range doc["errors"].([]any) {
		e := e.(map[string]any)
		codes[e["email_address"].(string)] += e["error_code"].(string) + ";"
		if e["error"] == "" {
			t.Errorf("error without message: %v", e)
		}
	}
	if codes["old@herald.test"] != "ERROR_CONTACT_EXISTS;" || !strings.Contains(codes["gone@herald.test"], "ERROR_GENERIC") {
		t.Errorf("error codes %v", codes)
	}
}

func TestServerFaults(t *testing.T) {
	s := NewServer(t)
	s.Inject(Fault{Method: "GET", Path: "/ping", Status: 429, RetryAfter: "3", Times: 2})
	s.Inject(Fault{Status: 503})
	for i, want := range []int{429, 429, 503, 200} {
		status, hdr, _ := call(t, s, "GET", "/ping", s.APIKey(), "")
		if status != want {
			t.Errorf("call %d: status %d, want %d", i, status, want)
		}
		if want == 429 && hdr.Get("Retry-After") != "3" {
			t.Errorf("call %d: Retry-After %q", i, hdr.Get("Retry-After"))
		}
	}
	s.Inject(Fault{Delay: 50 * time.Millisecond})
	start := time.Now()
	if status, _, _ := call(t, s, "GET", "/ping", s.APIKey(), ""); status != 200 || time.Since(start) < 50*time.Millisecond {
		t.Errorf("slow answer: status %d after %v", status, time.Since(start))
	}
	if n := len(s.Requests()); n != 5 {
		t.Errorf("%d requests recorded, want 5", n)
	}
}

func TestWebhookForm(t *testing.T) {
	w := SubscribeWebhook("l1", "a@herald.test", "Ann", "", "192.0.2.1")
	w.FiredAt = time.Date(2009, 3, 26, 21, 35, 57, 0, time.UTC)
	w.Groupings = []Grouping{{ID: "1", UniqueID: "u", Name: "Topics", Groups: []string{"A", "B"}}}
	f := w.Form()
	for k, want := range map[string]string{
		"type":                                  "subscribe",
		"fired_at":                              "2009-03-26 21:35:57",
		"data[list_id]":                         "l1",
		"data[email]":                           "a@herald.test",
		"data[merges][FNAME]":                   "Ann",
		"data[merges][LNAME]":                   "",
		"data[ip_opt]":                          "192.0.2.1",
		"data[merges][GROUPINGS][0][groups]":    "A,B",
		"data[merges][GROUPINGS][0][unique_id]": "u",
	} {
		if got := f.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
}
