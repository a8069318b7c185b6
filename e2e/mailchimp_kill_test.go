package e2e_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/apptest"
	"github.com/heraldhq/herald/internal/mailchimp/mailchimptest"
	"github.com/heraldhq/herald/internal/mcsync"
)

// heraldProc runs the real binary against one SQLite file.
type heraldProc struct {
	t     *testing.T
	bin   string
	env   []string
	base  string
	token string
	cmd   *exec.Cmd
}

func (h *heraldProc) start() {
	h.t.Helper()
	cmd := exec.Command(h.bin, "serve")
	cmd.Env = h.env
	if testing.Verbose() {
		cmd.Stderr = os.Stderr
	}
	if err := cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	h.cmd = cmd
	h.t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	apptest.Eventually(h.t, "herald to answer", func() bool {
		res, err := http.Get(h.base + "/healthz")
		if err == nil {
			res.Body.Close()
		}
		return err == nil && res.StatusCode == 200
	})
}

func (h *heraldProc) kill9() {
	h.t.Helper()
	if err := h.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		h.t.Fatal(err)
	}
	_, _ = h.cmd.Process.Wait()
}

func (h *heraldProc) api(method, path string, body any, out any) int {
	h.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, h.base+"/api/v1"+path, rd)
	req.Header.Set("Authorization", "Bearer "+h.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if out != nil {
		_ = json.Unmarshal(data, out)
	}
	return res.StatusCode
}

func (h *heraldProc) run(args ...string) (string, string) {
	h.t.Helper()
	cmd := exec.Command(h.bin, args...)
	cmd.Env = h.env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		h.t.Fatalf("herald %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String(), errb.String()
}

// retried waits until the fake answered the injected failure to method on
// path and Herald has rescheduled the job (attempts > 0, pending): the
// moment to kill it.
func (h *heraldProc) retried(fake *mailchimptest.Server, method, path string) {
	h.t.Helper()
	apptest.Eventually(h.t, method+" "+path+" failed once and its job rescheduled", func() bool {
		_, all := mcOK(fake, method, path)
		if all == 0 {
			return false
		}
		var p struct {
			Data []struct {
				Kind      string `json:"kind"`
				Status    string `json:"status"`
				Attempts  int    `json:"attempts"`
				LastError string `json:"last_error"`
			} `json:"data"`
		}
		h.api("GET", "/jobs?status=pending", nil, &p)
		for _, j := range p.Data {
			if j.Kind == "mailchimp_member" && j.Attempts > 0 && j.LastError != "" {
				return true
			}
		}
		return false
	})
}

// TestMailchimpBinary runs the real binary: every confirmation,
// unsubscribe and erasure reaches the fake Mailchimp exactly once although
// Herald is killed with SIGKILL while each call waits for its retry; then
// `herald import mailchimp` and `herald export mailchimp` on a generated
// export.
func TestMailchimpBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	fake := mailchimptest.NewServer(t)
	fake.AddList("aud1", "The Planet")
	dir := t.TempDir()
	addr := freeAddr(t)
	h := &heraldProc{t: t, bin: buildHerald(t), base: "http://" + addr, env: append(os.Environ(),
		"HERALD_DATABASE_URL=sqlite:"+filepath.Join(dir, "herald.db"),
		"HERALD_LISTEN="+addr,
		"HERALD_SIGNUP_LIMIT=0",
		"HERALD_FETCH_ALLOW=127.0.0.1/32", // the fake Mailchimp is on loopback
	)}
	tok, _ := h.run("token", "create", "mailchimp-kill-test", "--create") // a new database
	h.token = strings.TrimSpace(tok)

	t.Run("kill9", func(t *testing.T) {
		h.t = t
		h.start()
		if c := h.api("POST", "/lists", map[string]any{"slug": "daily", "name": "Daily"}, nil); c != 201 {
			t.Fatalf("create list: %d", c)
		}
		if c := h.api("PUT", "/integrations/mailchimp", map[string]any{"api_key": fake.APIKey(), "base_url": fake.URL()}, nil); c != 200 {
			t.Fatalf("connect: %d", c)
		}
		if c := h.api("PUT", "/lists/daily/mailchimp", map[string]any{"audience_id": "aud1"}, nil); c != 200 {
			t.Fatalf("connect list: %d", c)
		}
		email := "survivor@example.com"
		path := mcMemberPath("aud1", email)
		// Each call fails first with a 503 asking to come back in 3 s;
		// Herald is killed while it waits.
		fake.Inject(mailchimptest.Fault{Method: "PUT", Path: path, Status: 503, RetryAfter: "3"})
		if code, _ := postForm(t, h.base+"/subscribe", url.Values{"email": {email}, "lists": {"daily"}}); code != 200 {
			t.Fatalf("signup: %d", code)
		}
		var box struct {
			Data []struct {
				ID int64 `json:"id"`
			} `json:"data"`
		}
		apptest.Eventually(t, "the confirmation mail", func() bool {
			h.api("GET", "/outbox?to="+email, nil, &box)
			return len(box.Data) > 0
		})
		var msg struct {
			Text string `json:"text"`
		}
		h.api("GET", fmt.Sprintf("/outbox/%d", box.Data[0].ID), nil, &msg)
		if code, _ := do(t, "POST", apptest.Link(msg.Text, "/confirm/"), "application/x-www-form-urlencoded", nil); code != 200 {
			t.Fatalf("confirm: %d", code)
		}
		h.retried(fake, "PUT", path)
		h.kill9()
		h.start()
		apptest.Eventually(t, "the upsert after the restart", func() bool { ok, _ := mcOK(fake, "PUT", path); return ok == 1 })

		var sub struct {
			ID             int64  `json:"id"`
			UnsubscribeURL string `json:"unsubscribe_url"`
		}
		var page struct {
			Data []json.RawMessage `json:"data"`
		}
		h.api("GET", "/subscribers?email="+email, nil, &page)
		_ = json.Unmarshal(page.Data[0], &sub)
		fake.Inject(mailchimptest.Fault{Method: "PATCH", Path: path, Status: 503, RetryAfter: "3"})
		if code, _ := do(t, "POST", sub.UnsubscribeURL, "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click")); code != 200 {
			t.Fatalf("unsubscribe: %d", code)
		}
		h.retried(fake, "PATCH", path)
		h.kill9()
		h.start()
		apptest.Eventually(t, "the unsubscribe after the restart", func() bool { ok, _ := mcOK(fake, "PATCH", path); return ok == 1 })

		del := path + "/actions/delete-permanent"
		fake.Inject(mailchimptest.Fault{Method: "POST", Path: del, Status: 503, RetryAfter: "3"})
		if c := h.api("POST", fmt.Sprintf("/subscribers/%d/erase", sub.ID), nil, nil); c != 200 {
			t.Fatalf("erase: %d", c)
		}
		h.retried(fake, "POST", del)
		h.kill9()
		h.start()
		apptest.Eventually(t, "the erasure after the restart", func() bool { ok, _ := mcOK(fake, "POST", del); return ok == 1 })
		time.Sleep(500 * time.Millisecond) // nothing more may come
		for _, c := range []struct{ method, path string }{{"PUT", path}, {"PATCH", path}, {"POST", del}} {
			if ok, all := mcOK(fake, c.method, c.path); ok != 1 || all != 2 {
				t.Errorf("%s %s: %d successful of %d requests, want 1 of 2 (one failure, one success)", c.method, c.path, ok, all)
			}
		}
		if !fake.Forgotten("aud1", email) {
			t.Error("the member was not deleted permanently")
		}
		h.kill9()
	})

	t.Run("import-export", func(t *testing.T) {
		h.t = t
		gen := mcsync.GenOptions{Rows: 20_000, BrokenEvery: 400}
		path := filepath.Join(dir, "audience_export.zip")
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		want, err := mcsync.GenerateExport(f, gen)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		h.start()
		for _, l := range []string{"imported", "sport", "back"} {
			if c := h.api("POST", "/lists", map[string]any{"slug": l, "name": l}, nil); c != 201 {
				t.Fatalf("create list %s: %d", l, c)
			}
		}
		h.kill9() // the CLI works on the database directly
		counts := func(out string) map[string]int {
			m := map[string]int{}
			for _, line := range strings.Split(out, "\n") {
				f := strings.Fields(line)
				if len(f) >= 2 {
					n, err := strconv.Atoi(strings.ReplaceAll(f[len(f)-1], ",", ""))
					if err == nil {
						m[f[0]] = n
					}
				}
			}
			return m
		}
		out, errOut := h.run("import", "mailchimp", "--list", "imported", "--group", "Interests=Sport:sport", path)
		c := counts(out)
		valid := want.Subscribed + want.Unsubscribed + want.Cleaned
		if c["added"] != valid || c["unsubscribed"] != want.Unsubscribed+want.Cleaned || c["suppressed"] != want.Cleaned || c["skipped"] != want.Broken {
			t.Fatalf("import: %v, generated %+v\n%s", c, want, out)
		}
		if n := len(regexp.MustCompile(`(?m)^audience_export\.zip:\S+_members_export_\w+\.csv:\d+: `).FindAllString(errOut, -1)); n != want.Broken {
			t.Errorf("%d malformed rows reported with file and line, want %d:\n%s", n, want.Broken, errOut)
		}
		out, _ = h.run("import", "mailchimp", "--list", "imported", "--group", "Interests=Sport:sport", path)
		if c := counts(out); c["unchanged"] != valid || c["added"]+c["updated"]+c["unsubscribed"]+c["suppressed"] != 0 {
			t.Fatalf("second import changed something: %v\n%s", c, out)
		}
		back := filepath.Join(dir, "back.zip")
		_, msg := h.run("export", "mailchimp", "--list", "imported", "--out", back)
		if !strings.Contains(msg, fmt.Sprintf("%d subscribed", want.Subscribed)) && !strings.Contains(msg, strconv.Itoa(want.Subscribed/1000)+",") {
			t.Errorf("export: %s", msg)
		}
		out, _ = h.run("import", "mailchimp", "--list", "back", back)
		if c := counts(out); c["skipped"] != 0 || c["added"] != 0 || c["unchanged"]+c["updated"] != valid {
			t.Fatalf("importing the export: %v\n%s", c, out)
		}
		csvOut, _ := h.run("export", "mailchimp", "--list", "sport", "--status", "subscribed")
		if lines := strings.Count(csvOut, "\n"); lines != want.SubscribedSport+1 {
			t.Errorf("sport's subscribed CSV has %d lines, want %d", lines, want.SubscribedSport+1)
		}
	})
}
