// Package app wires Herald together — store, signing keys, mail transport,
// job worker, web server — from a Config. `herald serve` and the
// end-to-end tests build the very same App.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/events"
	"github.com/heraldhq/herald/internal/mail"
	"github.com/heraldhq/herald/internal/mcsync"
	"github.com/heraldhq/herald/internal/netguard"
	"github.com/heraldhq/herald/internal/queue"
	"github.com/heraldhq/herald/internal/sender"
	"github.com/heraldhq/herald/internal/service"
	"github.com/heraldhq/herald/internal/sqlstore"
	"github.com/heraldhq/herald/internal/sysmail"
	"github.com/heraldhq/herald/internal/token"
	"github.com/heraldhq/herald/internal/web"
)

// App is a configured Herald.
type App struct {
	Config    *config.Config
	Log       *slog.Logger
	DB        *sqlstore.DB
	Tokens    *token.Signer
	Transport mail.Transport
	Worker    *queue.Worker
	Web       *web.Server
	Sender    *sender.Engine     // the campaign engine
	Events    *events.Dispatcher // hands domain events to integrations
}

// OpenDB opens and migrates the database and installs the signing secret
// (from the configuration, else the one kept in the database).
func OpenDB(ctx context.Context, cfg *config.Config) (*sqlstore.DB, []byte, error) {
	db, err := sqlstore.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("migrating the database: %w", err)
	}
	secret := []byte(cfg.Secret)
	if len(secret) == 0 {
		if secret, err = db.Secret(ctx); err != nil {
			db.Close()
			return nil, nil, fmt.Errorf("reading the signing secret: %w", err)
		}
	}
	db.SetSecret(secret)
	return db, secret, nil
}

// DefaultDisclosure is the disclosure Herald generates from its settings
// (the publisher's name: HERALD_PUBLISHER_NAME, else the display name of
// HERALD_FROM). It is current until the publisher writes their own through
// the API; while it is, a change of the settings makes a new version at the
// next start (EnsureDisclosure).
func DefaultDisclosure(publisher string) string {
	return publisher + " uses your email address (and your name, if you give it) only to send you the newsletters you choose. " +
		"Your details are kept on " + publisher + "'s own Herald server and are not passed to anyone else. " +
		"We record when and where you signed up as proof of your consent. You can unsubscribe at any time with the link in every email."
}

// isDefaultDisclosure tells whether text is DefaultDisclosure of some
// publisher name: how installations made before Herald recorded which
// disclosure versions it generated tell theirs from a publisher's.
func isDefaultDisclosure(text string) bool {
	parts := strings.Split(DefaultDisclosure("\x00"), "\x00")
	if len(parts) != 3 || !strings.HasPrefix(text, parts[0]) || !strings.HasSuffix(text, parts[2]) {
		return false
	}
	// text = parts[0] + name + parts[1] + name + parts[2]
	rest := text[len(parts[0]) : len(text)-len(parts[2])]
	n := (len(rest) - len(parts[1])) / 2
	return n > 0 && 2*n+len(parts[1]) == len(rest) && rest[n:n+len(parts[1])] == parts[1] && rest[:n] == rest[n+len(parts[1]):]
}

// New builds an App. Close releases what it holds.
func New(ctx context.Context, cfg *config.Config, log *slog.Logger) (*App, error) {
	db, secret, err := OpenDB(ctx, cfg)
	if err != nil {
		return nil, err
	}
	a := &App{Config: cfg, Log: log, DB: db, Tokens: token.NewSigner(secret)}
	d, created, err := db.EnsureDisclosure(ctx, DefaultDisclosure(cfg.PublisherName), isDefaultDisclosure)
	if err != nil {
		db.Close()
		return nil, err
	}
	if created && d.Version > 1 {
		log.Info("the generated disclosure follows the settings: new version", "version", d.Version, "publisher", cfg.PublisherName)
	}
	if len(cfg.SMTPRelays) == 0 {
		a.Transport = mail.NewOutbox(db)
	} else {
		relays := make([]mail.SMTPConfig, len(cfg.SMTPRelays))
		for i, sc := range cfg.SMTPRelays {
			sc.PoolSize = cfg.SendConcurrency
			relays[i] = sc
		}
		a.Transport = mail.NewTransport(relays, log)
	}
	a.Worker = &queue.Worker{DB: db, Log: log, Concurrency: cfg.JobWorkers}
	signers := &sender.Signers{DB: db}
	(&sysmail.Sender{DB: db, Tokens: a.Tokens, Transport: a.Transport, From: cfg.From, Publisher: cfg.PublisherName, BaseURL: cfg.BaseURL,
		Sign: signers.Sign}).Register(a.Worker)
	a.Sender = &sender.Engine{DB: db, Transport: a.Transport, Config: sender.ConfigFrom(cfg, a.Tokens), Log: log,
		Concurrency: cfg.SendConcurrency, Rate: cfg.SendRate, Hourly: cfg.SendRateHourly,
		Retries: cfg.SendRetries, RetryBackoff: cfg.SendRetryBackoff}
	a.Worker.Handle(sqlstore.JobCampaignTest, a.Sender.SendTest)
	// The Mailchimp integration: its API routes and webhook (web), its
	// sync jobs (worker), and its consumer of domain events.
	mc := mcsync.New(db, log, cfg.BaseURL, cfg.PublisherName, cfg.JobWorkers)
	mc.Guard = netguard.New(cfg.FetchAllow)
	a.Web = web.New(db, cfg, a.Tokens, log, web.Services{Rules: service.New(db), Mailchimp: mc})
	a.Web.RelayStatus = a.RelayStatus
	mc.Register(a.Worker)
	a.Events = &events.Dispatcher{DB: db, Log: log}
	mc.Subscribe(a.Events)
	return a, nil
}

// Run serves HTTP on ln and runs the background workers until ctx is
// cancelled, then shuts down gracefully: in-flight requests and jobs finish.
func (a *App) Run(ctx context.Context, ln net.Listener) error {
	if len(a.Config.SMTPRelays) == 0 {
		a.Log.Info("no SMTP server configured: outgoing mail is kept in the outbox (GET /api/v1/outbox)")
	} else {
		for i, r := range a.Config.SMTPRelays {
			a.Log.Info("SMTP relay", "n", i+1, "url", r.Name(), "tls", r.TLSMode(),
				"tls_skip_verify", r.TLSSkipVerify, "tls_ca", r.TLSCAFile, "helo", r.HelloName)
		}
	}
	a.Log.Info("herald is serving", "version", herald.Version, "listen", ln.Addr().String(), "base_url", a.Config.BaseURL,
		"database", DatabaseLocation(a.Config.DatabaseURL), "mail", MailDestination(a.Config.SMTPURL))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := a.Worker.Run(ctx); err != nil {
			a.Log.Error("worker stopped", "err", err)
		}
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := a.Events.Run(ctx); err != nil {
			a.Log.Error("event dispatcher stopped", "err", err)
		}
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := a.Sender.Run(ctx); err != nil {
			a.Log.Error("sender stopped", "err", err)
		}
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := a.Web.Feeds.Run(ctx); err != nil {
			a.Log.Error("feed poller stopped", "err", err)
		}
	}()
	err := a.Web.ListenAndServe(ctx, ln)
	a.Log.Info("shutting down: waiting for jobs in flight")
	wg.Wait()
	a.Log.Info("stopped")
	return err
}

// Close releases the transport and the database.
func (a *App) Close() error {
	a.Transport.Close()
	return a.DB.Close()
}
