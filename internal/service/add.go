package service

import (
	"context"
	"strings"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/sqlstore"
)

// NewSubscriber is an operator's addition of a subscriber.
type NewSubscriber struct {
	Email      string
	Name       string
	Attributes map[string]any
	Lists      []string // slugs; private lists allowed
	// Status "confirmed" records that the operator vouches for the reader's
	// consent; "pending" (default) asks the reader by mail for double
	// opt-in lists.
	Status string
}

// AddSubscriber creates a subscriber on an operator's word:
//   - the address, name and attributes must be valid, the status pending
//     (the default) or confirmed, the lists known (private ones allowed);
//   - an existing address is a conflict (ECONFLICT on "email");
//   - a suppressed address (erased, bounced, reported) may be added only as
//     pending — only the reader can bring it back, by confirming — and is
//     flagged as suppressed meanwhile;
//   - "confirmed" records in the ledger that the operator vouches for the
//     reader's consent; "pending" records the operator's addition and
//     joins the lists as a signup would (policy.Join), mailing the reader
//     at once for double opt-in lists.
func (s *Service) AddSubscriber(ctx context.Context, c Caller, n NewSubscriber, opt sqlstore.SignupOptions) (*herald.Subscriber, error) {
	email, key, err := herald.NormalizeEmail(n.Email)
	if err != nil {
		return nil, err
	}
	name, err := herald.CleanName(n.Name)
	if err != nil {
		return nil, err
	}
	attrs, err := sqlstore.ValidAttributes(n.Attributes)
	if err != nil {
		return nil, err
	}
	switch n.Status {
	case "":
		n.Status = herald.StatusPending
	case herald.StatusPending, herald.StatusConfirmed:
	default:
		return nil, herald.FieldError("status", "Status must be pending or confirmed.")
	}
	m := c.Meta
	if m.Actor == "" {
		m.Actor = herald.ActorOperator
	}
	var out *herald.Subscriber
	err = s.DB.Write(ctx, func(tx *sqlstore.Tx) error {
		m := m
		lists, err := sqlstore.ResolveLists(ctx, tx, n.Lists, true)
		if err != nil {
			return err
		}
		suppressed, err := sqlstore.Suppressed(ctx, tx, key)
		if err != nil {
			return err
		}
		if suppressed && n.Status == herald.StatusConfirmed {
			return errSuppressedAddress
		}
		id, err := sqlstore.InsertSubscriber(ctx, tx, email, key, name, attrs)
		if err != nil {
			return err
		}
		if suppressed {
			if err := sqlstore.SetSuppressedFlag(ctx, tx, key, true); err != nil {
				return err
			}
		}
		tx.AppendEvent(herald.EventCreated, id, 0, herald.EventData{Actor: m.Actor})
		slugs := make([]string, len(lists))
		for i, l := range lists {
			slugs[i] = l.Slug
		}
		if n.Status == herald.StatusConfirmed {
			for _, l := range lists {
				if err := sqlstore.SetSubscription(ctx, tx, id, l.ID, herald.StatusConfirmed); err != nil {
					return err
				}
			}
			m.Detail = strings.TrimSpace("operator vouched for consent " + m.Detail)
			if err := sqlstore.AddConsent(ctx, tx, id, herald.ConsentOperatorAdd, m, slugs, nil); err != nil {
				return err
			}
			for _, l := range lists {
				tx.AppendEvent(herald.EventConfirmed, id, l.ID, herald.EventData{Actor: m.Actor, To: herald.StatusConfirmed})
			}
		} else if len(lists) > 0 {
			if err := sqlstore.AddConsent(ctx, tx, id, herald.ConsentOperatorAdd, m, slugs, nil); err != nil {
				return err
			}
			if _, err := sqlstore.SubscribeLists(ctx, tx, id, lists, suppressed, opt, true, m.Actor); err != nil {
				return err
			}
		}
		out, err = sqlstore.LoadSubscriber(ctx, tx, id)
		return err
	})
	return out, err
}
