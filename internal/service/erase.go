package service

import (
	"context"

	"github.com/heraldhq/herald/internal/sqlstore"
)

// Erase deletes a subscriber's personal data — profile, subscriptions,
// consent ledger, stored mail — on the reader's request (RoleReader, from
// their manage link) or an operator's:
//   - an unknown subscriber is ENOTFOUND;
//   - the address goes on the suppression list, as a keyed hash with the
//     reason (default "erased"), so it is never mailed again unless the
//     reader signs up and confirms anew;
//   - the "erased" event names the lists on which the reader had
//     confirmed, for integrations that hold copies, and the data of the
//     reader's earlier events is emptied.
func (s *Service) Erase(ctx context.Context, c Caller, id int64, reason string) error {
	if reason == "" {
		reason = "erased"
	}
	return s.DB.Write(ctx, func(tx *sqlstore.Tx) error {
		key, err := sqlstore.SubscriberKey(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := sqlstore.SuppressAddress(ctx, tx, key, reason); err != nil {
			return err
		}
		if err := sqlstore.AppendErasedEvent(ctx, tx, id, key); err != nil {
			return err
		}
		return sqlstore.DeletePersonalData(ctx, tx, id, key)
	})
}
