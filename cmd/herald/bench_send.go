package main

// herald bench send: one campaign to N seeded subscribers into an SMTP
// server (../shared/tools/smtpsink), timed from the inside.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/app"
	"github.com/heraldhq/herald/internal/mail"
	"github.com/heraldhq/herald/internal/sender"
	"github.com/heraldhq/herald/internal/sqlstore"
	"github.com/heraldhq/herald/internal/sqlstore/pgschema"
	"github.com/heraldhq/herald/internal/token"
)

const benchSendUsage = `Usage:
  herald bench send --subscribers N [--database-url URL] [--smtp-url smtp://127.0.0.1:2525]
                    [--dkim rsa|both] [--layout compact|default] [--body-bytes B] [--cpuprofile FILE] [--keep] [settings flags]
      Seed N confirmed subscribers into a fresh database (a new SQLite file, or
      a new schema of the PostgreSQL database named by --database-url), start
      one campaign to them and send it into the SMTP server (run
      ../shared/tools/smtpsink -expect N beside it). Prints messages/second
      (first to last message, and start to last), Herald's CPU time per
      message, peak RSS while sending, the time from start to the first
      message and the time to fix the recipient set. --dkim signs with a new
      RSA-2048 key (both: and a second Ed25519 signature). The default
      compact layout and 1200-byte body make ~4.7 KB messages; --layout
      default uses Herald's default layout. HERALD_SEND_CONCURRENCY and
      HERALD_SEND_RATE apply.
`

func benchSend(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	keep := false
	var kept []string
	for _, a := range args {
		if a == "--keep" || a == "-keep" {
			keep = true
			continue
		}
		kept = append(kept, a)
	}
	flags, rest, pos, err := splitArgs(kept, "subscribers", "dkim", "layout", "body-bytes", "cpuprofile") // mailchimp.go
	if err != nil || len(pos) > 0 {
		fmt.Fprint(stderr, benchSendUsage)
		if err == nil {
			err = fmt.Errorf("unexpected arguments: %s", strings.Join(pos, " "))
		}
		return err
	}
	own := map[string]string{}
	for k, v := range flags {
		own[k] = last(v)
	}
	n, err := strconv.Atoi(own["subscribers"])
	if err != nil || n < 1 {
		fmt.Fprint(stderr, benchSendUsage)
		return errors.New("herald bench send needs --subscribers N (N ≥ 1)")
	}
	bodyBytes := 1200
	if v := own["body-bytes"]; v != "" {
		if bodyBytes, err = strconv.Atoi(v); err != nil || bodyBytes < 100 {
			return errors.New("--body-bytes must be a number ≥ 100")
		}
	}
	layout := sender.CompactLayout
	switch own["layout"] {
	case "", "compact":
	case "default":
		layout = ""
	default:
		return errors.New("--layout must be compact or default")
	}
	dkim := own["dkim"]
	if dkim != "" && dkim != "rsa" && dkim != "both" && dkim != "true" {
		return errors.New("--dkim must be rsa or both")
	}

	// A fresh database: a new SQLite file, or a new PostgreSQL schema.
	dbURL, hasDB := "", false
	for i, a := range rest {
		if a == "--database-url" && i+1 < len(rest) {
			dbURL, hasDB = rest[i+1], true
		} else if v, ok := strings.CutPrefix(a, "--database-url="); ok {
			dbURL, hasDB = v, true
		}
	}
	var cleanup []func() error
	defer func() {
		if !keep {
			for i := len(cleanup) - 1; i >= 0; i-- {
				_ = cleanup[i]()
			}
		}
	}()
	switch {
	case !hasDB:
		dir, err := os.MkdirTemp("", "herald-bench-")
		if err != nil {
			return err
		}
		cleanup = append(cleanup, func() error { return os.RemoveAll(dir) })
		dbURL = "sqlite:" + filepath.Join(dir, "bench.db")
	case strings.HasPrefix(dbURL, "sqlite:"):
		if st, err := os.Stat(strings.TrimPrefix(strings.TrimPrefix(dbURL, "sqlite:"), "//")); err == nil && st.Size() > 0 {
			return fmt.Errorf("%s exists: the benchmark needs a fresh database", dbURL)
		}
	case strings.HasPrefix(dbURL, "postgres"):
		u, drop, err := pgschema.Fresh(ctx, dbURL, "herald_bench")
		if err != nil {
			return err
		}
		cleanup = append(cleanup, drop)
		dbURL = u
	}
	rest = append(rest, "--database-url", dbURL)
	if !hasFlag(rest, "smtp-url") && !envHas(environ, "HERALD_SMTP_URL") {
		rest = append(rest, "--smtp-url", "smtp://127.0.0.1:2525")
	}
	if !hasFlag(rest, "postal-address") && !envHas(environ, "HERALD_POSTAL_ADDRESS") {
		rest = append(rest, "--postal-address", "1 Bench Street, Testville")
	}
	if !hasFlag(rest, "from") && !envHas(environ, "HERALD_FROM") {
		rest = append(rest, "--from", "Bench News <news@bench.example.com>")
	}
	cfg, _, err := loadConfig("bench", rest, environ, stderr)
	if err != nil {
		return err
	}
	if cfg.SMTPURL == "" {
		return errors.New("herald bench send needs an SMTP server (--smtp-url)")
	}
	db, secret, err := app.OpenDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	p := func(format string, a ...any) { fmt.Fprintf(stdout, format, a...) }

	p("herald bench send: %d subscribers, database %s, SMTP %s, DKIM %s, concurrency %d, rate %v/s\n",
		n, db.Dialect(), cfg.SMTPURL, orNone(dkim), cfg.SendConcurrency, cfg.SendRate)
	t0 := time.Now()
	if err := db.CreateList(ctx, &herald.List{Slug: "bench", Name: "Bench News", OptIn: herald.Single}); err != nil {
		return err
	}
	if err := db.SeedSubscribers(ctx, "bench", n, "reader"); err != nil {
		return err
	}
	p("seeded %d subscribers in %v\n", n, time.Since(t0).Round(time.Millisecond))
	domain := cfg.From.Address[strings.LastIndexByte(cfg.From.Address, '@')+1:]
	if dkim != "" {
		if _, err := sender.GenerateDKIMKey(ctx, db, domain, "bench-rsa", "rsa"); err != nil {
			return err
		}
		if dkim == "both" {
			if _, err := sender.GenerateDKIMKey(ctx, db, domain, "bench-ed", "ed25519"); err != nil {
				return err
			}
		}
	}
	c := &herald.Campaign{Name: "Benchmark", Subject: "This week at Bench News", Lists: []string{"bench"},
		Body: sender.SampleNewsletter(bodyBytes), Layout: layout}
	if err := db.CreateCampaign(ctx, c); err != nil {
		return err
	}

	sc, err := mail.ParseSMTPURL(cfg.SMTPURL)
	if err != nil {
		return err
	}
	sc.PoolSize = cfg.SendConcurrency
	tr := mail.NewSMTP(sc)
	defer tr.Close()
	scfg := sender.ConfigFrom(cfg, token.NewSigner(secret))
	e := &sender.Engine{DB: db, Transport: tr, Config: scfg, Log: log, Concurrency: cfg.SendConcurrency, Rate: cfg.SendRate,
		Hourly: cfg.SendRateHourly, Retries: cfg.SendRetries, RetryBackoff: cfg.SendRetryBackoff, Poll: 50 * time.Millisecond}
	prep, err := sender.Prepare(ctx, db, scfg, mustCampaign(ctx, db, c.ID))
	if err != nil {
		return err
	}
	sample, err := prep.Compose(&sender.Reader{ID: 1, Email: "reader-0000001@bench.example.com", Name: "Reader 1"})
	if err != nil {
		return err
	}
	if fb := prep.Fallback(); fb != "" {
		p("note: the template is rendered in full per message: %s\n", fb)
	}

	// From here on: the sending. Peak RSS is measured from here.
	runtime.GC()
	memdebug := os.Getenv("BENCH_MEMDEBUG") != ""
	if memdebug {
		p("rss after seeding: %.1f MB\n", float64(peakRSS())/(1<<20))
	}
	resetPeakRSS()
	stopProfile, err := cpuProfile(own["cpuprofile"])
	if err != nil {
		return err
	}
	defer stopProfile()
	cpu0, _ := rusage() // mailchimp.go
	ectx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { e.Run(ectx); close(done) }()
	start := time.Now()
	res, err := db.StartCampaign(ctx, c.ID, sender.Check(ctx, db, scfg))
	if err != nil {
		stop()
		<-done
		return err
	}
	if memdebug {
		p("peak rss after fixing the recipients: %.1f MB\n", float64(peakRSS())/(1<<20))
	}
	var cur *herald.Campaign
	for {
		if cur, err = db.GetCampaign(ctx, c.ID); err != nil {
			break
		}
		if cur.Status != herald.CampaignRunning || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	end := time.Now()
	stop()
	<-done
	cpu1, maxRSS := rusage()
	cpu := cpu1 - cpu0
	if err != nil {
		return err
	}
	first, last := e.Stats.FirstLast()
	sent := e.Stats.Sent.Load()
	p("campaign %s: %d sent, %d failed, %d pending (message size %d bytes)\n", cur.Status, cur.Stats.Sent, cur.Stats.Failed, cur.Stats.Pending, len(sample))
	p("fix recipient set:       %v\n", res.Fixed.Round(time.Millisecond))
	if sent > 0 {
		p("start to first message:  %v\n", first.Sub(start).Round(time.Millisecond))
		p("first to last message:   %v  (%.0f messages/s)\n", last.Sub(first).Round(time.Millisecond), float64(sent-1)/last.Sub(first).Seconds())
		p("start to last message:   %v  (%.0f messages/s)\n", last.Sub(start).Round(time.Millisecond), float64(sent)/last.Sub(start).Seconds())
		p("Herald CPU:              %.2f s, %.1f µs/message (start to finish, %v)\n", cpu.Seconds(), float64(cpu.Microseconds())/float64(sent), end.Sub(start).Round(time.Millisecond))
	}
	p("peak RSS while sending:  %.1f MB (whole run: %.1f MB)\n", float64(peakRSS())/(1<<20), float64(maxRSS)/(1<<20))
	p("load average:            %s (%d CPUs)\n", loadavg(), runtime.NumCPU())
	if os.Getenv("BENCH_MEMDEBUG") != "" {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		st, _ := os.ReadFile("/proc/self/status")
		p("go: heap in use %.1f MB, sys %.1f MB, stacks %.1f MB\n%s", float64(ms.HeapInuse)/(1<<20), float64(ms.Sys)/(1<<20), float64(ms.StackSys)/(1<<20), st)
		sm, _ := os.ReadFile("/proc/self/smaps_rollup")
		p("%s", sm)
	}
	if keep {
		p("kept the database: %s\n", dbURL)
	}
	return nil
}

func mustCampaign(ctx context.Context, db *sqlstore.DB, id int64) *herald.Campaign {
	c, err := db.GetCampaign(ctx, id)
	if err != nil {
		return &herald.Campaign{}
	}
	return c
}

func orNone(s string) string {
	if s == "" {
		return "off"
	}
	return s
}

func hasFlag(args []string, name string) bool {
	for _, a := range args {
		if a == "--"+name || a == "-"+name || strings.HasPrefix(a, "--"+name+"=") || strings.HasPrefix(a, "-"+name+"=") {
			return true
		}
	}
	return false
}

func envHas(environ []string, key string) bool {
	for _, kv := range environ {
		if k, v, _ := strings.Cut(kv, "="); k == key && v != "" {
			return true
		}
	}
	return false
}

// resetPeakRSS restarts the kernel's peak-RSS count (VmHWM), so that the
// seeding does not count (Linux; without it the whole run's peak is shown).
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSS is VmHWM in bytes, the peak since resetPeakRSS.
func peakRSS() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// cpuProfile starts a CPU profile written to path (none when path is
// empty) and returns the function that ends it.
func cpuProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
