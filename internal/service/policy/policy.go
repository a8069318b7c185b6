// Package policy holds the pure decisions of Herald's rules about readers:
// what status a subscription takes when a reader asks to join a list, and
// when a confirmation mail is due. The functions read nothing and write
// nothing, so both the service layer (internal/service) and the store's
// grouped signup transaction — which runs several readers' signups in one
// transaction and cannot call back into the service — apply the same rule.
package policy

import (
	"time"

	"github.com/heraldhq/herald"
)

// DefaultConfirmTTL is how long a confirmation link stays valid when the
// installation sets no other.
const DefaultConfirmTTL = 7 * 24 * time.Hour

// Join decides what a reader's request to join a list does to their
// subscription, whose current status is cur ("" when there is none):
//   - a new subscription to a single opt-in list is confirmed at once,
//     unless the address is suppressed (then the reader must confirm by
//     mail, which lifts the suppression);
//   - a new subscription otherwise, or one the reader had ended, becomes
//     pending until the reader confirms;
//   - a pending or confirmed subscription stays as it is.
//
// changed reports whether the status is to be written.
func Join(cur, optIn string, suppressed bool) (next string, changed bool) {
	switch {
	case cur == "" && optIn == herald.Single && !suppressed:
		return herald.StatusConfirmed, true
	case cur == "" || cur == herald.StatusUnsubscribed:
		return herald.StatusPending, true
	default:
		return cur, false
	}
}

// ConfirmMailDue decides whether a request that left subscriptions pending
// sends a confirmation mail. At most one mail goes to an address per
// window while its link is live (hasLink: the reader has a current
// confirmation nonce; lastMail: when the last mail was queued, zero if
// never): that link confirms every pending list, the new one included, and
// a form cannot be used to flood an inbox. force (the reader acting from
// their own manage link) skips the throttle.
func ConfirmMailDue(force, hasLink bool, lastMail, now time.Time, window time.Duration) bool {
	if force || !hasLink || lastMail.IsZero() {
		return true
	}
	return now.Sub(lastMail) >= window
}

// ConfirmTTL is the validity of a confirmation link: ttl, or the default
// when it is not set.
func ConfirmTTL(ttl time.Duration) time.Duration {
	if ttl <= 0 {
		return DefaultConfirmTTL
	}
	return ttl
}
