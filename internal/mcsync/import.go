package mcsync

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/csvimport"
	"github.com/heraldhq/herald/internal/mailchimp"
	"github.com/heraldhq/herald/internal/mcsync/mcstore"
	"github.com/heraldhq/herald/internal/sqlstore"
)

// GroupMap sends the members of one interest group of an export to a list:
// "Column=Group:slug" (the column is the interest category, as Mailchimp
// names it in the export header).
type GroupMap struct {
	Column string
	Group  string
	List   string
}

// ParseGroupMap reads "Column=Group:slug".
func ParseGroupMap(s string) (GroupMap, error) {
	col, rest, ok1 := strings.Cut(s, "=")
	i := strings.LastIndexByte(rest, ':')
	if !ok1 || i < 0 {
		return GroupMap{}, fmt.Errorf("group mapping %q: use \"Column=Group:list-slug\", e.g. \"Interests=Sport:sport\"", s)
	}
	g := GroupMap{Column: strings.TrimSpace(col), Group: strings.TrimSpace(rest[:i]), List: strings.TrimSpace(rest[i+1:])}
	if g.Column == "" || g.Group == "" || g.List == "" {
		return GroupMap{}, fmt.Errorf("group mapping %q: column, group and list must not be empty", s)
	}
	return g, nil
}

// Import formats.
const (
	// FormatMailchimp is Mailchimp's audience export: statuses and opt-in
	// evidence come from its columns (mailchimp.RequiredExportColumns).
	FormatMailchimp = "mailchimp"
	// FormatCSV is Herald's generic CSV (package csvimport): readers become
	// confirmed on the importer's word, recorded in the ledger as imported
	// without opt-in evidence; no opt-in or confirmation time is made up.
	FormatCSV = "csv"
)

// NoEvidenceNote is the consent event of a reader imported from the
// generic CSV format.
const NoEvidenceNote = "imported without opt-in evidence (generic CSV import: the importer vouched for the reader's consent; no opt-in or confirmation time is known)"

// csvSource is the source of the generic CSV format's rows: the operator
// vouches for them, and there is no opt-in evidence to record.
var csvSource = &sqlstore.ImportSource{Actor: herald.ActorOperator, OptinDetail: "imported opt-in", ConfirmDetail: "imported confirmation",
	NoOptinDetail: NoEvidenceNote, UnsubNote: "unsubscribed before the import", SuppressReason: "import: cleaned or reported"}

// ImportOptions configure Import.
type ImportOptions struct {
	// Format is FormatMailchimp (the default) or FormatCSV.
	Format string
	// DryRun reads and checks every row and reports the column mapping and
	// what the rows would do, writing nothing.
	DryRun bool
	List   string     // the list every row goes to (id or slug)
	Groups []GroupMap // further lists for members of interest groups (Mailchimp format)
	// Progress, when set, is called now and then with the work done.
	Progress func(Progress)
	// MaxNotices bounds the notices kept (default 1000); all are counted.
	MaxNotices int
}

// Progress is how far an import has got.
type Progress struct {
	Rows  int   // rows read
	Bytes int64 // bytes of CSV read
	Total int64 // bytes of CSV in all files (uncompressed)
}

// ImportResult sums up an import.
type ImportResult struct {
	sqlstore.ImportCounts
	Format string `json:"format"`
	DryRun bool   `json:"dry_run"`
	// Mapping says, per file, what the import does with each column.
	Mapping []FileMapping `json:"mapping"`
	// WouldBe counts, in a dry run, the valid rows by the status they
	// carry (before comparing with what Herald holds: rows for suppressed
	// addresses, say, would then be refused). Nil otherwise.
	WouldBe      *DryRunCounts           `json:"would_be,omitempty"`
	Files        []string                `json:"files"`
	Notices      []sqlstore.ImportNotice `json:"notices"` // malformed rows (skipped) and rows not applied (refused)
	NoticesTotal int                     `json:"notices_total"`
	Seconds      float64                 `json:"seconds"`
}

// FileMapping is what an import does with the columns of one file.
type FileMapping struct {
	File string `json:"file"`
	// Kind is, for a Mailchimp export, which file of it this is
	// (subscribed, unsubscribed, cleaned): the members' status.
	Kind    string      `json:"kind,omitempty"`
	Columns []ColumnUse `json:"columns"`
}

// ColumnUse is what an import does with one column.
type ColumnUse struct {
	Column string `json:"column"`
	Use    string `json:"use"`
}

// DryRunCounts are the valid rows of a dry run by what they carry.
type DryRunCounts struct {
	Confirmed    int `json:"confirmed"`    // subscribed members (Mailchimp) or readers (generic CSV, without opt-in evidence)
	Unsubscribed int `json:"unsubscribed"` // unsubscribed members, cleaned ones included
	Suppressed   int `json:"suppressed"`   // of which the address would be suppressed (cleaned, spam reports)
}

func (r *ImportResult) notice(max int, n sqlstore.ImportNotice) {
	r.NoticesTotal++
	if len(r.Notices) < max {
		r.Notices = append(r.Notices, n)
	}
}

// source is one CSV file of the inputs.
type source struct {
	name string
	kind mailchimp.Kind
	size int64
	open func() (io.ReadCloser, error)
}

// sources lists the CSV files of the inputs (zips or CSV files),
// subscribed first, then unknown, unsubscribed and cleaned, so that the
// later status wins for an address found in several.
func sources(paths []string) ([]source, func(), error) {
	var out []source
	var closers []io.Closer
	closeAll := func() {
		for _, c := range closers {
			c.Close()
		}
	}
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		closers = append(closers, f)
		st, err := f.Stat()
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		var magic [4]byte
		n, _ := f.ReadAt(magic[:], 0)
		if n == 4 && bytes.Equal(magic[:], []byte("PK\x03\x04")) {
			zr, err := zip.NewReader(f, st.Size())
			if err != nil {
				closeAll()
				return nil, nil, fmt.Errorf("%s: %w", p, err)
			}
			found := 0
			for _, zf := range zr.File {
				base := path.Base(zf.Name)
				if zf.FileInfo().IsDir() || strings.HasPrefix(zf.Name, "__MACOSX/") || strings.HasPrefix(base, ".") || !strings.EqualFold(path.Ext(base), ".csv") {
					continue
				}
				found++
				out = append(out, source{name: path.Base(p) + ":" + zf.Name, kind: mailchimp.KindFromName(base), size: int64(zf.UncompressedSize64), open: zf.Open})
			}
			if found == 0 {
				closeAll()
				return nil, nil, fmt.Errorf("%s: the zip holds no CSV file", p)
			}
			continue
		}
		ff := f
		out = append(out, source{name: path.Base(p), kind: mailchimp.KindFromName(p), size: st.Size(),
			open: func() (io.ReadCloser, error) { return io.NopCloser(io.NewSectionReader(ff, 0, st.Size())), nil }})
	}
	order := map[mailchimp.Kind]int{mailchimp.KindSubscribed: 0, mailchimp.KindUnknown: 1, mailchimp.KindUnsubscribed: 2, mailchimp.KindCleaned: 3}
	sort.SliceStable(out, func(i, j int) bool { return order[out[i].kind] < order[out[j].kind] })
	return out, closeAll, nil
}

// countingReader counts the bytes read through it, for progress.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// groupTarget is a GroupMap resolved to a list id.
type groupTarget struct {
	column, group string
	list          int64
}

type batchOut struct {
	rows []sqlstore.ImportRow
}

// rowReader yields the rows of one file: a row ready for the store, or a
// notice (msg) for a row that is skipped; io.EOF at the end.
type rowReader func() (ir sqlstore.ImportRow, msg string, file string, line int, err error)

// opened is one file of the input with its header read.
type opened struct {
	rc      io.ReadCloser
	mapping FileMapping
	next    rowReader
}

// openSource reads the header of one file in the import's format and
// returns how its columns map and a reader for its rows. A file that is
// not in the format is an error.
func openSource(src source, format string, mainList int64, groups []groupTarget, readBytes *atomic.Int64) (*opened, error) {
	rc, err := src.open()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src.name, err)
	}
	var in io.Reader = rc
	if readBytes != nil {
		in = countingReader{rc, readBytes}
	}
	fail := func(err error) (*opened, error) {
		rc.Close()
		return nil, err
	}
	if format == FormatCSV {
		r, err := csvimport.NewReader(in, src.name)
		if err != nil {
			return fail(err)
		}
		m := FileMapping{File: src.name}
		for _, c := range r.Mapping() {
			m.Columns = append(m.Columns, ColumnUse(c))
		}
		lists := []int64{mainList}
		return &opened{rc: rc, mapping: m, next: func() (sqlstore.ImportRow, string, string, int, error) {
			row, err := r.Next()
			var re *csvimport.RowError
			if errors.As(err, &re) {
				return sqlstore.ImportRow{}, re.Msg, re.File, re.Line, nil
			} else if err != nil {
				return sqlstore.ImportRow{}, "", "", 0, err
			}
			ir := sqlstore.ImportRow{File: row.File, Line: row.Line, Email: row.Email, Key: row.Key, Name: row.Name,
				Attributes: row.Attributes, Status: herald.StatusConfirmed, Lists: lists, Source: csvSource}
			if ir.Attributes != nil {
				ir.AttrsJSON = sqlstore.AttributesJSON(ir.Attributes)
			}
			return ir, "", "", 0, nil
		}}, nil
	}
	r, err := mailchimp.NewCSVReader(in, src.name)
	if err != nil {
		return fail(err)
	}
	if err := r.CheckExport(); err != nil {
		return fail(err)
	}
	r.SetReuse(true)
	var cols []string
	for _, h := range r.Header() {
		for _, g := range groups {
			if strings.EqualFold(h, g.column) {
				cols = append(cols, h)
			}
		}
	}
	if len(cols) > 0 {
		if err := r.SetGroupColumns(cols...); err != nil {
			return fail(err)
		}
	}
	m := FileMapping{File: src.name, Kind: r.Kind().String()}
	for _, c := range r.Mapping() {
		m.Columns = append(m.Columns, ColumnUse(c))
	}
	kind := r.Kind()
	return &opened{rc: rc, mapping: m, next: func() (sqlstore.ImportRow, string, string, int, error) {
		row, err := r.Next()
		var re *mailchimp.RowError
		if errors.As(err, &re) {
			return sqlstore.ImportRow{}, re.Msg, re.File, re.Line, nil
		} else if err != nil {
			return sqlstore.ImportRow{}, "", "", 0, err
		}
		ir, msg := importRow(&row, kind, mainList, groups)
		if msg != "" {
			return sqlstore.ImportRow{}, msg, row.File, row.Line, nil
		}
		return ir, "", "", 0, nil
	}}, nil
}

// Import reads files into a list: Mailchimp audience exports (zips, or
// their subscribed, unsubscribed and cleaned CSV files; the default
// format) or generic CSV files (FormatCSV). Every file's header is checked
// before any row is written. One goroutine parses and validates while
// another writes batches of rows, each in one transaction; memory holds a
// few batches whatever the size of the input. Malformed rows are reported
// with file and line and skipped. With DryRun, rows are read and checked
// and nothing is written.
func Import(ctx context.Context, db *sqlstore.DB, paths []string, opt ImportOptions) (*ImportResult, error) {
	start := time.Now()
	if opt.MaxNotices <= 0 {
		opt.MaxNotices = 1000
	}
	switch opt.Format {
	case "":
		opt.Format = FormatMailchimp
	case FormatMailchimp, FormatCSV:
	default:
		return nil, herald.Errorf(herald.EINVALID, "Unknown import format %q: use %q or %q.", opt.Format, FormatMailchimp, FormatCSV)
	}
	if opt.Format == FormatCSV && len(opt.Groups) > 0 {
		return nil, herald.FieldError("group", "Interest groups are a Mailchimp export's; the generic CSV format has none.")
	}
	main, err := db.GetList(ctx, opt.List)
	if err != nil {
		return nil, err
	}
	lists := []*herald.List{main}
	var groups []groupTarget
	for _, g := range opt.Groups {
		l, err := db.GetList(ctx, g.List)
		if err != nil {
			return nil, fmt.Errorf("group %q: list %q: %w", g.Group, g.List, err)
		}
		lists = append(lists, l)
		groups = append(groups, groupTarget{g.Column, g.Group, l.ID})
	}
	srcs, closeAll, err := sources(paths)
	if err != nil {
		return nil, err
	}
	defer closeAll()
	res := &ImportResult{Format: opt.Format, DryRun: opt.DryRun, Notices: []sqlstore.ImportNotice{}, Mapping: []FileMapping{}}
	var total int64
	for _, s := range srcs {
		res.Files = append(res.Files, s.name)
		total += s.size
	}
	// Every header first: a file in the wrong format stops the import
	// before anything is written.
	for _, s := range srcs {
		o, err := openSource(s, opt.Format, main.ID, groups, nil)
		if err != nil {
			return nil, err
		}
		o.rc.Close()
		res.Mapping = append(res.Mapping, o.mapping)
	}

	var im *sqlstore.Importer
	prepare := db.PrepareImport
	if opt.DryRun {
		res.WouldBe = &DryRunCounts{}
		prepare = func(rows []sqlstore.ImportRow) []sqlstore.ImportRow { return rows }
	} else {
		if im, err = db.BeginImport(ctx, importCacheMB); err != nil {
			return nil, err
		}
		defer im.End()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// SQLite has one writer. PostgreSQL takes batches on several
	// connections at once; rows are routed by address, so the batches of
	// different writers never share one and each address's rows are
	// applied in file order.
	writers := 1
	if db.Dialect() == "postgres" && !opt.DryRun {
		writers = 2
	}
	outs := make([]chan batchOut, writers)
	sends := make([]chan<- batchOut, writers)
	for i := range outs {
		// Unbuffered: the reader fills the next batch while the writer
		// writes one; no third batch waits in between (memory: each batch
		// held is a few MB).
		outs[i] = make(chan batchOut)
		sends[i] = outs[i]
	}
	notices := make(chan sqlstore.ImportNotice, 256)
	var readBytes atomic.Int64
	var readRows atomic.Int64
	readErr := make(chan error, 1)
	go func() {
		defer func() {
			for _, o := range outs {
				close(o)
			}
		}()
		defer close(notices)
		readErr <- readSources(ctx, srcs, opt.Format, main.ID, groups, importBatchRows(db), prepare, &readBytes, &readRows, sends, notices)
	}()

	var collected []sqlstore.ImportNotice
	noticesDone := make(chan struct{})
	go func() {
		for n := range notices {
			collected = append(collected, n)
		}
		close(noticesDone)
	}()
	var mu sync.Mutex
	lastProgress := time.Time{}
	var werr error
	var wg sync.WaitGroup
	for _, in := range outs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range in {
				mu.Lock()
				failed := werr != nil
				mu.Unlock()
				if failed {
					continue // drain so the reader can finish
				}
				var counts sqlstore.ImportCounts
				var ns []sqlstore.ImportNotice
				var err error
				if opt.DryRun {
					counts.Rows = len(b.rows)
					for i := range b.rows {
						switch r := &b.rows[i]; {
						case r.Status == herald.StatusConfirmed:
							res.WouldBe.Confirmed++
						default:
							res.WouldBe.Unsubscribed++
							if r.Suppress {
								res.WouldBe.Suppressed++
							}
						}
					}
				} else {
					counts, ns, err = im.Batch(ctx, lists, b.rows)
				}
				mu.Lock()
				if err != nil {
					if werr == nil {
						werr = err
					}
					cancel()
					mu.Unlock()
					continue
				}
				res.ImportCounts.Add(counts)
				for _, n := range ns {
					res.notice(opt.MaxNotices, n)
				}
				if opt.Progress != nil && time.Since(lastProgress) > 200*time.Millisecond {
					lastProgress = time.Now()
					opt.Progress(Progress{Rows: int(readRows.Load()), Bytes: readBytes.Load(), Total: total})
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	<-noticesDone
	rerr := <-readErr
	for _, n := range collected {
		res.Skipped++
		res.notice(opt.MaxNotices, n)
	}
	sort.SliceStable(res.Notices, func(i, j int) bool {
		if res.Notices[i].File != res.Notices[j].File {
			return fileOrder(res.Files, res.Notices[i].File) < fileOrder(res.Files, res.Notices[j].File)
		}
		return res.Notices[i].Line < res.Notices[j].Line
	})
	res.Seconds = time.Since(start).Seconds()
	if opt.Progress != nil {
		opt.Progress(Progress{Rows: int(readRows.Load()), Bytes: total, Total: total})
	}
	if werr != nil {
		return res, fmt.Errorf("writing to the database (the rows before were imported whole): %w", werr)
	}
	if rerr != nil && !errors.Is(rerr, context.Canceled) {
		return res, rerr
	}
	return res, ctx.Err()
}

func fileOrder(files []string, f string) int {
	for i, x := range files {
		if x == f {
			return i
		}
	}
	return len(files)
}

func readSources(ctx context.Context, srcs []source, format string, mainList int64, groups []groupTarget, batchRows int, prepare func([]sqlstore.ImportRow) []sqlstore.ImportRow, readBytes, readRows *atomic.Int64, outs []chan<- batchOut, notices chan<- sqlstore.ImportNotice) error {
	type shard struct {
		batch   []sqlstore.ImportRow
		inBatch map[string]bool
	}
	shards := make([]*shard, len(outs))
	for i := range shards {
		shards[i] = &shard{batch: make([]sqlstore.ImportRow, 0, batchRows), inBatch: make(map[string]bool, batchRows)}
	}
	sendShard := func(i int) error {
		sh := shards[i]
		if len(sh.batch) == 0 {
			return nil
		}
		select {
		case outs[i] <- batchOut{rows: prepare(sh.batch)}:
		case <-ctx.Done():
			return ctx.Err()
		}
		sh.batch = make([]sqlstore.ImportRow, 0, batchRows)
		clear(sh.inBatch)
		return nil
	}
	sendAll := func() error {
		for i := range shards {
			if err := sendShard(i); err != nil {
				return err
			}
		}
		return nil
	}
	for _, src := range srcs {
		o, err := openSource(src, format, mainList, groups, readBytes)
		if err != nil {
			return err
		}
		for {
			ir, msg, file, line, err := o.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				o.rc.Close()
				return err
			}
			readRows.Add(1)
			if msg != "" {
				notices <- sqlstore.ImportNotice{File: file, Line: line, Message: msg + " (skipped)"}
				continue
			}
			si := 0
			if len(shards) > 1 {
				si = int(fnv32(ir.Key) % uint32(len(shards)))
			}
			sh := shards[si]
			if sh.inBatch[ir.Key] {
				if err := sendShard(si); err != nil {
					o.rc.Close()
					return err
				}
			}
			sh.inBatch[ir.Key] = true
			sh.batch = append(sh.batch, ir)
			if len(sh.batch) == batchRows {
				if err := sendShard(si); err != nil {
					o.rc.Close()
					return err
				}
			}
		}
		o.rc.Close()
	}
	return sendAll()
}

// importCacheMB is SQLite's page cache while an import runs. It was 96 MB;
// 96 MB was no faster than 16 MB with 5,000-row batches (each batch is
// sorted by address, so it walks the address index once), and SQLite's
// cache is memory the Go collector cannot see: 16 MB keeps the import's
// peak under 150 MB (docs/mailchimp.md, "Speed").
const importCacheMB = 16

// importBatchRows is the number of rows per batch (one transaction).
func importBatchRows(db *sqlstore.DB) int { return db.ImportBatchRows() }

// fnv32 is FNV-1a, to spread addresses over writers.
func fnv32(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}

// importRow validates a row as Herald would a signup and builds what the
// store applies; msg says why a row is refused.
func importRow(row *mailchimp.Row, kind mailchimp.Kind, mainList int64, groups []groupTarget) (sqlstore.ImportRow, string) {
	email, key, err := herald.NormalizeEmail(row.Email)
	if err != nil {
		return sqlstore.ImportRow{}, fmt.Sprintf("invalid email address %q", row.Email)
	}
	name, err := herald.CleanName(mailchimp.JoinName(row.FirstName, row.LastName))
	if err != nil {
		return sqlstore.ImportRow{}, "invalid name: " + herald.ErrorMessage(err)
	}
	ir := sqlstore.ImportRow{
		File: row.File, Line: row.Line, Email: email, Key: key, Name: name,
		OptinAt: row.OptinTime, OptinIP: row.OptinIP, ConfirmAt: row.ConfirmTime, ConfirmIP: row.ConfirmIP, ChangedAt: row.LastChanged,
		Lists: []int64{mainList}, Source: mcstore.ImportSource,
	}
	size := 0
	if len(row.Attributes) > 0 || len(row.Tags) > 0 {
		ir.Attributes = make(map[string]string, len(row.Attributes)+1)
		for k, v := range row.Attributes {
			ir.Attributes[k] = v
			size += len(k) + len(v) + 8
		}
		if len(row.Tags) > 0 {
			ir.Attributes[mailchimp.ColTags] = strings.Join(row.Tags, ", ")
		}
	}
	if size > 15<<10 {
		return sqlstore.ImportRow{}, "merge fields longer than 15 KB"
	}
	if ir.Attributes != nil {
		ir.AttrsJSON = sqlstore.AttributesJSON(ir.Attributes)
	}
	for _, g := range groups {
		for _, name := range row.Groups[matchColumn(row.Groups, g.column)] {
			if strings.EqualFold(name, g.group) {
				ir.Lists = append(ir.Lists, g.list)
				break
			}
		}
	}
	switch kind {
	case mailchimp.KindUnsubscribed:
		ir.Status = herald.StatusUnsubscribed
		ir.StatusAt = row.UnsubTime
		reason := strings.TrimSpace(row.UnsubReason + " " + row.UnsubReasonOther)
		ir.StatusNote = "unsubscribed at Mailchimp"
		if reason != "" {
			ir.StatusNote += " (reason: " + reason + ")"
		}
		if r := strings.ToLower(reason); strings.Contains(r, "abuse") || strings.Contains(r, "spam") {
			ir.Suppress = true
			ir.StatusNote += "; reported as spam: address suppressed"
		}
	case mailchimp.KindCleaned:
		ir.Status = herald.StatusUnsubscribed
		ir.StatusAt = row.CleanTime
		ir.Suppress = true
		ir.StatusNote = "cleaned at Mailchimp (bounced or reported): address suppressed"
	default:
		ir.Status = herald.StatusConfirmed
	}
	return ir, ""
}

// matchColumn finds a group column by name, ignoring case.
func matchColumn(groups map[string][]string, col string) string {
	if _, ok := groups[col]; ok {
		return col
	}
	for k := range groups {
		if strings.EqualFold(k, col) {
			return k
		}
	}
	return col
}
