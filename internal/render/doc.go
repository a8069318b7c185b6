// Package render turns a campaign (Markdown or HTML body, layout template)
// into the per-reader HTML and plain text of a newsletter, parsing everything
// once per campaign and filling in only the reader's fields per message.
//
// How it works, and why: docs/render.md.
package render
