package render

import (
	"bytes"
	"fmt"
	"html/template"
	"strconv"
	"strings"

	"github.com/heraldhq/herald"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	gmhtml "github.com/yuin/goldmark/renderer/html"
)

// bodySource returns the body as html/template source: Markdown is
// converted with its template actions protected (see the package comment).
func bodySource(c Campaign, funcs template.FuncMap) (src string, fromMarkdown bool, err error) {
	switch strings.ToLower(strings.TrimSpace(c.Format)) {
	case FormatHTML:
		return c.Body, false, nil
	case FormatMarkdown, "":
	default:
		return "", false, herald.FieldError("format", "unknown body format %q: use %q or %q", c.Format, FormatMarkdown, FormatHTML)
	}
	// Parse the Markdown source as a template first so that syntax errors
	// carry the line numbers the editor sees.
	if _, err := template.New(bodyName).Funcs(funcs).Parse(c.Body); err != nil {
		return "", true, templateError(bodyName, err, false)
	}
	html, err := markdownToHTML(c.Body)
	if err != nil {
		return "", true, err
	}
	return html, true, nil
}

// markdownToHTML converts a Markdown template to an HTML template.
func markdownToHTML(src string) (string, error) {
	protected, actions, prefix := protectActions(src)
	protected = isolateControlLines(protected, actions, prefix)
	md := goldmark.New(
		goldmark.WithExtensions(extension.GFM),
		goldmark.WithRendererOptions(gmhtml.WithUnsafe()),
	)
	var out bytes.Buffer
	if err := md.Convert([]byte(protected), &out); err != nil {
		return "", fmt.Errorf("render: convert markdown: %w", err)
	}
	return restoreActions(out.String(), actions, prefix), nil
}

// protectActions replaces every {{…}} action with an alphanumeric
// placeholder (prefix, index, 'Z'), which Markdown leaves alone wherever it
// stands: in text, link targets, code, tables.
func protectActions(src string) (out string, actions []string, prefix string) {
	prefix = "Hrldact"
	for strings.Contains(src, prefix) {
		prefix += "x"
	}
	var b strings.Builder
	for {
		i := strings.Index(src, "{{")
		if i < 0 {
			break
		}
		end := actionEnd(src, i)
		if end < 0 {
			break
		}
		b.WriteString(src[:i])
		b.WriteString(prefix)
		b.WriteString(strconv.Itoa(len(actions)))
		b.WriteByte('Z')
		actions = append(actions, src[i:end])
		src = src[end:]
	}
	b.WriteString(src)
	return b.String(), actions, prefix
}

// actionEnd returns the index just past the "}}" closing the action that
// starts at i, skipping quoted strings and comments; -1 if there is none.
func actionEnd(s string, i int) int {
	j := i + 2
	for j < len(s) {
		switch s[j] {
		case '"', '\'':
			q := s[j]
			j++
			for j < len(s) && s[j] != q && s[j] != '\n' {
				if s[j] == '\\' {
					j++
				}
				j++
			}
		case '`':
			k := strings.IndexByte(s[j+1:], '`')
			if k < 0 {
				return -1
			}
			j += k + 1
		case '/':
			if j+1 < len(s) && s[j+1] == '*' {
				k := strings.Index(s[j+2:], "*/")
				if k < 0 {
					return -1
				}
				j += k + 3
			}
		case '}':
			if j+1 < len(s) && s[j+1] == '}' {
				return j + 2
			}
		}
		j++
	}
	return -1
}

// restoreActions puts the actions back. A paragraph that holds nothing but
// control actions ({{if}}, {{end}}, …) loses its <p> wrapper, so that
// conditional blocks do not leave empty paragraphs behind.
func restoreActions(html string, actions []string, prefix string) string {
	if len(actions) == 0 {
		return html
	}
	var b strings.Builder
	for {
		i := strings.Index(html, prefix)
		if i < 0 {
			break
		}
		// <p>placeholders</p>\n made of control actions only?
		if strings.HasSuffix(html[:i], "<p>") {
			if ids, end, ok := placeholderRun(html, i, prefix); ok && strings.HasPrefix(html[end:], "</p>") && allControl(actions, ids) {
				b.WriteString(html[:i-len("<p>")])
				for _, id := range ids {
					b.WriteString(actions[id])
				}
				html = strings.TrimPrefix(html[end+len("</p>"):], "\n")
				continue
			}
		}
		b.WriteString(html[:i])
		id, n, ok := placeholderAt(html[i:], prefix, len(actions))
		if !ok {
			b.WriteString(prefix)
			html = html[i+len(prefix):]
			continue
		}
		b.WriteString(actions[id])
		html = html[i+n:]
	}
	b.WriteString(html)
	return b.String()
}

// placeholderAt parses a placeholder at the start of s: its index and length.
func placeholderAt(s, prefix string, n int) (id, length int, ok bool) {
	j := len(prefix)
	k := j
	for k < len(s) && s[k] >= '0' && s[k] <= '9' {
		k++
	}
	if k == j || k >= len(s) || s[k] != 'Z' || k-j > 9 {
		return 0, 0, false
	}
	id, err := strconv.Atoi(s[j:k])
	if err != nil || id >= n {
		return 0, 0, false
	}
	return id, k + 1, true
}

// placeholderRun reads placeholders separated by white space from s[i:].
func placeholderRun(s string, i int, prefix string) (ids []int, end int, ok bool) {
	end = i
	for {
		id, n, ok := placeholderAt(s[end:], prefix, 1<<30)
		if !ok {
			break
		}
		ids = append(ids, id)
		end += n
		k := end
		for k < len(s) && (s[k] == ' ' || s[k] == '\n') {
			k++
		}
		if !strings.HasPrefix(s[k:], prefix) {
			break
		}
		end = k
	}
	return ids, end, len(ids) > 0
}

func allControl(actions []string, ids []int) bool {
	for _, id := range ids {
		if id >= len(actions) || !isControlAction(actions[id]) {
			return false
		}
	}
	return true
}

// isControlAction reports whether an action prints nothing by itself.
func isControlAction(a string) bool {
	a = strings.TrimPrefix(strings.TrimSuffix(a, "}}"), "{{")
	a = strings.TrimSuffix(strings.TrimPrefix(a, "-"), "-")
	a = strings.TrimSpace(a)
	if strings.HasPrefix(a, "/*") {
		return true
	}
	word := a
	if i := strings.IndexAny(a, " \t\n("); i >= 0 {
		word = a[:i]
	}
	switch word {
	case "if", "else", "end", "range", "with", "define", "block", "break", "continue":
		return true
	}
	// $x := … and $x = … print nothing either.
	if strings.HasPrefix(a, "$") {
		rest := strings.TrimSpace(strings.TrimLeft(a[1:], "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"))
		return strings.HasPrefix(rest, ":=") || strings.HasPrefix(rest, "=") && !strings.HasPrefix(rest, "==")
	}
	return false
}

// isolateControlLines puts blank lines around lines that hold only control
// actions, so that Markdown sees them as paragraphs of their own (which
// restoreActions then unwraps) rather than as the lazy continuation of a
// paragraph or list item: "{{range .Lists}}\n- {{.}}\n{{end}}" would
// otherwise repeat an unbalanced "<li>…" fragment. Lines in fenced or
// indented code are left alone.
func isolateControlLines(src string, actions []string, prefix string) string {
	lines := strings.Split(src, "\n")
	fence := ""
	changed := false
	for i, line := range lines {
		trimmed := strings.TrimLeft(line, " ")
		if fence != "" {
			if strings.HasPrefix(trimmed, fence) {
				fence = ""
			}
			continue
		}
		if len(line)-len(trimmed) < 4 && (strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~")) {
			fence = trimmed[:3]
			continue
		}
		if len(line)-len(trimmed) >= 4 || strings.HasPrefix(line, "\t") {
			continue
		}
		trimmed = strings.TrimSpace(trimmed)
		if !strings.HasPrefix(trimmed, prefix) {
			continue
		}
		ids, end, ok := placeholderRun(trimmed, 0, prefix)
		if ok && end == len(trimmed) && allControl(actions, ids) {
			lines[i] = "\n" + trimmed + "\n"
			changed = true
		}
	}
	if !changed {
		return src
	}
	return strings.Join(lines, "\n")
}
