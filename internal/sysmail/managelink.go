package sysmail

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"net/mail"
	"time"

	"github.com/heraldhq/herald"
	hmail "github.com/heraldhq/herald/internal/mail"
	"github.com/heraldhq/herald/internal/queue"
	"github.com/heraldhq/herald/internal/sqlstore"
	"github.com/heraldhq/herald/internal/token"
)

var manageLinkTmpl = template.Must(template.New("managelink").Parse(`<!doctype html>
<html><body style="margin:0;padding:24px;background:#f4f4f5;font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;color:#18181b">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0"><tr><td align="center">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="max-width:560px;background:#ffffff;border-radius:8px;padding:32px">
<tr><td>
<h1 style="font-size:22px;margin:0 0 16px">Your link to manage your subscriptions</h1>
<p style="font-size:16px;line-height:1.5">Hello{{if .Name}} {{.Name}}{{end}}, here is a fresh link to your newsletter preferences at {{.Publisher}}: choose newsletters, unsubscribe, download or erase your data.</p>
<p style="margin:28px 0"><a href="{{.URL}}" style="background:#1d4ed8;color:#ffffff;text-decoration:none;padding:12px 22px;border-radius:6px;font-size:16px;display:inline-block">Manage my subscriptions</a></p>
<p style="font-size:14px;line-height:1.5;color:#52525b">Or open this link: {{.URL}}</p>
<p style="font-size:14px;line-height:1.5;color:#52525b">The link is valid until {{.Expires}}. Do not forward this email: whoever has the link can change your subscriptions. If you did not ask for it, you can ignore this email.</p>
</td></tr></table></td></tr></table></body></html>`))

// manageLinkMail mails a reader a freshly issued manage link (requested on
// the expired-link page, or after the reader withdrew every link).
func (s *Sender) manageLinkMail(ctx context.Context, job herald.Job) error {
	var p sqlstore.ManageLinkMailJob
	if err := json.Unmarshal(job.Payload, &p); err != nil {
		return queue.Permanent(fmt.Errorf("bad payload: %w", err))
	}
	sub, err := s.DB.GetSubscriber(ctx, p.SubscriberID)
	if herald.ErrorCode(err) == herald.ENOTFOUND {
		return nil // erased since: nothing to send
	} else if err != nil {
		return err
	}
	now := time.Now()
	t := token.ManageLink(sub.ID, now)
	var html bytes.Buffer
	err = manageLinkTmpl.Execute(&html, map[string]any{
		"Name": sub.Name, "Publisher": s.Publisher, "URL": s.BaseURL + "/manage/" + s.Tokens.Make(t),
		"Expires": time.Unix(t.Expires, 0).UTC().Format("2 January 2006"),
	})
	if err != nil {
		return queue.Permanent(err)
	}
	return s.deliver(ctx, hmail.Message{
		From:    s.From,
		To:      []mail.Address{{Name: sub.Name, Address: sub.Email}},
		Subject: "Your link to manage your subscriptions to " + s.Publisher,
		HTML:    html.String(),
		Headers: []hmail.Header{{Name: "Auto-Submitted", Value: "auto-generated"}},
	}, sub.Email)
}
