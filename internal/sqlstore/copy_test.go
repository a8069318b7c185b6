package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/service"
	"github.com/heraldhq/herald/internal/sqlstore"
	"github.com/heraldhq/herald/internal/sqlstore/storetest"
)

// TestCopyToPostgres copies a SQLite installation with 100,000 readers,
// a consent ledger, a campaign, jobs and settings into PostgreSQL: every
// table arrives with its exact row count, values keep their meaning
// across the type changes, new rows get new ids, and a second copy into
// the now full target is refused.
func TestCopyToPostgres(t *testing.T) {
	pg := os.Getenv("HERALD_TEST_POSTGRES_URL")
	if pg == "" {
		t.Skip("HERALD_TEST_POSTGRES_URL is not set")
	}
	ctx := context.Background()
	srcURL := storetest.URLs(t)["sqlite"]
	src := storetest.Open(t, srcURL)
	secret, err := src.Secret(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []*herald.List{{Slug: "daily", Name: "Daily"}, {Slug: "sport", Name: "Sport", OptIn: "single"}} {
		if err := src.CreateList(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	const readers = 100_000
	if err := src.SeedSubscribers(ctx, "daily", readers, "reader"); err != nil {
		t.Fatal(err)
	}
	opt := sqlstore.SignupOptions{ConfirmWindow: time.Hour, ConfirmTTL: 24 * time.Hour}
	for _, e := range []string{"ann@example.com", "bob@example.com"} {
		if _, err := service.New(src).Signup(ctx, service.Caller{}, herald.SignupRequest{Email: e, Name: "Zoë “quoted”", Lists: []string{"daily", "sport"}, IP: "192.0.2.1"}, opt); err != nil {
			t.Fatal(err)
		}
	}
	if err := src.Suppress(ctx, "gone@example.com", "bounce"); err != nil {
		t.Fatal(err)
	}
	c := &herald.Campaign{Name: "Issue 1", Subject: "News", Body: "Hello", Lists: []string{"daily"}}
	if err := src.CreateCampaign(ctx, c); err != nil {
		t.Fatal(err)
	}
	srcCounts, err := src.TableCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}

	target := storetest.PostgresSchema(t, pg)
	dst, err := sqlstore.Open(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	start := time.Now()
	var lastTable string
	var progressCalls int
	res, err := sqlstore.CopyToPostgres(ctx, src, dst, func(p sqlstore.CopyProgress) {
		progressCalls++
		if p.Done {
			lastTable = p.Table
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("copied %d readers (%d tables) in %s (2 shared cores, noisy), %d progress calls", readers, len(res), time.Since(start), progressCalls)
	if lastTable == "" {
		t.Fatal("no progress reported")
	}
	dstCounts, err := dst.TableCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for table, n := range srcCounts {
		if table == "schema_migrations" {
			continue
		}
		if dstCounts[table] != n {
			t.Errorf("%s: %d rows in SQLite, %d in PostgreSQL", table, n, dstCounts[table])
		}
	}
	if dstCounts["subscribers"] != readers+2 {
		t.Errorf("subscribers in PostgreSQL: %d", dstCounts["subscribers"])
	}

	// Every row of every table arrived with the same values.
	for table := range srcCounts {
		if table == "schema_migrations" {
			continue
		}
		a := tableRows(t, "sqlite", "file:"+strings.TrimPrefix(srcURL, "sqlite:")+"?mode=ro", table)
		b := tableRows(t, "pgx", target, table)
		if len(a) != len(b) {
			t.Errorf("%s: %d rows in SQLite, %d in PostgreSQL", table, len(a), len(b))
			continue
		}
		for i := range a {
			if a[i] != b[i] {
				t.Errorf("%s: a row differs:\n  SQLite:     %s\n  PostgreSQL: %s", table, a[i], b[i])
				break
			}
		}
	}

	// The secret came along; booleans, timestamps and text kept their values.
	dst.SetSecret(secret)
	if got, err := dst.Secret(ctx); err != nil || string(got) != string(secret) {
		t.Fatalf("secret in PostgreSQL %q, %v; want SQLite's %q", got, err, secret)
	}
	for _, db := range []*sqlstore.DB{src, dst} {
		s, err := db.SubscriberByEmail(ctx, "ann@example.com")
		if err != nil {
			t.Fatal(err)
		}
		if s.Name != "Zoë “quoted”" || s.CreatedAt.IsZero() {
			t.Errorf("%s: ann is %+v", db.Dialect(), s)
		}
	}
	// New rows get new ids after the copied ones.
	l := &herald.List{Slug: "weekly", Name: "Weekly"}
	if err := dst.CreateList(ctx, l); err != nil {
		t.Fatalf("a new list after the copy: %v", err)
	}
	if l.ID != 3 {
		t.Errorf("the new list's id is %d, want 3 (after the two copied)", l.ID)
	}

	// The target now holds data: a second copy is refused and changes nothing.
	if _, err := sqlstore.CopyToPostgres(ctx, src, dst, nil); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("copy into a full target: %v", err)
	}
	if n, _ := dst.TableCounts(ctx); n["subscribers"] != readers+2 {
		t.Fatalf("after the refused copy: %d subscribers", n["subscribers"])
	}
}

// tableRows returns every row of table as a line of normalised values
// (columns by name; times in UTC; booleans as 1 and 0), sorted.
func tableRows(t *testing.T, driver, dsn, table string) []string {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT * FROM "` + table + `"`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	order := make([]int, len(cols))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(i, j int) bool { return cols[order[i]] < cols[order[j]] })
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var out []string
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, i := range order {
			b.WriteString(cols[i] + "=")
			switch v := vals[i].(type) {
			case nil:
				b.WriteString("NULL")
			case time.Time:
				b.WriteString(v.UTC().Format(time.RFC3339Nano))
			case bool:
				if v {
					b.WriteString(`"1"`)
				} else {
					b.WriteString(`"0"`)
				}
			case []byte:
				b.WriteString(fmt.Sprintf("%q", v))
			default:
				b.WriteString(fmt.Sprintf("%q", fmt.Sprint(v)))
			}
			b.WriteString(" ")
		}
		out = append(out, b.String())
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// TestCopyToPostgresRefuses: a target at another schema version, or with
// tables that are not Herald's, is refused before anything is copied.
func TestCopyToPostgresRefuses(t *testing.T) {
	pg := os.Getenv("HERALD_TEST_POSTGRES_URL")
	if pg == "" {
		t.Skip("HERALD_TEST_POSTGRES_URL is not set")
	}
	ctx := context.Background()
	src := storetest.Open(t, storetest.URLs(t)["sqlite"])
	for _, tc := range []struct {
		name, setup, want string
	}{
		{"older schema", `DELETE FROM schema_migrations WHERE version = (SELECT MAX(version) FROM schema_migrations)`, "schema version"},
		{"someone else's tables", `DROP TABLE schema_migrations; CREATE TABLE orders (id INTEGER)`, "no Herald schema_migrations"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := storetest.PostgresSchema(t, pg)
			dst := storetest.Open(t, target)
			if _, err := dst.Secret(ctx); err != nil { // a used installation...
				t.Fatal(err)
			}
			raw, err := sql.Open("pgx", target)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			if _, err := raw.Exec(`DELETE FROM settings`); err != nil { // ...emptied, but not of its schema
				t.Fatal(err)
			}
			if _, err := raw.Exec(tc.setup); err != nil {
				t.Fatal(err)
			}
			if _, err := sqlstore.CopyToPostgres(ctx, src, dst, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("copy: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
