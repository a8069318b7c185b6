package render

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzCompile feeds random bodies and layouts to Compile. It must never
// panic, and whatever compiles must render exactly as html/template does.
// The seed corpus lives in testdata/fuzz/FuzzCompile.
func FuzzCompile(f *testing.F) {
	f.Add("Hello {{.Reader.Name}}", "", true)
	readers := nastyReaders(6, []string{"a", "city", "x"})
	f.Fuzz(func(t *testing.T, body, layout string, markdown bool) {
		if len(body)+len(layout) > 1<<14 {
			return
		}
		c := Campaign{Format: FormatHTML, Body: body, Layout: layout, Date: testDate}
		if markdown {
			c.Format = FormatMarkdown
		}
		checkCompile(t, c, readers)
		if layout != "" {
			// Most random layouts lack the mandatory footer; try them
			// with one too, so that they get past the checks.
			c.Layout = layout + "{{.Body}}" + footer
			checkCompile(t, c, readers)
		}
	})
}

func checkCompile(t *testing.T, c Campaign, readers []*Reader) {
	tm, err := Compile(c, testPublisher, testLists)
	if err != nil {
		return
	}
	if strings.Contains(tm.Fallback(), "please report") {
		// The self-check saved the day, but the analysis has a hole.
		t.Fatalf("analysis missed a reader dependency: %s", tm.Fallback())
	}
	ref, err := newReference(t, c, testPublisher, testLists)
	if err != nil {
		t.Fatalf("Compile accepted what html/template rejects: %v", err)
	}
	for _, r := range readers {
		want, wantErr := ref.render(r)
		var h, x bytes.Buffer
		err := tm.Render(r, &h, &x)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("Render error %v, html/template error %v (fallback %q)", err, wantErr, tm.Fallback())
		}
		if err == nil && h.String() != want {
			t.Fatalf("fast path (fallback %q) differs for %s\n%s", tm.Fallback(), describe(r), firstDiff(h.String(), want))
		}
	}
}
