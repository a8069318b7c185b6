package main

// The command-line machinery: one table of commands (commands.go), each
// with its own flag.FlagSet defined next to its handler; parsing that
// lets flags and arguments come in any order; help and error output.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/config"
)

// A command is one row of the table: `herald NAME ARGS [flags]`.
type command struct {
	name    string // "token create": the words that select it
	args    string // positional arguments for the usage line, e.g. "NAME" or "FILE..."
	summary string // one line for the overview
	help    string // more text for the command's own --help (may be empty)

	// settings: the command takes the settings flags (--database-url and
	// the other HERALD_* settings). database: it opens an existing
	// database and takes --create to make a new one instead.
	settings, database bool

	// setup defines the command's own flags on fs and returns the handler
	// that runs with the parsed values and the positional arguments. A
	// flag whose usage says "(required)" is shown without brackets.
	setup func(fs *flag.FlagSet) func(c *cli, args []string) error
}

// cli is what a running command gets: I/O, the environment and its
// parsed settings.
type cli struct {
	ctx            context.Context
	environ        []string
	stdout, stderr io.Writer
	cmd            *command
	settings       []string // the settings flags given, as --flag=value, for config.Load
	create         bool     // --create
}

// usageError is a mistake in how the command was called: exit status 2
// and a hint to --help.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

// positional checks the number of positional arguments: exactly n, or at
// least n when variadic.
func positional(args []string, n int, variadic bool, what string) error {
	switch {
	case len(args) < n:
		return usagef("missing %s", what)
	case len(args) > n && !variadic:
		return usagef("unexpected argument %q", args[n])
	}
	return nil
}

// find returns the command named by the leading words of args, and the
// rest of args; nil if there is none.
func find(args []string) (*command, []string) {
	var best *command
	bestN := 0
	for i := range commands {
		words := strings.Fields(commands[i].name)
		if len(words) <= len(args) && len(words) > bestN && equalWords(words, args[:len(words)]) {
			best, bestN = &commands[i], len(words)
		}
	}
	if best == nil {
		return nil, args
	}
	return best, args[bestN:]
}

func equalWords(a, b []string) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// subcommands returns the commands whose name starts with the word w.
func subcommands(w string) []*command {
	var out []*command
	for i := range commands {
		if first, _, _ := strings.Cut(commands[i].name, " "); first == w {
			out = append(out, &commands[i])
		}
	}
	return out
}

// flagSet builds the command's flags: its own, then --create and the
// settings when it takes them.
func (cmd *command) flagSet() (*flag.FlagSet, func(c *cli, args []string) error, map[string]*string, *bool) {
	fs := flag.NewFlagSet("herald "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	h := cmd.setup(fs)
	var create *bool
	if cmd.database {
		create = fs.Bool("create", false, "make a new, empty database if there is none at the configured location (otherwise refused)")
	}
	settings := map[string]*string{}
	if cmd.settings {
		for _, s := range config.Settings {
			if fs.Lookup(s.Flag) == nil {
				settings[s.Flag] = fs.String(s.Flag, "", s.Usage)
			}
		}
	}
	return fs, h, settings, create
}

// parse parses args with fs, letting flags and positional arguments come
// in any order (`token create NAME --database-url U` and `token create
// --database-url U NAME` alike); "--" ends the flags.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// runCommand parses the command's flags and runs it.
func runCommand(ctx context.Context, cmd *command, args, environ []string, stdout, stderr io.Writer) error {
	fs, h, settings, create := cmd.flagSet()
	pos, err := parse(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		printCommandHelp(stdout, cmd)
		return nil
	}
	if err != nil {
		return &usageError{flagError(err)}
	}
	c := &cli{ctx: ctx, environ: environ, stdout: stdout, stderr: stderr, cmd: cmd}
	if create != nil {
		c.create = *create
	}
	fs.Visit(func(f *flag.Flag) {
		if p, ok := settings[f.Name]; ok {
			c.settings = append(c.settings, "--"+f.Name+"="+*p)
		}
	})
	return h(c, pos)
}

// flagError rewords the flag package's errors for people.
func flagError(err error) string {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
		return "unknown flag -" + name
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: "); ok {
		return "flag -" + name + " needs a value"
	}
	return msg
}

// config loads the configuration: the settings flags given, then the
// environment, then the config file.
func (c *cli) config() (*config.Config, error) {
	cfg, _, err := config.Load(c.cmd.name, c.settings, c.environ)
	if err != nil {
		return nil, &usageError{err.Error()}
	}
	return cfg, nil
}

// --- help ---

const overviewHead = `Herald — newsletters for news publishers.

Usage: herald COMMAND [arguments] [flags]

Commands:
`

const overviewTail = `
Every command takes -h or --help for its own usage; ` + "`herald help COMMAND`" + ` shows the same.
Commands that use the database take the settings flags below and open
./herald-data/herald.db of the current directory unless HERALD_DATABASE_URL
or --database-url says otherwise. Those marked [--create] refuse to create a
new database unless given it; serve and migrate create one and say so.
`

// usageLine is `herald NAME ARGS [own flags]`.
func usageLine(cmd *command) string {
	fs, _, _, _ := cmd.flagSet()
	var parts []string
	parts = append(parts, "herald", cmd.name)
	if cmd.args != "" {
		parts = append(parts, cmd.args)
	}
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name == "create" || isSetting(f.Name) && cmd.settings && !ownSetting(cmd, f.Name) {
			return
		}
		if strings.Contains(f.Usage, "(required)") {
			parts = append(parts, flagSyntax(f))
		} else {
			parts = append(parts, "["+flagSyntax(f)+"]")
		}
	})
	if cmd.database {
		parts = append(parts, "[--create]")
	}
	if cmd.settings {
		parts = append(parts, "[settings flags]")
	}
	return strings.Join(parts, " ")
}

func isSetting(name string) bool {
	for _, s := range config.Settings {
		if s.Flag == name {
			return true
		}
	}
	return false
}

// ownSetting: a settings flag the command's help explains itself (e.g.
// bench send's --smtp-url) because the command gives it its own meaning.
func ownSetting(cmd *command, name string) bool {
	fs := flag.NewFlagSet("", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cmd.setup(fs)
	return fs.Lookup(name) != nil
}

// flagSyntax is --name VALUE, or --name for a boolean flag.
func flagSyntax(f *flag.Flag) string {
	if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
		return "--" + f.Name
	}
	name, _ := flag.UnquoteUsage(f)
	if name == "" {
		name = "VALUE"
	}
	return "--" + f.Name + " " + strings.ToUpper(name)
}

// printOverview lists every command with its flags.
func printOverview(w io.Writer) {
	fmt.Fprint(w, overviewHead)
	for i := range commands {
		fmt.Fprintf(w, "  %s\n      %s\n", usageLine(&commands[i]), commands[i].summary)
	}
	fmt.Fprint(w, overviewTail)
}

// printSettings writes the settings flags and their variables.
func printSettings(w io.Writer) {
	fmt.Fprint(w, "\nSettings (flags override HERALD_* environment variables, which override the config file):\n")
	config.Usage(w)
}

// printCommandHelp is a command's own --help.
func printCommandHelp(w io.Writer, cmd *command) {
	fmt.Fprintf(w, "Usage:\n  %s\n\n%s\n", usageLine(cmd), cmd.summary)
	if cmd.help != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimRight(cmd.help, "\n"))
	}
	fs, _, _, _ := cmd.flagSet()
	var own []*flag.Flag
	fs.VisitAll(func(f *flag.Flag) {
		if !isSetting(f.Name) || ownSetting(cmd, f.Name) {
			own = append(own, f)
		}
	})
	if len(own) > 0 {
		fmt.Fprint(w, "\nFlags:\n")
		for _, f := range own {
			_, usage := flag.UnquoteUsage(f)
			fmt.Fprintf(w, "  %s\n      %s\n", flagSyntax(f), usage)
		}
	}
	if cmd.settings {
		var names []string
		for _, s := range config.Settings {
			names = append(names, "--"+s.Flag)
		}
		fmt.Fprintf(w, "\nSettings flags (each overrides its HERALD_* variable; `herald help settings` explains them):\n  %s\n",
			wrap(strings.Join(names, " "), 76, "\n  "))
	}
}

// printGroupHelp is the help of a word that starts several commands
// (`herald token --help`).
func printGroupHelp(w io.Writer, word string) {
	fmt.Fprintf(w, "Commands of herald %s:\n", word)
	for _, cmd := range subcommands(word) {
		fmt.Fprintf(w, "  %s\n      %s\n", usageLine(cmd), cmd.summary)
	}
	fmt.Fprintf(w, "\nRun `herald %s SUBCOMMAND --help` for one of them.\n", word)
}

// wrap breaks s at spaces into lines of at most width bytes.
func wrap(s string, width int, sep string) string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(s) {
		if line != "" && len(line)+1+len(word) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += word
	}
	if line != "" {
		lines = append(lines, line)
	}
	return strings.Join(lines, sep)
}

// commandNames lists the commands for error messages.
func commandNames() string {
	seen := map[string]bool{}
	var out []string
	for _, c := range commands {
		first, _, _ := strings.Cut(c.name, " ")
		if !seen[first] {
			seen[first] = true
			out = append(out, first)
		}
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// plain turns a domain error into its message for people (the message is
// written for them; the wrapping is not); other errors stay as they are.
func plain(err error) error {
	if err == nil || herald.ErrorCode(err) == herald.EINTERNAL {
		return err
	}
	return errors.New(herald.ErrorMessage(err))
}

// hasSetting says whether the settings flag name was given.
func (c *cli) hasSetting(name string) bool {
	for _, s := range c.settings {
		if strings.HasPrefix(s, "--"+name+"=") {
			return true
		}
	}
	return false
}

// setting returns the value of the settings flag name, if given.
func (c *cli) setting(name string) (string, bool) {
	for _, s := range c.settings {
		if v, ok := strings.CutPrefix(s, "--"+name+"="); ok {
			return v, true
		}
	}
	return "", false
}
