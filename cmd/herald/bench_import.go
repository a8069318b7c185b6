package main

// herald bench import-mailchimp: the import of a generated Mailchimp
// export, timed from the inside.

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/mcsync"
)

const benchImportHelp = `Times the import of a generated export of --rows members into a new list, on a
fresh SQLite file unless --database-url is given; reports rows/s, CPU time,
peak memory and the load average. Other people's work on the machine shows in
the figures: the load average is printed so runs can be compared.`

func benchImportCommand(fs *flag.FlagSet) func(c *cli, args []string) error {
	rows := fs.Int("rows", 1_000_000, "`number` of members in the generated export")
	keep := fs.String("keep", "", "write the generated export to this `file` and keep it")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the import to this `file` (go tool pprof -top FILE)")
	return func(c *cli, args []string) error {
		if err := positional(args, 0, false, ""); err != nil {
			return err
		}
		if *rows < 1 {
			return usagef("--rows must be a positive number, not %d", *rows)
		}
		return benchImport(c, *rows, *keep, *cpuprofile)
	}
}

func benchImport(c *cli, rows int, keep, cpuprofile string) error {
	ctx, stdout, stderr := c.ctx, c.stdout, c.stderr
	dir, err := os.MkdirTemp("", "herald-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if !c.hasSetting("database-url") {
		c.settings = append(c.settings, "--database-url=sqlite:"+filepath.Join(dir, "bench.db"))
	}
	cfg, err := c.config()
	if err != nil {
		return err
	}
	path := filepath.Join(dir, "export.zip")
	if keep != "" {
		path = keep
	}
	fmt.Fprintf(stderr, "Generating an export of %s members…\n", group(int64(rows)))
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	gen, err := mcsync.GenerateExport(bufio.NewWriterSize(f, 1<<20), mcsync.GenOptions{Rows: rows, BrokenEvery: 1000})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	st, _ := os.Stat(path)
	db, _, err := c.openDB(cfg, true)
	if err != nil {
		return err
	}
	defer db.Close()
	slug := fmt.Sprintf("bench-%d", time.Now().Unix())
	l := &herald.List{Slug: slug, Name: "Import benchmark " + slug}
	if err := db.CreateList(ctx, l); err != nil {
		return err
	}
	runtime.GC()

	// Sample the resident set while importing: memory must stay flat.
	var mu sync.Mutex
	var samples []string
	peak := int64(0)
	stop := make(chan struct{})
	sampled := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(sampled)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		next := time.Second
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				r := rss()
				mu.Lock()
				peak = max(peak, r)
				if el := time.Since(start); el >= next {
					samples = append(samples, fmt.Sprintf("%.0fs:%dMB(Go %dMB)", el.Seconds(), r>>20, goMemory()>>20))
					next *= 2
				}
				mu.Unlock()
			}
		}
	}()
	load0 := loadavg()
	cpu0, _ := rusage()
	pg0, sys0 := processCPU("postgres"), systemBusy()
	opt := mcsync.ImportOptions{List: slug}
	if isTerminal(stderr) {
		opt.Progress = progressBar(stderr, start)
	}
	stopProfile, err := cpuProfile(cpuprofile)
	if err != nil {
		return err
	}
	res, err := mcsync.Import(ctx, db, []string{path}, opt)
	wall := time.Since(start)
	stopProfile()
	cpu1, maxRSS := rusage()
	pg1, sys1 := processCPU("postgres"), systemBusy()
	close(stop)
	<-sampled
	if opt.Progress != nil {
		fmt.Fprintln(stderr)
	}
	if err != nil {
		return err
	}
	total := res.Rows + res.Skipped
	fmt.Fprintf(stdout, "herald bench import-mailchimp: %s rows (%s valid, %s malformed) from a %.1f MB zip into %s (%s)\n",
		group(int64(total)), group(int64(res.Rows)), group(int64(res.Skipped)), float64(st.Size())/(1<<20), db.Dialect(), cfg.DatabaseURL)
	fmt.Fprintf(stdout, "  wall time      %.2f s\n", wall.Seconds())
	fmt.Fprintf(stdout, "  rows/s         %s\n", group(int64(float64(total)/wall.Seconds())))
	fmt.Fprintf(stdout, "  CPU (herald)   %.2f s user+sys = %.1f µs/row\n", (cpu1 - cpu0).Seconds(), float64((cpu1-cpu0).Microseconds())/float64(total))
	if db.Dialect() == "postgres" {
		fmt.Fprintf(stdout, "  CPU (postgres) %.2f s = %.1f µs/row (processes named postgres on this machine)\n", (pg1 - pg0).Seconds(), float64((pg1-pg0).Microseconds())/float64(total))
	}
	fmt.Fprintf(stdout, "  CPU (machine)  %.2f s busy of %.2f s available (%d CPUs): every process, other people's included\n",
		(sys1 - sys0).Seconds(), wall.Seconds()*float64(runtime.NumCPU()), runtime.NumCPU())
	mu.Lock()
	fmt.Fprintf(stdout, "  memory         peak RSS %d MB (process lifetime), sampled while importing (RSS, and of it the Go runtime's) %s\n", maxRSS>>20, strings.Join(samples, " "))
	mu.Unlock()
	fmt.Fprintf(stdout, "  load average   %s before, %s after (%d CPUs)\n", load0, loadavg(), runtime.NumCPU())
	fmt.Fprintf(stdout, "  counts         added %s, unsubscribed %s, suppressed %s, skipped %s (generated: %d subscribed, %d unsubscribed, %d cleaned, %d broken)\n",
		group(int64(res.Added)), group(int64(res.Unsubscribed)), group(int64(res.Suppressed)), group(int64(res.Skipped)),
		gen.Subscribed, gen.Unsubscribed, gen.Cleaned, gen.Broken)
	return nil
}
