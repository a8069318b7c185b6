package service

import (
	"context"
	"strings"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/sqlstore"
)

// SubscriberPatch is a partial update of a subscriber; nil fields stay as
// they are.
type SubscriberPatch struct {
	Email         *string
	Name          *string
	Attributes    map[string]any
	Subscriptions []SubscriptionChange
}

// SubscriptionChange sets one list's status on an operator's word.
type SubscriptionChange struct {
	List   string
	Status string
}

// errSuppressedAddress refuses an address that was erased or suppressed:
// only the reader can bring it back, by signing up and confirming.
var errSuppressedAddress = &herald.Error{Code: herald.ECONFLICT, Field: "email",
	Message: "This address was erased or suppressed; it can only come back by signing up and confirming."}

// UpdateSubscriber applies an operator's patch to a subscriber:
//   - the address, name and attributes must be valid;
//   - the address cannot become one that is suppressed (erased, bounced,
//     reported), and stored mail follows the person to the new address;
//   - a subscription cannot be confirmed for a suppressed address: only
//     the reader can confirm it;
//   - every change of address or status goes in the consent ledger, and
//     every change appends its domain event.
func (s *Service) UpdateSubscriber(ctx context.Context, c Caller, id int64, p SubscriberPatch) (*herald.Subscriber, error) {
	m := c.Meta
	if m.Actor == "" {
		m.Actor = herald.ActorOperator
	}
	var out *herald.Subscriber
	err := s.DB.Write(ctx, func(tx *sqlstore.Tx) error {
		cur, err := sqlstore.LoadSubscriberRow(ctx, tx, id)
		if err != nil {
			return err
		}
		curKey := strings.ToLower(cur.Email)
		email, key := cur.Email, curKey
		if p.Email != nil {
			if email, key, err = herald.NormalizeEmail(*p.Email); err != nil {
				return err
			}
		}
		name := cur.Name
		if p.Name != nil {
			if name, err = herald.CleanName(*p.Name); err != nil {
				return err
			}
		}
		attrs, err := sqlstore.ValidAttributes(cur.Attributes)
		if err != nil {
			return err
		}
		if p.Attributes != nil {
			if attrs, err = sqlstore.ValidAttributes(p.Attributes); err != nil {
				return err
			}
		}
		if err := sqlstore.SetProfile(ctx, tx, id, email, key, name, attrs); err != nil {
			return err
		}
		if p.Email != nil && key != curKey {
			if sup, err := sqlstore.Suppressed(ctx, tx, key); err != nil {
				return err
			} else if sup {
				return errSuppressedAddress
			}
			if err := sqlstore.MoveOutbox(ctx, tx, curKey, key); err != nil {
				return err
			}
			if err := sqlstore.AddConsent(ctx, tx, id, herald.ConsentProfileEdit,
				sqlstore.Meta{Actor: m.Actor, IP: m.IP, UserAgent: m.UserAgent, Detail: "email changed"}, nil, nil); err != nil {
				return err
			}
		}
		if email != cur.Email || name != cur.Name {
			d := herald.EventData{Actor: m.Actor}
			if !strings.EqualFold(email, cur.Email) {
				d.AddressChanged, d.OldAddressMD5 = true, sqlstore.AddressMD5(cur.Email)
			}
			tx.AppendEvent(herald.EventProfileChanged, id, 0, d)
		}
		for _, ch := range p.Subscriptions {
			if err := s.setStatus(ctx, tx, id, key, ch, m); err != nil {
				return err
			}
		}
		out, err = sqlstore.LoadSubscriber(ctx, tx, id)
		return err
	})
	return out, err
}

// setStatus applies one subscription change of an operator's patch.
func (s *Service) setStatus(ctx context.Context, tx *sqlstore.Tx, id int64, key string, ch SubscriptionChange, m sqlstore.Meta) error {
	lists, err := sqlstore.ResolveLists(ctx, tx, []string{ch.List}, true)
	if err != nil {
		return err
	}
	switch ch.Status {
	case herald.StatusConfirmed, herald.StatusUnsubscribed, herald.StatusPending:
	default:
		return herald.FieldError("subscriptions", "Status must be pending, confirmed or unsubscribed.")
	}
	if ch.Status == herald.StatusConfirmed {
		if sup, err := sqlstore.Suppressed(ctx, tx, key); err != nil {
			return err
		} else if sup {
			return &herald.Error{Code: herald.ECONFLICT, Field: "subscriptions", Message: "This address is suppressed; it can only be confirmed by the reader."}
		}
	}
	l := lists[0]
	prev, err := sqlstore.SetSubscriptionStatus(ctx, tx, id, l.ID, ch.Status)
	if err != nil {
		return err
	}
	if prev != ch.Status {
		kind := herald.EventSubscriptionChanged
		switch ch.Status {
		case herald.StatusConfirmed:
			kind = herald.EventConfirmed
		case herald.StatusUnsubscribed:
			kind = herald.EventUnsubscribed
		}
		tx.AppendEvent(kind, id, l.ID, herald.EventData{Actor: m.Actor, From: prev, To: ch.Status})
	}
	consent := herald.ConsentPreferences
	if ch.Status == herald.StatusUnsubscribed {
		consent = herald.ConsentUnsubscribe
	}
	mm := m
	mm.Detail = "operator set status " + ch.Status
	return sqlstore.AddConsent(ctx, tx, id, consent, mm, []string{l.Slug}, nil)
}
