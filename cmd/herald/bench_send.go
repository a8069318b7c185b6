package main

// herald bench send: one campaign to N seeded subscribers into an SMTP
// server (../shared/tools/smtpsink), timed from the inside.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/mail"
	"github.com/heraldhq/herald/internal/sender"
	"github.com/heraldhq/herald/internal/sqlstore"
	"github.com/heraldhq/herald/internal/sqlstore/pgschema"
	"github.com/heraldhq/herald/internal/token"
)

const benchSendHelp = `Seeds N confirmed subscribers into a fresh database (a new SQLite file, or a
new schema of the PostgreSQL database named by --database-url), starts one
campaign to them and sends it into the SMTP server of --smtp-url (default
smtp://127.0.0.1:2525: run smtpsink -expect N beside it, see docs/sending.md).
Prints messages/second (first to last message, and start to last), Herald's
CPU time per message, peak RSS while sending, the time from start to the first
message and the time to fix the recipient set. The default compact layout and
1200-byte body make ~4.7 KB messages. HERALD_SEND_CONCURRENCY and
HERALD_SEND_RATE apply. Other people's work on the machine shows in the
figures.`

func benchSendCommand(fs *flag.FlagSet) func(c *cli, args []string) error {
	subscribers := fs.Int("subscribers", 0, "`number` of subscribers to seed and send to (required)")
	dkim := fs.String("dkim", "", "`mode`: rsa signs with a new RSA-2048 key, both adds a second Ed25519 signature; default no DKIM")
	layout := fs.String("layout", "compact", "`layout` of the messages: compact or default (Herald's default layout)")
	bodyBytes := fs.Int("body-bytes", 1200, "size of the newsletter body in `bytes` (at least 100)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the sending to this `file`")
	keep := fs.Bool("keep", false, "keep the database afterwards (its URL is printed)")
	return func(c *cli, args []string) error {
		if err := positional(args, 0, false, ""); err != nil {
			return err
		}
		if *subscribers < 1 {
			return usagef("needs --subscribers N (N ≥ 1)")
		}
		if *bodyBytes < 100 {
			return usagef("--body-bytes must be a number ≥ 100")
		}
		if *layout != "compact" && *layout != "default" {
			return usagef("--layout must be compact or default")
		}
		if d := *dkim; d != "" && d != "rsa" && d != "both" && d != "true" {
			return usagef("--dkim must be rsa or both")
		}
		return benchSend(c, benchSendOptions{n: *subscribers, dkim: *dkim, layout: *layout, bodyBytes: *bodyBytes, cpuprofile: *cpuprofile, keep: *keep})
	}
}

type benchSendOptions struct {
	n            int
	dkim, layout string
	bodyBytes    int
	cpuprofile   string
	keep         bool
}

func benchSend(cl *cli, o benchSendOptions) error {
	ctx, stdout, stderr := cl.ctx, cl.stdout, cl.stderr
	n, dkim, bodyBytes, keep := o.n, o.dkim, o.bodyBytes, o.keep
	layout := sender.CompactLayout
	if o.layout == "default" {
		layout = ""
	}

	// A fresh database: a new SQLite file, or a new PostgreSQL schema.
	dbURL, hasDB := cl.setting("database-url")
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
	cl.settings = append(cl.settings, "--database-url="+dbURL)
	defaults := []struct{ flag, env, value string }{
		{"smtp-url", "HERALD_SMTP_URL", "smtp://127.0.0.1:2525"},
		{"postal-address", "HERALD_POSTAL_ADDRESS", "1 Bench Street, Testville"},
		{"from", "HERALD_FROM", "Bench News <news@bench.example.com>"},
	}
	for _, d := range defaults {
		if !cl.hasSetting(d.flag) && !envHas(cl.environ, d.env) {
			cl.settings = append(cl.settings, "--"+d.flag+"="+d.value)
		}
	}
	cfg, err := cl.config()
	if err != nil {
		return err
	}
	if cfg.SMTPURL == "" {
		return errors.New("herald bench send needs an SMTP server (--smtp-url)")
	}
	db, secret, err := cl.openDB(cfg, true)
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

	// The relay(s) as serve would use them: options and failover included.
	relays := make([]mail.SMTPConfig, len(cfg.SMTPRelays))
	for i, sc := range cfg.SMTPRelays {
		sc.PoolSize = cfg.SendConcurrency
		relays[i] = sc
	}
	tr := mail.NewTransport(relays, log)
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
	stopProfile, err := cpuProfile(o.cpuprofile)
	if err != nil {
		return err
	}
	defer stopProfile()
	cpu0, _ := rusage() // procstats.go
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

func envHas(environ []string, key string) bool {
	for _, kv := range environ {
		if k, v, _ := strings.Cut(kv, "="); k == key && v != "" {
			return true
		}
	}
	return false
}
