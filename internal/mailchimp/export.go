package mailchimp

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"
)

// Export is an audience export: Mailchimp's zip of subscribed_*.csv,
// unsubscribed_*.csv and cleaned_*.csv, or one bare CSV file.
type Export struct {
	files  []exportFile
	closer io.Closer
}

type exportFile struct {
	name string
	kind Kind // from the name; the reader may refine it from the columns
	open func() (io.ReadCloser, error)
}

// OpenExport opens an export at path, a zip (recognised by its content,
// not its name) or a CSV file. Close it when done.
func OpenExport(path string) (*Export, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("mailchimp: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("mailchimp: %w", err)
	}
	e, err := NewExport(f, st.Size(), path)
	if err != nil {
		f.Close()
		return nil, err
	}
	e.closer = f
	return e, nil
}

// NewExport reads an export from r (an uploaded file, say) of size bytes;
// name is the file's name, used for a bare CSV's kind and in errors.
func NewExport(r io.ReaderAt, size int64, name string) (*Export, error) {
	var magic [4]byte
	n, _ := r.ReadAt(magic[:], 0)
	if n == 4 && bytes.Equal(magic[:], []byte("PK\x03\x04")) {
		zr, err := zip.NewReader(r, size)
		if err != nil {
			return nil, fmt.Errorf("mailchimp: %s: %w", name, err)
		}
		e := &Export{}
		for _, zf := range zr.File {
			base := path.Base(zf.Name)
			if zf.FileInfo().IsDir() || strings.HasPrefix(zf.Name, "__MACOSX/") || strings.HasPrefix(base, ".") ||
				!strings.EqualFold(path.Ext(base), ".csv") {
				continue
			}
			e.files = append(e.files, exportFile{name: zf.Name, kind: KindFromName(base), open: zf.Open})
		}
		if len(e.files) == 0 {
			return nil, fmt.Errorf("mailchimp: %s: the zip holds no CSV file", name)
		}
		// Subscribed first, then unsubscribed and cleaned, so a later
		// status wins if an address appears twice.
		slices.SortStableFunc(e.files, func(a, b exportFile) int {
			if a.kind != b.kind {
				return kindOrder(a.kind) - kindOrder(b.kind)
			}
			return strings.Compare(a.name, b.name)
		})
		return e, nil
	}
	return &Export{files: []exportFile{{
		name: name,
		kind: KindFromName(name),
		open: func() (io.ReadCloser, error) { return io.NopCloser(io.NewSectionReader(r, 0, size)), nil },
	}}}, nil
}

func kindOrder(k Kind) int {
	switch k {
	case KindSubscribed:
		return 0
	case KindUnknown:
		return 1
	case KindUnsubscribed:
		return 2
	}
	return 3
}

// Files returns the names of the CSV files in the order Each reads them.
func (e *Export) Files() []string {
	names := make([]string, len(e.files))
	for i, f := range e.files {
		names[i] = f.name
	}
	return names
}

// Each opens the export's CSV files one after the other and calls fn with
// a reader of each; the file is closed when fn returns. It stops at the
// first error from fn or from opening a file (a file without an email
// column, say).
func (e *Export) Each(fn func(r *CSVReader) error) error {
	for _, f := range e.files {
		if err := e.each(f, fn); err != nil {
			return err
		}
	}
	return nil
}

func (e *Export) each(f exportFile, fn func(r *CSVReader) error) error {
	rc, err := f.open()
	if err != nil {
		return fmt.Errorf("mailchimp: opening %s: %w", f.name, err)
	}
	defer rc.Close()
	r, err := NewCSVReader(rc, f.name)
	if err != nil {
		return fmt.Errorf("mailchimp: %w", err)
	}
	return fn(r)
}

// Close releases the file opened by OpenExport.
func (e *Export) Close() error {
	if e.closer == nil {
		return nil
	}
	return e.closer.Close()
}
