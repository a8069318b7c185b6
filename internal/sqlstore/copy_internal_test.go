package sqlstore

import (
	"testing"
	"time"
)

// TestConverter: SQLite values become values of the PostgreSQL column's
// type, and what cannot is an error naming the value.
func TestConverter(t *testing.T) {
	at := time.Date(2026, 12, 4, 17, 30, 1, 123456000, time.UTC)
	for _, tc := range []struct {
		typ  string
		in   any
		want any
	}{
		{"boolean", int64(1), true},
		{"boolean", int64(0), false},
		{"boolean", "true", true},
		{"boolean", nil, nil},
		{"timestamp with time zone", at.In(time.FixedZone("x", 3600)), at},
		{"timestamp with time zone", "2026-12-04 17:30:01.123456+00:00", at},
		{"timestamp with time zone", "2026-12-04T17:30:01.123456Z", at},
		{"timestamp with time zone", []byte("2026-12-04 17:30:01.123456"), at},
		{"timestamp with time zone", int64(1700000000), time.Unix(1700000000, 0).UTC()},
		{"bigint", "42", int64(42)},
		{"bigint", float64(7), int64(7)},
		{"bigint", true, int64(1)},
		{"text", int64(5), "5"},
		{"text", []byte("abc"), "abc"},
		{"text", at, "2026-12-04T17:30:01.123456Z"},
		{"bytea", "abc", []byte("abc")},
		{"double precision", int64(2), float64(2)},
	} {
		got, err := converter(tc.typ)(tc.in)
		if err != nil {
			t.Errorf("%s(%#v): %v", tc.typ, tc.in, err)
			continue
		}
		switch w := tc.want.(type) {
		case time.Time:
			if g, ok := got.(time.Time); !ok || !g.Equal(w) || g.Location() != time.UTC {
				t.Errorf("%s(%#v) = %#v, want %v", tc.typ, tc.in, got, w)
			}
		case []byte:
			if g, ok := got.([]byte); !ok || string(g) != string(w) {
				t.Errorf("%s(%#v) = %#v, want %v", tc.typ, tc.in, got, w)
			}
		default:
			if got != tc.want {
				t.Errorf("%s(%#v) = %#v, want %#v", tc.typ, tc.in, got, tc.want)
			}
		}
	}
	for _, tc := range []struct {
		typ string
		in  any
	}{
		{"boolean", "maybe"},
		{"timestamp with time zone", "yesterday"},
		{"bigint", float64(1.5)},
		{"bigint", "x"},
		{"bytea", int64(1)},
	} {
		if got, err := converter(tc.typ)(tc.in); err == nil {
			t.Errorf("%s(%#v) = %#v, want an error", tc.typ, tc.in, got)
		}
	}
}
