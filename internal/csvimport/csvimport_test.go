package csvimport

import (
	"errors"
	"io"
	"strings"
	"testing"
)

func TestReader(t *testing.T) {
	in := "\xEF\xBB\xBFEmail, Name ,City,Plan\r\n" +
		"Ann@Example.com,Ann Lee,Paris,\r\n" +
		",,,\r\n" + // empty: skipped silently
		"not-an-address,Bob,,\r\n" +
		"bo@example.com,,=cmd,gold\r\n" +
		"short@example.com,x\r\n"
	r, err := NewReader(strings.NewReader(in), "people.csv")
	if err != nil {
		t.Fatal(err)
	}
	m := r.Mapping()
	if len(m) != 4 || m[0].Use != "email address" || m[1].Use != "name" || m[2].Use != `attribute "City"` {
		t.Fatalf("mapping %+v", m)
	}
	var rows []Row
	var bad []string
	for {
		row, err := r.Next()
		if err == io.EOF {
			break
		}
		var re *RowError
		if errors.As(err, &re) {
			bad = append(bad, re.Error())
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, row)
	}
	if len(rows) != 2 || rows[0].Email != "Ann@Example.com" || rows[0].Key != "ann@example.com" || rows[0].Name != "Ann Lee" ||
		rows[0].Attributes["City"] != "Paris" || len(rows[0].Attributes) != 1 || rows[0].Line != 2 {
		t.Fatalf("rows %+v", rows)
	}
	if rows[1].Name != "" || rows[1].Attributes["City"] != "=cmd" || rows[1].Attributes["Plan"] != "gold" {
		t.Fatalf("row 2 %+v", rows[1])
	}
	if len(bad) != 2 || !strings.Contains(bad[0], "people.csv:4: invalid email address") || !strings.Contains(bad[1], "people.csv:6: has 2 fields") {
		t.Fatalf("problems %q", bad)
	}
}

func TestReaderHeaders(t *testing.T) {
	for _, c := range []struct{ header, want string }{
		{"", "empty file"},
		{"name,city", `no "email" column`},
		{"email,Email", "twice"},
		{"email,,city", "no name"},
		{"Email Address,OPTIN_TIME,CONFIRM_TIME", "Mailchimp audience export"},
		{"email,MEMBER_RATING", "Mailchimp audience export"},
	} {
		_, err := NewReader(strings.NewReader(c.header+"\n"), "f.csv")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("header %q: %v, want %q", c.header, err, c.want)
		}
	}
	for _, h := range []string{"email", "E-mail,name", "Email Address,First", "EMAIL_ADDRESS"} {
		if _, err := NewReader(strings.NewReader(h+"\n"), "f.csv"); err != nil {
			t.Errorf("header %q: %v", h, err)
		}
	}
}

func FuzzReader(f *testing.F) {
	f.Add("email,name\na@b.co,A\n")
	f.Add("email,x\n\"a@b.co,\"\n")
	f.Fuzz(func(t *testing.T, s string) {
		r, err := NewReader(strings.NewReader(s), "f.csv")
		if err != nil {
			return
		}
		for i := 0; i < 1000; i++ {
			row, err := r.Next()
			if err == io.EOF {
				return
			}
			var re *RowError
			if err != nil && !errors.As(err, &re) {
				return
			}
			if err == nil && (row.Email == "" || row.Key == "") {
				t.Fatalf("a row without address: %+v", row)
			}
		}
	})
}
