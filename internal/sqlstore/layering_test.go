package sqlstore_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The store records what happened; integrations decide what to do about
// it (docs/events.md). So no Go file of the store names an integration,
// and the store imports none: an integration reads the store's events and
// keeps its own tables in its own package.
func TestStoreNamesNoIntegration(t *testing.T) {
	integrations := regexp.MustCompile(`(?i)mailchimp|mcsync|mcstore|webhook`)
	files, err := filepath.Glob("*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no Go files found: %v", err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "layering_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			if m := integrations.FindString(line); m != "" {
				t.Errorf("%s:%d names an integration (%q): %s", f, i+1, m, strings.TrimSpace(line))
			}
		}
	}
}
