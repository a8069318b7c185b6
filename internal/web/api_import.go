package web

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/mcsync"
)

// apiImportCSV imports an uploaded generic CSV list of readers
// (multipart/form-data: one or more "file" parts; header "email", "name",
// other columns → attributes): readers become confirmed, recorded in the
// ledger as imported without opt-in evidence.
func (s *Server) apiImportCSV(w http.ResponseWriter, r *http.Request) error {
	return s.apiImport(w, r, mcsync.FormatCSV)
}

// importDeadline bounds an import request (upload and import).
const importDeadline = time.Hour

// apiImport runs an import of uploaded files in a format. The parts are
// streamed to temporary files (never held in memory), imported in
// batches, and removed; the upload is limited to Mailchimp.MaxUpload
// bytes. ?dry_run=true reads and checks every row and answers the column
// mapping, the counts and the first notices, writing nothing.
func (s *Server) apiImport(w http.ResponseWriter, r *http.Request, format string) error {
	ctx := r.Context()
	dry := false
	if v := r.URL.Query().Get("dry_run"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return &herald.Error{Code: herald.EBADREQUEST, Field: "dry_run", Message: fmt.Sprintf("dry_run is true or false, not %q.", v)}
		}
		dry = b
	}
	l, err := s.DB.GetList(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "multipart/form-data" {
		if format == mcsync.FormatCSV {
			return herald.Errorf(herald.EUNSUPPORTED, "Upload the CSV as multipart/form-data: one or more \"file\" parts.")
		}
		return herald.Errorf(herald.EUNSUPPORTED, "Upload the export as multipart/form-data: one or more \"file\" parts (the zip, or its CSV files) and optional \"group\" fields.")
	}
	// An upload of a large list takes longer than the server's read and
	// write timeouts (30 s, 60 s) allow: this request gets an hour.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(importDeadline))
	_ = rc.SetWriteDeadline(time.Now().Add(importDeadline))
	limit := s.Mailchimp.MaxUpload
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	mr, err := r.MultipartReader()
	if err != nil {
		return herald.Errorf(herald.EBADREQUEST, "The upload could not be read: %v.", err)
	}
	dir, err := os.MkdirTemp("", "herald-import-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var paths []string
	opt := mcsync.ImportOptions{Format: format, DryRun: dry, List: l.Slug, MaxNotices: 1000}
	tooLarge := func(err error) error {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return herald.Errorf(herald.ETOOLARGE, "The upload is larger than %d bytes.", limit)
		}
		return herald.Errorf(herald.EBADREQUEST, "The upload could not be read: %v.", err)
	}
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return tooLarge(err)
		}
		switch name := p.FormName(); {
		case name == "file" || name == "files" || name == "files[]":
			base := filepath.Base(p.FileName())
			if base == "." || base == ".." || base == "/" || base == "" {
				base = "upload.csv"
			}
			// One directory per part: uploads with the same name stay
			// apart, and each keeps its name, which can tell the kind of
			// a Mailchimp export file (cleaned_…, unsubscribed_…).
			sub := filepath.Join(dir, fmt.Sprintf("%02d", len(paths)))
			if err := os.Mkdir(sub, 0o700); err != nil {
				return err
			}
			path := filepath.Join(sub, base)
			if err := saveUpload(path, p); err != nil {
				return tooLarge(err)
			}
			paths = append(paths, path)
		case name == "group" && format == mcsync.FormatMailchimp:
			v, err := io.ReadAll(io.LimitReader(p, 1024))
			if err != nil {
				return herald.Errorf(herald.EBADREQUEST, "The upload could not be read: %v.", err)
			}
			g, err := mcsync.ParseGroupMap(string(v))
			if err != nil {
				return herald.FieldError("group", "%s", err.Error())
			}
			opt.Groups = append(opt.Groups, g)
		case format == mcsync.FormatMailchimp:
			return herald.FieldError(name, "Unknown form field %q: send \"file\" parts and \"group\" fields.", name)
		default:
			return herald.FieldError(name, "Unknown form field %q: send \"file\" parts.", name)
		}
	}
	if len(paths) == 0 {
		if format == mcsync.FormatCSV {
			return herald.FieldError("file", "Upload at least one CSV file (header \"email\", \"name\", other columns become attributes).")
		}
		return herald.FieldError("file", "Upload at least one file: Mailchimp's export zip, or its subscribed, unsubscribed or cleaned CSV files.")
	}
	res, err := mcsync.Import(ctx, s.DB, paths, opt)
	if err != nil {
		if herald.ErrorCode(err) != herald.EINTERNAL {
			return err
		}
		if res == nil || !strings.HasPrefix(err.Error(), "writing to the database") {
			// The files themselves are wrong (no email column, not an
			// export, a broken zip); errors name files by their base name,
			// which is the upload's, but never show the temporary directory.
			msg := strings.TrimPrefix(err.Error(), "mailchimp: ")
			msg = strings.ReplaceAll(msg, dir+string(filepath.Separator), "")
			return herald.FieldError("file", "%s", msg)
		}
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}
