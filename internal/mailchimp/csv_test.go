package mailchimp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"
)

const subscribedHeader = `"Email Address","First Name","Last Name",Newsletters,CITY,MEMBER_RATING,OPTIN_TIME,OPTIN_IP,CONFIRM_TIME,CONFIRM_IP,LATITUDE,LONGITUDE,GMTOFF,DSTOFF,TIMEZONE,CC,REGION,LAST_CHANGED,LEID,EUID,NOTES,TAGS`

// readAll reads every row, collecting row errors separately.
func readAll(t *testing.T, r *CSVReader) ([]Row, []*RowError) {
	t.Helper()
	var rows []Row
	var bad []*RowError
	for {
		row, err := r.Next()
		if err == io.EOF {
			return rows, bad
		}
		var re *RowError
		if errors.As(err, &re) {
			bad = append(bad, re)
			continue
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		rows = append(rows, row)
	}
}

func date(s string) time.Time {
	t, err := time.Parse(csvTimeLayout, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestCSVReaderSubscribed(t *testing.T) {
	in := "\xEF\xBB\xBF" + subscribedHeader + "\r\n" +
		`ann@herald.test,Ann,Lee,"Morning, Weekend",Oslo,4,"2020-01-02 03:04:05",192.0.2.1,"2020-01-02 03:05:00",192.0.2.2,59.9,10.7,1,2,Europe/Oslo,NO,03,"2021-05-06 07:08:09",123,abc,"line one` + "\r\n" + `line two","""VIP"",""Donor, 2024"""` + "\r\n" +
		`Bob@Herald.test,,,,,,,,,,,,,,,,,,,,,` + "\r\n"
	r, err := NewCSVReader(strings.NewReader(in), "subscribed_members_export_1a2b.csv")
	if err != nil {
		t.Fatal(err)
	}
	if r.Kind() != KindSubscribed {
		t.Errorf("Kind = %v", r.Kind())
	}
	if err := r.SetGroupColumns("newsletters"); err != nil {
		t.Fatal(err)
	}
	if err := r.SetGroupColumns("Nope"); err == nil {
		t.Error("SetGroupColumns accepted a missing column")
	}
	rows, bad := readAll(t, r)
	if len(bad) != 0 {
		t.Fatalf("row errors: %v", bad)
	}
	want := []Row{{
		File: "subscribed_members_export_1a2b.csv", Line: 2, Kind: KindSubscribed,
		Email: "ann@herald.test", FirstName: "Ann", LastName: "Lee",
		Attributes:   map[string]string{"CITY": "Oslo"},
		Groups:       map[string][]string{"Newsletters": {"Morning", "Weekend"}},
		Tags:         []string{"VIP", "Donor, 2024"},
		MemberRating: 4,
		OptinTime:    date("2020-01-02 03:04:05"), OptinIP: "192.0.2.1",
		ConfirmTime: date("2020-01-02 03:05:00"), ConfirmIP: "192.0.2.2",
		Latitude: "59.9", Longitude: "10.7", GMTOff: "1", DSTOff: "2", Timezone: "Europe/Oslo", CC: "NO", Region: "03",
		LastChanged: date("2021-05-06 07:08:09"), LEID: "123", EUID: "abc", Notes: "line one\nline two",
	}, {
		File: "subscribed_members_export_1a2b.csv", Line: 4, Kind: KindSubscribed, Email: "Bob@Herald.test",
	}}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("rows =\n%+v\nwant\n%+v", rows, want)
	}
}

func TestCSVReaderKinds(t *testing.T) {
	for _, tc := range []struct {
		name, file, header string
		want               Kind
	}{
		{"subscribed by name", "subscribed_members_export_x.csv", "Email Address", KindSubscribed},
		{"unsubscribed by name", "export/unsubscribed_members_export_x.csv", "Email Address", KindUnsubscribed},
		{"cleaned by name", "CLEANED_members.csv", "Email Address", KindCleaned},
		{"unsubscribed by column", "members.csv", "Email Address,UNSUB_TIME", KindUnsubscribed},
		{"cleaned by column", "members.csv", "Email Address,CLEAN_TIME", KindCleaned},
		{"columns beat name", "subscribed_x.csv", "Email Address,CLEAN_TIME", KindCleaned},
		{"any unsub column", "x.csv", "Email Address,UNSUB_REASON", KindUnsubscribed},
		{"mixed columns: name decides", "cleaned_x.csv", "Email Address,UNSUB_TIME,CLEAN_TIME", KindCleaned},
		{"default", "audience.csv", "Email,Name", KindSubscribed},
		{"windows path", `C:\exports\unsubscribed_1.csv`, "Email Address", KindUnsubscribed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewCSVReader(strings.NewReader(tc.header+"\n"), tc.file)
			if err != nil {
				t.Fatal(err)
			}
			if r.Kind() != tc.want {
				t.Errorf("Kind = %v, want %v", r.Kind(), tc.want)
			}
		})
	}
}

func TestCSVReaderUnsubscribedAndCleaned(t *testing.T) {
	unsub := "Email Address,First Name,Last Name,MEMBER_RATING,OPTIN_TIME,OPTIN_IP,CONFIRM_TIME,CONFIRM_IP,LATITUDE,LONGITUDE,GMTOFF,DSTOFF,TIMEZONE,CC,REGION,LAST_CHANGED,UNSUB_TIME,UNSUB_CAMPAIGN_TITLE,UNSUB_CAMPAIGN_ID,UNSUB_REASON,UNSUB_REASON_OTHER,LEID,EUID,NOTES,TAGS\n" +
		"u@herald.test,U,V,1,,,,,,,,,,,,,2022-02-02 02:02:02,Weekly #3,abc123,Other,Too many mails,1,2,,\n"
	r, err := NewCSVReader(strings.NewReader(unsub), "unsubscribed.csv")
	if err != nil {
		t.Fatal(err)
	}
	rows, bad := readAll(t, r)
	if len(rows) != 1 || len(bad) != 0 {
		t.Fatalf("rows %v, errors %v", rows, bad)
	}
	got := rows[0]
	if got.Kind != KindUnsubscribed || !got.UnsubTime.Equal(date("2022-02-02 02:02:02")) || got.UnsubCampaignTitle != "Weekly #3" ||
		got.UnsubCampaignID != "abc123" || got.UnsubReason != "Other" || got.UnsubReasonOther != "Too many mails" {
		t.Errorf("row = %+v", got)
	}

	cleaned := "Email Address,CLEAN_TIME,CLEAN_CAMPAIGN_TITLE,CLEAN_CAMPAIGN_ID\nc@herald.test,2023-03-03 03:03:03,Launch,xyz\n"
	r, err = NewCSVReader(strings.NewReader(cleaned), "x.csv")
	if err != nil {
		t.Fatal(err)
	}
	rows, _ = readAll(t, r)
	if len(rows) != 1 || rows[0].Kind != KindCleaned || !rows[0].CleanTime.Equal(date("2023-03-03 03:03:03")) ||
		rows[0].CleanCampaignTitle != "Launch" || rows[0].CleanCampaignID != "xyz" {
		t.Errorf("rows = %+v", rows)
	}
}

func TestCSVReaderBadRows(t *testing.T) {
	in := "Email Address,First Name,OPTIN_TIME,MEMBER_RATING\n" +
		"ok1@herald.test,A,,\n" +
		"not-an-address,B,,\n" + // line 3
		"ok2@herald.test,C\n" + // line 4: too few fields
		"ok3@herald.test,D,2020-02-30 00:00:00,\n" + // line 5: no such day
		",E,,\n" + // line 6: no address
		",,,\n" + // line 7: empty, skipped silently
		"ok4@herald.test,\"F\nG\",,\n" + // lines 8-9
		"ok5@herald.test,x\"y,,\n" + // line 10: bare quote
		"ok6@herald.test,H,,7\n" + // line 11: rating out of range
		"ok7@herald.test,I,2020-02-29 23:59:59,5\n" // line 12
	r, err := NewCSVReader(strings.NewReader(in), "in.csv")
	if err != nil {
		t.Fatal(err)
	}
	rows, bad := readAll(t, r)
	var emails []string
	var lines []int
	for _, row := range rows {
		emails = append(emails, row.Email)
		lines = append(lines, row.Line)
	}
	if want := []string{"ok1@herald.test", "ok4@herald.test", "ok7@herald.test"}; !reflect.DeepEqual(emails, want) {
		t.Errorf("rows %v, want %v", emails, want)
	}
	if want := []int{2, 8, 12}; !reflect.DeepEqual(lines, want) {
		t.Errorf("lines %v, want %v", lines, want)
	}
	var badLines []int
	for _, e := range bad {
		badLines = append(badLines, e.Line)
		if e.File != "in.csv" || e.Msg == "" || !strings.HasPrefix(e.Error(), fmt.Sprintf("in.csv:%d: ", e.Line)) {
			t.Errorf("row error %+v / %q", e, e.Error())
		}
	}
	if want := []int{3, 4, 5, 6, 10, 11}; !reflect.DeepEqual(badLines, want) {
		t.Errorf("bad lines %v, want %v (%v)", badLines, want, bad)
	}
}

func TestNewCSVReaderErrors(t *testing.T) {
	for _, tc := range []struct{ name, in string }{
		{"empty", ""},
		{"only BOM", "\xEF\xBB\xBF"},
		{"no email column", "Name,City\nA,B\n"},
		{"two email columns", "Email Address,Email\na@b.co,c@d.co\n"},
		{"unterminated header", "\"Email Address\n"},
	} {
		if _, err := NewCSVReader(strings.NewReader(tc.in), "f.csv"); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

func TestParseTags(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{``, nil},
		{`"VIP"`, []string{"VIP"}},
		{`"VIP","Donor, 2024"`, []string{"VIP", "Donor, 2024"}},
		{`"say ""hi""", "x"`, []string{`say "hi"`, "x"}},
		{`a, b ,,c`, []string{"a", "b", "c"}},
		{`"unterminated`, []string{"unterminated"}},
	} {
		if got := parseTags(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseTags(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParseCSVTime(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"2020-01-02 03:04:05", true},
		{"2020-02-29 23:59:59", true},
		{"2021-02-29 00:00:00", false},
		{"2020-01-02T03:04:05", false},
		{"2020-1-02 03:04:05", false},
		{"2020-01-02 24:00:00", false},
		{"0000-01-01 00:00:00", false},
		{"2020-01-02 03:04:05Z", false},
		{"+020-01-02 03:04:05", false},
	} {
		got, err := parseCSVTime(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("parseCSVTime(%q) error %v", tc.in, err)
			continue
		}
		if tc.ok {
			want, _ := time.Parse(csvTimeLayout, tc.in)
			if !got.Equal(want) || got.Location() != time.UTC {
				t.Errorf("parseCSVTime(%q) = %v, want %v", tc.in, got, want)
			}
		}
	}
}

func TestCSVWriterRoundTrip(t *testing.T) {
	for _, kind := range []Kind{KindSubscribed, KindUnsubscribed, KindCleaned} {
		t.Run(kind.String(), func(t *testing.T) {
			rows := []Row{{
				Kind: kind, Email: "ann@herald.test", FirstName: "Ann", LastName: "Lee, Jr.",
				Attributes: map[string]string{"CITY": "Oslo"}, Groups: map[string][]string{"Newsletters": {"Morning", "Weekend"}},
				Tags: []string{"VIP", `say "hi"`}, MemberRating: 3,
				OptinTime: date("2020-01-02 03:04:05"), OptinIP: "192.0.2.1", ConfirmTime: date("2020-01-02 03:05:00"), ConfirmIP: "192.0.2.2",
				Latitude: "1", Longitude: "2", GMTOff: "3", DSTOff: "4", Timezone: "UTC", CC: "NO", Region: "R",
				LastChanged: date("2021-01-01 00:00:00"), LEID: "9", EUID: "e", Notes: "multi\nline, \"quoted\"",
			}, {Kind: kind, Email: "bob@herald.test"}}
			switch kind {
			case KindUnsubscribed:
				rows[0].UnsubTime, rows[0].UnsubCampaignTitle, rows[0].UnsubCampaignID, rows[0].UnsubReason, rows[0].UnsubReasonOther =
					date("2022-01-01 00:00:00"), "Weekly", "c1", "Other", "why"
			case KindCleaned:
				rows[0].CleanTime, rows[0].CleanCampaignTitle, rows[0].CleanCampaignID = date("2022-01-01 00:00:00"), "Weekly", "c1"
			}
			var buf bytes.Buffer
			w, err := NewCSVWriter(&buf, kind, []string{"Newsletters", "CITY"})
			if err != nil {
				t.Fatal(err)
			}
			for _, row := range rows {
				if err := w.Write(row); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			r, err := NewCSVReader(bytes.NewReader(buf.Bytes()), "export.csv")
			if err != nil {
				t.Fatal(err)
			}
			if r.Kind() != kind {
				t.Errorf("read back kind %v", r.Kind())
			}
			if err := r.SetGroupColumns("Newsletters"); err != nil {
				t.Fatal(err)
			}
			got, bad := readAll(t, r)
			if len(bad) > 0 {
				t.Fatal(bad)
			}
			for i := range got {
				got[i].File, got[i].Line = "", 0
			}
			if !reflect.DeepEqual(got, rows) {
				t.Errorf("round trip:\n%+v\nwant\n%+v\ncsv:\n%s", got, rows, buf.String())
			}
		})
	}
}

func TestCSVWriterErrors(t *testing.T) {
	if _, err := NewCSVWriter(io.Discard, KindUnknown, nil); err == nil {
		t.Error("kind unknown accepted")
	}
	if _, err := NewCSVWriter(io.Discard, KindSubscribed, []string{"OPTIN_TIME"}); err == nil {
		t.Error("extra column clashing with a standard column accepted")
	}
	if _, err := NewCSVWriter(io.Discard, KindSubscribed, []string{"CITY", "city"}); err == nil {
		t.Error("duplicate extra columns accepted")
	}
	var buf bytes.Buffer
	w, _ := NewCSVWriter(&buf, KindCleaned, nil)
	if err := w.Write(Row{}); err == nil {
		t.Error("row without email accepted")
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "Email Address,First Name,Last Name,MEMBER_RATING,OPTIN_TIME,OPTIN_IP,CONFIRM_TIME,CONFIRM_IP,LATITUDE,LONGITUDE,GMTOFF,DSTOFF,TIMEZONE,CC,REGION,LAST_CHANGED,CLEAN_TIME,CLEAN_CAMPAIGN_TITLE,CLEAN_CAMPAIGN_ID,LEID,EUID,NOTES,TAGS\n"
	if buf.String() != want {
		t.Errorf("header = %q", buf.String())
	}
}

// benchCSV builds a subscribed export of n rows like Mailchimp's.
func benchCSV(n int) []byte {
	var b bytes.Buffer
	b.WriteString(subscribedHeader + "\r\n")
	for i := range n {
		fmt.Fprintf(&b, `reader%07d@example-news.org,Firstname%d,Lastname,"Morning, Weekend",Oslo,%d,"2020-01-02 03:04:05",192.0.2.1,"2020-01-02 03:05:00",192.0.2.1,59.91,10.75,1,2,Europe/Oslo,NO,03,"2021-05-06 07:08:09",%d,a1b2c3d4e5,,"""VIP"""`+"\r\n",
			i, i, i%5+1, 100000+i)
	}
	return b.Bytes()
}

func BenchmarkCSVReader(b *testing.B) {
	const n = 100_000
	data := benchCSV(n)
	for _, reuse := range []bool{false, true} {
		name := "fresh"
		if reuse {
			name = "reuse"
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			rows := 0
			for b.Loop() {
				r, err := NewCSVReader(bytes.NewReader(data), "subscribed_members_export.csv")
				if err != nil {
					b.Fatal(err)
				}
				if err := r.SetGroupColumns("Newsletters"); err != nil {
					b.Fatal(err)
				}
				r.SetReuse(reuse)
				for {
					_, err := r.Next()
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
					rows++
				}
			}
			b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(rows), "ns/row")
		})
	}
}

func TestCSVReaderReuse(t *testing.T) {
	data := benchCSV(50)
	read := func(reuse bool) []Row {
		r, err := NewCSVReader(bytes.NewReader(data), "s.csv")
		if err != nil {
			t.Fatal(err)
		}
		if err := r.SetGroupColumns("Newsletters"); err != nil {
			t.Fatal(err)
		}
		r.SetReuse(reuse)
		var rows []Row
		for {
			row, err := r.Next()
			if err == io.EOF {
				return rows
			}
			if err != nil {
				t.Fatal(err)
			}
			rows = append(rows, row.Clone())
		}
	}
	fresh, reused := read(false), read(true)
	if len(fresh) != 50 || !reflect.DeepEqual(fresh, reused) {
		t.Errorf("reusing rows changes them:\n%+v\n%+v", fresh[:1], reused[:1])
	}
	if fresh[0].Attributes["CITY"] != "Oslo" || len(fresh[0].Groups["Newsletters"]) != 2 || fresh[0].Tags[0] != "VIP" {
		t.Errorf("row = %+v", fresh[0])
	}
}

func BenchmarkCSVWriter(b *testing.B) {
	row := Row{Email: "reader@example-news.org", FirstName: "Ann", LastName: "Lee", Attributes: map[string]string{"CITY": "Oslo"},
		OptinTime: date("2020-01-02 03:04:05"), OptinIP: "192.0.2.1", LastChanged: date("2021-05-06 07:08:09"), Tags: []string{"VIP"}}
	w, err := NewCSVWriter(io.Discard, KindSubscribed, []string{"CITY"})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := w.Write(row); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// FuzzCSVReader: the reader must never panic or stall, must keep going
// after bad rows, and what it accepts must survive a write and re-read
// unchanged.
func FuzzCSVReader(f *testing.F) {
	f.Add("subscribed_x.csv", []byte(subscribedHeader+"\r\nann@herald.test,Ann,Lee,\"A, B\",Oslo,1,,,,,,,,,,,,,,,,\r\n"))
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		r, err := NewCSVReader(bytes.NewReader(data), name)
		if err != nil {
			return
		}
		for _, h := range r.Header() {
			if strings.EqualFold(h, "Interests") || strings.EqualFold(h, "Newsletters") {
				_ = r.SetGroupColumns(h)
			}
		}
		var rows []Row
		last := 0
		for i := 0; ; i++ {
			if i > len(data)+2 {
				t.Fatal("more results than input lines")
			}
			row, err := r.Next()
			if err == io.EOF {
				break
			}
			var re *RowError
			if errors.As(err, &re) {
				if re.Line < last {
					t.Fatalf("row error line %d after line %d", re.Line, last)
				}
				last = re.Line
				continue
			}
			if err != nil {
				return // an I/O error cannot happen with a bytes.Reader, but a fatal error is allowed
			}
			if !validEmail(row.Email) || row.Line <= last || row.Kind != r.Kind() {
				t.Fatalf("bad row %+v after line %d", row, last)
			}
			last = row.Line
			rows = append(rows, row)
		}
		if len(rows) == 0 {
			return
		}

		// Round trip through the writer.
		var extra, groups []string
		seen := map[string]bool{}
		for _, row := range rows {
			for k := range row.Attributes {
				if !seen[k] {
					seen[k] = true
					extra = append(extra, k)
				}
			}
			for k := range row.Groups {
				if !seen[k] {
					seen[k] = true
					extra = append(extra, k)
					groups = append(groups, k)
				}
			}
		}
		var buf bytes.Buffer
		w, err := NewCSVWriter(&buf, r.Kind(), extra)
		if err != nil {
			return // columns differing only in case, which the writer refuses
		}
		for _, row := range rows {
			if err := w.Write(row); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		r2, err := NewCSVReader(&buf, "again.csv")
		if err != nil {
			t.Fatalf("re-reading written CSV: %v", err)
		}
		if err := r2.SetGroupColumns(groups...); err != nil {
			t.Fatal(err)
		}
		for i := 0; ; i++ {
			row, err := r2.Next()
			if err == io.EOF {
				if i != len(rows) {
					t.Fatalf("read back %d rows, wrote %d", i, len(rows))
				}
				break
			}
			if err != nil {
				t.Fatalf("re-reading row %d: %v", i, err)
			}
			want := rows[i]
			row.File, row.Line, want.File, want.Line = "", 0, "", 0
			// The writer writes the columns of the file's kind only; a
			// hand-made file may have both UNSUB_ and CLEAN_ columns.
			if r.Kind() != KindUnsubscribed {
				want.UnsubTime, want.UnsubCampaignTitle, want.UnsubCampaignID, want.UnsubReason, want.UnsubReasonOther = time.Time{}, "", "", "", ""
			}
			if r.Kind() != KindCleaned {
				want.CleanTime, want.CleanCampaignTitle, want.CleanCampaignID = time.Time{}, "", ""
			}
			if len(row.Groups) == 0 {
				row.Groups = nil
			}
			if !reflect.DeepEqual(row, want) {
				t.Fatalf("round trip changed row %d:\n%+v\n%+v", i, row, want)
			}
		}
	})
}

// TestCheckExport (issue 14 item 9): a Mailchimp import needs the columns
// of an export; a plain "email,name" file, even named like an export file,
// is refused with a pointer to the generic CSV format.
func TestCheckExport(t *testing.T) {
	for _, c := range []struct {
		name, header string
		ok           bool
	}{
		{"subscribed_members_export_1.csv", "email,name", false},
		{"subscribed_members_export_1.csv", "Email Address,First Name,Last Name", false},
		{"x.csv", "Email Address,OPTIN_TIME", false},
		{"x.csv", "Email Address,First Name,OPTIN_TIME,OPTIN_IP,CONFIRM_TIME,CONFIRM_IP", true},
		{"x.csv", "email address,optin_time,confirm_time", true},
	} {
		r, err := NewCSVReader(strings.NewReader(c.header+"\n"), c.name)
		if err != nil {
			if c.ok {
				t.Errorf("%s: %v", c.header, err)
			}
			continue
		}
		err = r.CheckExport()
		if (err == nil) != c.ok {
			t.Errorf("%s %q: CheckExport %v", c.name, c.header, err)
		}
		if err != nil && !strings.Contains(err.Error(), "herald import csv") {
			t.Errorf("the refusal does not point to the generic format: %v", err)
		}
	}
}
