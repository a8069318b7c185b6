package web

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
)

// textBody returns the decoded text/plain part of a raw message, so the
// outbox API can show what a reader would read (links unbroken by
// quoted-printable soft line breaks).
func textBody(raw []byte) string {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return ""
	}
	return findText(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body, 0)
}

func findText(ctype, cte string, body io.Reader, depth int) string {
	mt, params, err := mime.ParseMediaType(ctype)
	if ctype == "" || err != nil {
		mt = "text/plain"
	}
	if strings.HasPrefix(mt, "multipart/") && depth < 4 {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err != nil {
				return ""
			}
			if s := findText(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p, depth+1); s != "" {
				return s
			}
		}
	}
	if mt != "text/plain" {
		return ""
	}
	if strings.EqualFold(strings.TrimSpace(cte), "quoted-printable") {
		body = quotedprintable.NewReader(body)
	}
	b, _ := io.ReadAll(io.LimitReader(body, 1<<20))
	return strings.ReplaceAll(string(b), "\r\n", "\n")
}
