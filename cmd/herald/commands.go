package main

// The table of commands. Each row names its handler's setup function,
// which defines the command's own flags beside the handler (in the file
// named after the command): adding a flag is one line there.

import (
	"flag"
	"fmt"
	"strings"

	"github.com/heraldhq/herald"
)

// commands is filled in init: the help command prints the table, which
// would otherwise refer to itself.
var commands []command

func init() {
	commands = []command{
		{name: "serve", summary: "run the web server, API and background workers",
			help: "Creates the database on first run (the start-up log says so) and applies migrations. Logs at start\n" +
				"where mail goes (SMTP relay or the built-in outbox), which database it uses and the base URL.",
			settings: true, setup: serveCommand}, // serve.go
		{name: "migrate", summary: "apply database migrations and exit (creates the database if there is none, and says so)",
			settings: true, setup: migrateCommand}, // serve.go
		{name: "token create", args: "NAME", summary: "create an API token and print it once on stdout (only its hash is stored)",
			settings: true, database: true, setup: tokenCreateCommand}, // tokens.go
		{name: "token list", summary: "list API tokens: id, name, role, creation time, last use",
			settings: true, database: true, setup: tokenListCommand}, // tokens.go
		{name: "token revoke", args: "ID", summary: "revoke an API token (its id as `herald token list` shows it)",
			settings: true, database: true, setup: tokenRevokeCommand}, // tokens.go
		{name: "dkim keygen", summary: "make a DKIM key, keep it in the database and print its DNS record",
			help: dkimKeygenHelp, settings: true, database: true, setup: dkimKeygenCommand}, // dkim.go
		{name: "dkim list", summary: "print the DNS records of the stored DKIM keys",
			settings: true, database: true, setup: dkimListCommand}, // dkim.go
		{name: "import mailchimp", args: "FILE...", summary: "import Mailchimp audience exports (the zip, or its CSV files) into a list",
			help: importMailchimpHelp, settings: true, database: true, setup: importMailchimpCommand}, // mailchimp_import.go
		{name: "import csv", args: "FILE...", summary: "import a plain CSV of readers (email, name, attributes) into a list, without opt-in evidence",
			help: importCSVHelp, settings: true, database: true, setup: importCSVCommand}, // import_csv.go
		{name: "export mailchimp", summary: "write a list in Mailchimp's audience export format",
			help: exportMailchimpHelp, settings: true, database: true, setup: exportMailchimpCommand}, // mailchimp_export.go
		{name: "bounces parse", args: "FILE...", summary: "print what Herald reads in bounce and complaint messages, one JSON line per recipient (changes nothing)",
			help: bouncesParseHelp, setup: bouncesParseCommand}, // bounces.go
		{name: "bench send", summary: "time one campaign to N generated subscribers into an SMTP sink",
			help: benchSendHelp, settings: true, setup: benchSendCommand}, // bench_send.go
		{name: "bench import-mailchimp", summary: "time the import of a generated Mailchimp export (rows/s, CPU, memory)",
			help: benchImportHelp, settings: true, setup: benchImportCommand}, // bench_import.go
		{name: "smtp test", summary: "check HERALD_SMTP_URL relay by relay: connect, EHLO, TLS, AUTH and, with --to, one message",
			help: smtpTestHelp, settings: true, setup: smtpTestCommand}, // smtp.go
		{name: "backup", args: "PATH", summary: "write a consistent copy of a running SQLite installation to PATH (PostgreSQL: use pg_dump)",
			help: backupHelp, settings: true, setup: backupCommand}, // backup.go
		{name: "restore", args: "PATH", summary: "put a backup in place at the database location, which must be empty",
			help: restoreHelp, settings: true, setup: restoreCommand}, // backup.go
		{name: "migrate-to", args: "URL", summary: "copy this SQLite installation into an empty PostgreSQL database (postgres://…)",
			help: migrateToHelp, settings: true, setup: migrateToCommand}, // migrateto.go
		{name: "version", summary: "print the version", setup: versionCommand},
		{name: "help", args: "[COMMAND]", summary: "show this overview and the settings, or one command's usage (as COMMAND --help does)",
			setup: helpCommand},
	}
}

func versionCommand(fs *flag.FlagSet) func(c *cli, args []string) error {
	return func(c *cli, args []string) error {
		if err := positional(args, 0, false, ""); err != nil {
			return err
		}
		fmt.Fprintln(c.stdout, "herald", herald.Version)
		return nil
	}
}

func helpCommand(fs *flag.FlagSet) func(c *cli, args []string) error {
	return func(c *cli, args []string) error {
		switch {
		case len(args) == 0:
			printOverview(c.stdout)
			printSettings(c.stdout)
			return nil
		case len(args) == 1 && args[0] == "settings":
			printSettings(c.stdout)
			return nil
		}
		if cmd, rest := find(args); cmd != nil && len(rest) == 0 {
			printCommandHelp(c.stdout, cmd)
			return nil
		}
		if len(args) == 1 && len(subcommands(args[0])) > 0 {
			printGroupHelp(c.stdout, args[0])
			return nil
		}
		return usagef("no command %q (known: %s, settings)", strings.Join(args, " "), commandNames())
	}
}
