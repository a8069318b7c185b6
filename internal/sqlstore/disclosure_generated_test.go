package sqlstore_test

import (
	"context"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/sqlstore"
	"github.com/heraldhq/herald/internal/sqlstore/storetest"
)

// TestEnsureDisclosureLegacy: a current disclosure stored before Herald
// recorded which versions it generated is replaced only when legacy says
// it is a generated one.
func TestEnsureDisclosureLegacy(t *testing.T) {
	for name, u := range storetest.URLs(t) {
		t.Run(name, func(t *testing.T) { testEnsureDisclosureLegacy(t, u) })
	}
}

func testEnsureDisclosureLegacy(t *testing.T, u string) {
	ctx := context.Background()
	// Not storetest.Open, which makes a generated disclosure.
	db, err := sqlstore.Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	{
		// As an older Herald left it: a disclosure, and no record of who wrote it.
		old, err := db.CreateDisclosure(ctx, "Old Name keeps your address on Old Name's server.")
		if err != nil {
			t.Fatal(err)
		}
		// nil legacy: taken for a publisher's.
		d, created, err := db.EnsureDisclosure(ctx, "New Name keeps your address on New Name's server.", nil)
		if err != nil || created || d.Version != old.Version {
			t.Fatalf("nil legacy: %+v created=%v err=%v", d, created, err)
		}
		isGen := func(s string) bool { return strings.HasPrefix(s, "Old Name keeps") }
		d, created, err = db.EnsureDisclosure(ctx, "New Name keeps your address on New Name's server.", isGen)
		if err != nil || !created || d.Version != old.Version+1 {
			t.Fatalf("legacy generated: %+v created=%v err=%v", d, created, err)
		}
		// From now on the marker decides: the same text changes nothing.
		d, created, err = db.EnsureDisclosure(ctx, "New Name keeps your address on New Name's server.", nil)
		if err != nil || created || d.Version != old.Version+1 {
			t.Fatalf("same text: %+v created=%v err=%v", d, created, err)
		}
	}
}
