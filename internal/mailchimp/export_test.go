package mailchimp

import (
	"archive/zip"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func buildZip(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestExportZip(t *testing.T) {
	data := buildZip(t, map[string]string{
		"cleaned_members_export_1a.csv":                 "Email Address,CLEAN_TIME\nc@herald.test,2023-03-03 03:03:03\n",
		"unsubscribed_members_export_1a.csv":            "Email Address,UNSUB_TIME\nu@herald.test,2022-02-02 02:02:02\nbad,\n",
		"audience/subscribed_members_export_1a.csv":     "\xEF\xBB\xBFEmail Address,First Name\r\ns1@herald.test,S\r\ns2@herald.test,T\r\n",
		"__MACOSX/audience/._subscribed_members_1a.csv": "junk",
		"README.txt": "not a csv",
	})
	e, err := NewExport(bytes.NewReader(data), int64(len(data)), "export.zip")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"audience/subscribed_members_export_1a.csv", "unsubscribed_members_export_1a.csv", "cleaned_members_export_1a.csv"}
	if got := e.Files(); !reflect.DeepEqual(got, want) {
		t.Errorf("Files = %v, want %v", got, want)
	}
	got := map[Kind][]string{}
	bad := 0
	err = e.Each(func(r *CSVReader) error {
		rows, errs := readAll(t, r)
		bad += len(errs)
		for _, row := range rows {
			got[row.Kind] = append(got[row.Kind], row.Email)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wantRows := map[Kind][]string{
		KindSubscribed:   {"s1@herald.test", "s2@herald.test"},
		KindUnsubscribed: {"u@herald.test"},
		KindCleaned:      {"c@herald.test"},
	}
	if !reflect.DeepEqual(got, wantRows) || bad != 1 {
		t.Errorf("rows %v (%d bad), want %v (1 bad)", got, bad, wantRows)
	}

	stop := errors.New("stop")
	calls := 0
	if err := e.Each(func(*CSVReader) error { calls++; return stop }); !errors.Is(err, stop) || calls != 1 {
		t.Errorf("Each did not stop at the first error: %v after %d calls", err, calls)
	}
}

func TestExportErrors(t *testing.T) {
	empty := buildZip(t, map[string]string{"README.txt": "x"})
	if _, err := NewExport(bytes.NewReader(empty), int64(len(empty)), "e.zip"); err == nil {
		t.Error("zip without CSV accepted")
	}
	truncated := buildZip(t, map[string]string{"a.csv": "Email Address\n"})[:30]
	if _, err := NewExport(bytes.NewReader(truncated), int64(len(truncated)), "t.zip"); err == nil {
		t.Error("truncated zip accepted")
	}
	noEmail := buildZip(t, map[string]string{"subscribed_x.csv": "Name\nA\n"})
	e, err := NewExport(bytes.NewReader(noEmail), int64(len(noEmail)), "n.zip")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Each(func(*CSVReader) error { return nil }); err == nil {
		t.Error("CSV without email column accepted")
	}
	if _, err := OpenExport(filepath.Join(t.TempDir(), "missing.zip")); err == nil {
		t.Error("OpenExport of a missing file succeeded")
	}
}

func TestOpenExport(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		file string
		data []byte
		want Kind
	}{
		{"unsubscribed_members_export_9.csv", []byte("Email Address\nu@herald.test\n"), KindUnsubscribed},
		// A zip is recognised by content, whatever its name.
		{"download.bin", buildZip(t, map[string]string{"cleaned_x.csv": "Email Address\nc@herald.test\n"}), KindCleaned},
	} {
		path := filepath.Join(dir, tc.file)
		if err := os.WriteFile(path, tc.data, 0o600); err != nil {
			t.Fatal(err)
		}
		e, err := OpenExport(path)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		err = e.Each(func(r *CSVReader) error {
			rows, _ := readAll(t, r)
			for _, row := range rows {
				if row.Kind != tc.want {
					t.Errorf("%s: kind %v, want %v", tc.file, row.Kind, tc.want)
				}
				n++
			}
			return nil
		})
		if err != nil || n != 1 {
			t.Errorf("%s: %d rows, %v", tc.file, n, err)
		}
		if err := e.Close(); err != nil {
			t.Error(err)
		}
	}
}
