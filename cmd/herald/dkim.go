package main

// herald dkim keygen and herald dkim list.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/app"
	"github.com/heraldhq/herald/internal/sender"
)

const dkimUsage = `Usage:
  herald dkim keygen --selector S --domain D [--algo rsa|ed25519] [settings flags]
      Make a DKIM key (rsa: 2048 bits, the default; ed25519: a second,
      modern signature), keep it in the database, and print the DNS TXT
      record to publish at S._domainkey.D. Campaigns sent from an address at
      D are signed with the newest RSA key and, when there is one, the newest
      Ed25519 key.
  herald dkim list [--domain D] [settings flags]
      Print the DNS records of the stored keys.
`

func dkimCommand(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "keygen" && args[0] != "list") {
		fmt.Fprint(stderr, dkimUsage)
		return errors.New("usage: herald dkim keygen|list")
	}
	sub := args[0]
	flags, rest, pos, err := splitArgs(args[1:], "selector", "domain", "algo") // mailchimp.go
	if err != nil || len(pos) > 0 {
		fmt.Fprint(stderr, dkimUsage)
		if err == nil {
			err = fmt.Errorf("unexpected arguments: %s", strings.Join(pos, " "))
		}
		return err
	}
	own := map[string]string{}
	for k, v := range flags {
		own[k] = last(v)
	}
	cfg, _, err := loadConfig("dkim", rest, environ, stderr)
	if err != nil {
		return err
	}
	db, _, err := app.OpenDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	if sub == "list" {
		recs, keys, err := sender.DKIMRecords(ctx, db, own["domain"])
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			fmt.Fprintln(stderr, "No DKIM keys stored: make one with `herald dkim keygen --selector S --domain D`.")
		}
		for i, r := range recs {
			fmt.Fprintf(stdout, "# %s key, created %s\n%s\n\n", keys[i].Algorithm, keys[i].CreatedAt.Format("2006-01-02 15:04 MST"), zoneRecord(r))
		}
		return nil
	}
	if own["selector"] == "" || own["domain"] == "" {
		fmt.Fprint(stderr, dkimUsage)
		return errors.New("herald dkim keygen needs --selector and --domain")
	}
	rec, err := sender.GenerateDKIMKey(ctx, db, own["domain"], own["selector"], own["algo"])
	if err != nil {
		return errors.New(herald.ErrorMessage(err))
	}
	algo := own["algo"]
	if algo == "" {
		algo = "rsa"
	}
	fmt.Fprintf(stderr, "Stored a new %s DKIM key for %s. Publish this TXT record in DNS (zone-file form, the value split into\n"+
		"strings of at most 255 characters as DNS requires; most DNS panels take the value in one piece):\n\n", algo, own["domain"])
	fmt.Fprintf(stdout, "%s\n", zoneRecord(*rec))
	fmt.Fprintf(stderr, "\nName:  %s\nValue: %s\n\nCampaigns from addresses at %s are signed with it from now on; check the record with\n"+
		"`dig +short TXT %s` once it is published.\n", rec.Name, rec.Value, own["domain"], rec.Name)
	return nil
}

// zoneRecord is a TXT record in zone-file form, the value cut into
// character-strings of at most 255 octets.
func zoneRecord(r sender.DKIMRecord) string {
	var parts []string
	for v := r.Value; len(v) > 0; {
		n := min(len(v), 255)
		parts = append(parts, `"`+v[:n]+`"`)
		v = v[n:]
	}
	return r.Name + ". IN TXT ( " + strings.Join(parts, " ") + " )"
}
