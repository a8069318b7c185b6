// Package csvimport reads Herald's generic CSV import format: a plain list
// of readers from anywhere (another newsletter tool, a spreadsheet), one
// per row. The header names the columns: "email" is required (also
// spelled "e-mail", "email address", "email_address"; any case), "name" is
// the reader's name, and every other column becomes an attribute of that
// name. Nothing in such a file is evidence of consent, so nothing is taken
// for it: the importer (internal/mcsync) records that the readers were
// imported without opt-in evidence, and never an opt-in or confirmation
// time.
//
// The reader streams: it holds one row at a time, whatever the file's size.
package csvimport

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/heraldhq/herald"
)

// Row is one reader of the file.
type Row struct {
	File string
	Line int // of the row's first field; the header is line 1

	Email string // normalised (herald.NormalizeEmail)
	Key   string // its lower-case key
	Name  string // cleaned (herald.CleanName); "" when the file has none
	// Attributes are the other columns with a value, by column name; nil
	// when there are none.
	Attributes map[string]string
}

// RowError is a malformed row: the reader has skipped it (call Next again).
type RowError struct {
	File string
	Line int
	Msg  string
}

func (e *RowError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// MaxAttributeBytes bounds a row's attributes (names and values).
const MaxAttributeBytes = 15 << 10

// mailchimpColumns are columns of Mailchimp's export: a file that has them
// is an export, which carries consent evidence that this format ignores.
var mailchimpColumns = []string{"OPTIN_TIME", "CONFIRM_TIME", "MEMBER_RATING", "UNSUB_TIME", "CLEAN_TIME", "LEID", "EUID"}

type role uint8

const (
	roleAttr role = iota
	roleEmail
	roleName
)

// Reader streams the rows of one file.
type Reader struct {
	cr     *csv.Reader
	name   string
	header []string
	roles  []role
}

// NewReader reads the header (a UTF-8 byte-order mark is skipped). name is
// used in errors and rows. A header without an "email" column, with two,
// with an empty or repeated column name, or with Mailchimp's export
// columns (use the Mailchimp format for those) is an error.
func NewReader(r io.Reader, name string) (*Reader, error) {
	if name == "" {
		name = "csv"
	}
	br := bufio.NewReaderSize(r, 64<<10)
	if b, err := br.Peek(3); err == nil && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF {
		_, _ = br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("%s: empty file, expected a header such as \"email,name\"", name)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: reading the header: %w", name, err)
	}
	rd := &Reader{cr: cr, name: name, header: make([]string, len(header)), roles: make([]role, len(header))}
	seen := map[string]bool{}
	email := false
	for i, h := range header {
		h = strings.TrimSpace(h)
		rd.header[i] = h
		if h == "" {
			return nil, fmt.Errorf("%s: column %d of the header has no name", name, i+1)
		}
		low := strings.ToLower(h)
		if seen[low] {
			return nil, fmt.Errorf("%s: the header names %q twice", name, h)
		}
		seen[low] = true
		for _, mc := range mailchimpColumns {
			if strings.EqualFold(h, mc) {
				return nil, fmt.Errorf("%s: this is a Mailchimp audience export (it has the column %q): import it as one "+
					"(herald import mailchimp, or POST /api/v1/lists/{slug}/import/mailchimp) so that its opt-in evidence and statuses are kept", name, h)
			}
		}
		switch low {
		case "email", "e-mail", "email address", "email_address":
			rd.roles[i], email = roleEmail, true
		case "name":
			rd.roles[i] = roleName
		}
	}
	if !email {
		return nil, fmt.Errorf("%s: no \"email\" column in the header (found %s); the generic CSV format needs a header such as \"email,name\"",
			name, strings.Join(rd.header, ", "))
	}
	return rd, nil
}

// Name is the name given to NewReader.
func (r *Reader) Name() string { return r.name }

// ColumnUse is what the import does with one column.
type ColumnUse struct {
	Column string `json:"column"`
	Use    string `json:"use"`
}

// Mapping says what the import does with each column, for a dry run.
func (r *Reader) Mapping() []ColumnUse {
	out := make([]ColumnUse, len(r.header))
	for i, h := range r.header {
		use := fmt.Sprintf("attribute %q", h)
		switch r.roles[i] {
		case roleEmail:
			use = "email address"
		case roleName:
			use = "name"
		}
		out[i] = ColumnUse{Column: h, Use: use}
	}
	return out
}

// Next returns the next row, io.EOF after the last, or a *RowError for a
// malformed row (skipped: call Next again); any other error is fatal. Rows
// whose fields are all empty are skipped silently.
func (r *Reader) Next() (Row, error) {
	for {
		rec, err := r.cr.Read()
		if err == io.EOF {
			return Row{}, io.EOF
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return Row{}, &RowError{File: r.name, Line: pe.StartLine, Msg: "malformed CSV: " + pe.Err.Error()}
			}
			return Row{}, fmt.Errorf("%s: %w", r.name, err)
		}
		line, _ := r.cr.FieldPos(0)
		empty := true
		for _, f := range rec {
			if strings.TrimSpace(f) != "" {
				empty = false
				break
			}
		}
		if empty {
			continue
		}
		if len(rec) != len(r.roles) {
			return Row{}, &RowError{File: r.name, Line: line, Msg: fmt.Sprintf("has %d fields, the header has %d", len(rec), len(r.roles))}
		}
		return r.row(rec, line)
	}
}

func (r *Reader) row(rec []string, line int) (Row, error) {
	row := Row{File: r.name, Line: line}
	size := 0
	var rawEmail, rawName string
	for i, v := range rec {
		v = strings.TrimSpace(v)
		switch r.roles[i] {
		case roleEmail:
			rawEmail = v
		case roleName:
			rawName = v
		default:
			if v == "" {
				continue
			}
			if row.Attributes == nil {
				row.Attributes = make(map[string]string, len(rec)-1)
			}
			row.Attributes[r.header[i]] = v
			size += len(r.header[i]) + len(v)
		}
	}
	bad := func(msg string) (Row, error) { return Row{}, &RowError{File: r.name, Line: line, Msg: msg} }
	if rawEmail == "" {
		return bad("no email address")
	}
	var err error
	if row.Email, row.Key, err = herald.NormalizeEmail(rawEmail); err != nil {
		return bad(fmt.Sprintf("invalid email address %q", rawEmail))
	}
	if row.Name, err = herald.CleanName(rawName); err != nil {
		return bad("invalid name: " + herald.ErrorMessage(err))
	}
	if size > MaxAttributeBytes {
		return bad("attributes longer than 15 KB")
	}
	return row, nil
}
