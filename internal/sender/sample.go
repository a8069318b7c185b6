package sender

import (
	"fmt"
	"strings"
)

// SampleNewsletter is a typical issue of about size bytes of Markdown —
// greeting, sections with links, lists, quotes, a few reader fields — for
// benchmarks.
func SampleNewsletter(size int) string {
	var b strings.Builder
	b.WriteString("# Hello {{.Reader.FirstName | default \"reader\"}}!\n\n")
	b.WriteString("Here is what happened this week at **{{.Publisher}}**. You are reading this as {{.Reader.Email}}.\n\n")
	for i := 1; b.Len() < size; i++ {
		fmt.Fprintf(&b, "## Story %d: a headline that runs for a while\n\n", i)
		b.WriteString("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. ")
		b.WriteString("Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat.\n\n")
		fmt.Fprintf(&b, "- [Read the full story](https://news.example.com/stories/%d?utm_source=newsletter)\n- Share it with a friend\n\n", i)
		if i%2 == 0 {
			b.WriteString("> Duis aute irure dolor in reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla pariatur.\n\n")
		}
	}
	b.WriteString("See you next week, {{.Reader.FirstName | default \"friend\"}}.\n")
	return b.String()
}

// CompactLayout is a minimal layout (the footer the rules ask for and
// little else) for benchmarks that want messages of a given size: with
// SampleNewsletter(1200) a message is about 4.7 KB, the size the sink's
// and the incumbent's figures were measured with.
const CompactLayout = `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{.Campaign.Subject}}</title></head>
<body style="font-family:sans-serif;max-width:600px;margin:0 auto">
{{.Body}}
<p style="font-size:12px;color:#666">You receive this because you subscribed to {{.ListNames}}.
<a href="{{.UnsubscribeURL}}">Unsubscribe</a> · <a href="{{.ManageURL}}">Preferences</a><br>{{.PostalAddress}}</p>
</body></html>
`
