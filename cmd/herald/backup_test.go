package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestBackupRestoreCommands: backup and restore from the command line,
// and their refusals.
func TestBackupRestoreCommands(t *testing.T) {
	env, _ := newDir(t)
	if r := runCLI(t, env, "token", "create", "before-backup", "--create"); r.code != 0 {
		t.Fatal(r)
	}
	dir := t.TempDir()
	backup := filepath.Join(dir, "herald-backup.db")
	r := runCLI(t, env, "backup", backup)
	if r.code != 0 || !strings.Contains(r.stderr, "backup written to "+backup) {
		t.Fatalf("backup: %s", r)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"backup", backup}, "already exists"},
		{[]string{"backup", filepath.Join(dir, "no", "such", "dir.db")}, "does not exist"},
		{[]string{"backup"}, "missing the backup's PATH"},
		{[]string{"backup", filepath.Join(dir, "x.db"), "--database-url", "postgres://herald@127.0.0.1:1/herald"}, "use pg_dump"},
		{[]string{"restore", backup}, "already holds a Herald database"},
		{[]string{"restore", backup, "--database-url", "postgres://herald@127.0.0.1:1/herald"}, "use pg_restore"},
		{[]string{"restore", filepath.Join(dir, "nothing.db"), "--database-url", "sqlite:" + filepath.Join(t.TempDir(), "h.db")}, "no such file"},
	} {
		r := runCLI(t, env, tc.args...)
		if r.code == 0 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("herald %s: want a failure saying %q, got %s", strings.Join(tc.args, " "), tc.want, r)
		}
	}

	// Restored into an empty location, the copy is the same installation:
	// the token made before the backup is there.
	newEnv, _ := newDir(t)
	if r := runCLI(t, newEnv, "restore", backup); r.code != 0 || !strings.Contains(r.stderr, "restored") {
		t.Fatalf("restore: %s", r)
	}
	r = runCLI(t, newEnv, "token", "list")
	if r.code != 0 || !strings.Contains(r.stdout, "before-backup") {
		t.Fatalf("token list on the restored database: %s", r)
	}
}
