// Package mcsync wires Herald's Mailchimp integration together: it runs the
// sync jobs the store queues (internal/sqlstore/mailchimp_sync.go) against
// Mailchimp's API (internal/mailchimp), applies Mailchimp's webhooks to the
// store, checks connections, and imports and exports Mailchimp's audience
// CSV format.
//
// Failures are sorted the way Mailchimp documents them: 429 and 5xx
// answers and network errors are retried with backoff and jitter (or after
// Retry-After when Mailchimp sends one); "Member In Compliance State" makes
// the member pending (Mailchimp sends its own confirmation mail) and says
// so in the ledger; "Forgotten Email Not Subscribed", invalid or fake
// addresses, unknown audiences and interests fail the job for good, with a
// message that names the problem, visible at GET /api/v1/jobs?status=failed.
package mcsync

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/events"
	"github.com/heraldhq/herald/internal/mailchimp"
	"github.com/heraldhq/herald/internal/mcsync/mcstore"
	"github.com/heraldhq/herald/internal/netguard"
	"github.com/heraldhq/herald/internal/queue"
	"github.com/heraldhq/herald/internal/sqlstore"
)

// Service runs Herald's side of the Mailchimp integration.
type Service struct {
	DB        *sqlstore.DB
	Store     *mcstore.Store // Mailchimp's own tables
	Log       *slog.Logger
	BaseURL   string // Herald's public URL, for the webhook URL
	Publisher string // named in the lists' disclosures
	// Guard decides which addresses API calls may reach and which base
	// URLs other than Mailchimp's the key may be sent to (nil: public
	// addresses only, Mailchimp's API only); see guard.go.
	Guard *netguard.Guard
	// Timeout bounds one API call (default mailchimp.DefaultTimeout).
	Timeout time.Duration
	// MaxUpload bounds an export uploaded through the API (default 1 GB).
	MaxUpload int64
	// Backoff is the first retry delay after a 429 without Retry-After
	// (default 1 s; twice that after a 5xx or a network error), doubled
	// per attempt up to 30 minutes, with ±20 % jitter.
	Backoff time.Duration

	slots chan struct{} // Mailchimp jobs running at once in this process
	id    string        // this process's part of its connection leases

	mu        sync.Mutex
	client    *mailchimp.Client
	clientFor string

	hcOnce    sync.Once
	hc        *http.Client // guarded; shared by every client, for its pool of connections
	hcAllowed *http.Client // the same, to HERALD_FETCH_ALLOW's networks only
}

// New returns a service. jobWorkers is the job worker's concurrency:
// Mailchimp jobs use at most all but two of its slots (and never more than
// Mailchimp's 10 connections), so a slow Mailchimp cannot hold up
// confirmation mail.
func New(db *sqlstore.DB, log *slog.Logger, baseURL, publisher string, jobWorkers int) *Service {
	n := min(mailchimp.MaxConnections, max(1, jobWorkers-2))
	id := make([]byte, 8)
	_, _ = crand.Read(id)
	return &Service{DB: db, Store: mcstore.New(db), Log: log, BaseURL: strings.TrimRight(baseURL, "/"), Publisher: publisher, MaxUpload: 1 << 30,
		Backoff: time.Second, slots: make(chan struct{}, n), id: hex.EncodeToString(id)}
}

// Register adds the Mailchimp job handlers to a worker.
func (s *Service) Register(w *queue.Worker) {
	w.Handle(mcstore.JobMailchimpMember, s.memberJob)
	w.Handle(mcstore.JobMailchimpSync, s.syncJob)
	w.Handle(mcstore.JobMailchimpWebhook, s.webhookJob)
}

// Consumer is the name of the Mailchimp sync's event consumer.
const Consumer = "mailchimp"

// Subscribe registers the Mailchimp sync as a consumer of domain events:
// changes to subscriptions of connected lists become member jobs.
func (s *Service) Subscribe(d *events.Dispatcher) {
	d.Register(Consumer, s.Store.HandleEvents, events.SkipWhen(s.Store.Unconnected))
}

// WebhookPath is where Mailchimp posts events; the secret authenticates them.
func WebhookPath(secret string) string { return "/webhooks/mailchimp/" + secret }

// WebhookURL is the URL registered with Mailchimp.
func (s *Service) WebhookURL(secret string) string { return s.BaseURL + WebhookPath(secret) }

// NewClient returns a Mailchimp client for a key and an optional base URL,
// refusing a base URL the key may not be sent to (CheckBaseURL). Its calls
// go through the guarded HTTP client.
func (s *Service) NewClient(apiKey, baseURL string) (*mailchimp.Client, error) {
	if err := s.CheckBaseURL(context.Background(), baseURL); err != nil {
		return nil, err
	}
	opts := []mailchimp.Option{mailchimp.WithHTTPClient(s.httpClient(baseURL))}
	if baseURL != "" {
		opts = append(opts, mailchimp.WithBaseURL(baseURL))
	}
	if s.Timeout > 0 {
		opts = append(opts, mailchimp.WithTimeout(s.Timeout))
	}
	return mailchimp.New(apiKey, opts...)
}

// Client returns the client of the stored connection, shared by every job
// of this process so that Mailchimp's limit of 10 connections holds.
func (s *Service) Client(ctx context.Context) (*mailchimp.Client, error) {
	conn, err := s.Store.MailchimpConnection(ctx)
	if err != nil {
		return nil, err
	}
	id := conn.APIKey + "\x00" + conn.BaseURL
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client != nil && s.clientFor == id {
		return s.client, nil
	}
	c, err := s.NewClient(conn.APIKey, conn.BaseURL)
	if err != nil {
		return nil, err
	}
	s.client, s.clientFor = c, id
	return c, nil
}

// acquire takes a slot for a Mailchimp job without waiting: one of this
// process's, then one of the account's 10 connections, leased in the
// database so that every process sharing it keeps to Mailchimp's limit
// together. Without a slot the job is snoozed (busy).
func (s *Service) acquire(ctx context.Context, job herald.Job) (release func(), err error) {
	select {
	case s.slots <- struct{}{}:
	default:
		return nil, busy()
	}
	local := func() { <-s.slots }
	holder := s.id + "/" + strconv.FormatInt(job.ID, 10)
	slot, ok, err := s.Store.AcquireMailchimpSlot(ctx, holder, s.slotLease())
	if err != nil || !ok {
		local()
		if err == nil {
			err = busy()
		}
		return nil, err
	}
	return func() {
		if err := s.Store.ReleaseMailchimpSlot(context.WithoutCancel(ctx), slot, holder); err != nil {
			s.Log.Warn("releasing a Mailchimp connection slot (it frees itself when its lease ends)", "err", err)
		}
		local()
	}, nil
}

// slotLease outlasts any job's hold of a connection slot: a bulk sync's
// slice and the calls it may have started at its end. It frees the slots
// of a process that died.
func (s *Service) slotLease() time.Duration {
	t := s.Timeout
	if t <= 0 {
		t = mailchimp.DefaultTimeout
	}
	return syncSlice + 2*t + 15*time.Second
}

func busy() error {
	return queue.Snooze(200*time.Millisecond+rand.N(300*time.Millisecond), "waiting for a free Mailchimp connection")
}

// complete removes a finished job at once (not in the worker's next batch):
// after a crash, a call that Mailchimp has answered is not made again.
func (s *Service) complete(ctx context.Context, job herald.Job) {
	if err := s.DB.CompleteJobs(context.WithoutCancel(ctx), job.ID); err != nil {
		s.Log.Warn("completing a Mailchimp job", "job", job.ID, "err", err)
	}
}

// retryDelay is the wait before retrying a call Mailchimp may take later:
// what Retry-After asked for, else exponential backoff with ±20 % jitter
// from base (429: too many connections) or twice base (5xx, network),
// capped at 30 minutes.
func retryDelay(err error, attempt int, base time.Duration) time.Duration {
	if ra := mailchimp.RetryAfter(err); ra > 0 {
		return ra + rand.N(ra/10+time.Millisecond)
	}
	if base <= 0 {
		base = time.Second
	}
	d := 2 * base
	if errors.Is(err, mailchimp.ErrRateLimited) {
		d = base
	}
	for i := 1; i < attempt && d < 30*time.Minute; i++ {
		d *= 2
	}
	d = min(d, 30*time.Minute)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// classify turns a Mailchimp failure into what the queue should do.
// describe says what was being done, scrub hides the address (erasures).
func (s *Service) classify(err error, attempt int, describe string, scrub func(string) string) error {
	msg := scrub(describe + ": " + explain(err))
	plain := errors.New(msg)
	switch {
	case mailchimp.IsRetryable(err):
		return queue.RetryAfter(plain, retryDelay(err, attempt, s.Backoff))
	case mailchimp.IsAuth(err):
		// Nothing works until the operator fixes the key; keep the work.
		return queue.RetryAfter(plain, retryDelay(err, attempt+3, s.Backoff))
	}
	var ae *mailchimp.APIError
	if errors.As(err, &ae) || errors.Is(err, mailchimp.ErrInvalidAPIKey) {
		return queue.Permanent(plain)
	}
	var me *mailchimp.MemberError
	if errors.As(err, &me) {
		return queue.Permanent(plain)
	}
	return plain // a store error, say: the worker's backoff
}

// explain says in words what Mailchimp's answer means.
func explain(err error) string {
	switch {
	case mailchimp.IsComplianceState(err):
		return "Mailchimp refused: Member In Compliance State — the address unsubscribed, bounced or was reported at Mailchimp and must re-confirm through Mailchimp (" + err.Error() + ")"
	case mailchimp.IsForgotten(err):
		return "Mailchimp refused: Forgotten Email Not Subscribed — the address was permanently deleted from the audience and cannot be added back through the API; the reader must sign up again through a Mailchimp form (" + err.Error() + ")"
	case mailchimp.IsInvalidAddress(err):
		return "Mailchimp refused the address as invalid or fake (" + err.Error() + ")"
	case mailchimp.IsAuth(err):
		return "Mailchimp rejected the API key: fix it with PUT /api/v1/integrations/mailchimp; the job is retried (" + err.Error() + ")"
	case errors.Is(err, mailchimp.ErrRateLimited):
		return "Mailchimp is rate limiting (429); retrying (" + err.Error() + ")"
	case mailchimp.IsRetryable(err):
		var ne *mailchimp.NetworkError
		if errors.As(err, &ne) {
			return "Mailchimp could not be reached; retrying (" + err.Error() + ")"
		}
		return "Mailchimp failed; retrying (" + err.Error() + ")"
	case mailchimp.IsNotFound(err):
		return "Mailchimp has no such audience, interest or member (" + err.Error() + ")"
	}
	return err.Error()
}

func noScrub(s string) string { return s }

// scrubber replaces an address (any case) in text.
func scrubber(email string) func(string) string {
	return func(s string) string {
		if email == "" {
			return s
		}
		low, le := strings.ToLower(s), strings.ToLower(email)
		var b strings.Builder
		for {
			i := strings.Index(low, le)
			if i < 0 {
				b.WriteString(s)
				return b.String()
			}
			b.WriteString(s[:i])
			b.WriteString("<erased address>")
			s, low = s[i+len(email):], low[i+len(email):]
		}
	}
}

func (s *Service) memberJob(ctx context.Context, job herald.Job) error {
	op, err := s.Store.MailchimpMemberOp(job)
	if err != nil {
		return queue.Permanent(err)
	}
	wait, d, err := s.Store.MailchimpJobWait(ctx, job.ID, op.MemberKey)
	if err != nil {
		return err
	}
	if wait {
		return queue.Snooze(d, "waiting for an earlier Mailchimp job about the same member")
	}
	release, err := s.acquire(ctx, job)
	if err != nil {
		return err
	}
	defer release()
	c, err := s.Client(ctx)
	if herald.ErrorCode(err) == herald.ENOTFOUND {
		return queue.Permanent(errors.New("Mailchimp is not connected any more: nothing was sent"))
	} else if err != nil {
		return err
	}
	// A member known only by hash (an erased reader, an old address).
	ref := op.Email
	if ref == "" {
		ref = mailchimp.ByHash(op.MemberHash)
	}
	scrub := noScrub
	if op.Op == mcstore.MailchimpDelete {
		scrub = scrubber(op.Email)
	}
	describe := fmt.Sprintf("%s of %s in audience %s", op.Op, op.Email, op.AudienceID)
	if op.Email == "" {
		describe = fmt.Sprintf("%s of member %s in audience %s", op.Op, op.MemberHash, op.AudienceID)
	}
	if op.Op == mcstore.MailchimpDelete {
		describe = fmt.Sprintf("permanent delete (erasure) of member %s of audience %s", op.MemberHash, op.AudienceID)
	}
	switch op.Op {
	case mcstore.MailchimpUpsert:
		err = s.upsert(ctx, c, op)
	case mcstore.MailchimpUnsubscribe:
		err = c.Unsubscribe(ctx, mailchimp.Link{AudienceID: op.AudienceID, InterestID: op.InterestID}, ref)
		if mailchimp.IsNotFound(err) {
			err = nil // not a member: nothing to unsubscribe
		}
	case mcstore.MailchimpDelete:
		err = c.DeletePermanent(ctx, op.AudienceID, ref)
		if mailchimp.IsNotFound(err) {
			err = nil // never was a member, or deleted already
		}
	default:
		return queue.Permanent(fmt.Errorf("unknown Mailchimp operation %q", op.Op))
	}
	if err != nil {
		return s.classify(err, job.Attempts, describe, scrub)
	}
	s.complete(ctx, job)
	return nil
}

// member builds what an upsert sends from what the store holds.
func member(email, interestID string, d *mcstore.MailchimpMemberData, status mailchimp.Status) mailchimp.Member {
	first, last := mailchimp.SplitName(d.Name)
	m := mailchimp.Member{Email: email, StatusIfNew: status, Status: status, FirstName: first, LastName: last}
	if net.ParseIP(d.SignupIP) != nil {
		m.IPSignup = d.SignupIP
	}
	if net.ParseIP(d.OptIP) != nil {
		m.IPOpt = d.OptIP
	}
	m.TimestampSignup, m.TimestampOpt = d.SignupAt, d.OptAt
	if interestID != "" {
		m.Interests = map[string]bool{interestID: true}
	}
	return m
}

func (s *Service) upsert(ctx context.Context, c *mailchimp.Client, op *mcstore.MailchimpMemberJob) error {
	d, err := s.Store.MailchimpMemberData(ctx, op.SubscriberID, op.ListID)
	if herald.ErrorCode(err) == herald.ENOTFOUND {
		return nil // erased since: its delete job follows
	} else if err != nil {
		return err
	}
	m := member(op.Email, op.InterestID, d, mailchimp.StatusSubscribed)
	_, err = c.UpsertMember(ctx, op.AudienceID, m)
	if !mailchimp.IsComplianceState(err) {
		return err
	}
	// The reader unsubscribed, bounced or was reported at Mailchimp, which
	// will not take them back on Herald's word. Asking for "pending" makes
	// Mailchimp send its own confirmation mail; until the reader confirms
	// there (its "subscribe" webhook confirms here), they are pending.
	m.Status, m.StatusIfNew = mailchimp.StatusPending, mailchimp.StatusPending
	if _, perr := c.UpsertMember(ctx, op.AudienceID, m); perr != nil {
		return perr
	}
	return s.Store.MailchimpMarkPending(ctx, op.SubscriberID, op.ListID,
		"Mailchimp refused the subscription (Member In Compliance State: the address unsubscribed, bounced or was reported at Mailchimp). "+
			"Mailchimp sent its own confirmation email; the subscription is pending until the reader confirms there.")
}

// syncPage is the number of members per batch call (Mailchimp's maximum).
const syncPage = mailchimp.MaxBatchSize

// syncSlice bounds one run of a bulk sync; it then continues in a new run,
// from where it got to, well within the job's lease.
const syncSlice = 45 * time.Second

func (s *Service) syncJob(ctx context.Context, job herald.Job) error {
	var p mcstore.MailchimpSyncJob
	if err := decodeJob(job, &p); err != nil {
		return queue.Permanent(err)
	}
	link, err := s.Store.MailchimpLinkByID(ctx, p.ListID)
	if herald.ErrorCode(err) == herald.ENOTFOUND {
		return nil // disconnected since
	} else if err != nil {
		return err
	}
	release, err := s.acquire(ctx, job)
	if err != nil {
		return err
	}
	defer release()
	c, err := s.Client(ctx)
	if err != nil {
		return queue.Permanent(fmt.Errorf("bulk sync of %s: %w", link.List, err))
	}
	st := link.Sync
	st.State = "running"
	cursor := link.SyncCursor()
	stop := time.Now().Add(syncSlice)
	for {
		page, readAt, err := s.Store.MailchimpSyncPage(ctx, p.ListID, cursor, syncPage)
		if err != nil {
			return err
		}
		var members []mailchimp.Member
		var ids []int64
		for _, m := range page {
			switch {
			case m.Status == herald.StatusConfirmed:
				members = append(members, member(m.Email, link.InterestID, &m.MailchimpMemberData, mailchimp.StatusSubscribed))
			case link.InterestID == "":
				members = append(members, member(m.Email, "", &m.MailchimpMemberData, mailchimp.StatusUnsubscribed))
			default:
				// Leaving an interest list is not leaving the audience;
				// those members' own unsubscribe jobs set the interest off.
				continue
			}
			ids = append(ids, m.SubscriberID)
		}
		if len(members) > 0 {
			res, err := c.BatchUpsert(ctx, link.AudienceID, members)
			if err != nil {
				st.LastError = explain(err)
				if perr := s.Store.MailchimpSyncProgress(ctx, p.ListID, cursor, st); perr != nil {
					return perr
				}
				return s.classify(err, job.Attempts, "bulk sync of "+link.List, noScrub)
			}
			st.Created += res.Created
			st.Updated += res.Updated
			var compliance []int64
			for _, me := range res.Errors {
				if me.Index >= 0 && me.Index < len(ids) && mailchimp.IsComplianceState(me) {
					compliance = append(compliance, ids[me.Index])
					continue
				}
				st.Errors++
				st.LastError = explain(me)
			}
			// Members in compliance state get a job of their own, which
			// asks Mailchimp to send them a confirmation mail.
			if _, err := s.Store.MailchimpResyncChanged(ctx, p.ListID, compliance, time.Time{}); err != nil {
				return err
			}
			if _, err := s.Store.MailchimpResyncChanged(ctx, p.ListID, ids, readAt); err != nil {
				return err
			}
		}
		st.Members += len(members)
		if len(page) > 0 {
			cursor = page[len(page)-1].SubscriberID
		}
		if len(page) < syncPage {
			st.State = "done"
			if err := s.Store.MailchimpSyncProgress(ctx, p.ListID, cursor, st); err != nil {
				return err
			}
			s.complete(ctx, job)
			s.Log.Info("Mailchimp bulk sync finished", "list", link.List, "members", st.Members, "created", st.Created, "updated", st.Updated, "errors", st.Errors)
			return nil
		}
		if err := s.Store.MailchimpSyncProgress(ctx, p.ListID, cursor, st); err != nil {
			return err
		}
		if time.Now().After(stop) {
			return queue.Snooze(0, "bulk sync continues")
		}
	}
}

func (s *Service) webhookJob(ctx context.Context, job herald.Job) error {
	var p mcstore.MailchimpWebhookJob
	if err := decodeJob(job, &p); err != nil {
		return queue.Permanent(err)
	}
	release, err := s.acquire(ctx, job)
	if err != nil {
		return err
	}
	defer release()
	c, err := s.Client(ctx)
	if herald.ErrorCode(err) == herald.ENOTFOUND {
		return nil // disconnected: nothing to register or remove
	} else if err != nil {
		return err
	}
	switch p.Action {
	case "remove":
		err := c.DeleteWebhook(ctx, p.AudienceID, p.WebhookID)
		if err != nil && !mailchimp.IsNotFound(err) {
			return s.classify(err, job.Attempts, "removing Herald's webhook from audience "+p.AudienceID, noScrub)
		}
		return nil
	case "register":
	default:
		return queue.Permanent(fmt.Errorf("unknown webhook action %q", p.Action))
	}
	link, err := s.Store.MailchimpLinkByID(ctx, p.ListID)
	if herald.ErrorCode(err) == herald.ENOTFOUND {
		return nil
	} else if err != nil {
		return err
	}
	if link.AudienceID != p.AudienceID {
		return nil // moved to another audience: a newer job registers there
	}
	secret, err := s.Store.MailchimpWebhookSecret(ctx)
	if err != nil {
		return err
	}
	target := s.WebhookURL(secret)
	hooks, err := c.ListWebhooks(ctx, p.AudienceID)
	if err == nil {
		for _, h := range hooks {
			if h.URL == target {
				return s.Store.SetMailchimpWebhook(ctx, p.ListID, h.ID, "")
			}
		}
		var info mailchimp.WebhookInfo
		if info, err = c.CreateWebhook(ctx, p.AudienceID, target); err == nil {
			return s.Store.SetMailchimpWebhook(ctx, p.ListID, info.ID, "")
		}
	}
	hide := func(s string) string { return strings.ReplaceAll(s, secret, "…") }
	msg := explain(err)
	if !mailchimp.IsRetryable(err) {
		msg += " (Mailchimp checks the URL with a GET: is HERALD_BASE_URL reachable from the internet?)"
	}
	if serr := s.Store.SetMailchimpWebhook(ctx, p.ListID, "", hide(msg)); serr != nil {
		return serr
	}
	return s.classify(err, job.Attempts, "registering Herald's webhook on audience "+p.AudienceID, hide)
}
