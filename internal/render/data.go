package render

import (
	"encoding/json"
	"fmt"
	"html/template"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// templateData is the dot of both templates. Only Reader, UnsubscribeURL,
// ManageURL and (in the layout) Body differ between readers; the analysis in
// slots.go relies on that list.
type templateData struct {
	Reader         readerData
	UnsubscribeURL string
	ManageURL      string
	Campaign       campaignInfo
	Lists          []string
	ListNames      string
	PostalAddress  string
	Publisher      publisherInfo
	Body           template.HTML
	Year           int
}

type readerData struct {
	Name       string
	FirstName  string
	Email      string
	Attributes map[string]any
}

type campaignInfo struct {
	ID      int64
	Name    string
	Subject string
}

// publisherInfo prints as the publisher's name, so "from {{.Publisher}}"
// reads naturally, and still offers its other fields.
type publisherInfo struct {
	Name          string
	BaseURL       string
	PostalAddress string
}

func (p publisherInfo) String() string { return p.Name }

func campaignData(c Campaign, p Publisher, lists []string, date time.Time) templateData {
	name := strings.TrimSpace(p.Name)
	if name == "" {
		name = "the publisher"
	}
	return templateData{
		Campaign:      campaignInfo{ID: c.ID, Name: c.Name, Subject: c.Subject},
		Lists:         append([]string(nil), lists...),
		ListNames:     joinNames(lists),
		PostalAddress: p.PostalAddress,
		Publisher:     publisherInfo{Name: name, BaseURL: p.BaseURL, PostalAddress: p.PostalAddress},
		Year:          date.Year(),
	}
}

// joinNames joins names as in a sentence: "A", "A and B", "A, B and C".
func joinNames(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// firstName returns the first word of name, without allocating.
func firstName(name string) string {
	name = strings.TrimLeftFunc(name, unicode.IsSpace)
	if i := strings.IndexFunc(name, unicode.IsSpace); i >= 0 {
		return name[:i]
	}
	return name
}

// funcMap returns the template functions of a campaign sent on date. The
// fast path calls the same Go functions, so both paths agree by
// construction.
func funcMap(date time.Time) template.FuncMap {
	return template.FuncMap{
		"default": defaultFunc,
		"upper":   upperFunc,
		"lower":   lowerFunc,
		"date": func(layout string, v ...any) (string, error) {
			switch len(v) {
			case 0:
				return date.Format(layout), nil
			case 1:
				return formatDate(layout, v[0]), nil
			}
			return "", fmt.Errorf("date takes a layout and at most one value, got %d values", len(v))
		},
	}
}

// defaultFunc returns the last of v unless it is empty, else def.
// {{.X | default "y"}} calls defaultFunc("y", .X).
func defaultFunc(def any, v ...any) any {
	if len(v) == 0 || isEmpty(v[len(v)-1]) {
		return def
	}
	return v[len(v)-1]
}

func upperFunc(v any) string { return strings.ToUpper(toString(v)) }
func lowerFunc(v any) string { return strings.ToLower(toString(v)) }

// isEmpty reports whether v counts as missing for default: nil, blank
// strings, false, zero numbers and empty collections.
func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return isBlank(x)
	case bool:
		return !x
	case float64:
		return x == 0
	case json.Number:
		return isBlank(string(x))
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.String:
		return isBlank(rv.String())
	case reflect.Slice, reflect.Map, reflect.Array:
		return rv.Len() == 0
	case reflect.Pointer, reflect.Interface:
		return rv.IsNil()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int() == 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return rv.Uint() == 0
	case reflect.Float32, reflect.Float64:
		return rv.Float() == 0
	}
	return false
}

func isBlank(s string) bool { return strings.TrimSpace(s) == "" }

// toString is how the functions see a value.
func toString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case fmt.Stringer:
		return x.String()
	}
	return fmt.Sprint(v)
}

// formatDate formats v, a time, an RFC 3339 or YYYY-MM-DD string or Unix
// seconds, with layout; other values are returned as text, unchanged.
func formatDate(layout string, v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case time.Time:
		return x.Format(layout)
	case *time.Time:
		if x == nil {
			return ""
		}
		return x.Format(layout)
	case string:
		return formatDateString(layout, x)
	case float64:
		return time.Unix(int64(x), 0).UTC().Format(layout)
	case int64:
		return time.Unix(x, 0).UTC().Format(layout)
	case int:
		return time.Unix(int64(x), 0).UTC().Format(layout)
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return time.Unix(n, 0).UTC().Format(layout)
		}
	}
	return toString(v)
}

func formatDateString(layout, s string) string {
	t := strings.TrimSpace(s)
	for _, l := range [...]string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"} {
		if d, err := time.Parse(l, t); err == nil {
			return d.Format(layout)
		}
	}
	return s
}

// stringValue converts a field value to the text html/template would print
// for it, for the types whose printing the fast path reproduces exactly.
// ok is false for anything else (pointers, template.HTML, structs, …);
// the message is then rendered in full.
func stringValue(v any) (s string, ok bool) {
	switch x := v.(type) {
	case nil:
		return "", true // html/template skips untyped nil
	case string:
		return x, true
	case bool:
		return strconv.FormatBool(x), true
	case float64, float32, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, json.Number:
		return fmt.Sprint(x), true
	case []any, map[string]any:
		// JSON arrays and objects print as fmt does; they hold only JSON
		// values, which contain no pointers or Stringers except
		// json.Number, whose String is its text either way.
		if plainJSON(x, 0) {
			return fmt.Sprint(x), true
		}
	}
	return "", false
}

func plainJSON(v any, depth int) bool {
	if depth > 8 {
		return false
	}
	switch x := v.(type) {
	case nil, string, bool, float64, json.Number:
		return true
	case []any:
		for _, e := range x {
			if !plainJSON(e, depth+1) {
				return false
			}
		}
		return true
	case map[string]any:
		for _, e := range x {
			if !plainJSON(e, depth+1) {
				return false
			}
		}
		return true
	}
	return false
}
