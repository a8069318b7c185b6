package mcsync

import (
	"archive/zip"
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"time"

	"github.com/heraldhq/herald/internal/mailchimp"
)

// GenOptions shape a generated audience export (for tests and `herald
// bench import-mailchimp`).
type GenOptions struct {
	Rows int // members, broken rows included
	// BrokenEvery makes every n-th row malformed (an invalid address, a
	// wrong number of fields, or a bad time, in turn); 0 = none.
	BrokenEvery int
}

// GenCounts is what a generated export holds.
type GenCounts struct {
	Subscribed   int // valid rows of each file
	Unsubscribed int
	Cleaned      int
	Broken       int
	// InSport and InTech count valid rows whose "Interests" column names
	// the group "Sport" or "Tech".
	InSport, InTech                 int
	SubscribedSport, SubscribedTech int
}

// GenKind is the file a generated row i goes to: 80 % subscribed, 12 %
// unsubscribed, 8 % cleaned.
func GenKind(i int) mailchimp.Kind {
	switch p := i % 100; {
	case p < 80:
		return mailchimp.KindSubscribed
	case p < 92:
		return mailchimp.KindUnsubscribed
	}
	return mailchimp.KindCleaned
}

// GenEmail is the address of generated row i.
// GenEmail is the address of generated row i. Addresses are unique and in
// no particular order, as in a real export (an index fed sorted keys only
// ever appends, which would flatter an import).
func GenEmail(i int) string {
	h := uint32(i)*2654435761 + 0x9e3779b9 // a bijection of uint32: unique for i < 2³²
	return fmt.Sprintf("m%08x.%d@example.com", h, i)
}

// GenOptinTime is the OPTIN_TIME of generated row i (its CONFIRM_TIME is
// five minutes later).
func GenOptinTime(i int) time.Time {
	return time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute)
}

// GenBroken reports whether generated row i is malformed.
func (o GenOptions) GenBroken(i int) bool {
	return o.BrokenEvery > 0 && i%o.BrokenEvery == o.BrokenEvery-1
}

func genGroups(i int) []string {
	switch i % 3 {
	case 0:
		return []string{"Sport"}
	case 1:
		return []string{"Tech"}
	}
	return []string{"Sport", "Tech"}
}

// GenerateExport writes a zip like Mailchimp's audience export, with
// merge fields (Company), a group column (Interests), tags, opt-in and
// confirmation times and IPs, unsubscribe and cleaning details.
func GenerateExport(w io.Writer, o GenOptions) (GenCounts, error) {
	var c GenCounts
	zw := zip.NewWriter(w)
	for _, kind := range []mailchimp.Kind{mailchimp.KindSubscribed, mailchimp.KindUnsubscribed, mailchimp.KindCleaned} {
		f, err := zw.Create(fmt.Sprintf("%s_members_export_0a1b2c3d4e.csv", kind))
		if err != nil {
			return c, err
		}
		bw := bufio.NewWriterSize(f, 256<<10)
		cw, err := mailchimp.NewCSVWriter(bw, kind, []string{"Company", "Interests"})
		if err != nil {
			return c, err
		}
		raw := csv.NewWriter(bw)
		header := cw.Header()
		for i := 0; i < o.Rows; i++ {
			if GenKind(i) != kind {
				continue
			}
			optin := GenOptinTime(i)
			row := mailchimp.Row{
				Email: GenEmail(i), FirstName: fmt.Sprintf("First%d", i), LastName: fmt.Sprintf("Last %d", i),
				Attributes:   map[string]string{"Company": fmt.Sprintf("Company %d", i%97)},
				Groups:       map[string][]string{"Interests": genGroups(i)},
				MemberRating: 1 + i%5,
				OptinTime:    optin, OptinIP: fmt.Sprintf("198.51.100.%d", 1+i%250),
				ConfirmTime: optin.Add(5 * time.Minute), ConfirmIP: fmt.Sprintf("203.0.113.%d", 1+i%250),
				LastChanged: optin.Add(10 * time.Minute),
				LEID:        fmt.Sprint(100000 + i), EUID: fmt.Sprintf("%010x", i),
			}
			if i%7 == 0 {
				row.Tags = []string{"VIP", "2024 donors"}
			}
			switch kind {
			case mailchimp.KindUnsubscribed:
				row.UnsubTime, row.UnsubReason = optin.Add(24*time.Hour), "NORMAL"
			case mailchimp.KindCleaned:
				row.CleanTime = optin.Add(48 * time.Hour)
			}
			if o.GenBroken(i) {
				c.Broken++
				switch (i / o.BrokenEvery) % 3 {
				case 0:
					row.Email = fmt.Sprintf("broken-%d-at-example.com", i)
					err = cw.Write(row)
				case 1:
					if err = cw.Flush(); err == nil {
						err = raw.Write([]string{GenEmail(i), "Only two fields"})
						raw.Flush()
					}
				default:
					rec := make([]string, len(header))
					rec[0] = GenEmail(i)
					for j, h := range header {
						if h == mailchimp.ColOptinTime {
							rec[j] = "yesterday"
						}
					}
					if err = cw.Flush(); err == nil {
						err = raw.Write(rec)
						raw.Flush()
					}
				}
				if err != nil {
					return c, err
				}
				continue
			}
			if err := cw.Write(row); err != nil {
				return c, err
			}
			switch kind {
			case mailchimp.KindSubscribed:
				c.Subscribed++
			case mailchimp.KindUnsubscribed:
				c.Unsubscribed++
			default:
				c.Cleaned++
			}
			for _, g := range genGroups(i) {
				switch g {
				case "Sport":
					c.InSport++
					if kind == mailchimp.KindSubscribed {
						c.SubscribedSport++
					}
				case "Tech":
					c.InTech++
					if kind == mailchimp.KindSubscribed {
						c.SubscribedTech++
					}
				}
			}
		}
		if err := cw.Flush(); err != nil {
			return c, err
		}
		if err := bw.Flush(); err != nil {
			return c, err
		}
	}
	return c, zw.Close()
}
