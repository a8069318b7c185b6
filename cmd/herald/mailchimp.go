package main

// herald import mailchimp, herald export mailchimp and herald bench
// import-mailchimp.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/app"
	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/mailchimp"
	"github.com/heraldhq/herald/internal/mcsync"
)

const mailchimpUsage = `Usage:
  herald import mailchimp --list SLUG [--group "Column=Group:slug"]... [--dry-run] FILE... [settings flags]
      Import Mailchimp audience exports (the zip, or its subscribed, unsubscribed
      and cleaned CSV files) into a list. --group also subscribes the members of
      an interest group (a column of the export) to another list. Each file must
      have the columns "Email Address", OPTIN_TIME and CONFIRM_TIME of an export;
      for a plain list of addresses use herald import csv. --dry-run prints the
      column mapping, the row counts and the first problems, and writes nothing.
  herald export mailchimp --list SLUG [--out FILE.zip|-] [--status subscribed|unsubscribed|cleaned] [settings flags]
      Write a list in Mailchimp's audience export format: a zip of the three CSV
      files (default SLUG-mailchimp-export.zip), or with --status one CSV file
      (to stdout unless --out names a file).
  herald bench import-mailchimp [--rows N] [--database-url URL] [--cpuprofile FILE]
      Time the import of a generated export of N members (default 1,000,000)
      into a new list, on a fresh SQLite file unless --database-url is given;
      reports rows/s, CPU time, peak memory and the load average; --cpuprofile
      writes a CPU profile of the import (go tool pprof -top FILE).
`

// splitArgs separates this command's own flags (by name, all taking a
// value), the settings flags (passed to config.Load), and the positional
// arguments, in any order.
func splitArgs(args []string, own ...string) (map[string][]string, []string, []string, error) {
	mine := map[string]bool{}
	for _, o := range own {
		mine[o] = true
	}
	flags := map[string][]string{}
	var cfgArgs, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			pos = append(pos, a)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if name == "h" || name == "help" {
			return nil, nil, nil, errHelp
		}
		if mine[name] {
			if !hasVal {
				if i+1 >= len(args) {
					return nil, nil, nil, fmt.Errorf("flag --%s needs a value", name)
				}
				i++
				val = args[i]
			}
			flags[name] = append(flags[name], val)
			continue
		}
		cfgArgs = append(cfgArgs, a)
		if !hasVal && i+1 < len(args) {
			i++
			cfgArgs = append(cfgArgs, args[i])
		}
	}
	return flags, cfgArgs, pos, nil
}

var errHelp = errors.New("help")

func last(vals []string) string {
	if len(vals) == 0 {
		return ""
	}
	return vals[len(vals)-1]
}

// mailchimpCommand runs `herald import|export|bench …`.
func mailchimpCommand(ctx context.Context, cmd string, args, environ []string, stdout, stderr io.Writer) error {
	sub := ""
	if len(args) > 0 {
		sub, args = args[0], args[1:]
	}
	var err error
	switch {
	case cmd == "import" && sub == "mailchimp":
		err = importMailchimp(ctx, args, environ, stdout, stderr)
	case cmd == "export" && sub == "mailchimp":
		err = exportMailchimp(ctx, args, environ, stdout, stderr)
	case cmd == "bench" && sub == "import-mailchimp":
		err = benchImport(ctx, args, environ, stdout, stderr)
	default:
		fmt.Fprint(stderr, mailchimpUsage)
		return fmt.Errorf("unknown command %q", strings.TrimSpace(cmd+" "+sub))
	}
	if errors.Is(err, errHelp) {
		fmt.Fprint(stdout, mailchimpUsage)
		return nil
	}
	return err
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progressBar draws the import's progress on a terminal.
func progressBar(w io.Writer, start time.Time) func(mcsync.Progress) {
	return func(p mcsync.Progress) {
		frac := 0.0
		if p.Total > 0 {
			frac = min(1, float64(p.Bytes)/float64(p.Total))
		}
		const width = 30
		n := int(frac * width)
		rate := float64(p.Rows) / max(time.Since(start).Seconds(), 0.001)
		fmt.Fprintf(w, "\r[%s%s] %3.0f%%  %s rows  %s rows/s ", strings.Repeat("#", n), strings.Repeat(".", width-n), frac*100,
			group(int64(p.Rows)), group(int64(rate)))
	}
}

// group writes n with thousands separators.
func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func printImport(w io.Writer, res *mcsync.ImportResult) {
	rate := float64(res.Rows+res.Skipped) / max(res.Seconds, 0.001)
	fmt.Fprintf(w, "Imported %s (%d file(s)) in %.1f s, %s rows/s:\n", strings.Join(res.Files, ", "), len(res.Files), res.Seconds, group(int64(rate)))
	for _, kv := range []struct {
		k string
		v int
	}{{"added", res.Added}, {"updated", res.Updated}, {"unchanged", res.Unchanged}, {"unsubscribed", res.Unsubscribed},
		{"suppressed", res.Suppressed}, {"skipped (malformed)", res.Skipped}, {"refused (not applied)", res.Refused}} {
		fmt.Fprintf(w, "  %-22s %s\n", kv.k, group(int64(kv.v)))
	}
}

func importMailchimp(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	dry, args, err := takeFlag(args, "dry-run") // import_csv.go
	if err != nil {
		return err
	}
	flags, cfgArgs, files, err := splitArgs(args, "list", "group")
	if err != nil {
		return err
	}
	opt := mcsync.ImportOptions{Format: mcsync.FormatMailchimp, List: last(flags["list"]), DryRun: dry}
	if opt.List == "" || len(files) == 0 {
		fmt.Fprint(stderr, mailchimpUsage)
		return errors.New("herald import mailchimp needs --list SLUG and at least one FILE")
	}
	for _, g := range flags["group"] {
		gm, err := mcsync.ParseGroupMap(g)
		if err != nil {
			return err
		}
		opt.Groups = append(opt.Groups, gm)
	}
	return runImport(ctx, opt, files, cfgArgs, environ, stdout, stderr) // import_csv.go
}

func exportMailchimp(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	flags, cfgArgs, pos, err := splitArgs(args, "list", "out", "status")
	if err != nil {
		return err
	}
	list := last(flags["list"])
	if list == "" || len(pos) > 0 {
		fmt.Fprint(stderr, mailchimpUsage)
		return errors.New("herald export mailchimp needs --list SLUG (and no other arguments)")
	}
	cfg, _, err := config.Load("export", cfgArgs, environ)
	if err != nil {
		return err
	}
	db, _, err := app.OpenDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	l, err := db.GetList(ctx, list)
	if err != nil {
		return errors.New(herald.ErrorMessage(err))
	}
	out := last(flags["out"])
	status := last(flags["status"])
	var kind mailchimp.Kind
	if status != "" {
		if kind = mailchimp.KindFromName(status); kind == mailchimp.KindUnknown || status != kind.String() {
			return fmt.Errorf("--status must be subscribed, unsubscribed or cleaned, not %q", status)
		}
	} else if out == "" {
		out = l.Slug + "-mailchimp-export.zip"
	}
	var w io.Writer = stdout
	var f *os.File
	if out != "" && out != "-" {
		if f, err = os.Create(out); err != nil {
			return err
		}
		w = f
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	var summary string
	if kind != mailchimp.KindUnknown {
		n, err := mcsync.ExportCSV(ctx, db, l.Slug, kind, bw)
		if err != nil {
			return err
		}
		summary = fmt.Sprintf("%s %s members", group(int64(n)), kind)
	} else {
		c, err := mcsync.Export(ctx, db, l.Slug, bw)
		if err != nil {
			return err
		}
		summary = fmt.Sprintf("%s subscribed, %s unsubscribed, %s cleaned", group(int64(c.Subscribed)), group(int64(c.Unsubscribed)), group(int64(c.Cleaned)))
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if f != nil {
		if err := f.Close(); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "Wrote %s: %s.\n", out, summary)
	} else {
		fmt.Fprintf(stderr, "Exported %s.\n", summary)
	}
	return nil
}

// rusage returns this process's CPU time and peak resident set size.
func rusage() (cpu time.Duration, maxRSS int64) {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), ru.Maxrss * 1024
}

// goMemory is the memory the Go runtime holds (heap, stacks, its own
// structures; not SQLite's, which modernc.org/sqlite allocates itself).
func goMemory() int64 {
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64() - s[1].Value.Uint64())
}

// rss reads the current resident set size (Linux).
func rss() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

// processCPU sums the CPU time of the processes named name (Linux /proc):
// the PostgreSQL server's share of an import.
func processCPU(name string) time.Duration {
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	var ticks int64
	for _, d := range dirs {
		b, err := os.ReadFile(d)
		if err != nil {
			continue
		}
		s := string(b)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open || s[open+1:end] != name {
			continue
		}
		f := strings.Fields(s[end+1:])
		if len(f) < 13 {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		k, _ := strconv.ParseInt(f[12], 10, 64)
		ticks += u + k
	}
	return time.Duration(ticks) * (time.Second / 100) // USER_HZ
}

// systemBusy is the machine's busy CPU time so far (/proc/stat), all
// processes included.
func systemBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	var busy int64
	for i, v := range f[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		if i != 3 && i != 4 && i < 8 { // not idle, not iowait
			busy += n
		}
	}
	return time.Duration(busy) * (time.Second / 100)
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func benchImport(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	flags, cfgArgs, pos, err := splitArgs(args, "rows", "keep", "cpuprofile")
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("unexpected argument %q", pos[0])
	}
	rows := 1_000_000
	if v := last(flags["rows"]); v != "" {
		if rows, err = strconv.Atoi(v); err != nil || rows < 1 {
			return fmt.Errorf("--rows must be a positive number, not %q", v)
		}
	}
	dir, err := os.MkdirTemp("", "herald-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	explicit := false
	for _, a := range cfgArgs {
		if strings.HasPrefix(strings.TrimLeft(a, "-"), "database-url") {
			explicit = true
		}
	}
	if !explicit {
		cfgArgs = append(cfgArgs, "--database-url", "sqlite:"+filepath.Join(dir, "bench.db"))
	}
	cfg, _, err := config.Load("bench", cfgArgs, environ)
	if err != nil {
		return err
	}
	path := filepath.Join(dir, "export.zip")
	if k := last(flags["keep"]); k != "" {
		path = k
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
	db, _, err := app.OpenDB(ctx, cfg)
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
	stopProfile, err := cpuProfile(last(flags["cpuprofile"]))
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
