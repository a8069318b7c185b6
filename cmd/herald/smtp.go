package main

// herald smtp test: checks HERALD_SMTP_URL end to end.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	netmail "net/mail"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/mail"
)

const smtpTestHelp = `Checks HERALD_SMTP_URL step by step, for each relay it names: connect,
greeting, EHLO (and what the relay offers), TLS (version, certificate,
whether it was verified), authentication; with --to, sends one short
message from HERALD_FROM to ADDRESS. A failure says its cause
(certificate, authentication, refused, timeout, tls_not_offered, …) and
the setting that fixes it. Exits non-zero when any relay fails.`

// smtpTestCommand runs `herald smtp test`.
func smtpTestCommand(fs *flag.FlagSet) func(c *cli, args []string) error {
	toFlag := fs.String("to", "", "also send one short test message to this `address`")
	return func(c *cli, args []string) error {
		if err := positional(args, 0, false, ""); err != nil {
			return err
		}
		cfg, err := c.config()
		if err != nil {
			return err
		}
		return smtpTest(c.ctx, cfg, *toFlag, c.stdout)
	}
}

func smtpTest(ctx context.Context, cfg *config.Config, to string, stdout io.Writer) error {
	var err error
	if len(cfg.SMTPRelays) == 0 {
		return errors.New("HERALD_SMTP_URL is not set: mail stays in the built-in outbox, there is no relay to test")
	}
	if to != "" {
		a, err := netmail.ParseAddress(to)
		if err != nil || a.Name != "" || !strings.Contains(a.Address, "@") {
			return fmt.Errorf("--to %q is not a bare address like reader@example.com", to)
		}
		to = a.Address
	}
	var msg []byte
	if to != "" {
		m := mail.Message{From: cfg.From, To: []netmail.Address{{Address: to}},
			Subject: "Herald SMTP test",
			Text: "This message was sent by `herald smtp test` to check the SMTP relay configuration of " + cfg.PublisherName + "'s Herald.\n\n" +
				"It is not signed with DKIM (campaigns and system mail are, when a key is configured).\n"}
		if msg, err = m.Bytes(); err != nil {
			return fmt.Errorf("building the test message: %w", err)
		}
	}
	failed := 0
	for i, rc := range cfg.SMTPRelays {
		opts := []string{"tls=" + rc.TLSMode()}
		if rc.TLSSkipVerify {
			opts = append(opts, "tls_skip_verify=true")
		}
		if rc.TLSCAFile != "" {
			opts = append(opts, "tls_ca="+rc.TLSCAFile)
		}
		helo := rc.HelloName
		if helo == "" {
			helo = "[this host's address]"
		}
		opts = append(opts, "helo="+helo)
		if rc.MaxPerConn > 0 {
			opts = append(opts, fmt.Sprintf("max_per_conn=%d", rc.MaxPerConn))
		}
		if rc.Username != "" {
			opts = append(opts, "user="+rc.Username)
		}
		fmt.Fprintf(stdout, "relay %d of %d: %s (%s)\n", i+1, len(cfg.SMTPRelays), rc.Name(), strings.Join(opts, ", "))
		rc.PoolSize = 1
		t := mail.NewSMTP(rc)
		cctx, cancel := context.WithTimeout(ctx, 90*time.Second)
		start := time.Now()
		err := t.Check(cctx, cfg.From.Address, to, msg, func(step, detail string) {
			fmt.Fprintf(stdout, "  ok    %-9s %s\n", step, detail)
		})
		cancel()
		t.Close()
		if err == nil {
			fmt.Fprintf(stdout, "  relay %d works (%s)\n", i+1, time.Since(start).Round(time.Millisecond))
			continue
		}
		failed++
		var se *mail.SendError
		step := "error"
		if errors.As(err, &se) && se.Command != "" {
			step = strings.ToLower(se.Command)
		}
		why := mail.RelayErrorOf(err)
		fmt.Fprintf(stdout, "  FAIL  %-9s %s\n", step, why.Message)
		if why.Cause != "" {
			fmt.Fprintf(stdout, "        %-9s %s\n", "cause", why.Cause)
		}
		if why.Fix != "" {
			fmt.Fprintf(stdout, "        %-9s %s\n", "fix", why.Fix)
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d relays failed the test", failed, len(cfg.SMTPRelays))
	}
	return nil
}
