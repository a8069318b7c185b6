package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"net/http"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// pages holds the parsed reader pages and the checksummed asset URLs.
type pages struct {
	tmpl    map[string]*template.Template
	css     []byte
	cssPath string
	js      []byte
	jsPath  string
}

func loadPages() *pages {
	p := &pages{tmpl: map[string]*template.Template{}}
	for _, name := range []string{"subscribe", "confirm", "manage", "unsubscribe", "message", "embed", "managelink"} {
		p.tmpl[name] = template.Must(template.ParseFS(templateFS, "templates/base.html", "templates/"+name+".html"))
	}
	p.css, _ = staticFS.ReadFile("static/herald.css")
	sum := sha256.Sum256(p.css)
	p.cssPath = "/static/herald." + hex.EncodeToString(sum[:6]) + ".css"
	p.js, _ = staticFS.ReadFile("static/embed.js")
	return p
}

// render writes a reader page. Data is a map so pages can share keys.
func (s *Server) render(w http.ResponseWriter, code int, name string, data map[string]any) {
	data["Publisher"] = s.Config.PublisherName
	data["CSS"] = s.pages.cssPath
	var buf bytes.Buffer
	if err := s.pages.tmpl[name].ExecuteTemplate(&buf, "base", data); err != nil {
		s.Log.ErrorContext(logCtx(w), "rendering page", "page", name, "err", err)
		http.Error(w, "Internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

func (s *Server) message(w http.ResponseWriter, code int, title, msg string) {
	s.render(w, code, "message", map[string]any{"Title": title, "Message": msg})
}
