package e2e_test

import (
	"bytes"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/apptest"
)

// buildHerald builds the real binary once per test run.
func buildHerald(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "herald")
	cmd := exec.Command("go", "build", "-o", bin, "../cmd/herald")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestKill9KeepsConfirmationMail: a signup is answered while the SMTP
// server is down; Herald is killed with SIGKILL; the SMTP server comes
// back; the restarted Herald delivers the confirmation mail.
func TestKill9KeepsConfirmationMail(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildHerald(t)
	dir := t.TempDir()
	smtpAddr, httpAddr := freeAddr(t), freeAddr(t)
	env := append(os.Environ(),
		"HERALD_DATABASE_URL=sqlite:"+filepath.Join(dir, "herald.db"),
		"HERALD_LISTEN="+httpAddr,
		"HERALD_SMTP_URL=smtp://"+smtpAddr,
		"HERALD_SIGNUP_LIMIT=0",
	)
	var tok bytes.Buffer
	tc := exec.Command(bin, "token", "create", "kill-test", "--create") // a new database
	tc.Env, tc.Stdout = env, &tok
	if err := tc.Run(); err != nil {
		t.Fatal(err)
	}
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "serve")
		cmd.Env = env
		if testing.Verbose() {
			cmd.Stderr = os.Stderr
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
		apptest.Eventually(t, "herald to answer", func() bool {
			res, err := http.Get("http://" + httpAddr + "/healthz")
			if err == nil {
				res.Body.Close()
			}
			return err == nil && res.StatusCode == 200
		})
		return cmd
	}
	first := start()
	req, _ := http.NewRequest("POST", "http://"+httpAddr+"/api/v1/lists", strings.NewReader(`{"slug":"daily","name":"Daily"}`))
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(tok.String()))
	req.Header.Set("Content-Type", "application/json")
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 201 {
		t.Fatalf("create list: %v %v", err, res)
	}
	res, err := http.PostForm("http://"+httpAddr+"/subscribe", url.Values{"email": {"survivor@example.com"}, "lists": {"daily"}})
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("signup with the SMTP server down: %v %v", err, res)
	}
	res.Body.Close()
	// Let the worker try (and fail) at least once, then kill it hard.
	time.Sleep(300 * time.Millisecond)
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_, _ = first.Process.Wait()

	smtp := apptest.StartSMTPAt(t, smtpAddr)
	second := start()
	_ = second
	// The retry backoff after a failed first attempt is about 10 s.
	deadline := time.Now().Add(40 * time.Second)
	for len(smtp.To("survivor@example.com")) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the confirmation mail was lost across kill -9")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if link := apptest.Link(smtp.To("survivor@example.com")[0].Text(), "/confirm/"); link == "" {
		t.Fatal("the delivered mail has no confirmation link")
	}
}

// TestSIGTERMStopsGracefully: SIGTERM lets a request in flight finish and
// exits 0; SIGKILL is the crash case above.
func TestSIGTERMStopsGracefully(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildHerald(t)
	httpAddr := freeAddr(t)
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(), "HERALD_DATABASE_URL=sqlite:"+filepath.Join(t.TempDir(), "h.db"), "HERALD_LISTEN="+httpAddr)
	var logs bytes.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	apptest.Eventually(t, "herald to answer", func() bool {
		res, err := http.Get("http://" + httpAddr + "/healthz")
		if err == nil {
			res.Body.Close()
		}
		return err == nil && res.StatusCode == 200
	})
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, logs.String())
		}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("still running 30 s after SIGTERM\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "stopped") {
		t.Fatalf("no orderly stop in the log:\n%s", logs.String())
	}
}
