package bounce

import (
	"encoding/json"
	"os"
	"testing"
	"unicode/utf8"
)

// FuzzParse: whatever comes in, Parse neither panics nor reads past its
// caps, and what it reports is well-formed: a known kind and a reason for
// every result, valid UTF-8, never a hard bounce for a sender problem,
// and JSON that encodes. The seeds are testdata/fuzz/FuzzParse (broken
// MIME of many shapes) and the whole bounce corpus.
func FuzzParse(f *testing.F) {
	_, files := corpus(f)
	for _, name := range files {
		raw, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		rep := ParseBytes(raw)
		if len(rep.Recipients) == 0 && (rep.Kind != Ignore || rep.Reason == "") {
			t.Fatalf("no recipients but kind %q reason %q", rep.Kind, rep.Reason)
		}
		if len(rep.Recipients) > maxRecipients*2 {
			t.Fatalf("%d recipients", len(rep.Recipients))
		}
		for _, r := range rep.Recipients {
			switch r.Kind {
			case Hard, Soft, Complaint, Ignore:
			default:
				t.Fatalf("kind %q", r.Kind)
			}
			if r.Reason == "" {
				t.Fatalf("no reason: %+v", r)
			}
			if r.SenderProblem && r.Kind == Hard {
				t.Fatalf("sender problem and hard: %+v", r)
			}
			for _, s := range []string{r.Address, r.Status, r.Diagnostic, r.Action, r.RemoteMTA} {
				if !utf8.ValidString(s) {
					t.Fatalf("invalid UTF-8 %q", s)
				}
			}
			if len(r.Diagnostic) > 1000 {
				t.Fatalf("diagnostic of %d bytes", len(r.Diagnostic))
			}
		}
		if _, err := json.Marshal(rep); err != nil {
			t.Fatal(err)
		}
	})
}
