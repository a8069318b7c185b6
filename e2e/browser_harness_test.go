package e2e_test

// The harness of the browser tests: it starts Debian's headless Chromium
// with chromedp, runs every step with a short timeout, and records what a
// reader would see in the DevTools console (errors, exceptions, CORS
// refusals, failed requests) so that a test can fail on any of them.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// browserExecPath is where Debian's chromium package installs the browser.
const browserExecPath = "/usr/bin/chromium"

// browserStepTimeout bounds every browser action, so a broken page fails
// fast instead of hanging the test.
const browserStepTimeout = 15 * time.Second

// browserTab is one tab of a fresh headless Chromium with its own profile.
type browserTab struct {
	t   *testing.T
	ctx context.Context

	mu       sync.Mutex
	urls     map[network.RequestID]string // request id → URL, to name failed requests
	problems []string                     // console errors, exceptions, CORS and network failures
}

// newBrowserTab starts Chromium for this test and closes it when the test
// ends. Without Chromium the test fails when CI is set (CI installs it)
// and is skipped otherwise, so call it first, before starting Herald.
func newBrowserTab(t *testing.T) *browserTab {
	t.Helper()
	if fi, err := os.Stat(browserExecPath); err != nil || fi.IsDir() {
		msg := fmt.Sprintf("headless Chromium is needed at %s (Debian package chromium): %v", browserExecPath, err)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	profile := t.TempDir() // created first, so it is removed after the browser exits
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browserExecPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 900),
		chromedp.WSURLReadTimeout(browserStepTimeout),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	b := &browserTab{t: t, urls: map[network.RequestID]string{}}
	ctx, cancelTab := chromedp.NewContext(allocCtx,
		chromedp.WithListener(b.listen),
		chromedp.WithLogf(func(string, ...any) {}),
	)
	b.ctx = ctx
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc() // waits for the browser process to exit
	})
	// Start the browser and the tab with a bounded wait, but without a
	// timeout on ctx itself: a timeout there would end the browser.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("starting Chromium (%s): %v", browserExecPath, err)
		}
	case <-time.After(2 * browserStepTimeout):
		t.Fatalf("Chromium (%s) did not start within %s", browserExecPath, 2*browserStepTimeout)
	}
	// On failure, show where the browser was and what it showed.
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		loc, _ := chromedp.Run(sctx, chromedp.Location())
		text, _ := chromedp.Run(sctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
		t.Logf("browser was at %s showing:\n%s", loc, text)
		for _, p := range b.Problems() {
			t.Logf("browser console: %s", p)
		}
	})
	return b
}

// listen runs in the tab's read loop: it must be quick and run no command.
func (b *browserTab) listen(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		if ev.Request != nil {
			b.urls[ev.RequestID] = ev.Request.URL
		}
	case *network.EventLoadingFailed:
		if ev.Canceled || strings.HasSuffix(b.urls[ev.RequestID], "/favicon.ico") {
			return // a navigation that replaced the page, or the browser's own favicon probe
		}
		p := fmt.Sprintf("request failed: %s: %s", b.urls[ev.RequestID], ev.ErrorText)
		if ev.CorsErrorStatus != nil {
			p += fmt.Sprintf(" (CORS error %s %s)", ev.CorsErrorStatus.CorsError, ev.CorsErrorStatus.FailedParameter)
		}
		if ev.BlockedReason != "" {
			p += fmt.Sprintf(" (blocked: %s)", ev.BlockedReason)
		}
		b.problems = append(b.problems, p)
	case *runtime.EventExceptionThrown:
		text := ev.ExceptionDetails.Text
		if ev.ExceptionDetails.Exception != nil {
			text += " " + ev.ExceptionDetails.Exception.Description
		}
		b.problems = append(b.problems, "uncaught exception: "+text)
	case *runtime.EventConsoleAPICalled:
		if ev.Type != runtime.ConsoleAPICalledTypeError && ev.Type != runtime.ConsoleAPICalledTypeWarning && ev.Type != runtime.ConsoleAPICalledTypeAssert {
			return
		}
		var args []string
		for _, a := range ev.Args {
			switch {
			case len(a.Value) > 0:
				args = append(args, string(a.Value))
			default:
				args = append(args, a.Description)
			}
		}
		b.problems = append(b.problems, fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(args, " ")))
	case *log.EventEntryAdded:
		if e := ev.Entry; e != nil && (e.Level == log.EntryLevelError || e.Level == log.EntryLevelWarning) &&
			!strings.HasSuffix(e.URL, "/favicon.ico") { // the browser's own probe, no page asked for it
			b.problems = append(b.problems, fmt.Sprintf("%s %s: %s (%s)", e.Source, e.Level, e.Text, e.URL))
		}
	}
}

// Problems returns what the console and the network reported so far.
func (b *browserTab) Problems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.problems...)
}

// Requested reports whether the page requested url.
func (b *browserTab) Requested(url string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, u := range b.urls {
		if u == url {
			return true
		}
	}
	return false
}

// CORSProblems are the problems that are CORS refusals.
func (b *browserTab) CORSProblems() []string {
	var out []string
	for _, p := range b.Problems() {
		if strings.Contains(p, "CORS") {
			out = append(out, p)
		}
	}
	return out
}

// Unexpected returns the problems reported so far, except those whose
// text contains one of the expected strings (e.g. the 422 the signup form
// gets on purpose).
func (b *browserTab) Unexpected(expected ...string) []string {
	b.t.Helper()
	// Let events already sent by the browser reach the listener: run one
	// command, whose reply comes after every earlier event of the tab.
	b.Eval("flush events", `1`)
	var out []string
next:
	for _, p := range b.Problems() {
		for _, e := range expected {
			if strings.Contains(p, e) {
				continue next
			}
		}
		out = append(out, p)
	}
	return out
}

// AssertClean fails the test on any console error or warning, uncaught
// exception, CORS refusal or failed request, except the expected ones.
func (b *browserTab) AssertClean(expected ...string) {
	b.t.Helper()
	for _, p := range b.Unexpected(expected...) {
		b.t.Errorf("browser reported: %s", p)
	}
}

// Do runs actions, failing the test when they fail or take longer than
// browserStepTimeout.
func (b *browserTab) Do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserStepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("browser: %s: %v", what, err)
	}
}

// Navigate opens url and returns the HTTP status of the document.
func (b *browserTab) Navigate(url string) int64 {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserStepTimeout)
	defer cancel()
	res, err := chromedp.Run(ctx, chromedp.NavigateResponse(url))
	if err != nil {
		b.t.Fatalf("browser: opening %s: %v", url, err)
	}
	return res.Status
}

// browserClickNavigate clicks what sel finds, waits for the page it leads
// to, and returns that page's HTTP status.
func browserClickNavigate[S chromedp.Selectable](b *browserTab, sel S) int64 {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserStepTimeout)
	defer cancel()
	res, err := chromedp.RunResponse(ctx, chromedp.Click(sel))
	if err != nil {
		b.t.Fatalf("browser: clicking %v: %v", sel, err)
	}
	if res == nil {
		b.t.Fatalf("browser: clicking %v led to no page", sel)
	}
	return res.Status
}

// Text waits until sel is visible and returns its text as rendered.
func (b *browserTab) Text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserStepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(sel))); err != nil {
		b.t.Fatalf("browser: waiting for %s to be visible: %v", sel, err)
	}
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("browser: reading %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// Value returns the current value of a form field.
func (b *browserTab) Value(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserStepTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("browser: reading the value of %s: %v", sel, err)
	}
	return s
}

// Eval evaluates a JavaScript expression in the page.
func (b *browserTab) Eval(what, js string) string {
	b.t.Helper()
	return browserEval[string](b, what, `String(`+js+`)`)
}

// browserEval evaluates a JavaScript expression and decodes its value.
func browserEval[T any](b *browserTab, what, js string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserStepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		b.t.Fatalf("browser: %s: %v", what, err)
	}
	return v
}

// browserCheckbox is one checkbox as the reader sees it.
type browserCheckbox struct {
	Value   string `json:"value"`
	Checked bool   `json:"checked"`
	Label   string `json:"label"`
	Visible bool   `json:"visible"`
}

// Checkboxes returns the checkboxes that sel finds, in page order.
func (b *browserTab) Checkboxes(sel string) []browserCheckbox {
	b.t.Helper()
	js := fmt.Sprintf(`Array.from(document.querySelectorAll(%q)).map(function (c) {
		var l = c.closest("label");
		return {value: c.value, checked: c.checked, label: l ? l.innerText.trim() : "", visible: c.getClientRects().length > 0};
	})`, sel)
	return browserEval[[]browserCheckbox](b, "reading the checkboxes "+sel, js)
}

// Screenshot captures the whole page as PNG into dir/name, and also into
// $HERALD_SCREENSHOT_DIR when that is set (to look at them after the run).
func (b *browserTab) Screenshot(dir, name string) []byte {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserStepTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("browser: screenshot %s: %v", name, err)
	}
	for _, d := range []string{dir, os.Getenv("HERALD_SCREENSHOT_DIR")} {
		if d == "" {
			continue
		}
		p := filepath.Join(d, name)
		if err := os.WriteFile(p, png, 0o644); err != nil {
			b.t.Fatal(err)
		}
		b.t.Logf("screenshot: %s (%d bytes)", p, len(png))
	}
	return png
}
