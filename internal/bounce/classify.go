package bounce

// Classification: from a recipient's status code and diagnostic text to a
// reason, a kind and whether the refusal is the sender's problem.
//
// The text is read first, the status code second: providers state the same
// refusal with different codes (a mailbox that does not exist comes as
// 5.1.1, 5.1.10, 5.4.1, 5.7.1 or a bare 550), and the words are what they
// agree on. The groups are tried in order and the first phrase found
// wins; the order is the point of the table:
//
//  0. greylisting and our own sending quotas, whose words ("recipient
//     address rejected: greylisted", "daily message quota") would
//     otherwise read as the reader's fault;
//  1. then refusals of our sender address and of our authentication (SPF,
//     DKIM, DMARC, reverse DNS), so that "Sender address rejected: Domain
//     not found" is not read as the reader's domain not existing;
//  2. then the recipient's own faults (domain, mailbox, full, disabled)
//     and the size limit, before the blocklist and spam phrases, so that
//     "5.7.1 Recipient address rejected: User unknown" stays a hard bounce;
//  3. then refusals to relay, what is about the sending IP, failures of
//     the remote system, rate and content;
//  4. then vaguer recipient phrases ("mailbox unavailable"), which some
//     blocklist replies also use, expiry and temporary failures, and
//     finally the status code alone.

import (
	"strings"
)

type rule struct {
	reason  Reason
	phrases []string
}

// rules is the table; phrases are lowercase and matched as substrings of
// the lowercased diagnostic.
var rules = []rule{
	{ReasonTemporary, []string{"greylist", "graylist"}}, // "try again": says nothing of the address
	{ReasonRateLimited, []string{ // our own sending limits, before "quota" is read as a full mailbox
		"sending quota", "message quota exceeded", "maximum sending rate", "daily sending", "sending limit",
	}},
	{ReasonSenderBlocked, []string{
		"invalid sender", "sender invalid", "unknown sender", "sender unknown", "from address",
		"sender address rejected", "sender verify failed", "sender verification failed", "sender domain",
		"sender rejected", "sender is not allowed", "sender not allowed", "envelope sender",
		"banned sender", "sender blocked", "sender denied", "senders domain",
	}},
	{ReasonPolicy, []string{
		"spf", "dkim", "dmarc", "unauthenticated", "not authenticated", "authentication required",
		"authentication failed", "fails authentication", "5.7.26", "5.7.27", "5.7.25", "5.7.23", "5.7.24",
		"reverse dns", "ptr record", "rdns", "no ptr", "reverse lookup", "helo", "ehlo",
		"not authorized to send", "authrequired", "requires authentication", "arc validation",
		"tls required", "must use tls", "starttls", "notauthorized", "notauthenticated",
		"identities failed the check", "not verified", "policy that prohibited", "cannot find your hostname",
		"cannot find your reverse hostname",
	}},
	{ReasonHostUnknown, []string{
		"host unknown", "host not found", "unknown host", "domain not found", "domain does not exist",
		"domain doesn't exist", "domain name not found", "no such domain", "name service error",
		"unrouteable mail domain", "nxdomain", "no mx", "null mx", "does not accept mail",
		"dns error", "could not be resolved", "unable to resolve", "no route to host for domain",
		"bad destination system", "domain is not configured",
		"mx lookup", "no mail server", "unknown domain", "non-existent host", "couldn't find any host",
	}},
	{ReasonUserUnknown, []string{
		"user unknown", "unknown user", "no such user", "user not found", "user doesn't exist",
		"user does not exist", "user doesn't have", "this user doesn't have", "unknown recipient",
		"recipient unknown", "recipient not found", "recipientnotfound", "recipnotfound", "recipient does not exist",
		"address not found", "address couldn't be found", "address could not be found", "address does not exist",
		"address doesn't exist", "email account that you tried to reach does not exist",
		"account that you tried to reach does not exist", "does not exist", "doesn't exist",
		"invalid recipient", "invalid mailbox", "invalid address", "not a valid recipient", "not a valid mailbox",
		"mailbox not found", "mailbox does not exist", "no such mailbox", "no mailbox", "mailbox unknown",
		"unknown mailbox", "unknown local part", "unknown address", "unrouteable address", "no such recipient",
		"no such address", "bad destination mailbox", "is not a known user", "not our customer",
		"recipient address rejected: access denied", "recipient address rejected: user",
		"recipient address rejected: undeliverable", "recipient address rejected: unknown",
		"recipient address rejected: invalid", "undeliverable address", "no such person",
		"account does not exist", "account doesn't exist", "no longer exists", "not listed in",
		"unknown or illegal alias", "addressee unknown", "mailbox name not allowed", "destination mailbox address invalid",
		"has moved", "no longer valid", "not a registered mailbox", "not registered", "not found in directory", "unknown account",
		"suppressed sending", "suppression list", "on the suppression",
	}},
	{ReasonMailboxFull, []string{
		"mailbox full", "mailbox is full", "mailbox has exceeded", "over quota", "overquota", "quota exceeded",
		"exceeded its quota", "exceeds quota", "quota", "insufficient storage", "out of storage",
		"storage allocation", "exceeded storage", "mailbox size limit", "full mailbox", "inbox is full",
		"mailfolder is full", "disk full", "file too large", "not enough space", "too many messages in",
	}},
	{ReasonDisabled, []string{
		"account disabled", "account is disabled", "is disabled", "mailbox disabled", "mailbox is disabled",
		"inactive", "deactivated", "suspended", "account has been", "no longer active", "account expired",
		"account closed", "closed account", "is locked", "account locked", "not active", "mailbox is frozen",
	}},
	{ReasonTooBig, []string{
		"message size exceeds", "message too large", "message is too large", "too large", "too big",
		"message length exceeds", "exceeds the maximum size", "exceeds size limit", "size limit",
		"maximum message size", "message size", "exceeded the size",
	}},
	{ReasonRelayDenied, []string{
		"relay access denied", "relaying denied", "relay denied", "relay not permitted", "not permitted to relay",
		"unable to relay", "relaying not allowed", "relay not allowed", "we do not relay", "not a gateway",
		"list of allowed rcpthosts",
	}},
	{ReasonSenderBlocked, []string{
		"blocked using", "blacklist", "blocklist", "block list", "black list", "spamhaus", "barracuda",
		"spamcop", "sorbs", "dnsbl", " rbl", "listed at", "listed in", "listed on", "reputation",
		"client host rejected", "client host blocked", "your ip", "sending ip", "ip address", "ip blocked",
		"not allowed to send", "part of their network", "(s3150)", "(s3140)", "(s3114)",
		"access denied", "denied by policy", "connection refused by", "bad sender",
		"open relay", "dynamic ip", "residential", "dialup", "[ts01]", "[ts02]", "[ts03]", "(bl)",
	}},
	{ReasonSystemError, []string{
		"system error", "local error", "internal error", "mail loop", "loop detected", "routing loop",
		"too many hops", "hop count", "configuration error", "mailer error", "syntax error",
		"command unrecognized", "bad sequence of commands", "server error", "protocol error",
	}},
	{ReasonRateLimited, []string{
		"rate limit", "ratelimit", "rate-limit", "too many", "throttl", "rate that prevents",
		"unusual rate", "temporarily deferred", "deferred due to", "[tss04]", "[tsm",
		"exceeded the rate", "sending rate", "slow down", "4.7.28", "5.7.28", "too much mail", "excessive",
	}},
	{ReasonSpam, []string{
		"spam", "unsolicited", "junk", "bulk mail", "virus", "malware", "phishing", "infected",
		"content rejected", "content filter", "rejected due to content", "message content", "suspicious",
		"blocked by", "message rejected", "not accepted for policy", "prohibited", ":blocked)",
		"message not allowed", "[ph01]",
	}},
	{ReasonUserUnknown, []string{ // vaguer, after the blocklist and spam phrases
		"mailbox unavailable", "mailbox not available", "recipient rejected", "rejected recipient",
		"address rejected", "recipient address rejected", "not accepted", "unknown", "invalid",
	}},
	{ReasonExpired, []string{
		"expired", "retry timeout exceeded", "retry time not reached", "could not be delivered within",
		"delivery time", "too long in queue", "was not delivered within", "message timed out",
		"max retries", "maximum time", "no more retries",
	}},
	{ReasonTemporary, []string{
		"connection refused", "timed out", "timeout", "network is unreachable", "host unreachable",
		"no route to host", "connection reset", "lost connection", "temporary failure", "temporarily",
		"try again", "service unavailable", "tempfail",
	}},
}

// senderProblem: reasons that are about who sent the message or what was
// sent, not about the reader's address. They never suppress a reader.
func senderProblem(r Reason) bool {
	switch r {
	case ReasonPolicy, ReasonSenderBlocked, ReasonSpam, ReasonRelayDenied, ReasonTooBig, ReasonRateLimited:
		return true
	}
	return false
}

// classify returns the reason, kind and sender-problem flag of a failed
// delivery with enhanced status code status ("5.1.1", may be empty) and
// diagnostic text diag.
func classify(status, diag string) (Reason, Kind, bool) {
	reason := classifyText(asciiLower(diag))
	if reason == "" {
		reason = classifyStatus(status)
	}
	return reason, kindOf(reason, status), senderProblem(reason)
}

func classifyText(d string) Reason {
	if d == "" {
		return ""
	}
	for _, r := range rules {
		for _, p := range r.phrases {
			if strings.Contains(d, p) {
				if p == "unknown" || p == "invalid" {
					// The bare words only in a recipient's context.
					if !strings.Contains(d, "recipient") && !strings.Contains(d, "mailbox") &&
						!strings.Contains(d, "address") && !strings.Contains(d, "user") {
						continue
					}
				}
				return r.reason
			}
		}
	}
	return ""
}

// classifyStatus reads the enhanced status code alone (RFC 3463).
func classifyStatus(status string) Reason {
	class, subject, detail := splitStatus(status)
	switch subject + "." + detail {
	case "1.1", "1.3", "1.6", "1.10":
		return ReasonUserUnknown
	case "1.2", "4.4":
		return ReasonHostUnknown
	case "2.1":
		return ReasonDisabled
	case "2.2", "3.1":
		return ReasonMailboxFull
	case "2.3", "3.4":
		return ReasonTooBig
	case "4.7":
		return ReasonExpired
	case "1.8", "1.7":
		return ReasonSenderBlocked
	}
	switch subject {
	case "6":
		return ReasonSpam
	case "7":
		return ReasonPolicy
	}
	switch class {
	case "5":
		return ReasonPermanent
	case "4":
		return ReasonTemporary
	}
	return ReasonUnknown
}

// kindOf: the recipient's own permanent faults are hard, unless the code
// says the failure is temporary; everything else that failed is soft.
func kindOf(r Reason, status string) Kind {
	class, _, _ := splitStatus(status)
	switch r {
	case ReasonUserUnknown, ReasonHostUnknown, ReasonDisabled, ReasonPermanent:
		if class == "4" {
			return Soft
		}
		return Hard
	}
	return Soft
}

func splitStatus(s string) (class, subject, detail string) {
	parts := strings.SplitN(s, ".", 3)
	if len(parts) != 3 {
		return "", "", ""
	}
	return parts[0], parts[1], parts[2]
}
