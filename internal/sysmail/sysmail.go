// Package sysmail writes and sends Herald's system mail — the double opt-in
// confirmation, a fresh link to a reader's preferences — as handlers of durable jobs. Mail is never sent inside an
// HTTP request: the request commits a job, and this package sends it, with
// the queue retrying temporary failures.
package sysmail

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
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

// Sender holds what system mail needs.
type Sender struct {
	DB        *sqlstore.DB
	Tokens    *token.Signer
	Transport hmail.Transport
	// Sign, when set, DKIM-signs a message from the given address.
	Sign      func(ctx context.Context, from string, msg []byte) ([]byte, error)
	From      mail.Address
	Publisher string
	BaseURL   string
}

// Register adds the system-mail handlers to a worker.
func (s *Sender) Register(w *queue.Worker) {
	w.Handle(sqlstore.JobConfirmMail, s.confirmMail)
	w.Handle(sqlstore.JobManageLinkMail, s.manageLinkMail)
}

// relayPause is how long confirmation mail waits after finding the relay
// unreachable before one job probes it again.
const relayPause = 5 * time.Second

var confirmTmpl = template.Must(template.New("confirm").Parse(`<!doctype html>
<html><body style="margin:0;padding:24px;background:#f4f4f5;font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;color:#18181b">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0"><tr><td align="center">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="max-width:560px;background:#ffffff;border-radius:8px;padding:32px">
<tr><td>
<h1 style="font-size:22px;margin:0 0 16px">Please confirm your subscription</h1>
<p style="font-size:16px;line-height:1.5">Hello{{if .Name}} {{.Name}}{{end}}, you asked to receive these newsletters from {{.Publisher}}:</p>
<ul style="font-size:16px;line-height:1.5">{{range .Lists}}<li>{{.}}</li>{{end}}</ul>
<p style="margin:28px 0"><a href="{{.URL}}" style="background:#1d4ed8;color:#ffffff;text-decoration:none;padding:12px 22px;border-radius:6px;font-size:16px;display:inline-block">Confirm my subscription</a></p>
<p style="font-size:14px;line-height:1.5;color:#52525b">Or open this link: {{.URL}}</p>
<p style="font-size:14px;line-height:1.5;color:#52525b">The link is valid until {{.Expires}}. If you did not ask for this, ignore this email: you will not be subscribed.</p>
</td></tr></table></td></tr></table></body></html>`))

func (s *Sender) confirmMail(ctx context.Context, job herald.Job) error {
	var p sqlstore.ConfirmMailJob
	if err := json.Unmarshal(job.Payload, &p); err != nil {
		return queue.Permanent(fmt.Errorf("bad payload: %w", err))
	}
	pc, err := s.DB.GetConfirmation(ctx, p.SubscriberID, 0)
	if herald.ErrorCode(err) == herald.EGONE {
		return nil // confirmed already, or erased: nothing to send
	} else if err != nil {
		return err
	}
	nonce := uint64(pc.Nonce)
	if len(pc.Lists) == 0 {
		return nil
	}
	if time.Now().Unix() > p.Expires {
		return queue.Permanent(fmt.Errorf("confirmation link expired before it could be sent"))
	}
	tok := s.Tokens.Make(token.Token{Kind: token.Confirm, SubscriberID: p.SubscriberID, Nonce: nonce, Expires: p.Expires})
	names := make([]string, len(pc.Lists))
	for i, l := range pc.Lists {
		names[i] = l.ListName
	}
	var html bytes.Buffer
	err = confirmTmpl.Execute(&html, map[string]any{
		"Name": pc.Subscriber.Name, "Publisher": s.Publisher, "Lists": names,
		"URL": s.BaseURL + "/confirm/" + tok, "Expires": time.Unix(p.Expires, 0).UTC().Format("2 January 2006, 15:04 MST"),
	})
	if err != nil {
		return queue.Permanent(err)
	}
	msg := hmail.Message{
		From:    s.From,
		To:      []mail.Address{{Name: pc.Subscriber.Name, Address: pc.Subscriber.Email}},
		Subject: "Confirm your subscription to " + s.Publisher,
		HTML:    html.String(),
		Headers: []hmail.Header{{Name: "Auto-Submitted", Value: "auto-generated"}},
	}
	return s.deliver(ctx, msg, pc.Subscriber.Email)
}

// deliver signs and sends one system message, sorting failures for the
// queue.
func (s *Sender) deliver(ctx context.Context, msg hmail.Message, to string) error {
	raw, err := msg.Bytes()
	if err != nil {
		return queue.Permanent(err)
	}
	if s.Sign != nil {
		if raw, err = s.Sign(ctx, s.From.Address, raw); err != nil {
			return err // the key store: try again later
		}
	}
	if err := s.Transport.Send(ctx, s.From.Address, []string{to}, raw); err != nil {
		var se *hmail.SendError
		if errors.As(err, &se) && (se.Command == "dial" || se.Command == "TLS") {
			// The relay is unreachable: wait for it without spending
			// this reader's attempts, and let the queue stop trying
			// every other confirmation in the meantime.
			return queue.Unavailable(err, relayPause)
		}
		if !hmail.IsTemporary(err) {
			return queue.Permanent(err)
		}
		return err
	}
	return nil
}
