package e2e_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/apptest"
	"github.com/heraldhq/herald/internal/sqlstore"
)

// TestBackupUnderLoad: a backup of a running SQLite installation, taken
// while a campaign sends and readers sign up, holds every signup answered
// before the backup began; a backup to a bad path fails clearly and harms
// nothing; the restored copy starts and its campaign resumes from its
// ledger, sending nobody the ledger marks as sent.
func TestBackupUnderLoad(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "herald.db")
	smtp1 := apptest.StartSMTP(t)
	in := apptest.Start(t, apptest.Options{DatabaseURL: "sqlite:" + dbPath, Args: []string{"--smtp-url", smtp1.URL(),
		"--from", "The Daily Planet <news@planet.example>", "--send-rate", "400"}})
	ctx := context.Background()
	in.MustAPI(t, 201, "POST", "/lists", map[string]any{"slug": "daily", "name": "The Daily Briefing", "optin": "single"}, nil)
	const readers = 3000
	if err := in.App.DB.SeedSubscribers(ctx, "daily", readers, "reader"); err != nil {
		t.Fatal(err)
	}
	var c campaignView
	in.MustAPI(t, 201, "POST", "/campaigns", map[string]any{"name": "Issue 1", "subject": "The news", "lists": []string{"daily"}, "body": "The news.\n"}, &c)
	in.MustAPI(t, 200, "POST", fmt.Sprintf("/campaigns/%d/start", c.ID), nil, &c)
	apptest.Eventually(t, "the campaign to be under way", func() bool { return getCampaign(t, in, c.ID).Stats.Sent > 0 })

	// Signup load: each answered signup is recorded with when it was answered.
	type answered struct {
		email string
		at    time.Time
	}
	var (
		mu      sync.Mutex
		done    []answered
		failure string
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				email := fmt.Sprintf("signup-%d-%d@example.com", w, i)
				res, err := http.PostForm(in.URL+"/subscribe", url.Values{"email": {email}, "lists": {"daily"}})
				if err != nil {
					mu.Lock()
					failure = err.Error()
					mu.Unlock()
					return
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				mu.Lock()
				if res.StatusCode >= 300 && res.StatusCode != 303 {
					failure = fmt.Sprintf("signup %s: %d", email, res.StatusCode)
				} else {
					done = append(done, answered{email, time.Now()})
				}
				mu.Unlock()
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)

	// A backup to a directory that is not there fails clearly, beside the
	// running service.
	bdb, err := sqlstore.Open(ctx, "sqlite:"+dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer bdb.Close()
	if _, err := bdb.Backup(ctx, filepath.Join(t.TempDir(), "missing", "b.db"), nil); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("backup into a missing directory: %v", err)
	}

	backupPath := filepath.Join(t.TempDir(), "backup.db")
	began := time.Now()
	mu.Lock()
	before := make([]string, 0, len(done))
	for _, a := range done {
		before = append(before, a.email)
	}
	mu.Unlock()
	res, err := bdb.Backup(ctx, backupPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // load goes on after the backup too
	close(stop)
	wg.Wait()
	if failure != "" {
		t.Fatalf("the service was harmed during the backup: %s", failure)
	}
	if len(before) == 0 {
		t.Fatal("no signup was answered before the backup began: the test proves nothing")
	}
	during := 0
	for _, a := range done {
		if a.at.After(began) {
			during++
		}
	}
	t.Logf("backup %d bytes in %s; %d signups answered before it began, %d after; campaign sent %d of %d when it ended",
		res.Bytes, res.Duration, len(before), during, getCampaign(t, in, c.ID).Stats.Sent, readers)
	in.Stop()

	// What the backup holds: the signups, and the campaign's ledger.
	b, err := sql.Open("sqlite", "file:"+backupPath+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	inBackup := map[string]bool{}
	rows, err := b.Query(`SELECT email FROM subscribers`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var e string
		rows.Scan(&e)
		inBackup[e] = true
	}
	rows.Close()
	var missing []string
	for _, e := range before {
		if !inBackup[e] {
			missing = append(missing, e)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("%d signups answered before the backup began are not in it, e.g. %s", len(missing), missing[0])
	}
	sentInLedger := map[string]bool{}
	rows, err = b.Query(`SELECT s.email FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id WHERE d.campaign_id = ? AND d.status = 'sent'`, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var e string
		rows.Scan(&e)
		sentInLedger[strings.ToLower(e)] = true
	}
	rows.Close()
	b.Close()

	// Restore into an empty location and start Herald on it.
	restored := filepath.Join(t.TempDir(), "data", "herald.db")
	if _, err := sqlstore.Restore(ctx, backupPath, restored); err != nil {
		t.Fatal(err)
	}
	smtp2 := apptest.StartSMTP(t)
	in2 := apptest.Start(t, apptest.Options{DatabaseURL: "sqlite:" + restored, Args: []string{"--smtp-url", smtp2.URL(),
		"--from", "The Daily Planet <news@planet.example>"}})
	final := waitCampaign(t, in2, c.ID, "finished", 2*time.Minute)
	if final.Stats.Sent != readers || final.Stats.Failed != 0 {
		t.Fatalf("restored campaign: %+v, want all %d sent", final.Stats, readers)
	}
	got := countPerRecipient(smtp2)
	for addr, n := range got {
		if sentInLedger[addr] {
			t.Errorf("%s is sent in the backup's ledger but was sent again after the restore", addr)
		}
		if n > 1 {
			t.Errorf("%s got %d messages after the restore", addr, n)
		}
	}
	if len(got)+len(sentInLedger) != readers {
		t.Errorf("sent before the backup (per its ledger) %d + after the restore %d != %d recipients", len(sentInLedger), len(got), readers)
	}
}
