// Package mailchimp holds the storage-independent half of Herald's Mailchimp
// integration: a client for the parts of the Marketing API v3 that Herald
// uses, a parser for Mailchimp's form-encoded webhooks, and a streaming
// reader and writer for Mailchimp's audience CSV export format.
//
// Nothing here touches the database, the job queue or the HTTP server. The
// wiring is expected to look like this:
//
//   - Sync jobs (upsert a confirmed subscriber, unsubscribe, erase) call one
//     Client method each. The client never retries: it classifies failures
//     so the job queue can decide. IsRetryable and RetryAfter say whether and
//     when to try again (429, 5xx, network errors); the other Is* helpers
//     name Mailchimp's documented refusals, which are final for that job
//     (for example IsComplianceState: the reader unsubscribed through
//     Mailchimp and must re-confirm there, which UpsertMember with status
//     "pending" asks Mailchimp to do).
//     Job code can depend on the Syncer interface rather than *Client.
//   - The webhook handler authenticates the request by the secret in its URL
//     (Mailchimp signs nothing), answers GET with 200 (Mailchimp validates
//     the URL with a GET, also when CreateWebhook registers it), hands
//     r.PostForm to ParseWebhook, and acts on Event.Change (and
//     Event.InInterest for lists connected to an interest group). Events
//     also report Herald's own API changes, so handling must be idempotent.
//   - Importers read an uploaded export with OpenExport or NewExport and
//     NewCSVReader, skipping rows whose error is a *RowError; exporters write
//     with NewCSVWriter.
//
// One Client should be shared per API key: Mailchimp allows 10 simultaneous
// connections per account, and the client enforces that limit itself.
package mailchimp
