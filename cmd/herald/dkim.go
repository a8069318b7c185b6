package main

// herald dkim keygen and herald dkim list.

import (
	"flag"
	"fmt"
	"strings"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/sender"
	"github.com/heraldhq/herald/internal/sqlstore"
)

const dkimKeygenHelp = `Makes a DKIM key (rsa: 2048 bits, the default; ed25519: a second, modern
signature), keeps it in the database, and prints the DNS TXT record to publish
at SELECTOR._domainkey.DOMAIN. Campaigns sent from an address at DOMAIN are
signed with the newest RSA key and, when there is one, the newest Ed25519 key.`

func dkimKeygenCommand(fs *flag.FlagSet) func(c *cli, args []string) error {
	selector := fs.String("selector", "", "the DKIM `selector` (required), e.g. herald2026")
	domain := fs.String("domain", "", "the `domain` of the From addresses to sign (required)")
	algo := fs.String("algo", "rsa", "key `algorithm`: rsa or ed25519")
	return func(c *cli, args []string) error {
		if err := positional(args, 0, false, ""); err != nil {
			return err
		}
		if *selector == "" || *domain == "" {
			return usagef("needs --selector and --domain")
		}
		if *algo != "rsa" && *algo != "ed25519" {
			return usagef("--algo must be rsa or ed25519, not %q", *algo)
		}
		return c.withDB(func(cfg *config.Config, db *sqlstore.DB) error {
			rec, err := sender.GenerateDKIMKey(c.ctx, db, *domain, *selector, *algo)
			if err != nil {
				return plain(err)
			}
			fmt.Fprintf(c.stderr, "Stored a new %s DKIM key for %s. Publish this TXT record in DNS (zone-file form, the value split into\n"+
				"strings of at most 255 characters as DNS requires; most DNS panels take the value in one piece):\n\n", *algo, *domain)
			fmt.Fprintf(c.stdout, "%s\n", zoneRecord(*rec))
			fmt.Fprintf(c.stderr, "\nName:  %s\nValue: %s\n\nCampaigns from addresses at %s are signed with it from now on; check the record with\n"+
				"`dig +short TXT %s` once it is published.\n", rec.Name, rec.Value, *domain, rec.Name)
			return nil
		})
	}
}

func dkimListCommand(fs *flag.FlagSet) func(c *cli, args []string) error {
	domain := fs.String("domain", "", "only the keys of this `domain`")
	return func(c *cli, args []string) error {
		if err := positional(args, 0, false, ""); err != nil {
			return err
		}
		return c.withDB(func(cfg *config.Config, db *sqlstore.DB) error {
			recs, keys, err := sender.DKIMRecords(c.ctx, db, *domain)
			if err != nil {
				return plain(err)
			}
			if len(recs) == 0 {
				fmt.Fprintln(c.stderr, "No DKIM keys stored: make one with `herald dkim keygen --selector S --domain D`.")
			}
			for i, r := range recs {
				fmt.Fprintf(c.stdout, "# %s key, created %s\n%s\n\n", keys[i].Algorithm, keys[i].CreatedAt.Format("2006-01-02 15:04 MST"), zoneRecord(r))
			}
			return nil
		})
	}
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
