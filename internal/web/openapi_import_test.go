package web_test

import (
	"bytes"
	"mime/multipart"
	"strings"
	"testing"
)

// importConformance exercises the generic CSV import and the dry runs for
// TestOpenAPIServer (issue 14 item 9): every documented answer, validated
// against the document. It runs after mailchimpConformance, which made the
// list planet-mc.
func importConformance(t *testing.T, c *checker) {
	t.Helper()
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
	imp := func(format, query string, raw []byte, ctype string, want int) any {
		t.Helper()
		return c.do(request{method: "POST", tmpl: "/lists/{id}/import/" + format, path: "/lists/planet-mc/import/" + format + query, raw: raw, ctype: ctype}, want)
	}
	fail := func(format, query string, raw []byte, ctype string, want int, field string) {
		t.Helper()
		c.fail(request{method: "POST", tmpl: "/lists/{id}/import/" + format, path: "/lists/planet-mc/import/" + format + query, raw: raw, ctype: ctype}, want, field)
	}
	plain := "email,name,city\nimp1@example.com,Imp One,Oslo\nnot an address,Bad,\nimp2@example.com,,\n"

	// A plain CSV is not a Mailchimp export, even named like one.
	body, ct := upload(map[string]string{"subscribed_members_export_x.csv": plain})
	fail("mailchimp", "", body, ct, 422, "file")
	if v := c.do(request{method: "POST", tmpl: "/lists/{id}/import/mailchimp", path: "/lists/planet-mc/import/mailchimp", raw: body, ctype: ct}, 422); !strings.Contains(str(get(v, "error", "message")), "import/csv") ||
		strings.Contains(str(get(v, "error", "message")), "herald-import-") {
		t.Errorf("a plain CSV as a Mailchimp export: %v", v)
	}
	// Dry run of the generic format: the mapping and the counts, nothing written.
	body, ct = upload(map[string]string{"people.csv": plain})
	res := imp("csv", "?dry_run=true", body, ct, 200)
	if get(res, "dry_run") != true || get(res, "format") != "csv" || get(res, "would_be", "confirmed") != jsonNumber(2) ||
		get(res, "skipped") != jsonNumber(1) || get(res, "added") != jsonNumber(0) ||
		get(res, "mapping", "0", "file") != "people.csv" || get(res, "mapping", "0", "columns", "2", "use") != `attribute "city"` {
		t.Errorf("dry run: %v", res)
	}
	if v := c.do(request{method: "GET", tmpl: "/subscribers", path: "/subscribers?email=imp1@example.com"}, 200); get(v, "total") != jsonNumber(0) {
		t.Errorf("the dry run wrote: %v", v)
	}
	res = imp("csv", "", body, ct, 200)
	if get(res, "dry_run") != false || get(res, "added") != jsonNumber(2) || get(res, "skipped") != jsonNumber(1) || get(res, "notices", "0", "line") != jsonNumber(3) {
		t.Errorf("import: %v", res)
	}
	// The Mailchimp format's dry run too.
	mc := "Email Address,First Name,Last Name,OPTIN_TIME,OPTIN_IP,CONFIRM_TIME,CONFIRM_IP\nmc@example.com,M,C,2024-01-02 03:04:05,192.0.2.7,,\n"
	body, ct = upload(map[string]string{"cleaned_members_export_x.csv": mc})
	res = imp("mailchimp", "?dry_run=1", body, ct, 200)
	if get(res, "dry_run") != true || get(res, "would_be", "unsubscribed") != jsonNumber(1) || get(res, "would_be", "suppressed") != jsonNumber(1) ||
		get(res, "mapping", "0", "kind") != "cleaned" {
		t.Errorf("Mailchimp dry run: %v", res)
	}
	fail("csv", "?dry_run=maybe", body, ct, 400, "dry_run")

	// A Mailchimp export is refused by the generic format (its evidence would be lost).
	body, ct = upload(map[string]string{"export.csv": mc})
	fail("csv", "", body, ct, 422, "file")
	fail("csv", "", []byte(`{}`), "application/json", 415, "")
	fail("csv", "", []byte("no parts here"), "multipart/form-data; boundary=zzz", 400, "")
	body, ct = upload(nil, "group", "Interests=Sport:sport")
	fail("csv", "", body, ct, 422, "group")
	body, ct = upload(map[string]string{"x.csv": strings.Repeat(plain, 20)})
	limit := c.in.App.Web.Mailchimp.MaxUpload
	c.in.App.Web.Mailchimp.MaxUpload = 512
	fail("csv", "", body, ct, 413, "")
	c.in.App.Web.Mailchimp.MaxUpload = limit
}
