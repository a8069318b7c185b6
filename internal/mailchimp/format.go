package mailchimp

import (
	"fmt"
	"strings"
)

// RequiredExportColumns are the columns a file must have to be read as a
// Mailchimp audience export: the address as Mailchimp names it, and the
// opt-in and confirmation times that every export carries (empty for a
// member Mailchimp holds no evidence for). A plain list of addresses has
// none of Mailchimp's consent columns; importing it as an export would
// make up a status and a history that nobody recorded.
var RequiredExportColumns = []string{ColEmail, ColOptinTime, ColConfirmTime}

// ErrNotExport is the message for a file that lacks RequiredExportColumns.
type ErrNotExport struct {
	File    string
	Missing []string
}

func (e *ErrNotExport) Error() string {
	return fmt.Sprintf("%s: not a Mailchimp audience export: it lacks the column(s) %s that every export has. "+
		"For a plain list of addresses (a header such as \"email,name\") use the generic CSV format "+
		"(herald import csv --list SLUG FILE, or POST /api/v1/lists/{slug}/import/csv), which records that the "+
		"readers were imported without opt-in evidence.",
		displayName(e.File), quoteList(e.Missing))
}

func quoteList(s []string) string {
	q := make([]string, len(s))
	for i, x := range s {
		q[i] = fmt.Sprintf("%q", x)
	}
	return strings.Join(q, ", ")
}

// CheckExport tells whether the file's header is that of a Mailchimp
// audience export (RequiredExportColumns, names compared without regard
// to case); the error, an *ErrNotExport, names what is missing and points
// to the generic CSV format.
func (r *CSVReader) CheckExport() error {
	var missing []string
	for _, want := range RequiredExportColumns {
		found := false
		for _, h := range r.header {
			if strings.EqualFold(h, want) {
				found = true
				break
			}
		}
		if !found {
			missing = append(missing, want)
		}
	}
	if len(missing) > 0 {
		return &ErrNotExport{File: r.name, Missing: missing}
	}
	return nil
}

// ColumnUse is what an import does with one column of a file.
type ColumnUse struct {
	Column string `json:"column"`
	Use    string `json:"use"`
}

// Mapping says what the import does with each column of the file, for a
// dry run: the subscriber's fields, the consent evidence, the status
// columns, and the merge fields that become attributes.
func (r *CSVReader) Mapping() []ColumnUse {
	out := make([]ColumnUse, len(r.header))
	for i, h := range r.header {
		var use string
		switch r.roles[i] {
		case roleEmail:
			use = "email address"
		case roleFirstName:
			use = "name (first part)"
		case roleLastName:
			use = "name (last part)"
		case roleOptinTime:
			use = "opt-in time (consent event)"
		case roleOptinIP:
			use = "opt-in IP (consent event)"
		case roleConfirmTime:
			use = "confirmation time (consent event)"
		case roleConfirmIP:
			use = "confirmation IP (consent event)"
		case roleLastChanged:
			use = "last change (decides against a later unsubscribe in Herald)"
		case roleUnsubTime:
			use = "unsubscribe time (consent event)"
		case roleUnsubReason, roleUnsubReasonOther:
			use = "unsubscribe reason (consent event; abuse or spam suppresses)"
		case roleCleanTime:
			use = "cleaning time (consent event)"
		case roleTags:
			use = "attribute \"TAGS\""
		case roleGroup:
			use = "interest groups (--group)"
		case roleAttr:
			use = fmt.Sprintf("attribute %q", h)
		default:
			use = "checked, not stored"
		}
		out[i] = ColumnUse{Column: h, Use: use}
	}
	return out
}
