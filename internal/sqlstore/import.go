package sqlstore

// Bulk import of subscribers (an audience export that an integration
// or the generic CSV format reads; ImportSource says which). A batch of rows is applied in one transaction with a
// handful of multi-row statements — read what exists, then upsert
// subscribers, upsert subscriptions and append consent events — so a row
// is applied whole or not at all and the cost per row is a few
// microseconds rather than a round trip.
//
// Importing is idempotent: a row that matches what Herald holds changes
// nothing and adds no consent event, so importing the same files again
// changes nothing.

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/heraldhq/herald"
)

// ImportSource says where imported rows come from, as the consent ledger
// records it: the actor of the history they carry and the details of its
// events (sync code may recognise the original opt-in and confirmation by
// them).
type ImportSource struct {
	Actor          string // of the opt-in, confirmation and unsubscribe events
	OptinDetail    string // the original opt-in
	ConfirmDetail  string // the original confirmation
	NoOptinDetail  string // a subscribed row without opt-in time
	UnsubNote      string // an unsubscribed row without a note of its own
	SuppressReason string // addresses the import suppresses
}

// genericImport is the source of rows that name none.
var genericImport = &ImportSource{Actor: herald.ActorOperator, OptinDetail: "imported opt-in", ConfirmDetail: "imported confirmation",
	NoOptinDetail: "subscribed in the import, without opt-in time", UnsubNote: "unsubscribed before the import", SuppressReason: "import: cleaned or reported"}

// ImportRow is one validated member of an import.
type ImportRow struct {
	File string
	Line int

	Email      string            // normalised (herald.NormalizeEmail)
	Key        string            // its lower-case key
	Name       string            // "" keeps the subscriber's name
	Attributes map[string]string // merged into the subscriber's attributes
	// AttrsJSON, when set, is AttributesJSON(Attributes), computed ahead
	// (off the writer's critical path).
	AttrsJSON string

	// Status is herald.StatusConfirmed (a subscribed member) or
	// herald.StatusUnsubscribed; Suppress also puts the address on the
	// suppression list (cleaned addresses, spam complaints).
	Status   string
	Suppress bool
	Lists    []int64 // the lists the status applies to (ids of ImportBatch's lists)

	OptinAt    time.Time
	OptinIP    string
	ConfirmAt  time.Time
	ConfirmIP  string
	ChangedAt  time.Time // LAST_CHANGED
	StatusAt   time.Time // UNSUB_TIME or CLEAN_TIME
	StatusNote string    // e.g. "unsubscribed at the source (reason: …)"
	// Source is where the row comes from (nil: a generic import).
	Source *ImportSource

	prep importPrep // what PrepareImport computed ahead of the writer
}

// importPrep is the part of writing a row that does not depend on what
// the database holds: bound values and the texts of consent events.
// Values are boxed (any) here, in the reader's goroutine, so that binding
// them costs the writer no allocation.
type importPrep struct {
	ok                      bool
	email, key, name, attrs any // the subscriber's columns
	optinAt, confirmAt      any // bound times (nil: none)
	statusAt, firstAt       any // firstAt: the confirmation's time, else the opt-in's
	optinIP, confirmIP      any
	optinDetail, confirmDet any
	statusDetail            any
	actor                   any
	noOptinDetail           string
	suppressReason          any
	provenance              string // " (imported from FILE line N)"
}

// PrepareImport readies rows for ImportBatch, off the writer's path: it
// returns them in address order (the unique index on addresses is then
// walked once per batch instead of jumped about; real exports are in no
// useful order), with the values and texts the writer binds computed.
// ImportBatch prepares rows that were not.
func (db *DB) PrepareImport(rows []ImportRow) []ImportRow {
	rows = sortedByKey(rows)
	var src *ImportSource
	var actor, reason any
	for i := range rows {
		r := &rows[i]
		p := &r.prep
		p.ok = true
		attrs := r.AttrsJSON
		if attrs == "" {
			attrs = mergeAttrs("", r.Attributes)
		}
		p.email, p.key, p.name, p.attrs = r.Email, r.Key, r.Name, attrs
		p.provenance = " (imported from " + r.File + " line " + strconv.Itoa(r.Line) + ")"
		provenance := p.provenance
		p.optinAt, p.confirmAt, p.statusAt = db.timeValue(r.OptinAt), db.timeValue(r.ConfirmAt), db.timeValue(r.StatusAt)
		p.firstAt = p.confirmAt
		if p.firstAt == nil {
			p.firstAt = p.optinAt
		}
		p.optinIP, p.confirmIP = clip(r.OptinIP, 64), clip(r.ConfirmIP, 64)
		if r.Source != src || src == nil {
			// Boxed once per source, not per row.
			if src = r.Source; src == nil {
				src = genericImport
			}
			actor, reason = src.Actor, src.SuppressReason
		}
		p.actor, p.noOptinDetail, p.suppressReason = actor, src.NoOptinDetail, reason
		p.optinDetail = clip(src.OptinDetail+provenance, 1000)
		p.confirmDet = clip(src.ConfirmDetail+provenance, 1000)
		note := r.StatusNote
		if note == "" {
			note = src.UnsubNote
		}
		p.statusDetail = clip(note+provenance, 1000)
	}
	return rows
}

// timeValue is t as bound in a statement, nil for the zero time: see
// Tx.timeArg.
func (db *DB) timeValue(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	if db.dialect.name() == "sqlite" {
		return t.UTC().Format(sqliteTimeLayout)
	}
	return t
}

// sqliteTimeLayout is how SQLite's driver writes the times it binds.
const sqliteTimeLayout = "2006-01-02 15:04:05.999999999-07:00"

// ImportCounts sums up an import.
type ImportCounts struct {
	Rows         int `json:"rows"`         // valid rows read
	Added        int `json:"added"`        // new subscribers
	Updated      int `json:"updated"`      // existing subscribers changed
	Unchanged    int `json:"unchanged"`    // rows that matched what Herald holds
	Unsubscribed int `json:"unsubscribed"` // rows that left a subscription unsubscribed
	Suppressed   int `json:"suppressed"`   // addresses newly suppressed
	Skipped      int `json:"skipped"`      // malformed rows (reported with file and line)
	Refused      int `json:"refused"`      // rows Herald did not apply (reported): suppressed addresses, later unsubscribes
}

// Add adds o's counts to c.
func (c *ImportCounts) Add(o ImportCounts) {
	c.Rows += o.Rows
	c.Added += o.Added
	c.Updated += o.Updated
	c.Unchanged += o.Unchanged
	c.Unsubscribed += o.Unsubscribed
	c.Suppressed += o.Suppressed
	c.Skipped += o.Skipped
	c.Refused += o.Refused
}

// ImportNotice is a row that was not (wholly) applied, and why.
type ImportNotice struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Message string `json:"message"`
}

func (n ImportNotice) String() string { return fmt.Sprintf("%s:%d: %s", n.File, n.Line, n.Message) }

// ImportBatchSize is the unit of ImportBatchRows (and a good size for
// callers that do not ask the database).
const ImportBatchSize = 5000

// ImportBatchRows is a good number of rows for one ImportBatch on this
// database: ImportBatchSize on both. Bigger batches wrote fewer WAL pages
// per row on SQLite (20,000 rows were once 31k rows/s against 18k for
// 5,000, before batches were sorted by address and the writer freed of
// everything but writing), but every batch in flight is held prepared in
// memory: at 20,000 rows an import peaked at ~600 MB, at 5,000 it stays
// under 150 MB, for ~40 % more CPU per row on SQLite (the operators' import docs,
// "Speed"; applying several batches in one transaction would win it back).
func (db *DB) ImportBatchRows() int {
	return ImportBatchSize
}

// maxParams keeps a statement below SQLite's limit of 32766 parameters
// (PostgreSQL's is 65535).
const maxParams = 30000

type importSub struct {
	id    int64
	name  string
	attrs string
}

type importSubState struct {
	status    string
	updatedAt time.Time
}

// ImportBatch applies rows in one transaction. Addresses must be unique
// within a batch (a later row for the same address goes in a later batch).
// lists are the lists rows may name. rows are either all prepared by
// PrepareImport or none.
func (db *DB) ImportBatch(ctx context.Context, lists []*herald.List, rows []ImportRow) (ImportCounts, []ImportNotice, error) {
	var counts ImportCounts
	var notices []ImportNotice
	slugs := make(map[int64]string, len(lists))
	for _, l := range lists {
		slugs[l.ID] = l.Slug
	}
	if len(rows) > 0 && !rows[0].prep.ok {
		rows = db.PrepareImport(rows)
	}
	var copyFn copyFunc
	run := db.write
	if db.dialect.name() == "postgres" {
		// On one connection held for the batch, so that COPY runs in the
		// batch's transaction.
		conn, err := db.w.Conn(ctx)
		if err != nil {
			return counts, notices, err
		}
		defer conn.Close()
		run = func(ctx context.Context, fn func(*Tx) error) error { return db.writeOn(ctx, conn, fn) }
		copyFn = func(ctx context.Context, table string, cols []string, rows [][]any) error {
			return copyRows(ctx, conn, table, cols, rows)
		}
	}
	err := run(ctx, func(tx *Tx) error {
		counts, notices = ImportCounts{}, nil
		if tx.db.dialect.name() == "postgres" {
			// A crash may lose the last batches' commits, never half of
			// one: the import is idempotent, so running it again finishes
			// it. Not waiting for each commit's WAL flush is the larger
			// part of PostgreSQL's import speed.
			if _, err := tx.exec(ctx, `SET LOCAL synchronous_commit = off`); err != nil {
				return err
			}
		}
		b := &importBatch{tx: tx, copy: copyFn, slugs: slugs, rows: rows}
		if err := b.lockLists(ctx); err != nil {
			return err
		}
		if err := b.probeSuppressions(ctx); err != nil {
			return err
		}
		if err := b.insertNew(ctx); err != nil {
			return err
		}
		if err := b.loadExisting(ctx); err != nil {
			return err
		}
		b.rowIDs = make([]int64, len(b.rows))
		for i := range b.rows {
			b.rowIDs[i] = b.ids[b.rows[i].Key]
		}
		b.plan()
		if err := b.apply(ctx); err != nil {
			return err
		}
		b.appendEvents()
		counts, notices = b.counts, b.notices
		return nil
	})
	return counts, notices, err
}

// sortedByKey puts rows in address order, in place, and returns them: it
// sorts indexes, then moves each large row once.
func sortedByKey(rows []ImportRow) []ImportRow {
	idx := make([]int32, len(rows))
	for i := range idx {
		idx[i] = int32(i)
	}
	slices.SortFunc(idx, func(a, b int32) int { return strings.Compare(rows[a].Key, rows[b].Key) })
	// Permute in place, one cycle at a time (position i takes row idx[i]):
	// a copy of the batch would double the memory it holds.
	for i := range idx {
		if idx[i] < 0 || int(idx[i]) == i {
			continue
		}
		tmp := rows[i]
		j := i
		for {
			k := int(idx[j])
			idx[j] = -1
			if k == i {
				rows[j] = tmp
				break
			}
			rows[j] = rows[k]
			j = k
		}
	}
	return rows
}

type importBatch struct {
	tx      *Tx
	copy    copyFunc // COPY into the batch's transaction (PostgreSQL), or nil
	slugs   map[int64]string
	rows    []ImportRow
	subs    map[string]*importSub              // existing subscribers, by key
	ids     map[string]int64                   // every subscriber of the batch, by key
	rowIDs  []int64                            // the subscriber of each row (0: none)
	isNew   map[string]bool                    // subscribers this batch created
	state   map[int64]map[int64]importSubState // subscriber → list → state
	supp    map[string]bool                    // suppressed addresses, by key
	counts  ImportCounts
	notices []ImportNotice

	// planned writes
	upserts   []int // row indexes whose subscriber row is written
	names     []string
	attrs     []string
	subWrites []subWrite
	events    []eventWrite
	suppress  []string // keys
	why       []any    // the reason of each
}

type subWrite struct {
	row         int
	list        int64
	status      string
	confirmedAt any
	unsubAt     any
}

type eventWrite struct {
	row                          int
	at, actor, ip, lists, detail any // bound values
}

// Values bound in every batch, boxed once.
var (
	actorOperatorArg any = herald.ActorOperator
	consentImportArg any = herald.ConsentImport
	statusArgs           = map[string]any{herald.StatusConfirmed: herald.StatusConfirmed, herald.StatusUnsubscribed: herald.StatusUnsubscribed}
)

// lockLists makes sure the import's lists still exist and, on PostgreSQL,
// holds them FOR KEY SHARE until the batch commits, as the foreign keys of
// its subscriptions would (see refs.go): a list deleted meanwhile waits.
func (b *importBatch) lockLists(ctx context.Context) error {
	tx := b.tx
	ids := make([]any, 0, len(b.slugs))
	for id := range b.slugs {
		ids = append(ids, id)
	}
	lock := ""
	if tx.db.dialect.name() == "postgres" {
		lock = ` FOR KEY SHARE`
	}
	in, args := tx.inSQL("id", ids)
	rows, err := tx.query(ctx, `SELECT id FROM lists WHERE `+in+lock, args...)
	if err != nil {
		return err
	}
	found, err := scanIDs(rows)
	if err != nil {
		return err
	}
	if len(found) != len(ids) {
		return notFound("List")
	}
	return nil
}

// probeSuppressions finds which of the batch's addresses are suppressed.
// A fresh installation has no suppressions until the import's own cleaned
// rows (which come last): then there is nothing to look up.
func (b *importBatch) probeSuppressions(ctx context.Context) error {
	tx := b.tx
	b.supp = map[string]bool{}
	var n int
	if err := tx.queryRow(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM suppressions LIMIT 1) x`).Scan(&n); err != nil || n == 0 {
		return err
	}
	hashes := make([]any, len(b.rows))
	byHash := make(map[string]string, len(b.rows))
	for i := range b.rows {
		h := tx.db.SuppressionHash(b.rows[i].Key)
		hashes[i] = h
		byHash[h] = b.rows[i].Key
	}
	in, inArgs := tx.inSQL("hash", hashes)
	rows, err := tx.query(ctx, `SELECT hash FROM suppressions WHERE `+in, inArgs...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			return err
		}
		b.supp[byHash[h]] = true
	}
	return rows.Err()
}

// insertNew creates the subscribers the batch brings, in one statement
// that skips the addresses Herald has (ON CONFLICT DO NOTHING): on a fresh
// import nothing needs looking up first.
func (b *importBatch) insertNew(ctx context.Context) error {
	tx := b.tx
	now := tx.timeArg(tx.now)
	b.ids = make(map[string]int64, len(b.rows))
	b.isNew = make(map[string]bool, len(b.rows))
	args := make([]any, 0, len(b.rows)*6)
	keys := make([]string, 0, len(b.rows))
	for i := range b.rows {
		r := &b.rows[i]
		if r.Status == herald.StatusConfirmed && b.supp[r.Key] {
			continue // refused: not even a subscriber row
		}
		p := &r.prep
		args = append(args, p.email, p.key, p.name, p.attrs, now, now)
		keys = append(keys, r.Key)
	}
	if len(args) == 0 {
		return nil
	}
	// On SQLite, OR IGNORE rather than ON CONFLICT DO NOTHING: the values
	// are never NULL, so it skips the same rows, but the statement cannot
	// abort half-way and SQLite keeps no statement journal for it (a copy
	// of every index page it touches).
	if tx.db.dialect.name() == "sqlite" {
		return b.insertNewSQLite(ctx, keys, args)
	}
	head, tail := `INSERT INTO subscribers (email, email_key, name, attributes, created_at, updated_at)`, ` ON CONFLICT (email_key) DO NOTHING RETURNING id, email_key`
	return queryValues(ctx, tx, head, tail, subscriberTypes, args, func(sc func(...any) error) error {
		var id int64
		var key string
		if err := sc(&id, &key); err != nil {
			return err
		}
		b.ids[key] = id
		b.isNew[key] = true
		return nil
	})
}

// insertNewSQLite is insertNew without RETURNING, which on SQLite first
// collects the rows it returns in a temporary B-tree. A statement that
// inserted every one of its rows gave them consecutive ids, ending at its
// last insert rowid: AUTOINCREMENT hands ids out one after the other in
// the order of the VALUES, and the batch's transaction is the only
// writer. When some addresses were known (re-imports), the rows the batch
// created are read back by id instead: every id above the largest before
// the batch is one of them.
func (b *importBatch) insertNewSQLite(ctx context.Context, keys []string, args []any) error {
	tx := b.tx
	var before int64
	if err := tx.queryRow(ctx, `SELECT COALESCE(MAX(id), 0) FROM subscribers`).Scan(&before); err != nil {
		return err
	}
	const cols = 6
	per := maxParams / cols
	readBack := false
	for start := 0; start < len(keys); start += per {
		end := min(len(keys), start+per)
		res, err := tx.exec(ctx, `INSERT OR IGNORE INTO subscribers (email, email_key, name, attributes, created_at, updated_at) VALUES `+
			valuesSQL(end-start, cols), args[start*cols:end*cols]...)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		last, err := res.LastInsertId()
		if err != nil {
			return err
		}
		if int(n) != end-start {
			readBack = true
			continue
		}
		for i, key := range keys[start:end] {
			b.ids[key] = last - int64(end-start-1-i)
			b.isNew[key] = true
		}
	}
	if !readBack {
		return nil
	}
	rows, err := tx.query(ctx, `SELECT id, email_key FROM subscribers WHERE id > ?`, before)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var key string
		if err := rows.Scan(&id, &key); err != nil {
			return err
		}
		b.ids[key] = id
		b.isNew[key] = true
	}
	return rows.Err()
}

// loadExisting reads the subscribers of the batch that Herald already had,
// and their subscriptions to the import's lists.
func (b *importBatch) loadExisting(ctx context.Context) error {
	tx := b.tx
	b.subs = map[string]*importSub{}
	b.state = map[int64]map[int64]importSubState{}
	var keys []any
	for i := range b.rows {
		if !b.isNew[b.rows[i].Key] {
			keys = append(keys, b.rows[i].Key)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	in, inArgs := tx.inSQL("email_key", keys)
	lock := ""
	if tx.db.dialect.name() == "postgres" {
		lock = ` FOR KEY SHARE` // held as a foreign key would: see refs.go
	}
	rows, err := tx.query(ctx, `SELECT id, email_key, name, attributes FROM subscribers WHERE `+in+lock, inArgs...)
	if err != nil {
		return err
	}
	var ids []any
	for rows.Next() {
		var s importSub
		var key string
		if err := rows.Scan(&s.id, &key, &s.name, &s.attrs); err != nil {
			rows.Close()
			return err
		}
		b.subs[key] = &s
		b.ids[key] = s.id
		ids = append(ids, s.id)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(ids) == 0 {
		return err
	}
	listArgs := make([]any, 0, len(b.slugs))
	for id := range b.slugs {
		listArgs = append(listArgs, id)
	}
	inSubs, args := tx.inSQL("subscriber_id", ids)
	inLists, largs := tx.inSQL("list_id", listArgs)
	rows, err = tx.query(ctx, `SELECT subscriber_id, list_id, status, updated_at FROM subscriptions
		WHERE `+inSubs+` AND `+inLists, append(args, largs...)...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var sid, lid int64
		var st importSubState
		if err := rows.Scan(&sid, &lid, &st.status, &st.updatedAt); err != nil {
			return err
		}
		st.updatedAt = st.updatedAt.UTC()
		if b.state[sid] == nil {
			b.state[sid] = map[int64]importSubState{}
		}
		b.state[sid][lid] = st
	}
	return rows.Err()
}

func (b *importBatch) notice(r *ImportRow, format string, args ...any) {
	b.notices = append(b.notices, ImportNotice{File: r.File, Line: r.Line, Message: fmt.Sprintf(format, args...)})
}

// rowTime is the latest time the export gives for a subscribed row.
func rowTime(r *ImportRow) time.Time {
	t := r.OptinAt
	for _, x := range []time.Time{r.ConfirmAt, r.ChangedAt} {
		if x.After(t) {
			t = x
		}
	}
	return t
}

func (b *importBatch) plan() {
	nowArg := b.tx.timeArg(b.tx.now)
	b.subWrites = make([]subWrite, 0, len(b.rows))
	b.events = make([]eventWrite, 0, 2*len(b.rows))
	var slugs []string // the lists a row changes (reused)
	lastLists, listsArg := "", any("")
	for i := range b.rows {
		r := &b.rows[i]
		b.counts.Rows++
		ex := b.subs[r.Key]
		suppressed := b.supp[r.Key]
		if r.Status == herald.StatusConfirmed && suppressed {
			b.counts.Refused++
			b.notice(r, "%s is suppressed in Herald (erased, bounced or reported): not subscribed", r.Email)
			continue
		}
		if b.rowIDs[i] == 0 {
			// Erased between the batch's insert and its read (PostgreSQL).
			b.counts.Refused++
			b.notice(r, "%s was erased while importing: not imported", r.Email)
			continue
		}
		var st map[int64]importSubState
		if ex != nil {
			st = b.state[ex.id]
		}
		// The row's subscription writes go straight into b.subWrites (a
		// row that changes nothing has none).
		first := len(b.subWrites)
		slugs = slugs[:0]
		newSub := false
		refused := 0
		for k, lid := range r.Lists {
			if slices.Contains(r.Lists[:k], lid) {
				continue // a group mapped to the list already named
			}
			cur, has := st[lid]
			w := subWrite{row: i, list: lid, status: r.Status}
			switch r.Status {
			case herald.StatusConfirmed:
				if has && cur.status == herald.StatusConfirmed {
					continue
				}
				if has && cur.status == herald.StatusUnsubscribed && !rowTime(r).After(cur.updatedAt) {
					refused++
					b.notice(r, "%s unsubscribed from %s in Herald after the export's time: left unsubscribed", r.Email, b.slugs[lid])
					continue
				}
				// No evidence, no time: a later export leaves CONFIRM_TIME
				// empty rather than showing the import's time.
				w.confirmedAt = r.prep.firstAt
			default:
				if has && cur.status == herald.StatusUnsubscribed {
					continue
				}
				w.unsubAt = r.prep.statusAt
				if w.unsubAt == nil {
					w.unsubAt = nowArg
				}
			}
			b.subWrites = append(b.subWrites, w)
			slugs = append(slugs, b.slugs[lid])
			newSub = newSub || !has
		}
		writes := len(b.subWrites) - first
		// The subscriber row: new, or changed name or attributes.
		name, attrs, subChanged := "", "", ex == nil
		if ex != nil {
			name, attrs = ex.name, ex.attrs
			if r.Name != "" && r.Name != ex.name {
				name, subChanged = r.Name, true
			}
			if len(r.Attributes) > 0 {
				if a := mergeAttrs(ex.attrs, r.Attributes); a != ex.attrs {
					attrs, subChanged = a, true
				}
			}
		}
		newlySuppressed := r.Suppress && !suppressed
		if !subChanged && writes == 0 && !newlySuppressed {
			if refused > 0 && refused == len(r.Lists) {
				b.counts.Refused++
			} else {
				b.counts.Unchanged++
			}
			continue
		}
		if ex == nil && writes == 0 && !newlySuppressed {
			b.counts.Refused++
			continue
		}
		switch {
		case ex == nil:
			b.counts.Added++
		default:
			b.counts.Updated++
		}
		if subChanged && ex != nil {
			b.upserts = append(b.upserts, i)
			b.names = append(b.names, name)
			b.attrs = append(b.attrs, attrs)
		}
		if writes > 0 {
			lists := slugs[0]
			if len(slugs) > 1 {
				lists = strings.Join(slugs, ",")
			}
			if lists != lastLists {
				lastLists, listsArg = lists, lists
			}
			b.planEvents(i, r, listsArg, newSub)
			if r.Status != herald.StatusConfirmed {
				b.counts.Unsubscribed++
			}
		}
		if newlySuppressed {
			b.suppress = append(b.suppress, r.Key)
			b.why = append(b.why, r.prep.suppressReason)
			b.counts.Suppressed++
		}
	}
}

// planEvents adds the consent events of a row whose subscriptions changed:
// the original opt-in and confirmation with their times and IPs (for a
// new subscription, or one that becomes confirmed), and the unsubscribe or
// cleaning.
func (b *importBatch) planEvents(i int, r *ImportRow, lists any, newSub bool) {
	p := &r.prep
	history := r.Status == herald.StatusConfirmed || newSub
	if history {
		if p.optinAt != nil {
			b.events = append(b.events, eventWrite{row: i, at: p.optinAt, actor: p.actor, ip: p.optinIP, lists: lists, detail: p.optinDetail})
		}
		if p.confirmAt != nil {
			b.events = append(b.events, eventWrite{row: i, at: p.confirmAt, actor: p.actor, ip: p.confirmIP, lists: lists, detail: p.confirmDet})
		}
		if r.Status == herald.StatusConfirmed && p.firstAt == nil {
			b.events = append(b.events, eventWrite{row: i, at: b.tx.timeArg(b.tx.now), actor: actorOperatorArg, ip: "", lists: lists,
				detail: clip(p.noOptinDetail+p.provenance, 1000)})
		}
	}
	if r.Status != herald.StatusConfirmed {
		at := p.statusAt
		if at == nil {
			at = b.tx.timeArg(b.tx.now)
		}
		b.events = append(b.events, eventWrite{row: i, at: at, actor: p.actor, ip: "", lists: lists, detail: p.statusDetail})
	}
}

// AttributesJSON is the JSON Herald stores for imported attributes: what
// json.Marshal gives (keys sorted, HTML characters escaped), written
// without reflection.
func AttributesJSON(attrs map[string]string) string {
	if len(attrs) == 0 {
		return "{}"
	}
	keys := make([]string, 0, len(attrs))
	size := 2
	for k, v := range attrs {
		keys = append(keys, k)
		size += len(k) + len(v) + 6
	}
	slices.Sort(keys)
	b := make([]byte, 0, size)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = appendJSONString(b, attrs[k])
	}
	return string(append(b, '}'))
}

// appendJSONString appends s as json.Marshal writes it: printable ASCII
// other than " \ < > & as is, anything else through encoding/json.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// mergeAttrs merges imported merge fields into a subscriber's attributes
// (JSON), returning the new JSON; keys are sorted, so equal attributes give
// equal text.
func mergeAttrs(cur string, add map[string]string) string {
	if len(add) == 0 {
		if cur == "" {
			return "{}"
		}
		return cur
	}
	m := map[string]any{}
	if cur != "" && cur != "{}" {
		_ = json.Unmarshal([]byte(cur), &m)
	}
	changed := false
	for k, v := range add {
		if old, ok := m[k]; !ok || old != v {
			m[k] = v
			changed = true
		}
	}
	if !changed && cur != "" {
		return cur
	}
	out, err := json.Marshal(m)
	if err != nil {
		return cur
	}
	return string(out)
}

// timeArg binds a time: SQLite's driver formats every time.Time it binds,
// so a time bound thousands of times per batch is formatted once here, in
// the driver's own layout.
func (tx *Tx) timeArg(t time.Time) any {
	if tx.db.dialect.name() == "sqlite" {
		return t.UTC().Format(sqliteTimeLayout)
	}
	return t
}

func (b *importBatch) apply(ctx context.Context) error {
	tx := b.tx
	now := tx.timeArg(tx.now)
	// Ids and list ids boxed once, for all the rows that bind them.
	ids := make([]any, len(b.rowIDs))
	for i, id := range b.rowIDs {
		ids[i] = id
	}
	listArgs := make(map[int64]any, len(b.slugs))
	for id := range b.slugs {
		listArgs[id] = id
	}
	if len(b.upserts) > 0 {
		args := make([]any, 0, len(b.upserts)*6)
		for j, i := range b.upserts {
			r := &b.rows[i]
			args = append(args, r.Email, r.Key, b.names[j], b.attrs[j], now, now)
		}
		if err := execValues(ctx, tx, `INSERT INTO subscribers (email, email_key, name, attributes, created_at, updated_at)`,
			` ON CONFLICT (email_key) DO UPDATE SET name = excluded.name, attributes = excluded.attributes, updated_at = excluded.updated_at`,
			subscriberTypes, args); err != nil {
			return err
		}
	}
	// New subscribers of addresses already suppressed (erased, say) carry
	// the flag campaigns read.
	for key := range b.supp {
		if b.isNew[key] {
			if err := setSuppressedFlag(ctx, tx, key, true); err != nil {
				return err
			}
		}
	}
	// A new subscriber has no subscription to conflict with: its
	// subscriptions are appended (PostgreSQL: COPY; SQLite: a plain
	// INSERT), without ON CONFLICT's upsert.
	var subWrites []subWrite
	var fresh [][]any
	var freshArgs []any
	for _, w := range b.subWrites {
		switch {
		case !b.isNew[b.rows[w.row].Key]:
			subWrites = append(subWrites, w)
		case b.copy != nil:
			fresh = append(fresh, []any{ids[w.row], listArgs[w.list], statusArgs[w.status], tx.now, tx.now, w.confirmedAt, w.unsubAt})
		default:
			freshArgs = append(freshArgs, ids[w.row], listArgs[w.list], statusArgs[w.status], now, now, w.confirmedAt, w.unsubAt)
		}
	}
	if b.copy != nil {
		if err := b.copy(ctx, "subscriptions", subscriptionCols, fresh); err != nil {
			return err
		}
	} else if len(freshArgs) > 0 {
		if err := execValues(ctx, tx, `INSERT INTO subscriptions (subscriber_id, list_id, status, created_at, updated_at, confirmed_at, unsubscribed_at)`, ``,
			subscriptionTypes, freshArgs); err != nil {
			return err
		}
	}
	if len(subWrites) > 0 {
		args := make([]any, 0, len(subWrites)*7)
		for _, w := range subWrites {
			args = append(args, ids[w.row], listArgs[w.list], statusArgs[w.status], now, now, w.confirmedAt, w.unsubAt)
		}
		if err := execValues(ctx, tx, `INSERT INTO subscriptions (subscriber_id, list_id, status, created_at, updated_at, confirmed_at, unsubscribed_at)`,
			` ON CONFLICT (subscriber_id, list_id) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at,
				confirmed_at = COALESCE(excluded.confirmed_at, subscriptions.confirmed_at),
				unsubscribed_at = COALESCE(excluded.unsubscribed_at, subscriptions.unsubscribed_at)`,
			subscriptionTypes, args); err != nil {
			return err
		}
	}
	if len(b.events) > 0 && b.copy != nil {
		// The ledger is only appended to: COPY.
		events := make([][]any, len(b.events))
		for i, e := range b.events {
			events[i] = []any{ids[e.row], consentImportArg, e.actor, e.at, e.ip, e.lists, e.detail}
		}
		if err := b.copy(ctx, "consent_events", []string{"subscriber_id", "kind", "actor", "created_at", "ip", "lists", "detail"}, events); err != nil {
			return err
		}
	} else if len(b.events) > 0 {
		args := make([]any, 0, len(b.events)*7)
		for _, e := range b.events {
			args = append(args, ids[e.row], consentImportArg, e.actor, e.at, e.ip, e.lists, e.detail)
		}
		if err := execValues(ctx, tx, `INSERT INTO consent_events (subscriber_id, kind, actor, created_at, ip, lists, detail)`, ``,
			[]string{"int8", "text", "text", "timestamptz", "text", "text", "text"}, args); err != nil {
			return err
		}
	}
	if len(b.suppress) > 0 {
		// As suppress() does, for many addresses at once: the list, and
		// the flag campaigns read.
		args := make([]any, 0, len(b.suppress)*3)
		keys := make([]any, len(b.suppress))
		for i, key := range b.suppress {
			args = append(args, tx.db.SuppressionHash(key), b.why[i], now)
			keys[i] = key
		}
		if err := execValues(ctx, tx, `INSERT INTO suppressions (hash, reason, created_at)`, ` ON CONFLICT (hash) DO NOTHING`,
			[]string{"text", "text", "timestamptz"}, args); err != nil {
			return err
		}
		for start := 0; start < len(keys); start += maxParams {
			in, args := tx.inSQL("email_key", keys[start:min(len(keys), start+maxParams)])
			if _, err := tx.exec(ctx, `UPDATE subscribers SET suppressed = TRUE WHERE `+in, args...); err != nil {
				return err
			}
		}
	}
	return nil
}

// valuesSQL returns "(?, ?, …), (…)" for n rows of cols values.
func valuesSQL(n, cols int) string {
	one := "(" + placeholders(cols) + ")"
	var sb strings.Builder
	sb.Grow(n * (len(one) + 2))
	for i := 0; i < n; i++ {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(one)
	}
	return sb.String()
}

var subscriberTypes = []string{"text", "text", "text", "text", "timestamptz", "timestamptz"}

// execValues runs head + rows + tail over args (len(types) values per row):
// on SQLite "VALUES (…), (…)" in as few statements as the parameter limit
// allows; on PostgreSQL one statement with an array per column (unnest).
// types are the columns' PostgreSQL types (text, int8, timestamptz).
func execValues(ctx context.Context, tx *Tx, head, tail string, types []string, args []any) error {
	if tx.db.dialect.name() == "postgres" {
		arrays, err := columnArrays(types, args)
		if err != nil {
			return err
		}
		_, err = tx.exec(ctx, head+unnestSQL(types)+tail, arrays...)
		return err
	}
	cols := len(types)
	per := maxParams / cols
	for start := 0; start < len(args); start += per * cols {
		end := min(len(args), start+per*cols)
		if _, err := tx.exec(ctx, head+" VALUES "+valuesSQL((end-start)/cols, cols)+tail, args[start:end]...); err != nil {
			return err
		}
	}
	return nil
}

// queryValues is execValues for statements that return rows.
func queryValues(ctx context.Context, tx *Tx, head, tail string, types []string, args []any, scan func(func(...any) error) error) error {
	each := func(q string, args []any) error {
		rows, err := tx.query(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if err := scan(rows.Scan); err != nil {
				return err
			}
		}
		return rows.Err()
	}
	if tx.db.dialect.name() == "postgres" {
		arrays, err := columnArrays(types, args)
		if err != nil {
			return err
		}
		return each(head+unnestSQL(types)+tail, arrays)
	}
	cols := len(types)
	per := maxParams / cols
	for start := 0; start < len(args); start += per * cols {
		end := min(len(args), start+per*cols)
		if err := each(head+" VALUES "+valuesSQL((end-start)/cols, cols)+tail, args[start:end]); err != nil {
			return err
		}
	}
	return nil
}

// Importer applies the batches of one import (ImportBatch), with SQLite's
// writer tuned for the length of it; End restores the writer. On
// PostgreSQL, whose cache and checkpoints are the server's, it only runs
// the batches.
//
// On SQLite, while importing:
//   - cache_size: a page cache of mb megabytes (a million subscribers make
//     indexes of hundreds of megabytes, inserted into in no particular
//     order);
//   - checkpoints (copying the WAL back into the database) leave the
//     writer: after each batch a connection of the reader pool copies the
//     frames just committed, on another core, while the writer goes on
//     with the next batch. Every importSyncEvery batches the writer waits
//     for that copy to finish and copies the rest, so that its next batch
//     starts the WAL over at its beginning, overwriting the file instead of
//     growing it (writing past the end of a file costs the writer about
//     twice as much). Without this, the writer itself copied each
//     checkpoint, a tenth of its time.
//
// None of it changes durability: a commit is as safe as before.
type Importer struct {
	db      *DB
	batches int
	ck      *sql.Conn     // the checkpointing connection (SQLite)
	ckMu    sync.Mutex    // held while a checkpoint runs
	kick    chan struct{} // asks for a checkpoint in the background
	done    chan struct{} // closed when the checkpointer has stopped
	restore func()
}

// importSyncEvery is how many batches an import commits between
// checkpoints the writer waits for (see Importer).
const importSyncEvery = 4

// BeginImport starts an import: see Importer. End must be called.
func (db *DB) BeginImport(ctx context.Context, mb int) (*Importer, error) {
	im := &Importer{db: db, restore: func() {}}
	if db.dialect.name() != "sqlite" {
		return im, nil
	}
	pragmas := []struct{ name, val string }{
		{"cache_size", strconv.Itoa(-mb * 1024)},
		{"wal_autocheckpoint", "0"},
	}
	old := make([]string, len(pragmas))
	for i, p := range pragmas {
		if err := db.w.QueryRowContext(ctx, `PRAGMA `+p.name).Scan(&old[i]); err != nil {
			return nil, err
		}
	}
	set := func(ctx context.Context, vals []string) error {
		for i, p := range pragmas {
			if _, err := db.w.ExecContext(ctx, `PRAGMA `+p.name+` = `+vals[i]); err != nil {
				return err
			}
		}
		return nil
	}
	vals := make([]string, len(pragmas))
	for i, p := range pragmas {
		vals[i] = p.val
	}
	ck, err := db.r.Conn(ctx)
	if err != nil {
		return nil, err
	}
	if err := set(ctx, vals); err != nil {
		_ = set(context.WithoutCancel(ctx), old)
		ck.Close()
		return nil, err
	}
	im.ck, im.kick, im.done = ck, make(chan struct{}, 1), make(chan struct{})
	go func() {
		defer close(im.done)
		for range im.kick {
			im.checkpoint(context.WithoutCancel(ctx))
		}
	}()
	im.restore = func() {
		close(im.kick)
		<-im.done
		ctx := context.WithoutCancel(ctx)
		_ = set(ctx, old)
		_, _ = ck.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
		ck.Close()
	}
	return im, nil
}

// checkpoint copies the WAL's committed frames into the database, without
// waiting for readers or the writer (PASSIVE). A checkpoint that fails is
// left to the next one, or to End.
func (im *Importer) checkpoint(ctx context.Context) {
	im.ckMu.Lock()
	defer im.ckMu.Unlock()
	_, _ = im.ck.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`)
}

// Batch applies rows in one transaction, as DB.ImportBatch does.
func (im *Importer) Batch(ctx context.Context, lists []*herald.List, rows []ImportRow) (ImportCounts, []ImportNotice, error) {
	if im.ck == nil {
		return im.db.ImportBatch(ctx, lists, rows)
	}
	im.batches++
	if im.batches%importSyncEvery == 0 {
		im.checkpoint(ctx)
	}
	counts, notices, err := im.db.ImportBatch(ctx, lists, rows)
	select {
	case im.kick <- struct{}{}:
	default: // one is running or asked for already
	}
	return counts, notices, err
}

// End restores the writer's settings and copies what is left of the WAL
// into the database, truncating it.
func (im *Importer) End() { im.restore() }
