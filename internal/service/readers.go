package service

import (
	"context"
	"strings"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/sqlstore"
)

// reader returns c's ledger metadata with the reader as actor unless the
// caller named another.
func (c Caller) reader() sqlstore.Meta {
	m := c.Meta
	if m.Actor == "" {
		m.Actor = herald.ActorReader
	}
	return m
}

// Confirm confirms a double opt-in from the link a reader received:
//   - the link must carry the subscriber's current nonce (0: whatever is
//     current, for trusted callers), else EGONE;
//   - every pending subscription becomes confirmed, and the nonce is
//     retired, so a link confirms once;
//   - the reader's own confirmation is the one way an address comes off
//     the suppression list (erased, bounced, reported), so it lifts it;
//   - the ledger gets a confirmation event naming the lists, and each
//     list its "confirmed" domain event.
//
// It returns the slugs of the lists confirmed.
func (s *Service) Confirm(ctx context.Context, c Caller, subID int64, nonce uint64) ([]string, error) {
	m := c.reader()
	var confirmed []string
	err := s.DB.Write(ctx, func(tx *sqlstore.Tx) error {
		confirmed = nil
		pc, err := sqlstore.Confirmation(ctx, tx, subID, nonce)
		if err != nil {
			return err
		}
		for _, x := range pc.Lists {
			confirmed = append(confirmed, x.List)
		}
		if err := sqlstore.ConfirmPending(ctx, tx, subID); err != nil {
			return err
		}
		if err := sqlstore.RetireConfirmNonce(ctx, tx, subID); err != nil {
			return err
		}
		if err := sqlstore.LiftSuppression(ctx, tx, strings.ToLower(pc.Subscriber.Email)); err != nil {
			return err
		}
		if err := sqlstore.AddConsent(ctx, tx, subID, herald.ConsentConfirm, m, confirmed, nil); err != nil {
			return err
		}
		for _, x := range pc.Lists {
			tx.AppendEvent(herald.EventConfirmed, subID, x.ListID, herald.EventData{Actor: m.Actor, From: herald.StatusPending, To: herald.StatusConfirmed})
		}
		return nil
	})
	return confirmed, err
}

// Preferences is a reader's choice on their manage page.
type Preferences struct {
	// Lists is the full set of list slugs the reader wants.
	Lists []string
	// DisclosureVersion is the disclosure the page showed (0: the current
	// one); ListDisclosures the lists' own disclosures it showed (slug →
	// version).
	DisclosureVersion int
	ListDisclosures   map[string]int
}

// ChangePreferences applies a reader's manage-page choice:
//   - lists they are on and did not tick are left (an unsubscribe event in
//     the ledger);
//   - public lists they ticked and are not on are joined as a signup
//     would (policy.Join: double opt-in applies, and a suppressed address
//     confirms by mail); a private or unknown list is refused (EINVALID on
//     "lists") and nothing changes;
//   - the consent to join records the disclosures the page showed;
//   - a confirmation mail for the joined lists goes at once: the reader is
//     acting from their own link, so the per-address throttle does not
//     apply.
//
// The result says what was joined and whether a mail was queued.
func (s *Service) ChangePreferences(ctx context.Context, c Caller, subID int64, p Preferences, opt sqlstore.SignupOptions) (*sqlstore.SignupResult, error) {
	m := c.reader()
	var res *sqlstore.SignupResult
	err := s.DB.Write(ctx, func(tx *sqlstore.Tx) error {
		sub, err := sqlstore.LoadSubscriber(ctx, tx, subID)
		if err != nil {
			return err
		}
		wanted := map[string]bool{}
		for _, w := range p.Lists {
			wanted[w] = true
		}
		var leave []int64
		have := map[string]bool{}
		for _, x := range sub.Subscriptions {
			if x.Status == herald.StatusUnsubscribed {
				continue
			}
			have[x.List] = true
			if !wanted[x.List] {
				leave = append(leave, x.ListID)
			}
		}
		var joinSlugs []string
		for _, w := range p.Lists {
			if !have[w] {
				joinSlugs = append(joinSlugs, w)
			}
		}
		join, err := sqlstore.ResolveLists(ctx, tx, joinSlugs, false)
		if err != nil {
			return err
		}
		res = &sqlstore.SignupResult{SubscriberID: subID}
		if len(leave) > 0 {
			if _, err := sqlstore.UnsubscribeLists(ctx, tx, subID, leave, m); err != nil {
				return err
			}
		}
		if len(join) == 0 {
			return nil
		}
		d, err := sqlstore.SignupDisclosure(ctx, tx, p.DisclosureVersion)
		if err != nil {
			return err
		}
		sup, err := sqlstore.Suppressed(ctx, tx, strings.ToLower(sub.Email))
		if err != nil {
			return err
		}
		perList, err := sqlstore.ListDisclosures(ctx, tx)
		if err != nil {
			return err
		}
		if err := sqlstore.SignupConsents(ctx, tx, subID, herald.ConsentPreferences, m, join, d, perList, p.ListDisclosures); err != nil {
			return err
		}
		res, err = sqlstore.SubscribeLists(ctx, tx, subID, join, sup, opt, true, m.Actor)
		return err
	})
	return res, err
}
