package e2e_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/apptest"
)

// TestInternationalisedAddresses: a reader whose address is not ASCII
// (RFC 6531) signs up, confirms and gets the campaign when the relay
// offers SMTPUTF8; when it does not, that recipient fails at once — no
// retries — with the reason in the ledger, and the others get theirs.
func TestInternationalisedAddresses(t *testing.T) {
	const intl = "jürgen@bücher.example"
	for _, offered := range []bool{true, false} {
		t.Run(fmt.Sprintf("smtputf8=%v", offered), func(t *testing.T) {
			smtpSrv := apptest.StartSMTP(t)
			if offered {
				smtpSrv = apptest.StartSMTPUTF8(t)
			}
			in := apptest.Start(t, apptest.Options{Args: []string{"--smtp-url", smtpSrv.URL(), "--from", "The Daily Planet <news@planet.example>",
				"--send-retry-backoff", "100ms"}})
			in.MustAPI(t, 201, "POST", "/lists", map[string]any{"slug": "daily", "name": "The Daily Briefing"}, nil)
			code, _ := postForm(t, in.URL+"/subscribe", url.Values{"email": {intl}, "lists": {"daily"}})
			if code != 200 {
				t.Fatalf("signup with %s: %d", intl, code)
			}
			addConfirmed(t, in, "ascii@example.com", "", "daily")
			if offered {
				apptest.Eventually(t, "the confirmation mail", func() bool { return len(smtpSrv.To(intl)) == 1 })
				link := apptest.Link(smtpSrv.To(intl)[0].Text(), "/confirm/")
				if code, _ := postForm(t, link, url.Values{}); code != 200 {
					t.Fatalf("confirm: %d", code)
				}
			} else {
				// The confirmation cannot go out either: confirm through the API.
				s := findSubscriber(t, in, intl)
				in.MustAPI(t, 200, "PATCH", fmt.Sprintf("/subscribers/%d", s.ID), map[string]any{"subscriptions": []map[string]any{{"list": "daily", "status": "confirmed"}}}, nil)
			}
			var c campaignView
			in.MustAPI(t, 201, "POST", "/campaigns", map[string]any{"name": "Intl", "subject": "Grüße", "lists": []string{"daily"}, "body": "Hallo {{.Reader.Email}}\n"}, &c)
			in.MustAPI(t, 200, "POST", fmt.Sprintf("/campaigns/%d/start", c.ID), nil, &c)
			c = waitCampaign(t, in, c.ID, "finished", 30*time.Second)
			got := countPerRecipient(smtpSrv)
			if got["ascii@example.com"] != 1 {
				t.Errorf("the ASCII reader got %d", got["ascii@example.com"])
			}
			if offered {
				if c.Stats.Sent != 2 || got[intl] != 1 {
					t.Fatalf("stats %+v, %s got %d", c.Stats, intl, got[intl])
				}
				var msg apptest.Message
				for _, m := range smtpSrv.To(intl) {
					if m.Header("Subject") == "Grüße" {
						msg = m
					}
				}
				if !strings.Contains(string(msg.Raw), "To: "+intl) && !strings.Contains(string(msg.Raw), "<"+intl+">") {
					t.Errorf("To header of the campaign message:\n%s", msg.Raw)
				}
				return
			}
			if c.Stats.Sent != 1 || c.Stats.Failed != 1 || got[intl] != 0 {
				t.Fatalf("stats %+v, %s got %d", c.Stats, intl, got[intl])
			}
			var ds struct {
				Data []struct {
					Status    string
					LastReply string `json:"last_reply"`
					Attempts  int
				}
			}
			in.MustAPI(t, 200, "GET", fmt.Sprintf("/campaigns/%d/deliveries?status=failed", c.ID), nil, &ds)
			if len(ds.Data) != 1 || ds.Data[0].Attempts != 1 || !strings.Contains(ds.Data[0].LastReply, "does not offer SMTPUTF8") {
				t.Fatalf("failed deliveries %+v", ds.Data)
			}
		})
	}
}
