// Command herald is Herald's one binary: `herald serve` runs the public
// pages, the API and the background workers; the other commands are the
// operator's tools (migrate, tokens, DKIM keys, Mailchimp import and
// export, benchmarks). `herald help` lists them all.
//
// The files: cli.go is the command machinery (flags, help, errors),
// commands.go the table of commands, database.go the one way commands open
// the database; each command's handler lives in a file named after it.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run runs the command named by args and returns the exit status: 0 for
// success (and for help), 2 for a usage error (one line and a hint to
// --help), 1 for a failure (one line).
func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	name, err := dispatch(ctx, args, environ, stdout, stderr)
	if err == nil {
		return 0
	}
	prefix := "herald"
	if name != "" {
		prefix += " " + name
	}
	msg := strings.Join(strings.Fields(err.Error()), " ") // one line, whatever the error holds
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "%s: %s\n", prefix, msg)
		if name == "" {
			fmt.Fprintln(stderr, "Run 'herald help' for the commands.")
		} else {
			fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", prefix)
		}
		return 2
	}
	fmt.Fprintf(stderr, "%s: %s\n", prefix, msg)
	return 1
}

// dispatch finds the command and runs it; it returns the command's name
// for error messages.
func dispatch(ctx context.Context, args, environ []string, stdout, stderr io.Writer) (string, error) {
	if len(args) == 0 {
		return "", usagef("no command given")
	}
	switch args[0] {
	case "-h", "-help", "--help":
		printOverview(stdout)
		printSettings(stdout)
		return "", nil
	case "-version", "--version":
		args = append([]string{"version"}, args[1:]...)
	}
	cmd, rest := find(args)
	if cmd == nil {
		word := args[0]
		if subs := subcommands(word); len(subs) > 0 {
			// `herald token`, `herald bench --help`, `herald dkim nosuch`.
			if len(args) > 1 && (args[1] == "-h" || args[1] == "-help" || args[1] == "--help") {
				printGroupHelp(stdout, word)
				return "", nil
			}
			var names []string
			for _, c := range subs {
				names = append(names, strings.TrimPrefix(c.name, word+" "))
			}
			if len(args) == 1 {
				return word, usagef("needs a subcommand: %s", strings.Join(names, ", "))
			}
			return word, usagef("unknown subcommand %q (known: %s)", args[1], strings.Join(names, ", "))
		}
		if strings.HasPrefix(word, "-") {
			return "", usagef("unknown flag %s before the command (flags come after it: herald COMMAND --flag)", word)
		}
		return "", usagef("unknown command %q (known: %s)", word, commandNames())
	}
	return cmd.name, runCommand(ctx, cmd, rest, environ, stdout, stderr)
}
