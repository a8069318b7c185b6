package main

// herald bounces parse: what Herald reads in bounce and complaint
// messages, without acting on it (no database, no settings).

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/heraldhq/herald/internal/bounce"
)

const bouncesParseHelp = `Reads each FILE (one raw message: a bounce, a delivery status notification, a
complaint report or an auto-reply; - reads standard input) and prints one JSON
object per line for each recipient it names:

  {"file": "…", "recipient": "…", "kind": "hard"|"soft"|"complaint"|"ignore",
   "status": "5.1.1", "reason": "…", "diagnostic": "…"}

with "sender_problem": true when the refusal is about the sender (SPF, DKIM,
DMARC, a blocklisted IP, content taken for spam) rather than the reader, and
"message_id" of the returned original when there is one. A file with nothing
usable prints one line with "kind": "ignore" and its reason. Nothing is
changed and no database is opened. docs/bounces.md lists the kinds and reasons.

Exit status 1 when a file cannot be read (the others are still printed).`

func bouncesParseCommand(fs *flag.FlagSet) func(c *cli, args []string) error {
	return func(c *cli, args []string) error {
		if err := positional(args, 1, true, "the FILE(s) to parse (- for standard input)"); err != nil {
			return err
		}
		enc := json.NewEncoder(c.stdout)
		enc.SetEscapeHTML(false)
		failed := 0
		for _, name := range args {
			if err := parseBounceFile(enc, name); err != nil {
				fmt.Fprintf(c.stderr, "herald bounces parse: %v\n", err)
				failed++
			}
		}
		if failed > 0 {
			return fmt.Errorf("%d of %d files could not be read", failed, len(args))
		}
		return nil
	}
}

// bounceLine is one line of output: the format of PRODUCT.md §13, with
// two optional fields after it.
type bounceLine struct {
	File          string `json:"file"`
	Recipient     string `json:"recipient"`
	Kind          string `json:"kind"`
	Status        string `json:"status"`
	Reason        string `json:"reason"`
	Diagnostic    string `json:"diagnostic"`
	SenderProblem bool   `json:"sender_problem,omitempty"`
	MessageID     string `json:"message_id,omitempty"`
}

func parseBounceFile(enc *json.Encoder, name string) error {
	var r io.Reader = os.Stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	rep, err := bounce.Parse(r)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if len(rep.Recipients) == 0 {
		return enc.Encode(bounceLine{File: name, Kind: string(rep.Kind), Reason: string(rep.Reason),
			Diagnostic: "no delivery status, complaint, bounce text or auto-reply found", MessageID: rep.Original.MessageID})
	}
	for _, rc := range rep.Recipients {
		if err := enc.Encode(bounceLine{File: name, Recipient: rc.Address, Kind: string(rc.Kind), Status: rc.Status,
			Reason: string(rc.Reason), Diagnostic: rc.Diagnostic, SenderProblem: rc.SenderProblem,
			MessageID: rep.Original.MessageID}); err != nil {
			return err
		}
	}
	return nil
}
