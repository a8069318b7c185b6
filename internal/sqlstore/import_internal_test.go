package sqlstore

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// AttributesJSON must write exactly what json.Marshal writes (it did
// once): a re-import compares attributes by their text.
func TestAttributesJSONMatchesEncodingJSON(t *testing.T) {
	cases := []map[string]string{
		nil,
		{"Company": "Acme"},
		{"b": "2", "a": "1", "A": "0", "é": "ü"},
		{"html": "<b>&</b>", "quote": `say "hi" \ back`, "ctl": "a\tb\nc\r\x00\x1f\b\f"},
		{"sep": "\u2028\u2029", "bad": "\xff\xfe", "del": "\x7f", "emoji": "🙂"},
		{"": ""},
	}
	for _, m := range cases {
		want := "{}"
		if len(m) > 0 {
			vals := map[string]any{}
			for k, v := range m {
				vals[k] = v
			}
			b, err := json.Marshal(vals)
			if err != nil {
				t.Fatal(err)
			}
			want = string(b)
		}
		if got := AttributesJSON(m); got != want {
			t.Errorf("AttributesJSON(%q) = %s, want %s", m, got, want)
		}
		if got := mergeAttrs("", m); got != want {
			t.Errorf("mergeAttrs(\"\", %q) = %s, want %s", m, got, want)
		}
	}
}

func FuzzAttributesJSON(f *testing.F) {
	f.Add("Company", "Acme <&> \"x\"")
	f.Fuzz(func(t *testing.T, k, v string) {
		b, _ := json.Marshal(map[string]any{k: v, "z" + k: v + k})
		if got := AttributesJSON(map[string]string{k: v, "z" + k: v + k}); got != string(b) {
			t.Fatalf("got %s, want %s", got, b)
		}
	})
}

// TestSortedByKeyInPlace: rows come out in address order, each row whole,
// in the caller's array (no copy of the batch).
func TestSortedByKeyInPlace(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 2, 7, 1000} {
		rows := make([]ImportRow, n)
		for i := range rows {
			k := fmt.Sprintf("%08d@example.com", r.IntN(1_000_000))
			rows[i] = ImportRow{Key: k, Email: k, Line: i}
		}
		want := slices.Clone(rows)
		slices.SortStableFunc(want, func(a, b ImportRow) int { return strings.Compare(a.Key, b.Key) })
		got := sortedByKey(rows)
		if n > 0 && &got[0] != &rows[0] {
			t.Fatalf("n=%d: a copy", n)
		}
		seen := map[int]bool{}
		for i := range got {
			if got[i].Key != want[i].Key || got[i].Email != got[i].Key || seen[got[i].Line] {
				t.Fatalf("n=%d: position %d has %+v, want key %s", n, i, got[i], want[i].Key)
			}
			seen[got[i].Line] = true
		}
	}
}
