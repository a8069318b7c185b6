package mcsync

import (
	"archive/zip"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/mailchimp"
	"github.com/heraldhq/herald/internal/mcsync/mcstore"
	"github.com/heraldhq/herald/internal/sqlstore"
)

// ExportCounts says how many members each file of an export holds.
type ExportCounts struct {
	Subscribed   int `json:"subscribed"`
	Unsubscribed int `json:"unsubscribed"`
	Cleaned      int `json:"cleaned"`
}

// exportPage is the keyset page of an export.
const exportPage = 2000

// Export writes a list as Mailchimp's audience export: a zip holding
// subscribed_members_export_SLUG.csv (confirmed subscriptions),
// unsubscribed_… and cleaned_… (unsubscribed or confirmed subscriptions
// of suppressed addresses), in the columns Mailchimp's import reads.
// Pending subscriptions are left out: they never consented. It streams:
// memory does not grow with the list.
func Export(ctx context.Context, db *sqlstore.DB, list string, w io.Writer) (ExportCounts, error) {
	var counts ExportCounts
	l, err := db.GetList(ctx, list)
	if err != nil {
		return counts, err
	}
	extra, err := exportColumns(ctx, db, l.ID)
	if err != nil {
		return counts, err
	}
	zw := zip.NewWriter(w)
	for _, kind := range []mailchimp.Kind{mailchimp.KindSubscribed, mailchimp.KindUnsubscribed, mailchimp.KindCleaned} {
		f, err := zw.Create(fmt.Sprintf("%s_members_export_%s.csv", kind, l.Slug))
		if err != nil {
			return counts, err
		}
		n, err := exportKind(ctx, db, l, kind, extra, f)
		if err != nil {
			return counts, err
		}
		switch kind {
		case mailchimp.KindSubscribed:
			counts.Subscribed = n
		case mailchimp.KindUnsubscribed:
			counts.Unsubscribed = n
		default:
			counts.Cleaned = n
		}
	}
	return counts, zw.Close()
}

// ExportCSV writes one file of the export (kind subscribed, unsubscribed
// or cleaned) and returns how many members it holds.
func ExportCSV(ctx context.Context, db *sqlstore.DB, list string, kind mailchimp.Kind, w io.Writer) (int, error) {
	l, err := db.GetList(ctx, list)
	if err != nil {
		return 0, err
	}
	extra, err := exportColumns(ctx, db, l.ID)
	if err != nil {
		return 0, err
	}
	return exportKind(ctx, db, l, kind, extra, w)
}

// exportColumns are the subscribers' attributes that can be columns of
// their own (not one of Mailchimp's standard columns, which the export
// fills itself).
func exportColumns(ctx context.Context, db *sqlstore.DB, listID int64) ([]string, error) {
	keys, err := mcstore.New(db).AttributeKeys(ctx, listID)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, k := range keys {
		if _, err := mailchimp.NewCSVWriter(io.Discard, mailchimp.KindSubscribed, append(out[:len(out):len(out)], k)); err == nil {
			out = append(out, k)
		}
	}
	return out, nil
}

func exportKind(ctx context.Context, db *sqlstore.DB, l *herald.List, kind mailchimp.Kind, extra []string, w io.Writer) (int, error) {
	cw, err := mailchimp.NewCSVWriter(w, kind, extra)
	if err != nil {
		return 0, err
	}
	statuses := []string{herald.StatusConfirmed}
	switch kind {
	case mailchimp.KindUnsubscribed:
		statuses = []string{herald.StatusUnsubscribed}
	case mailchimp.KindCleaned:
		statuses = []string{herald.StatusConfirmed, herald.StatusUnsubscribed}
	}
	n := 0
	for _, status := range statuses {
		var after int64
		for {
			page, err := mcstore.New(db).ExportPage(ctx, l.ID, status, after, exportPage)
			if err != nil {
				return n, err
			}
			for _, m := range page {
				after = m.SubscriberID
				if m.Suppressed != (kind == mailchimp.KindCleaned) {
					continue
				}
				if err := cw.Write(exportRow(&m, kind)); err != nil {
					return n, err
				}
				n++
			}
			if len(page) < exportPage {
				break
			}
		}
	}
	return n, cw.Flush()
}

func exportRow(m *mcstore.ExportMember, kind mailchimp.Kind) mailchimp.Row {
	first, last := mailchimp.SplitName(m.Name)
	row := mailchimp.Row{
		Email: m.Email, FirstName: first, LastName: last,
		OptinTime: m.OptinAt, OptinIP: m.OptinIP, ConfirmTime: m.ConfirmAt, ConfirmIP: m.ConfirmIP, LastChanged: m.ChangedAt,
	}
	if len(m.Attributes) > 0 {
		row.Attributes = make(map[string]string, len(m.Attributes))
		for k, v := range m.Attributes {
			var s string
			switch v := v.(type) {
			case string:
				s = v
			case float64:
				s = strconv.FormatFloat(v, 'f', -1, 64)
			case bool:
				s = strconv.FormatBool(v)
			case nil:
				continue
			default:
				s = fmt.Sprint(v)
			}
			if strings.EqualFold(k, mailchimp.ColTags) {
				for _, t := range strings.Split(s, ",") {
					if t = strings.TrimSpace(t); t != "" {
						row.Tags = append(row.Tags, t)
					}
				}
				continue
			}
			row.Attributes[k] = s
		}
	}
	switch kind {
	case mailchimp.KindUnsubscribed:
		row.UnsubTime = m.UnsubAt
	case mailchimp.KindCleaned:
		row.CleanTime = m.UnsubAt
		if row.CleanTime.IsZero() {
			row.CleanTime = m.ChangedAt
		}
	}
	return row
}
