package mailchimp

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/csvsafe"
)

// CSVWriter writes rows in the format of Mailchimp's audience export, which
// Mailchimp's import accepts and NewCSVReader reads back.
type CSVWriter struct {
	cw      *csv.Writer
	kind    Kind
	extra   []string
	header  []string
	rec     []string
	started bool
	buf     []byte
}

// NewCSVWriter returns a writer of one export file of the given kind.
// extraColumns are the merge fields and group categories to write between
// the names and MEMBER_RATING; each row's value comes from Attributes, or
// from Groups joined with ", ". The header is written with the first row
// (or by Flush).
func NewCSVWriter(w io.Writer, kind Kind, extraColumns []string) (*CSVWriter, error) {
	switch kind {
	case KindSubscribed, KindUnsubscribed, KindCleaned:
	default:
		return nil, fmt.Errorf("mailchimp: cannot write a CSV of kind %v", kind)
	}
	header := []string{ColEmail, ColFirstName, ColLastName}
	seen := map[string]bool{}
	for _, c := range header {
		seen[strings.ToUpper(c)] = true
	}
	for _, c := range extraColumns {
		u := strings.ToUpper(strings.TrimSpace(c))
		if u == "" {
			return nil, fmt.Errorf("mailchimp: empty extra column name")
		}
		if _, std := roles[u]; std || seen[u] {
			return nil, fmt.Errorf("mailchimp: extra column %q clashes with another column", c)
		}
		seen[u] = true
	}
	header = append(header, extraColumns...)
	header = append(header, ColMemberRating, ColOptinTime, ColOptinIP, ColConfirmTime, ColConfirmIP,
		ColLatitude, ColLongitude, ColGMTOff, ColDSTOff, ColTimezone, ColCC, ColRegion, ColLastChanged)
	switch kind {
	case KindUnsubscribed:
		header = append(header, ColUnsubTime, ColUnsubCampaignTitle, ColUnsubCampaignID, ColUnsubReason, ColUnsubReasonOther)
	case KindCleaned:
		header = append(header, ColCleanTime, ColCleanCampaignTitle, ColCleanCampaignID)
	}
	header = append(header, ColLEID, ColEUID, ColNotes, ColTags)
	// LF line ends: with UseCRLF the writer would drop a lone CR inside a
	// value, and Mailchimp's import takes either.
	cw := csv.NewWriter(w)
	return &CSVWriter{
		cw:     cw,
		kind:   kind,
		extra:  append([]string(nil), extraColumns...),
		header: header,
		rec:    make([]string, 0, len(header)),
	}, nil
}

// Header returns the columns the writer writes.
func (w *CSVWriter) Header() []string { return append([]string(nil), w.header...) }

func (w *CSVWriter) start() error {
	if w.started {
		return nil
	}
	w.started = true
	return w.cw.Write(neutralize(append([]string(nil), w.header...)))
}

// Write writes one row. Its Kind is ignored: the file's kind decides which
// columns are written.
func (w *CSVWriter) Write(row Row) error {
	if err := w.start(); err != nil {
		return err
	}
	if strings.TrimSpace(row.Email) == "" {
		return fmt.Errorf("mailchimp: row without email address")
	}
	r := append(w.rec[:0], row.Email, row.FirstName, row.LastName)
	for _, c := range w.extra {
		v, ok := row.Attributes[c]
		if !ok {
			if g, gok := row.Groups[c]; gok {
				v = strings.Join(g, ", ")
			}
		}
		r = append(r, v)
	}
	rating := ""
	if row.MemberRating > 0 {
		rating = strconv.Itoa(row.MemberRating)
	}
	r = append(r, rating, w.time(row.OptinTime), row.OptinIP, w.time(row.ConfirmTime), row.ConfirmIP,
		row.Latitude, row.Longitude, row.GMTOff, row.DSTOff, row.Timezone, row.CC, row.Region, w.time(row.LastChanged))
	switch w.kind {
	case KindUnsubscribed:
		r = append(r, w.time(row.UnsubTime), row.UnsubCampaignTitle, row.UnsubCampaignID, row.UnsubReason, row.UnsubReasonOther)
	case KindCleaned:
		r = append(r, w.time(row.CleanTime), row.CleanCampaignTitle, row.CleanCampaignID)
	}
	r = append(r, row.LEID, row.EUID, row.Notes, formatTags(row.Tags))
	w.rec = neutralize(r)
	return w.cw.Write(r)
}

// neutralize keeps every cell of rec from being read as a formula by a
// spreadsheet (see package csvsafe; NewCSVReader undoes it), in place.
func neutralize(rec []string) []string {
	for i, v := range rec {
		if csvsafe.Needs(v) {
			rec[i] = csvsafe.Neutralize(v)
		}
	}
	return rec
}

func (w *CSVWriter) time(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	w.buf = t.UTC().AppendFormat(w.buf[:0], csvTimeLayout)
	return string(w.buf)
}

// formatTags writes tags as Mailchimp does: each quoted, comma-separated.
func formatTags(tags []string) string {
	if len(tags) == 0 {
		return ""
	}
	var b strings.Builder
	for i, t := range tags {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		b.WriteString(strings.ReplaceAll(t, `"`, `""`))
		b.WriteByte('"')
	}
	return b.String()
}

// Flush writes the header if no row was written, and any buffered data.
func (w *CSVWriter) Flush() error {
	if err := w.start(); err != nil {
		return err
	}
	w.cw.Flush()
	return w.cw.Error()
}
