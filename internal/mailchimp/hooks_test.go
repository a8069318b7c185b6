package mailchimp

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

func TestWebhooks(t *testing.T) {
	c, srv := newTestClient(t)
	ctx := context.Background()
	var gets atomic.Int32
	herald := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Path == "/webhooks/mailchimp/s3cret" {
			gets.Add(1)
			return
		}
		http.NotFound(w, r)
	}))
	defer herald.Close()

	hook, err := c.CreateWebhook(ctx, audience, herald.URL+"/webhooks/mailchimp/s3cret")
	if err != nil {
		t.Fatal(err)
	}
	if gets.Load() != 1 {
		t.Errorf("Mailchimp's validator GET reached Herald %d times, want 1", gets.Load())
	}
	if hook.ID == "" || hook.Events != HeraldWebhookEvents || hook.Sources != (WebhookSources{User: true, Admin: true, API: true}) {
		t.Errorf("CreateWebhook = %+v", hook)
	}
	hooks, err := c.ListWebhooks(ctx, audience)
	if err != nil || len(hooks) != 1 || hooks[0] != hook {
		t.Fatalf("ListWebhooks = %+v, %v", hooks, err)
	}

	_, err = c.CreateWebhook(ctx, audience, herald.URL+"/wrong")
	if err == nil || IsRetryable(err) {
		t.Errorf("CreateWebhook with a URL answering 404 = %v, want a refusal", err)
	}
	if _, err := c.CreateWebhook(ctx, audience, "/relative"); err == nil {
		t.Error("relative URL accepted")
	}

	if err := c.DeleteWebhook(ctx, audience, hook.ID); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteWebhook(ctx, audience, hook.ID); !IsNotFound(err) {
		t.Errorf("second DeleteWebhook = %v, want not found", err)
	}
	if n := len(srv.RegisteredWebhooks(audience)); n != 0 {
		t.Errorf("%d webhooks left", n)
	}
}
