package token

import "time"

// Reader links — the manage and unsubscribe links in every mail — carry
// the time they were issued, in milliseconds, in Nonce (which only confirm
// tokens otherwise use). Making one needs only the clock, so a campaign
// makes its links without reading the database; checking one needs the
// reader's revocation time, read when a page is opened.
//
// A manage link opens the reader's preferences page (which can export and
// erase their data) for ManageTTL after it was issued, unless the reader's
// links were revoked after that. An unsubscribe link never stops
// unsubscribing — a reader must be able to leave from any mail they ever
// got (RFC 8058 one-click, and the law) and the worst a leaked one can do
// is unsubscribe them — but only a fresh one (same rules as a manage link)
// shows the address or leads on to the preferences page.

// ManageTTL is how long a reader link opens the reader's pages. Every
// newsletter carries freshly issued links, so a reader who gets mail
// always holds a valid one.
const ManageTTL = 90 * 24 * time.Hour

// ManageLink returns the token of a manage link issued at now.
func ManageLink(subscriberID int64, now time.Time) Token {
	return Token{Kind: Manage, SubscriberID: subscriberID, Nonce: uint64(now.UnixMilli()), Expires: now.Add(ManageTTL).Unix()}
}

// UnsubscribeLink returns the token of an unsubscribe link issued at now,
// for the given lists (none = all) and campaign (0 = none). It does not
// expire.
func UnsubscribeLink(subscriberID int64, lists []int64, campaignID int64, now time.Time) Token {
	return Token{Kind: Unsubscribe, SubscriberID: subscriberID, Nonce: uint64(now.UnixMilli()), Lists: lists, CampaignID: campaignID}
}

// Issued returns when a manage or unsubscribe link was issued; the zero
// time for links made before links recorded it.
func (t Token) Issued() time.Time {
	if t.Nonce == 0 || t.Nonce > 1<<62 {
		return time.Time{}
	}
	return time.UnixMilli(int64(t.Nonce))
}

// Fresh reports whether a manage or unsubscribe link may open the reader's
// pages at now: issued (with its time recorded) within ManageTTL, and
// after revokedBefore (Unix milliseconds; 0 = never revoked).
func (t Token) Fresh(now time.Time, revokedBefore int64) bool {
	issued := t.Issued()
	if issued.IsZero() || int64(t.Nonce) <= revokedBefore {
		return false
	}
	if t.Expires != 0 && now.Unix() > t.Expires {
		return false
	}
	return now.Sub(issued) <= ManageTTL
}
