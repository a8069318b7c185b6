package service

import (
	"context"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/sqlstore"
)

// msgNoList is the refusal of a signup that names no list.
const msgNoList = "Please select at least one mailing list."

// Signup records a reader's request to subscribe to public lists (see
// SignupShown).
func (s *Service) Signup(ctx context.Context, c Caller, req herald.SignupRequest, opt sqlstore.SignupOptions) (*sqlstore.SignupResult, error) {
	return s.SignupShown(ctx, c, req, nil, opt)
}

// SignupShown records a reader's request to subscribe to public lists,
// from a form that showed the disclosure req.DisclosureVersion and the
// lists' own disclosures in shown (slug → version):
//   - the address must be valid (and is normalised), the name clean, and
//     at least one list named; an unknown or private list is refused
//     (EINVALID on "lists"). These are checked here, before the store, and
//     cost no database access;
//   - no enumeration: whether the address is new, already subscribed,
//     unsubscribed, erased or suppressed, the request succeeds the same
//     way; the result is for logs and tests and must not reach the
//     requester. A suppressed address is only ever made pending, so that
//     only the reader's own confirmation brings it back;
//   - single opt-in lists are confirmed at once, double opt-in ones wait
//     for the reader's confirmation (policy.Join), and at most one
//     confirmation mail goes to an address per opt.ConfirmWindow
//     (policy.ConfirmMailDue);
//   - the ledger gets a signup event per disclosure shown, and a
//     confirmation event for the single opt-in lists.
//
// The write itself is the store's grouped signup (sqlstore.DB.SignupGrouped):
// signup is the hot path, and on SQLite several readers' signups share one
// transaction, which applies the same pure decisions from
// internal/service/policy rather than calling back here.
func (s *Service) SignupShown(ctx context.Context, c Caller, req herald.SignupRequest, shown map[string]int, opt sqlstore.SignupOptions) (*sqlstore.SignupResult, error) {
	email, key, err := herald.NormalizeEmail(req.Email)
	if err != nil {
		return nil, err
	}
	name, err := herald.CleanName(req.Name)
	if err != nil {
		return nil, err
	}
	if len(req.Lists) == 0 {
		return nil, herald.FieldError("lists", msgNoList)
	}
	m := sqlstore.Meta{Actor: c.Meta.Actor, IP: req.IP, UserAgent: req.UserAgent, SourceURL: req.SourceURL}
	if m.Actor == "" {
		m.Actor = herald.ActorReader
	}
	return s.DB.SignupGrouped(ctx, sqlstore.SignupInput{Email: email, Key: key, Name: name, Lists: req.Lists,
		DisclosureVersion: req.DisclosureVersion, Shown: shown, Meta: m}, opt)
}
