package web_test

import (
	"log/slog"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/mcsync"
	"github.com/heraldhq/herald/internal/netguard"
	"github.com/heraldhq/herald/internal/service"
	"github.com/heraldhq/herald/internal/sqlstore"
	"github.com/heraldhq/herald/internal/web"
)

// services builds what the app hands web.New: the rules and the Mailchimp
// integration, whose outbound calls go through the guarded client.
func services(db *sqlstore.DB, cfg *config.Config, log *slog.Logger) web.Services {
	mc := mcsync.New(db, log, cfg.BaseURL, cfg.PublisherName, cfg.JobWorkers)
	mc.Guard = netguard.New(cfg.FetchAllow)
	return web.Services{Rules: service.New(db), Mailchimp: mc}
}
