// Package sender is Herald's campaign engine: it starts scheduled
// campaigns on time, works through the recipients of running ones, renders
// and signs each message, sends it over pooled SMTP connections within the
// installation's rate limits, and records every outcome in the
// per-recipient ledger.
//
// How it works, and why: docs/sender.md.
package sender
