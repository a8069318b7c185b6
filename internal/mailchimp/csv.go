package mailchimp

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/csvsafe"
)

// Kind is which file of an audience export a row comes from, which is the
// member's status in Mailchimp.
type Kind int

// Kinds of export files.
const (
	KindUnknown Kind = iota
	KindSubscribed
	KindUnsubscribed
	KindCleaned
)

func (k Kind) String() string {
	switch k {
	case KindSubscribed:
		return "subscribed"
	case KindUnsubscribed:
		return "unsubscribed"
	case KindCleaned:
		return "cleaned"
	}
	return "unknown"
}

// KindFromName guesses the kind from an export file's name
// ("subscribed_members_export_1a2b3c.csv", "unsubscribed_…", "cleaned_…");
// KindUnknown when the name does not say.
func KindFromName(name string) Kind {
	base := strings.ToLower(path.Base(strings.ReplaceAll(name, "\\", "/")))
	switch {
	case strings.HasPrefix(base, "unsubscribed"):
		return KindUnsubscribed
	case strings.HasPrefix(base, "subscribed"):
		return KindSubscribed
	case strings.HasPrefix(base, "cleaned"):
		return KindCleaned
	}
	return KindUnknown
}

// csvTimeLayout is the format of the export's times, in UTC.
const csvTimeLayout = "2006-01-02 15:04:05"

// Column names of Mailchimp's audience export.
const (
	ColEmail              = "Email Address"
	ColFirstName          = "First Name"
	ColLastName           = "Last Name"
	ColMemberRating       = "MEMBER_RATING"
	ColOptinTime          = "OPTIN_TIME"
	ColOptinIP            = "OPTIN_IP"
	ColConfirmTime        = "CONFIRM_TIME"
	ColConfirmIP          = "CONFIRM_IP"
	ColLatitude           = "LATITUDE"
	ColLongitude          = "LONGITUDE"
	ColGMTOff             = "GMTOFF"
	ColDSTOff             = "DSTOFF"
	ColTimezone           = "TIMEZONE"
	ColCC                 = "CC"
	ColRegion             = "REGION"
	ColLastChanged        = "LAST_CHANGED"
	ColLEID               = "LEID"
	ColEUID               = "EUID"
	ColNotes              = "NOTES"
	ColTags               = "TAGS"
	ColUnsubTime          = "UNSUB_TIME"
	ColUnsubCampaignTitle = "UNSUB_CAMPAIGN_TITLE"
	ColUnsubCampaignID    = "UNSUB_CAMPAIGN_ID"
	ColUnsubReason        = "UNSUB_REASON"
	ColUnsubReasonOther   = "UNSUB_REASON_OTHER"
	ColCleanTime          = "CLEAN_TIME"
	ColCleanCampaignTitle = "CLEAN_CAMPAIGN_TITLE"
	ColCleanCampaignID    = "CLEAN_CAMPAIGN_ID"
)

// Row is one member of an export file. Its strings stay valid after the
// next call to Next; its maps and slices do too unless SetReuse is on.
type Row struct {
	File string // the name given to NewCSVReader
	Line int    // line of the row's first field, counting the header as 1
	Kind Kind

	Email     string // as written, trimmed
	FirstName string
	LastName  string
	// Attributes are the other merge fields by column name, only those
	// with a value; nil when there are none.
	Attributes map[string]string
	// Groups are the interest groups by category (the column name), for
	// columns named with SetGroupColumns; nil when there are none.
	Groups map[string][]string
	Tags   []string

	MemberRating int // 1–5, 0 when absent
	OptinTime    time.Time
	OptinIP      string
	ConfirmTime  time.Time
	ConfirmIP    string
	Latitude     string
	Longitude    string
	GMTOff       string
	DSTOff       string
	Timezone     string
	CC           string // country code
	Region       string
	LastChanged  time.Time
	LEID         string
	EUID         string
	Notes        string

	UnsubTime          time.Time
	UnsubCampaignTitle string
	UnsubCampaignID    string
	UnsubReason        string
	UnsubReasonOther   string

	CleanTime          time.Time
	CleanCampaignTitle string
	CleanCampaignID    string
}

// RowError is a malformed row. The reader has skipped it; call Next again
// to continue.
type RowError struct {
	File string
	Line int
	Msg  string
}

func (e *RowError) Error() string {
	if e.File != "" {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
}

// column roles
type role uint8

const (
	roleAttr role = iota
	roleGroup
	roleEmail
	roleFirstName
	roleLastName
	roleMemberRating
	roleOptinTime
	roleOptinIP
	roleConfirmTime
	roleConfirmIP
	roleLatitude
	roleLongitude
	roleGMTOff
	roleDSTOff
	roleTimezone
	roleCC
	roleRegion
	roleLastChanged
	roleLEID
	roleEUID
	roleNotes
	roleTags
	roleUnsubTime
	roleUnsubCampaignTitle
	roleUnsubCampaignID
	roleUnsubReason
	roleUnsubReasonOther
	roleCleanTime
	roleCleanCampaignTitle
	roleCleanCampaignID
)

// roles maps upper-cased column names to their role; every other column
// is an attribute (a merge field) or, when named, a group column.
var roles = map[string]role{
	"EMAIL ADDRESS":       roleEmail,
	"EMAIL":               roleEmail,
	"E-MAIL":              roleEmail,
	"EMAIL_ADDRESS":       roleEmail,
	"FIRST NAME":          roleFirstName,
	"FNAME":               roleFirstName,
	"LAST NAME":           roleLastName,
	"LNAME":               roleLastName,
	ColMemberRating:       roleMemberRating,
	ColOptinTime:          roleOptinTime,
	ColOptinIP:            roleOptinIP,
	ColConfirmTime:        roleConfirmTime,
	ColConfirmIP:          roleConfirmIP,
	ColLatitude:           roleLatitude,
	ColLongitude:          roleLongitude,
	ColGMTOff:             roleGMTOff,
	ColDSTOff:             roleDSTOff,
	ColTimezone:           roleTimezone,
	ColCC:                 roleCC,
	ColRegion:             roleRegion,
	ColLastChanged:        roleLastChanged,
	ColLEID:               roleLEID,
	ColEUID:               roleEUID,
	ColNotes:              roleNotes,
	ColTags:               roleTags,
	ColUnsubTime:          roleUnsubTime,
	ColUnsubCampaignTitle: roleUnsubCampaignTitle,
	ColUnsubCampaignID:    roleUnsubCampaignID,
	ColUnsubReason:        roleUnsubReason,
	ColUnsubReasonOther:   roleUnsubReasonOther,
	ColCleanTime:          roleCleanTime,
	ColCleanCampaignTitle: roleCleanCampaignTitle,
	ColCleanCampaignID:    roleCleanCampaignID,
}

// CSVReader streams the rows of one export file. It keeps one row in
// memory at a time.
type CSVReader struct {
	cr     *csv.Reader
	name   string
	kind   Kind
	header []string
	roles  []role
	nattr  int // attribute columns, to size maps

	// With reuse, one set of maps and slices serves every row.
	reuse     bool
	attrs     map[string]string
	groups    map[string][]string
	groupBufs [][]string // per column
	tags      []string
}

// NewCSVReader reads the header of one export file (a UTF-8 byte-order
// mark is skipped) and returns a reader for its rows. The kind comes from
// the columns (UNSUB_TIME and the other UNSUB_ columns: unsubscribed;
// CLEAN_ columns: cleaned), else from name, else it is subscribed; name is
// also used in errors. A file without an "Email Address" column is an
// error.
func NewCSVReader(r io.Reader, name string) (*CSVReader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	if b, err := br.Peek(3); err == nil && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF {
		_, _ = br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1 // checked per row, to report and go on
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("%s: empty file, expected a header with %q", displayName(name), ColEmail)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: reading header: %w", displayName(name), err)
	}
	header = slicesClone(header)
	r2 := &CSVReader{cr: cr, name: name, header: header, roles: make([]role, len(header))}
	hasEmail, unsubCols, cleanCols := false, false, false
	for i, h := range header {
		h = csvsafe.Restore(strings.TrimSpace(h))
		header[i] = h
		ro, ok := roles[strings.ToUpper(h)]
		if !ok {
			r2.roles[i] = roleAttr
			r2.nattr++
			continue
		}
		r2.roles[i] = ro
		switch ro {
		case roleEmail:
			if hasEmail {
				return nil, fmt.Errorf("%s: two email address columns", displayName(name))
			}
			hasEmail = true
		case roleUnsubTime, roleUnsubCampaignTitle, roleUnsubCampaignID, roleUnsubReason, roleUnsubReasonOther:
			unsubCols = true
		case roleCleanTime, roleCleanCampaignTitle, roleCleanCampaignID:
			cleanCols = true
		}
	}
	switch {
	case unsubCols && !cleanCols:
		r2.kind = KindUnsubscribed
	case cleanCols && !unsubCols:
		r2.kind = KindCleaned
	}
	if !hasEmail {
		return nil, fmt.Errorf("%s: no %q column in the header", displayName(name), ColEmail)
	}
	if r2.kind == KindUnknown {
		r2.kind = KindFromName(name)
	}
	if r2.kind == KindUnknown {
		r2.kind = KindSubscribed
	}
	return r2, nil
}

func displayName(name string) string {
	if name == "" {
		return "csv"
	}
	return name
}

func slicesClone(s []string) []string { return append([]string(nil), s...) }

// Kind is the file's kind, from its columns or name (subscribed when
// neither says).
func (r *CSVReader) Kind() Kind { return r.kind }

// Name is the name given to NewCSVReader.
func (r *CSVReader) Name() string { return r.name }

// Header returns the file's column names.
func (r *CSVReader) Header() []string { return slicesClone(r.header) }

// SetGroupColumns names the columns that hold interest groups (Mailchimp
// names a group column after its category; nothing in the file tells it
// from a merge field). Their values, comma-separated group names, go to
// Row.Groups instead of Row.Attributes. Naming a column the file lacks is
// an error.
func (r *CSVReader) SetGroupColumns(names ...string) error {
	for _, n := range names {
		found := false
		for i, h := range r.header {
			if strings.EqualFold(h, strings.TrimSpace(n)) && (r.roles[i] == roleAttr || r.roles[i] == roleGroup) {
				if r.roles[i] == roleAttr {
					r.roles[i] = roleGroup
					r.nattr--
				}
				found = true
			}
		}
		if !found {
			return fmt.Errorf("%s: no column %q to read groups from", displayName(r.name), n)
		}
	}
	return nil
}

// SetReuse makes Next reuse the maps and slices of the rows it returns
// (Attributes, Groups, Tags): the next call to Next overwrites them. This
// saves most of the reader's allocations; callers that keep rows (to write
// them in batches, say) must Clone them. Strings are never reused.
func (r *CSVReader) SetReuse(on bool) {
	r.reuse = on
	if on && r.groupBufs == nil {
		r.attrs = make(map[string]string, r.nattr)
		r.groups = make(map[string][]string)
		r.groupBufs = make([][]string, len(r.roles))
	}
}

// Clone returns a copy of the row that shares no map or slice with it.
func (row Row) Clone() Row {
	c := row
	if row.Attributes != nil {
		c.Attributes = make(map[string]string, len(row.Attributes))
		for k, v := range row.Attributes {
			c.Attributes[k] = v
		}
	}
	if row.Groups != nil {
		c.Groups = make(map[string][]string, len(row.Groups))
		for k, v := range row.Groups {
			c.Groups[k] = append([]string(nil), v...)
		}
	}
	if row.Tags != nil {
		c.Tags = append([]string(nil), row.Tags...)
	}
	return c
}

// Next returns the next row, io.EOF after the last one, or a *RowError for
// a malformed row (which is skipped: call Next again). Any other error is
// fatal. Rows whose fields are all empty are skipped silently.
func (r *CSVReader) Next() (Row, error) {
	for {
		rec, err := r.cr.Read()
		if err != nil {
			if err == io.EOF {
				return Row{}, io.EOF
			}
			var pe *csv.ParseError
			if errors.As(err, &pe) && !errors.Is(pe.Err, csv.ErrFieldCount) {
				return Row{}, &RowError{File: r.name, Line: pe.StartLine, Msg: "malformed CSV: " + pe.Err.Error()}
			}
			return Row{}, fmt.Errorf("%s: %w", displayName(r.name), err)
		}
		line, _ := r.cr.FieldPos(0)
		if len(rec) != len(r.roles) {
			if allEmpty(rec) {
				continue
			}
			return Row{}, &RowError{File: r.name, Line: line,
				Msg: fmt.Sprintf("has %d fields, the header has %d", len(rec), len(r.roles))}
		}
		if allEmpty(rec) {
			continue
		}
		return r.row(rec, line)
	}
}

func allEmpty(rec []string) bool {
	for _, f := range rec {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

func (r *CSVReader) row(rec []string, line int) (Row, error) {
	row := Row{File: r.name, Line: line, Kind: r.kind}
	if r.reuse {
		clear(r.attrs)
		clear(r.groups)
	}
	var err error
	bad := func(col int, what string) error {
		return &RowError{File: r.name, Line: line, Msg: fmt.Sprintf("%s %q: %s", r.header[col], rec[col], what)}
	}
	for i, v := range rec {
		ro := r.roles[i]
		if ro != roleNotes {
			v = strings.TrimSpace(v)
		}
		if v == "" {
			continue
		}
		// Herald's own exports quote cells a spreadsheet would take for a
		// formula; the quote is removed again (see package csvsafe).
		if v[0] == '\'' {
			v = csvsafe.Restore(v)
		}
		switch ro {
		case roleAttr:
			if row.Attributes == nil {
				if r.reuse {
					row.Attributes = r.attrs
				} else {
					row.Attributes = make(map[string]string, r.nattr)
				}
			}
			row.Attributes[r.header[i]] = v
		case roleGroup:
			if row.Groups == nil {
				if r.reuse {
					row.Groups = r.groups
				} else {
					row.Groups = make(map[string][]string, 1)
				}
			}
			if r.reuse {
				r.groupBufs[i] = appendList(r.groupBufs[i][:0], v)
				row.Groups[r.header[i]] = r.groupBufs[i]
			} else {
				row.Groups[r.header[i]] = appendList(nil, v)
			}
		case roleEmail:
			row.Email = v
		case roleFirstName:
			row.FirstName = v
		case roleLastName:
			row.LastName = v
		case roleMemberRating:
			n, perr := strconv.Atoi(v)
			if perr != nil || n < 0 || n > 5 {
				return Row{}, bad(i, "not a member rating from 1 to 5")
			}
			row.MemberRating = n
		case roleOptinTime:
			row.OptinTime, err = parseCSVTime(v)
		case roleOptinIP:
			row.OptinIP = v
		case roleConfirmTime:
			row.ConfirmTime, err = parseCSVTime(v)
		case roleConfirmIP:
			row.ConfirmIP = v
		case roleLatitude:
			row.Latitude = v
		case roleLongitude:
			row.Longitude = v
		case roleGMTOff:
			row.GMTOff = v
		case roleDSTOff:
			row.DSTOff = v
		case roleTimezone:
			row.Timezone = v
		case roleCC:
			row.CC = v
		case roleRegion:
			row.Region = v
		case roleLastChanged:
			row.LastChanged, err = parseCSVTime(v)
		case roleLEID:
			row.LEID = v
		case roleEUID:
			row.EUID = v
		case roleNotes:
			row.Notes = v
		case roleTags:
			if r.reuse {
				r.tags = appendTags(r.tags[:0], v)
				row.Tags = r.tags
			} else {
				row.Tags = appendTags(nil, v)
			}
			if len(row.Tags) == 0 {
				row.Tags = nil
			}
		case roleUnsubTime:
			row.UnsubTime, err = parseCSVTime(v)
		case roleUnsubCampaignTitle:
			row.UnsubCampaignTitle = v
		case roleUnsubCampaignID:
			row.UnsubCampaignID = v
		case roleUnsubReason:
			row.UnsubReason = v
		case roleUnsubReasonOther:
			row.UnsubReasonOther = v
		case roleCleanTime:
			row.CleanTime, err = parseCSVTime(v)
		case roleCleanCampaignTitle:
			row.CleanCampaignTitle = v
		case roleCleanCampaignID:
			row.CleanCampaignID = v
		}
		if err != nil {
			return Row{}, bad(i, "not a time like 2006-01-02 15:04:05")
		}
	}
	if row.Email == "" {
		return Row{}, &RowError{File: r.name, Line: line, Msg: "no email address"}
	}
	if !validEmail(row.Email) {
		return Row{}, &RowError{File: r.name, Line: line, Msg: fmt.Sprintf("invalid email address %q", row.Email)}
	}
	return row, nil
}

var errBadTime = errors.New("bad time")

// parseCSVTime parses "2006-01-02 15:04:05" (UTC) without allocating;
// it is on the hot path of imports.
func parseCSVTime(s string) (time.Time, error) {
	if len(s) != len(csvTimeLayout) || s[4] != '-' || s[7] != '-' || s[10] != ' ' || s[13] != ':' || s[16] != ':' {
		return time.Time{}, errBadTime
	}
	num := func(a, b int) int {
		n := 0
		for i := a; i < b; i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return -1
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	y, mo, d, h, mi, se := num(0, 4), num(5, 7), num(8, 10), num(11, 13), num(14, 16), num(17, 19)
	if y < 1 || mo < 1 || mo > 12 || d < 1 || d > daysIn(mo, y) || h < 0 || h > 23 || mi < 0 || mi > 59 || se < 0 || se > 59 {
		return time.Time{}, errBadTime
	}
	return time.Date(y, time.Month(mo), d, h, mi, se, 0, time.UTC), nil
}

func daysIn(m, y int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// parseTags reads the TAGS column. Mailchimp writes each tag quoted and
// separated by commas (`"VIP","2024 donors"`); a plain comma-separated
// list is accepted too.
func parseTags(s string) []string { return appendTags(nil, s) }

func appendTags(tags []string, s string) []string {
	for s != "" {
		s = strings.TrimLeft(s, " ,")
		if s == "" {
			break
		}
		var tag string
		if s[0] == '"' {
			tag, s = unquoteTag(s)
			if j := strings.IndexByte(s, ','); j >= 0 {
				s = s[j+1:]
			} else {
				s = ""
			}
		} else if j := strings.IndexByte(s, ','); j >= 0 {
			tag, s = s[:j], s[j+1:]
		} else {
			tag, s = s, ""
		}
		if tag = strings.TrimSpace(tag); tag != "" {
			tags = append(tags, tag)
		}
	}
	return tags
}

// unquoteTag reads one quoted tag at the start of s ("a ""b""" → a "b")
// and returns it and the rest of s. Without doubled quotes the tag is a
// substring of s.
func unquoteTag(s string) (tag, rest string) {
	end := 1
	doubled := false
	for end < len(s) {
		if s[end] == '"' {
			if end+1 < len(s) && s[end+1] == '"' {
				doubled = true
				end += 2
				continue
			}
			break
		}
		end++
	}
	tag = s[1:min(end, len(s))]
	if doubled {
		tag = strings.ReplaceAll(tag, `""`, `"`)
	}
	return tag, s[min(end+1, len(s)):]
}
