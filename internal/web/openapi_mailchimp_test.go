package web_test

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"mime/multipart"
	"strconv"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/mailchimp/mailchimptest"
)

// mailchimpConformance exercises the Mailchimp routes for TestOpenAPIServer
// against the fake Mailchimp: every documented answer, validated against
// the document.
func mailchimpConformance(t *testing.T, c *checker) {
	t.Helper()
	fake := mailchimptest.NewServer(t)
	fake.AddList("aud1", "The Planet's audience")
	fake.AddInterest("aud1", "cat1", "Topics", "int1", "Sport")
	do := func(method, tmpl, path string, body any, want int) any {
		t.Helper()
		return c.do(request{method: method, tmpl: tmpl, path: path, body: body}, want)
	}
	fail := func(method, tmpl, path string, body any, want int, field string) {
		t.Helper()
		c.fail(request{method: method, tmpl: tmpl, path: path, body: body}, want, field)
	}

	fail("GET", "/integrations/mailchimp", "/integrations/mailchimp", nil, 404, "")
	fail("POST", "/integrations/mailchimp/test", "/integrations/mailchimp/test", nil, 404, "")
	fail("DELETE", "/integrations/mailchimp", "/integrations/mailchimp", nil, 404, "")
	do("POST", "/lists", "/lists", map[string]any{"slug": "planet-mc", "name": "The Planet, by Mailchimp"}, 201)
	fail("PUT", "/lists/{id}/mailchimp", "/lists/planet-mc/mailchimp", map[string]any{"audience_id": "aud1"}, 409, "")
	fail("PUT", "/integrations/mailchimp", "/integrations/mailchimp", map[string]any{"api_key": "no-data-centre"}, 422, "api_key")

	conn := do("PUT", "/integrations/mailchimp", "/integrations/mailchimp", map[string]any{"api_key": fake.APIKey(), "base_url": fake.URL()}, 200)
	if !strings.Contains(str(get(conn, "webhook_url")), "/webhooks/mailchimp/") || strings.Contains(str(get(conn, "api_key_hint")), fake.APIKey()[:20]) {
		t.Errorf("connection: %v", conn)
	}
	do("GET", "/integrations/mailchimp", "/integrations/mailchimp", nil, 200)
	if res := do("POST", "/integrations/mailchimp/test", "/integrations/mailchimp/test", nil, 200); get(res, "ok") != true {
		t.Errorf("test of a good connection: %v", res)
	}
	fail("PUT", "/lists/{id}/mailchimp", "/lists/planet-mc/mailchimp", map[string]any{"audience_id": "nope"}, 422, "audience_id")
	fail("PUT", "/lists/{id}/mailchimp", "/lists/planet-mc/mailchimp", map[string]any{"audience_id": "aud1", "interest_id": "int9"}, 422, "interest_id")
	link := do("PUT", "/lists/{id}/mailchimp", "/lists/planet-mc/mailchimp", map[string]any{"audience_id": "aud1"}, 200)
	if !strings.Contains(str(get(link, "disclosure", "text")), "Mailchimp") || get(link, "delivery") != "mailchimp" {
		t.Errorf("link: %v", link)
	}
	do("GET", "/lists/{id}/mailchimp", "/lists/planet-mc/mailchimp", nil, 200)
	do("POST", "/lists/{id}/mailchimp/sync", "/lists/planet-mc/mailchimp/sync", nil, 202)

	// Mailchimp unreachable: 502, and nothing changes.
	fail("PUT", "/integrations/mailchimp", "/integrations/mailchimp", map[string]any{"base_url": "http://127.0.0.1:1/3.0"}, 422, "api_key")
	do("PUT", "/integrations/mailchimp", "/integrations/mailchimp", map[string]any{"api_key": fake.APIKey(), "base_url": "http://127.0.0.1:1/3.0"}, 200)
	if v := c.do(request{method: "PUT", tmpl: "/lists/{id}/mailchimp", path: "/lists/planet-mc/mailchimp", body: map[string]any{"audience_id": "aud1", "delivery": "herald"}}, 502); get(v, "error", "code") != "mailchimp_unreachable" {
		t.Errorf("unreachable: %v", v)
	}
	do("PUT", "/integrations/mailchimp", "/integrations/mailchimp", map[string]any{"api_key": fake.APIKey(), "base_url": fake.URL()}, 200)

	// Import.
	imp := func(raw []byte, ctype string, want int) any {
		t.Helper()
		return c.do(request{method: "POST", tmpl: "/lists/{id}/import/mailchimp", path: "/lists/planet-mc/import/mailchimp", raw: raw, ctype: ctype}, want)
	}
	upload := func(files map[string]string, fields ...string) ([]byte, string) {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		for name, content := range files {
			w, _ := mw.CreateFormFile("file", name)
			w.Write([]byte(content))
		}
		for i := 0; i+1 < len(fields); i += 2 {
			mw.WriteField(fields[i], fields[i+1])
		}
		mw.Close()
		return b.Bytes(), mw.FormDataContentType()
	}
	csv := "Email Address,First Name,Last Name,Interests,OPTIN_TIME,OPTIN_IP,CONFIRM_TIME,CONFIRM_IP\n" +
		"ola@example.com,Ola,Nordmann,Sport,2024-01-02 03:04:05,192.0.2.7,2024-01-02 03:10:00,192.0.2.8\n" +
		"not an address,Bad,Row,,,,,\n"
	body, ct := upload(map[string]string{"subscribed_members_export_x.csv": csv}, "group", "Interests=Sport:sport")
	res := imp(body, ct, 200)
	if get(res, "added") != jsonNumber(1) || get(res, "skipped") != jsonNumber(1) || get(res, "notices", "0", "line") != jsonNumber(3) {
		t.Errorf("import: %v", res)
	}
	// Export: the zip holds what was imported, in the same columns, and
	// imports again without a change.
	zipped, _ := c.do(request{method: "GET", tmpl: "/lists/{id}/export/mailchimp", path: "/lists/planet-mc/export/mailchimp"}, 200).([]byte)
	zr, err := zip.NewReader(bytes.NewReader(zipped), int64(len(zipped)))
	if err != nil {
		t.Fatalf("export zip: %v", err)
	}
	if len(zr.File) != 3 || zr.File[0].Name != "subscribed_members_export_planet-mc.csv" {
		t.Fatalf("export files: %v", zr.File)
	}
	one, _ := c.do(request{method: "GET", tmpl: "/lists/{id}/export/mailchimp", path: "/lists/planet-mc/export/mailchimp?file=subscribed"}, 200).([]byte)
	lines := strings.Split(strings.TrimSpace(string(one)), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "Email Address,First Name,Last Name") ||
		!strings.Contains(lines[1], "ola@example.com,Ola,Nordmann") || !strings.Contains(lines[1], "2024-01-02 03:04:05,192.0.2.7,2024-01-02 03:10:00,192.0.2.8") {
		t.Errorf("exported CSV:\n%s", one)
	}
	body, ct = upload(map[string]string{"subscribed_members_export_planet-mc.csv": string(one)})
	if res := imp(body, ct, 200); get(res, "added") != jsonNumber(0) || get(res, "updated") != jsonNumber(0) || get(res, "skipped") != jsonNumber(0) {
		t.Errorf("re-import of the export: %v", res)
	}
	c.fail(request{method: "GET", tmpl: "/lists/{id}/export/mailchimp", path: "/lists/planet-mc/export/mailchimp?file=pending"}, 400, "file")
	c.fail(request{method: "GET", tmpl: "/lists/{id}/export/mailchimp", path: "/lists/nope/export/mailchimp"}, 404, "")

	c.fail(request{method: "POST", tmpl: "/lists/{id}/import/mailchimp", path: "/lists/planet-mc/import/mailchimp", raw: []byte(`{}`), ctype: "application/json"}, 415, "")
	c.fail(request{method: "POST", tmpl: "/lists/{id}/import/mailchimp", path: "/lists/planet-mc/import/mailchimp", raw: []byte("no parts here"), ctype: "multipart/form-data; boundary=zzz"}, 400, "")
	body, ct = upload(nil, "group", "Interests=Sport:sport")
	c.fail(request{method: "POST", tmpl: "/lists/{id}/import/mailchimp", path: "/lists/planet-mc/import/mailchimp", raw: body, ctype: ct}, 422, "file")
	body, ct = upload(map[string]string{"x.csv": strings.Repeat(csv, 20)})
	limit := c.in.App.Web.Mailchimp.MaxUpload
	c.in.App.Web.Mailchimp.MaxUpload = 512
	c.fail(request{method: "POST", tmpl: "/lists/{id}/import/mailchimp", path: "/lists/planet-mc/import/mailchimp", raw: body, ctype: ct}, 413, "")
	c.in.App.Web.Mailchimp.MaxUpload = limit

	fail("DELETE", "/integrations/mailchimp", "/integrations/mailchimp", nil, 409, "")
	do("DELETE", "/lists/{id}/mailchimp", "/lists/planet-mc/mailchimp", nil, 204)
	do("DELETE", "/integrations/mailchimp", "/integrations/mailchimp", nil, 204)
}

func jsonNumber(n int) any { return json.Number(strconv.Itoa(n)) }
