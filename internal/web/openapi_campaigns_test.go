package web_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/apptest"
)

// campaignsConformance exercises the campaign routes for TestOpenAPIServer:
// every documented answer, validated against the document. The instance
// has no SMTP server, so campaigns go to the outbox.
func campaignsConformance(t *testing.T, c *checker) {
	t.Helper()
	do := func(method, tmpl, path string, body any, want int) any {
		t.Helper()
		return c.do(request{method: method, tmpl: tmpl, path: path, body: body}, want)
	}
	fail := func(method, tmpl, path string, body any, want int, field string) {
		t.Helper()
		c.fail(request{method: method, tmpl: tmpl, path: path, body: body}, want, field)
	}

	do("POST", "/lists", "/lists", map[string]any{"slug": "planet-news", "name": "Planet News", "optin": "single"}, 201)
	for _, e := range []string{"cora@example.com", "dan@example.com"} {
		do("POST", "/subscribers", "/subscribers", map[string]any{"email": e, "name": "Reader " + e[:4], "lists": []string{"planet-news"}, "status": "confirmed"}, 201)
	}
	cora := get(do("GET", "/subscribers", "/subscribers?email=cora@example.com", nil, 200), "data", "0")

	issue := do("POST", "/campaigns", "/campaigns", map[string]any{"name": "Issue 1", "subject": "Hello, planet", "lists": []string{"planet-news"},
		"from": "Planet News <news@planet.example>", "format": "markdown", "body": "# Hi {{.Reader.FirstName | default \"there\"}}\n\nToday's news."}, 201)
	cid := id(issue)
	if get(issue, "status") != "draft" || get(issue, "stats", "recipients") != json.Number("0") {
		t.Errorf("new campaign: %v", issue)
	}
	noLists := do("POST", "/campaigns", "/campaigns", map[string]any{"name": "No lists yet", "subject": "Hm", "body": "x"}, 201)
	c.fail(request{method: "POST", tmpl: "/campaigns", path: "/campaigns", raw: []byte(`{"name": "Bad", "format": "pdf"}`), ctype: "application/json"}, 422, "format")
	fail("POST", "/campaigns", "/campaigns", map[string]any{"name": "Bad", "subject": "Line\r\nBcc: x@example.com"}, 422, "subject")
	fail("POST", "/campaigns", "/campaigns", map[string]any{"name": "Bad", "lists": "no-such-list"}, 422, "lists")
	c.fail(request{method: "POST", tmpl: "/campaigns", path: "/campaigns", raw: []byte(`{"name": "Bad", "send_at": 5}`), ctype: "application/json"}, 400, "send_at")

	do("GET", "/campaigns", "/campaigns", nil, 200)
	do("GET", "/campaigns", "/campaigns?status=draft&limit=1", nil, 200)
	fail("GET", "/campaigns", "/campaigns?status=sent", nil, 400, "status")
	do("GET", "/campaigns/{id}", "/campaigns/"+cid, nil, 200)
	do("PATCH", "/campaigns/{id}", "/campaigns/"+cid, map[string]any{"subject": "Hello, planet!", "reply_to": "desk@planet.example"}, 200)
	fail("PATCH", "/campaigns/{id}", "/campaigns/"+cid, map[string]any{"from": "news@planet.example\r\nBcc: x@example.com"}, 422, "from")

	// Preview: for a sample reader, for a subscriber; not for a campaign
	// that cannot be sent.
	pv := do("GET", "/campaigns/{id}/preview", "/campaigns/"+cid+"/preview", nil, 200)
	if !strings.Contains(str(get(pv, "text")), "1 Planet Square") || !strings.Contains(str(get(pv, "html")), "/test-link/") { // a sample reader gets test links
		t.Errorf("preview: %v", pv)
	}
	pv = do("GET", "/campaigns/{id}/preview", "/campaigns/"+cid+"/preview?subscriber="+id(cora), nil, 200)
	if !strings.Contains(str(get(pv, "html")), "Hi Reader") || !strings.Contains(str(get(pv, "to")), "cora@example.com") {
		t.Errorf("preview for cora: %v", pv)
	}
	fail("GET", "/campaigns/{id}/preview", "/campaigns/"+cid+"/preview?subscriber=cora", nil, 400, "subscriber")
	fail("GET", "/campaigns/{id}/preview", "/campaigns/"+id(noLists)+"/preview", nil, 422, "lists")

	// Test messages: queued jobs, delivered to the outbox.
	do("POST", "/campaigns/{id}/test", "/campaigns/"+cid+"/test", map[string]any{"emails": []string{"editor@example.com"}}, 202)
	fail("POST", "/campaigns/{id}/test", "/campaigns/"+cid+"/test", map[string]any{"emails": []string{}}, 422, "emails")
	apptest.Eventually(t, "the test message in the outbox", func() bool {
		var p struct{ Total int }
		c.in.API(t, "GET", "/outbox?to=editor@example.com", nil, &p)
		return p.Total == 1
	})

	// Start, refuse to start twice, to change or delete while running.
	fail("POST", "/campaigns/{id}/start", "/campaigns/"+id(noLists)+"/start", nil, 422, "lists")
	started := do("POST", "/campaigns/{id}/start", "/campaigns/"+cid+"/start", nil, 200)
	if get(started, "stats", "recipients") != json.Number("2") || get(started, "started_at") == nil {
		t.Errorf("started: %v", started)
	}
	fail("POST", "/campaigns/{id}/start", "/campaigns/"+cid+"/start", nil, 409, "")
	fail("DELETE", "/campaigns/{id}", "/campaigns/"+cid, nil, 409, "")
	fail("PATCH", "/campaigns/{id}", "/campaigns/"+cid, map[string]any{"body": "changed"}, 409, "")
	apptest.Eventually(t, "the campaign to finish", func() bool {
		var cur struct{ Status string }
		c.in.API(t, "GET", "/campaigns/"+cid, nil, &cur)
		return cur.Status == "finished"
	})
	fin := do("GET", "/campaigns/{id}", "/campaigns/"+cid, nil, 200)
	if get(fin, "stats", "sent") != json.Number("2") || get(fin, "stats", "pending") != json.Number("0") {
		t.Errorf("finished: %v", fin)
	}
	fail("POST", "/campaigns/{id}/pause", "/campaigns/"+cid+"/pause", nil, 409, "")
	fail("POST", "/campaigns/{id}/resume", "/campaigns/"+cid+"/resume", nil, 409, "")
	fail("POST", "/campaigns/{id}/cancel", "/campaigns/"+cid+"/cancel", nil, 409, "")
	if v := do("POST", "/campaigns/{id}/resend-failed", "/campaigns/"+cid+"/resend-failed", nil, 200); get(v, "queued") != json.Number("0") {
		t.Errorf("resend-failed: %v", v)
	}
	fail("POST", "/campaigns/{id}/resend-failed", "/campaigns/"+id(noLists)+"/resend-failed", nil, 409, "")
	ds := do("GET", "/campaigns/{id}/deliveries", "/campaigns/"+cid+"/deliveries", nil, 200)
	if get(ds, "data", "0", "status") != "sent" || get(ds, "next_after") != nil {
		t.Errorf("deliveries: %v", ds)
	}
	do("GET", "/campaigns/{id}/deliveries", "/campaigns/"+cid+"/deliveries?status=failed&after=1&limit=10", nil, 200)
	fail("GET", "/campaigns/{id}/deliveries", "/campaigns/"+cid+"/deliveries?status=lost", nil, 400, "status")
	apptest.Eventually(t, "the campaign in cora's outbox", func() bool {
		var p struct{ Total int }
		c.in.API(t, "GET", "/outbox?to=cora@example.com", nil, &p)
		return p.Total == 1
	})

	// A scheduled campaign: paused it cannot be, running it is not yet;
	// cancelled, then deleted.
	later := do("POST", "/campaigns", "/campaigns", map[string]any{"name": "Next week", "subject": "Soon", "lists": "planet-news",
		"body": "Soon.", "send_at": time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)}, 201)
	if v := do("POST", "/campaigns/{id}/start", "/campaigns/"+id(later)+"/start", nil, 200); get(v, "status") != "scheduled" {
		t.Errorf("scheduled: %v", v)
	}
	fail("POST", "/campaigns/{id}/pause", "/campaigns/"+id(later)+"/pause", nil, 409, "")
	do("PATCH", "/campaigns/{id}", "/campaigns/"+id(later), map[string]any{"send_at": time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339)}, 200)
	do("POST", "/campaigns/{id}/cancel", "/campaigns/"+id(later)+"/cancel", nil, 200)
	do("DELETE", "/campaigns/{id}", "/campaigns/"+id(later), nil, 204)

	// Pause, resume and cancel a campaign that is certain to be running:
	// 3000 readers take the sender far longer than the next request.
	do("POST", "/lists", "/lists", map[string]any{"slug": "planet-crowd", "name": "The crowd", "optin": "single"}, 201)
	if err := c.in.App.DB.SeedSubscribers(context.Background(), "planet-crowd", 3000, "crowd"); err != nil {
		t.Fatal(err)
	}
	crowd := do("POST", "/campaigns", "/campaigns", map[string]any{"name": "To the crowd", "subject": "Hello all", "lists": "planet-crowd", "body": "Hello."}, 201)
	do("POST", "/campaigns/{id}/start", "/campaigns/"+id(crowd)+"/start", nil, 200)
	if v := do("POST", "/campaigns/{id}/pause", "/campaigns/"+id(crowd)+"/pause", nil, 200); get(v, "status") != "paused" {
		t.Errorf("paused: %v", v)
	}
	fail("PATCH", "/campaigns/{id}", "/campaigns/"+id(crowd), map[string]any{"lists": []string{"planet-news"}}, 409, "lists")
	do("PATCH", "/campaigns/{id}", "/campaigns/"+id(crowd), map[string]any{"subject": "Hello, all"}, 200)
	do("POST", "/campaigns/{id}/resume", "/campaigns/"+id(crowd)+"/resume", nil, 200)
	if v := do("POST", "/campaigns/{id}/cancel", "/campaigns/"+id(crowd)+"/cancel", nil, 200); get(v, "status") != "cancelled" {
		t.Errorf("cancelled: %v", v)
	}
	fail("POST", "/campaigns/{id}/resend-failed", "/campaigns/"+id(crowd)+"/resend-failed", nil, 409, "")
}
