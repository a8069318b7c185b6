package e2e_test

import (
	"bytes"
	"database/sql"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/heraldhq/herald/internal/apptest"
)

// TestBackupCommandBesideServe: `herald backup`, run as its own process
// beside a `herald serve` that is answering signups, writes a copy holding
// every signup answered before it started; a backup into a missing
// directory fails with a clear message and the service keeps answering;
// `herald restore` puts the copy in place at a new location.
func TestBackupCommandBesideServe(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildHerald(t)
	dir := t.TempDir()
	httpAddr := freeAddr(t)
	env := append(os.Environ(), "HERALD_DATABASE_URL=sqlite:"+filepath.Join(dir, "herald.db"), "HERALD_LISTEN="+httpAddr, "HERALD_SIGNUP_LIMIT=0")
	run := func(args ...string) (int, string) {
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return code, out.String()
	}
	tc := exec.Command(bin, "token", "create", "backup-test", "--create") // a new database
	tc.Env = env
	tok, err := tc.Output()
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(tok))
	serve := exec.Command(bin, "serve")
	serve.Env = env
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = serve.Process.Kill(); _, _ = serve.Process.Wait() })
	base := "http://" + httpAddr
	apptest.Eventually(t, "herald to answer", func() bool {
		res, err := http.Get(base + "/healthz")
		if err == nil {
			res.Body.Close()
		}
		return err == nil && res.StatusCode == 200
	})
	req, _ := http.NewRequest("POST", base+"/api/v1/lists", strings.NewReader(`{"slug":"daily","name":"Daily","optin":"single"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 201 {
		t.Fatalf("create list: %v %v", err, res)
	}

	var mu sync.Mutex
	var answered []string
	var failure error
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			email := fmt.Sprintf("reader-%d@example.com", i)
			res, err := http.PostForm(base+"/subscribe", url.Values{"email": {email}, "lists": {"daily"}})
			if err == nil {
				res.Body.Close()
				if res.StatusCode != 200 {
					err = fmt.Errorf("signup: %d", res.StatusCode)
				}
			}
			mu.Lock()
			if err != nil {
				failure = err
			} else {
				answered = append(answered, email)
			}
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	apptest.Eventually(t, "some signups", func() bool { mu.Lock(); defer mu.Unlock(); return len(answered) >= 20 })

	if code, out := run("backup", filepath.Join(dir, "missing", "b.db")); code == 0 || !strings.Contains(out, "does not exist") {
		t.Fatalf("backup into a missing directory: exit %d\n%s", code, out)
	}
	backup := filepath.Join(t.TempDir(), "herald-backup.db")
	mu.Lock()
	before := append([]string(nil), answered...)
	mu.Unlock()
	code, out := run("backup", backup)
	if code != 0 || !strings.Contains(out, "backup written to "+backup) {
		t.Fatalf("backup: exit %d\n%s", code, out)
	}
	apptest.Eventually(t, "more signups after the backup", func() bool { mu.Lock(); defer mu.Unlock(); return len(answered) > len(before)+20 })
	close(stop)
	wg.Wait()
	if failure != nil {
		t.Fatalf("the service was harmed: %v", failure)
	}

	db, err := sql.Open("sqlite", "file:"+backup+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	in := map[string]bool{}
	rows, err := db.Query(`SELECT email FROM subscribers`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var e string
		rows.Scan(&e)
		in[e] = true
	}
	rows.Close()
	for _, e := range before {
		if !in[e] {
			t.Fatalf("%s was answered before the backup began but is not in it", e)
		}
	}
	t.Logf("%d signups before the backup, %d in it, %d answered in all", len(before), len(in), len(answered))

	env = append(env, "HERALD_DATABASE_URL=sqlite:"+filepath.Join(t.TempDir(), "restored", "herald.db"))
	if code, out := run("restore", backup); code != 0 || !strings.Contains(out, "restored") {
		t.Fatalf("restore: exit %d\n%s", code, out)
	}
	if code, out := run("token", "list"); code != 0 || !strings.Contains(out, "backup-test") {
		t.Fatalf("token list on the restored copy: exit %d\n%s", code, out)
	}
}
