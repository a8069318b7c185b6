package herald

import (
	"encoding/json"
	"time"
)

// Kinds of domain events: what happened to a reader or their
// subscriptions. Write paths append one in the transaction that makes the
// change; consumers (integrations, audit, metrics) decide what to do about
// it. See internal/events.
const (
	EventCreated             = "created"              // a reader was added (signup, operator, webhook)
	EventConfirmed           = "confirmed"            // a subscription became confirmed (ListID)
	EventSubscriptionChanged = "subscription_changed" // a subscription's status changed otherwise (e.g. to pending)
	EventUnsubscribed        = "unsubscribed"         // a subscription ended (ListID)
	EventProfileChanged      = "profile_changed"      // address or name changed
	EventSuppressed          = "suppressed"           // the address was put on the suppression list
	EventErased              = "erased"               // the reader's personal data was deleted
	EventImported            = "imported"             // a batch of readers was imported into ListID
)

// Event is one row of the events table. SubscriberID and ListID are 0
// when the event is not about one reader or one list.
type Event struct {
	ID           int64           `json:"id"`
	Kind         string          `json:"kind"`
	SubscriberID int64           `json:"subscriber_id"`
	ListID       int64           `json:"list_id"`
	At           time.Time       `json:"at"`
	Data         json.RawMessage `json:"data"`
}

// EventData is the payload of an event. It holds what consumers need and
// no more: no addresses or names (consumers read the current profile when
// they act), except the keyed digests an erased or changed address leaves
// behind for those who must delete it elsewhere.
type EventData struct {
	// Actor is who made the change (ActorReader, ActorOperator, …), so an
	// integration can ignore the changes it made itself.
	Actor string `json:"actor,omitempty"`
	// From and To are a subscription's statuses before and after ("" for
	// none).
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
	// AddressChanged says a profile change changed the address;
	// OldAddressMD5 is the MD5 of the old address in lower case, by which
	// email service providers key their members.
	AddressChanged bool   `json:"address_changed,omitempty"`
	OldAddressMD5  string `json:"old_address_md5,omitempty"`
	// AddressMD5 (erased) is the MD5 of the erased address in lower case:
	// all that is left to find the reader's copies elsewhere.
	AddressMD5 string `json:"address_md5,omitempty"`
	// Lists (erased) are the lists on which the reader had confirmed a
	// subscription at some time, so copies elsewhere may exist.
	Lists []int64 `json:"lists,omitempty"`
	// Subscribers (imported) are the readers of the batch, and Confirmed
	// those of them whose subscription the import confirmed.
	Subscribers []int64 `json:"subscribers,omitempty"`
	Confirmed   []int64 `json:"confirmed,omitempty"`
}

// Decode returns the event's data (zero for an empty payload).
func (e *Event) Decode() (EventData, error) {
	var d EventData
	if len(e.Data) == 0 {
		return d, nil
	}
	err := json.Unmarshal(e.Data, &d)
	return d, err
}
