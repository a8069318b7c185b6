package render

import (
	"regexp"
	"strings"

	"github.com/heraldhq/herald"
)

// Template errors look like
//
//	template: body:3: function "foo" not defined
//	template: body:3:14: executing "body" at <.Foo>: can't evaluate field Foo in type *render.templateData
//	html/template:layout:7:20: {{.X}} appears in an ambiguous context within a URL
var (
	templateErrorRE = regexp.MustCompile(`^(?:html/)?template: ?([^:\s]+):(?:(\d+):)?(?:\d+:)? ?(.*)$`)
	executingRE     = regexp.MustCompile(`executing "[^"]*" at `)
	inTypeRE        = regexp.MustCompile(` (?:in|of) type \S+`)
)

// templateError turns an html/template error into an EINVALID error that
// names the part and the line, in words a publisher can act on.
func templateError(part string, err error, fromMarkdown bool) error {
	field, what := part, "the "+part
	msg := err.Error()
	m := templateErrorRE.FindStringSubmatch(msg)
	if m == nil {
		return herald.FieldError(field, "%s template has an error: %s", what, msg)
	}
	detail := inTypeRE.ReplaceAllString(executingRE.ReplaceAllString(m[3], ""), "")
	if strings.HasPrefix(detail, "ends in a non-text context") {
		detail = "it ends inside an unfinished tag, attribute, comment or script"
	}
	if m[2] == "" {
		return herald.FieldError(field, "%s template has an error: %s", what, detail)
	}
	where := "line " + m[2]
	if fromMarkdown {
		where += " of the HTML made from the Markdown"
	}
	return herald.FieldError(field, "%s template has an error on %s: %s", what, where, detail)
}
