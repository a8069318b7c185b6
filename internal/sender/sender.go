package sender

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/mail"
	"github.com/heraldhq/herald/internal/sqlstore"
)

// Engine sends campaigns. Fill in the fields, then Run it.
type Engine struct {
	DB        *sqlstore.DB
	Transport mail.Transport
	Config    *Config
	Log       *slog.Logger

	Concurrency  int           // workers, one SMTP connection each (default 10)
	Rate         float64       // messages per second across the installation; 0 = no limit
	Hourly       int           // at most this many messages in any hour; 0 = no cap
	Retries      int           // retries of a temporary failure (default 5)
	RetryBackoff time.Duration // first retry delay, doubled each time (default 1 min, at most 6 h)
	BatchSize    int           // recipients per claimed range (default 500; less at low rates)
	Lease        time.Duration // how long a claim holds without renewal (default 15 s)
	Poll         time.Duration // how often to look for work (default 200 ms)

	// Stats are this process's counts, for benchmarks and tests.
	Stats Stats

	owner string
	limit *limiter
	gate  gate
	jobs  chan *job
	outs  chan result
	wake  chan struct{}
	group int // jobs a worker sends in one exchange

	mu        sync.Mutex
	camps     map[int64]*campaignState
	live      map[*batchState]struct{} // ranges held, for the heartbeat
	claimSeq  atomic.Int64
	retryRate time.Duration
}

// maxGroup is how many messages a worker sends in one exchange with the
// SMTP server at most (see mail.SMTPTransport.SendBatch).
const maxGroup = 32

// Stats counts what this process sent.
type Stats struct {
	Sent, Failed, Skipped, Retried atomic.Int64
	first, last                    atomic.Int64 // unix nanoseconds of the first and last message sent
}

// FirstLast returns when this process sent its first and last message.
func (s *Stats) FirstLast() (time.Time, time.Time) {
	f, l := s.first.Load(), s.last.Load()
	if f == 0 {
		return time.Time{}, time.Time{}
	}
	return time.Unix(0, f), time.Unix(0, l)
}

// campaignState is a running campaign as this process knows it.
type campaignState struct {
	id        int64
	updatedAt time.Time
	prep      *Prepared
	stopped   atomic.Bool  // no longer running: queued messages are not sent
	inflight  atomic.Int64 // queued or being sent, outcome not yet written
	idleUntil time.Time    // nothing to claim before then (feeder only)
}

// batchState is a claimed range (b != nil) or a group of claimed retries.
type batchState struct {
	b          *sqlstore.Batch
	camp       *campaignState
	leaseUntil atomic.Int64 // unix nanoseconds
	lost       atomic.Bool  // the lease could not be renewed: send no more
	claimedAt  time.Time    // when the recipients' standing was read
	remaining  int          // recorder only: recipients without a result
	released   bool         // recorder only: some were left unsent
}

type job struct {
	batch *batchState
	r     sqlstore.Recipient
}

// result is a job's end: an outcome to record, or a release (the job was
// not sent and stays pending). Every group also gets one marker result, so
// that a group with nothing to send still ends.
type result struct {
	batch    *batchState
	out      sqlstore.Outcome
	released bool
	marker   bool
	sentAt   time.Time
}

func (e *Engine) defaults() {
	if e.Concurrency <= 0 {
		e.Concurrency = 10
	}
	if e.Retries < 0 {
		e.Retries = 0
	}
	if e.RetryBackoff <= 0 {
		e.RetryBackoff = time.Minute
	}
	if e.BatchSize <= 0 {
		e.BatchSize = 500
	}
	if e.Rate > 0 {
		// Keep about two seconds of work per range at low rates, so that
		// ranges change hands often and leases stay short.
		e.BatchSize = min(e.BatchSize, max(1, int(e.Rate*2)))
	}
	if e.Lease <= 0 {
		e.Lease = 15 * time.Second
	}
	if e.Poll <= 0 {
		e.Poll = 200 * time.Millisecond
	}
	if e.Log == nil {
		e.Log = slog.Default()
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	e.owner = hex.EncodeToString(b[:])
	e.limit = newLimiter(e.DB, e.Rate, e.Hourly)
	e.group = maxGroup
	if e.Rate > 0 {
		// A group goes out at once: keep it to about 5 ms of the rate
		// (fewer messages in flight, and no bursts a relay would notice).
		e.group = min(maxGroup, max(1, int(e.Rate/200)))
	}
	e.jobs = make(chan *job, 2*e.BatchSize+e.Concurrency*e.group)
	// Room for what the workers report while the ledger commits; when it
	// is full they wait, so that outcomes not yet written (messages a
	// crash would send again) stay few.
	e.outs = make(chan result, 1024)
	e.wake = make(chan struct{}, 1)
	e.camps = map[int64]*campaignState{}
	e.live = map[*batchState]struct{}{}
	e.gate.up = make(chan struct{})
	close(e.gate.up)
}

// Run sends campaigns until ctx is cancelled. Then it stops claiming,
// lets the messages being sent finish, gives back what it had claimed
// but not sent (so that a restart resumes at once), writes the last
// outcomes and returns.
func (e *Engine) Run(ctx context.Context) error {
	e.defaults()
	if err := e.DB.SyncSuppressedFlags(ctx); err != nil && ctx.Err() == nil {
		e.Log.Error("sender: syncing suppression flags", "err", err)
	}
	var workers, recorder, heartbeat sync.WaitGroup
	recorder.Add(1)
	go func() { defer recorder.Done(); e.record() }()
	hbCtx, stopHB := context.WithCancel(context.Background())
	heartbeat.Add(1)
	go func() { defer heartbeat.Done(); e.heartbeat(hbCtx) }()
	for range e.Concurrency {
		workers.Add(1)
		go func() { defer workers.Done(); e.work(ctx) }()
	}
	e.feed(ctx)
	close(e.jobs)
	workers.Wait()
	close(e.outs)
	recorder.Wait()
	stopHB()
	heartbeat.Wait()
	return nil
}

// --- feeder ---

func (e *Engine) feed(ctx context.Context) {
	tick := time.NewTicker(e.Poll)
	defer tick.Stop()
	var refreshed time.Time
	for {
		if time.Since(refreshed) >= e.Poll {
			refreshed = time.Now()
			e.refresh(ctx)
		}
		e.claim(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-e.wake:
		}
	}
}

// refresh learns which campaigns run, starts scheduled ones that are due,
// and prepares (compiles) campaigns new to this process.
func (e *Engine) refresh(ctx context.Context) {
	acts, err := e.DB.ActiveCampaigns(ctx)
	if err != nil {
		if ctx.Err() == nil {
			e.Log.Error("sender: listing campaigns", "err", err)
		}
		return
	}
	running := map[int64]sqlstore.ActiveCampaign{}
	for _, a := range acts {
		if a.Status == herald.CampaignScheduled {
			ok, err := e.DB.StartDue(ctx, a.ID, Check(ctx, e.DB, e.Config))
			switch {
			case err != nil && herald.ErrorCode(err) != herald.EINTERNAL:
				e.Log.Warn("sender: a scheduled campaign could not start", "campaign", a.ID, "err", herald.ErrorMessage(err))
			case err != nil:
				e.Log.Error("sender: starting a scheduled campaign", "campaign", a.ID, "err", err)
			case ok:
				e.Log.Info("sender: scheduled campaign started", "campaign", a.ID)
			}
			continue
		}
		running[a.ID] = a
	}
	e.mu.Lock()
	for id, cs := range e.camps {
		a, ok := running[id]
		if !ok || !a.UpdatedAt.Equal(cs.updatedAt) {
			cs.stopped.Store(true) // paused, cancelled, finished or edited
			delete(e.camps, id)
		}
	}
	var fresh []sqlstore.ActiveCampaign
	for id, a := range running {
		if _, ok := e.camps[id]; !ok {
			fresh = append(fresh, a)
		}
	}
	e.mu.Unlock()
	for _, a := range fresh {
		c, err := e.DB.GetCampaign(ctx, a.ID)
		if err != nil {
			continue
		}
		p, err := Prepare(ctx, e.DB, e.Config, c)
		if err != nil {
			if herald.ErrorCode(err) == herald.EINTERNAL {
				e.Log.Error("sender: preparing a campaign", "campaign", a.ID, "err", err)
				continue
			}
			// The campaign cannot be sent as it is (a list deleted, the
			// postal address unset): pause it with the reason.
			e.Log.Warn("sender: campaign paused", "campaign", a.ID, "reason", herald.ErrorMessage(err))
			_ = e.DB.SetCampaignError(ctx, a.ID, herald.ErrorMessage(err))
			continue
		}
		if fb := p.Fallback(); fb != "" {
			e.Log.Info("sender: campaign renders every message in full (slower)", "campaign", a.ID, "why", fb)
		}
		e.mu.Lock()
		e.camps[a.ID] = &campaignState{id: a.ID, updatedAt: a.UpdatedAt, prep: p}
		e.mu.Unlock()
	}
}

// claim queues work while the queue has room for another range.
func (e *Engine) claim(ctx context.Context) {
	e.mu.Lock()
	camps := make([]*campaignState, 0, len(e.camps))
	for _, cs := range e.camps {
		camps = append(camps, cs)
	}
	e.mu.Unlock()
	now := time.Now()
	for _, cs := range camps {
		if ctx.Err() != nil || cs.stopped.Load() {
			continue
		}
		if len(e.jobs) > cap(e.jobs)-e.BatchSize-e.Concurrency {
			return
		}
		if now.Before(cs.idleUntil) {
			continue
		}
		n, err := e.claimRetries(ctx, cs)
		if err == nil && n == 0 {
			n, err = e.claimBatch(ctx, cs)
		}
		if err != nil {
			if ctx.Err() == nil {
				e.Log.Error("sender: claiming recipients", "campaign", cs.id, "err", err)
			}
			cs.idleUntil = now.Add(time.Second)
			continue
		}
		if n > 0 {
			continue
		}
		// Nothing to claim: finished, or waiting for retries or for
		// ranges that other senders hold.
		if cs.inflight.Load() > 0 {
			cs.idleUntil = now.Add(e.Poll)
			continue
		}
		cs.idleUntil = now.Add(2 * time.Second)
		done, err := e.DB.FinishIfDone(ctx, cs.id)
		if err != nil {
			continue
		}
		if done {
			e.Log.Info("sender: campaign finished", "campaign", cs.id)
			cs.stopped.Store(true)
			e.mu.Lock()
			delete(e.camps, cs.id)
			e.mu.Unlock()
			continue
		}
		if t, ok, err := e.DB.NextRetry(ctx, cs.id); err == nil && ok && t.Before(cs.idleUntil) {
			cs.idleUntil = t
		}
	}
}

func (e *Engine) claimBatch(ctx context.Context, cs *campaignState) (int, error) {
	tok := fmt.Sprintf("%s-%d", e.owner, e.claimSeq.Add(1))
	b, err := e.DB.ClaimBatch(ctx, cs.id, cs.prep.Campaign.ListIDs, e.BatchSize, e.Lease, tok)
	if err != nil || b == nil {
		return 0, err
	}
	st := &batchState{b: b, camp: cs, claimedAt: time.Now()}
	st.leaseUntil.Store(b.LeaseUntil.UnixNano())
	e.mu.Lock()
	e.live[st] = struct{}{}
	e.mu.Unlock()
	rs := b.Recipients
	b.Recipients = nil
	if b.Reclaimed {
		e.Log.Info("sender: took over recipients whose sender stopped", "campaign", cs.id, "range", fmt.Sprintf("%d-%d", b.Lo, b.Hi), "unsent", len(rs))
	}
	e.queue(st, rs)
	return max(1, len(rs)), nil
}

func (e *Engine) claimRetries(ctx context.Context, cs *campaignState) (int, error) {
	n := 50
	if e.Rate > 0 {
		n = min(n, max(1, int(e.Rate*5)))
	}
	rs, until, err := e.DB.ClaimRetries(ctx, cs.id, cs.prep.Campaign.ListIDs, n, 2*time.Minute)
	if err != nil || len(rs) == 0 {
		return 0, err
	}
	st := &batchState{camp: cs, claimedAt: time.Now()}
	st.leaseUntil.Store(until.UnixNano())
	e.queue(st, rs)
	return len(rs), nil
}

// queue hands a claimed group to the workers, recording the skipped.
func (e *Engine) queue(st *batchState, rs []sqlstore.Recipient) {
	cs := st.camp
	st.remaining = len(rs) + 1 // set before the recorder sees the group
	cs.inflight.Add(int64(len(rs)) + 1)
	e.send(result{batch: st, marker: true})
	for i := range rs {
		r := rs[i]
		if r.Skip != "" {
			e.send(result{batch: st, out: sqlstore.Outcome{CampaignID: cs.id, SubscriberID: r.SubscriberID, Status: herald.DeliverySkipped, Reply: r.Skip}})
			continue
		}
		e.jobs <- &job{batch: st, r: r}
	}
}

// send passes a result to the recorder, counting it into its group.
func (e *Engine) send(r result) { e.outs <- r }

// --- workers ---

func (e *Engine) work(ctx context.Context) {
	w := &worker{bufs: newBuffers()}
	// Sends in progress finish when the engine stops (bounded), so that a
	// graceful stop does not leave messages half-sent.
	sendCtx := context.WithoutCancel(ctx)
	for j := range e.jobs {
		// Take what else is queued, up to a group: the transport sends a
		// group in one exchange with the server.
		group := append(w.group[:0], j)
	more:
		for len(group) < e.group {
			select {
			case j, ok := <-e.jobs:
				if !ok {
					break more
				}
				group = append(group, j)
			default:
				break more
			}
		}
		w.group = group
		if len(e.jobs) < e.BatchSize {
			select {
			case e.wake <- struct{}{}:
			default:
			}
		}
		e.sendGroup(ctx, sendCtx, group, w)
		clear(w.group)
	}
}

// worker is one worker's reusable memory.
type worker struct {
	bufs  *buffers
	group []*job
	live  []*job
	envs  []mail.Envelope
	errs  []error
	arena []byte // the group's messages, back to back
}

func (e *Engine) release(j *job) {
	e.send(result{batch: j.batch, released: true, out: sqlstore.Outcome{CampaignID: j.batch.camp.id, SubscriberID: j.r.SubscriberID}})
}

// usable reports whether the job may still be sent: its campaign runs and
// its lease holds with time to spare.
func (e *Engine) usable(ctx context.Context, j *job) bool {
	if ctx.Err() != nil || j.batch.camp.stopped.Load() || j.batch.lost.Load() {
		return false
	}
	return time.Until(time.Unix(0, j.batch.leaseUntil.Load())) > e.Lease/4
}

// sendGroup sends a group of jobs and passes on their results. A job the
// relay was down for is held and tried again (the worker probes) until it
// goes, or its campaign or lease ends, or the engine stops.
func (e *Engine) sendGroup(ctx, sendCtx context.Context, group []*job, w *worker) {
	live := w.live[:0]
	for _, j := range group {
		if !e.usable(ctx, j) {
			e.release(j)
			continue
		}
		if err := e.limit.wait(ctx); err != nil {
			e.release(j)
			continue
		}
		live = append(live, j)
	}
	probing := false // this worker holds messages the relay was down for
	for len(live) > 0 {
		if !probing {
			if err := e.gate.wait(ctx); err != nil {
				for _, j := range live {
					e.release(j)
				}
				break
			}
		}
		live = e.recheck(ctx, live)
		w.envs, w.arena = w.envs[:0], w.arena[:0]
		sending := live[:0]
		for _, j := range live {
			if !e.usable(ctx, j) {
				e.release(j)
				continue
			}
			p := j.batch.camp.prep
			msg, err := p.message(ReaderFrom(&j.r), nil, "", p.MessageID(j.r.SubscriberID), time.Now(), w.bufs)
			if err != nil {
				// This reader's data cannot make a message (it never will).
				e.send(result{batch: j.batch, sentAt: time.Now(), out: sqlstore.Outcome{
					CampaignID: j.batch.camp.id, SubscriberID: j.r.SubscriberID, Attempted: true,
					Status: herald.DeliveryFailed, Reply: "not sent: " + err.Error()}})
				continue
			}
			start := len(w.arena)
			w.arena = append(w.arena, msg...)
			w.envs = append(w.envs, mail.Envelope{From: p.from.Address, To: j.r.Email, Msg: w.arena[start:len(w.arena):len(w.arena)]})
			sending = append(sending, j)
		}
		if len(sending) == 0 {
			break
		}
		// Messages appended after a reallocation of the arena left the
		// earlier ones in the old array, which stays valid; point every
		// envelope into the final one anyway, so the old can be freed.
		off := 0
		for k := range w.envs {
			n := len(w.envs[k].Msg)
			w.envs[k].Msg = w.arena[off : off+n : off+n]
			off += n
		}
		if cap(w.errs) < len(w.envs) {
			w.errs = make([]error, len(w.envs))
		}
		errs := w.errs[:len(w.envs)]
		sctx, cancel := context.WithTimeout(sendCtx, 2*time.Minute)
		mail.SendAll(sctx, e.Transport, w.envs, errs)
		cancel()
		now := time.Now()
		again := live[:0] // sending's own array: written behind the reads
		var down error
		for k, j := range sending {
			err := errs[k]
			out := sqlstore.Outcome{CampaignID: j.batch.camp.id, SubscriberID: j.r.SubscriberID, Attempted: true}
			switch {
			case err == nil:
				out.Status = herald.DeliverySent
			case relayDown(err):
				down = err
				again = append(again, j)
				continue
			default:
				out.Reply = scrubReply(err.Error(), j.r.Email)
				if mail.IsTemporary(err) && j.r.Attempts < e.Retries {
					out.Status = herald.DeliveryRetry
					out.NextAttemptAt = now.Add(e.backoff(j.r.Attempts + 1))
				} else {
					out.Status = herald.DeliveryFailed
				}
			}
			e.send(result{batch: j.batch, out: out, sentAt: now})
		}
		clear(errs)
		if len(again) < len(sending) {
			e.gate.open(e.Log)
		}
		live = again
		if len(live) > 0 {
			probing = true
			e.relayWait(ctx, down)
		}
	}
	w.live = live[:0]
}

// recheckAfter is how long after its claim a recipient's standing is read
// again before sending. Claims skip readers who unsubscribed (or were
// suppressed or erased) since the start; at full speed a claimed reader is
// sent to within a fraction of a second, but at a low rate, or while the
// relay is down, a claim can wait for seconds or minutes.
const recheckAfter = time.Second

// recheck drops the jobs of readers who may no longer be sent their
// campaign, recording them as skipped, when their claim is older than
// recheckAfter: one read per campaign in the group. When the read fails
// the jobs go ahead, as claimed.
func (e *Engine) recheck(ctx context.Context, jobs []*job) []*job {
	var stale map[*campaignState][]int64
	for _, j := range jobs {
		if time.Since(j.batch.claimedAt) >= recheckAfter {
			if stale == nil {
				stale = map[*campaignState][]int64{}
			}
			stale[j.batch.camp] = append(stale[j.batch.camp], j.r.SubscriberID)
		}
	}
	if stale == nil {
		return jobs
	}
	skip := map[*campaignState]map[int64]string{}
	for cs, ids := range stale {
		m, err := e.DB.RecipientStanding(ctx, cs.id, cs.prep.Campaign.ListIDs, ids)
		if err != nil {
			if ctx.Err() == nil {
				e.Log.Warn("sender: reading recipients' standing again (sending as claimed)", "campaign", cs.id, "err", err)
			}
			continue
		}
		skip[cs] = m
	}
	kept := jobs[:0]
	for _, j := range jobs {
		if why := skip[j.batch.camp][j.r.SubscriberID]; why != "" {
			e.send(result{batch: j.batch, out: sqlstore.Outcome{CampaignID: j.batch.camp.id, SubscriberID: j.r.SubscriberID,
				Status: herald.DeliverySkipped, Reply: why}})
			continue
		}
		kept = append(kept, j)
	}
	clear(jobs[len(kept):])
	return kept
}

// backoff is the delay before retry number n (1-based): RetryBackoff
// doubled per retry, at most 6 h, with ±10 % jitter.
func (e *Engine) backoff(n int) time.Duration {
	d := e.RetryBackoff
	for i := 1; i < n && d < 6*time.Hour; i++ {
		d *= 2
	}
	d = min(d, 6*time.Hour)
	var b [1]byte
	_, _ = rand.Read(b[:])
	return time.Duration(float64(d) * (0.9 + 0.2*float64(b[0])/255))
}

// relayDown reports whether a send failed because the SMTP server could
// not be reached or used (connection set-up, a dropped connection, 421),
// rather than because it refused this message or recipient. Such failures
// are nobody's fault: the message waits, it is not counted as an attempt.
func relayDown(err error) bool {
	var se *mail.SendError
	if !errors.As(err, &se) {
		// Not an SMTP answer at all: the outbox's database, a context.
		return true
	}
	switch se.Command {
	case "dial", "TLS", "greeting", "EHLO", "HELO", "STARTTLS", "AUTH", "RSET":
		return true
	case "message":
		return false
	}
	return se.Code == 421 || (se.Code == 0 && se.Temporary)
}

// scrubReply keeps the recipient's address out of the ledger (servers like
// to quote it), so that erasing a reader leaves no address behind there.
func scrubReply(reply, email string) string {
	if email == "" {
		return reply
	}
	var b strings.Builder
	for i := 0; i < len(reply); {
		if i+len(email) <= len(reply) && strings.EqualFold(reply[i:i+len(email)], email) {
			b.WriteString("<recipient>")
			i += len(email)
			continue
		}
		b.WriteByte(reply[i])
		i++
	}
	return b.String()
}

// --- the relay gate ---

// gate stops all workers while the SMTP server is unreachable. The worker
// that finds it down probes (retries its own message) at growing
// intervals; the others wait for it.
type gate struct {
	mu    sync.Mutex
	down  bool
	up    chan struct{} // closed while the relay is up
	since time.Time
	err   error // what the relay was found down with
	delay time.Duration
	grown time.Time
}

// Paused reports whether sending is paused because the SMTP relay cannot
// be used, since when, and the failure that paused it (whose
// mail.Diagnosis says why and what to change).
func (e *Engine) Paused() (since time.Time, err error, paused bool) {
	g := &e.gate
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.since, g.err, g.down
}

func (g *gate) wait(ctx context.Context) error {
	g.mu.Lock()
	up := g.up
	g.mu.Unlock()
	select {
	case <-up:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *gate) open(log *slog.Logger) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.down {
		g.down = false
		close(g.up)
		log.Info("sender: SMTP server is back: sending resumes", "after", time.Since(g.since).Round(time.Millisecond))
	}
}

// relayWait is called by a worker whose send found the relay down: the
// first closes the gate (new messages wait), and each worker holding a
// message waits (0.5 s at first, doubling to 30 s) before it tries again —
// the probes — unless a probe gets through first.
func (e *Engine) relayWait(ctx context.Context, err error) {
	g := &e.gate
	g.mu.Lock()
	now := time.Now()
	if err != nil {
		g.err = err
	}
	if !g.down {
		g.down, g.up, g.since, g.delay, g.grown = true, make(chan struct{}), now, 500*time.Millisecond, now
		// Say why (a certificate, credentials, nothing listening …) and
		// what to change: "unreachable" alone sends an operator looking in
		// the wrong place.
		why := mail.RelayErrorOf(err)
		if why == nil {
			why = &mail.RelayError{Message: "unknown"}
		}
		if why.Cause == "" {
			why.Cause = "connection"
		}
		e.Log.Warn("sender: SMTP relay cannot be used: sending paused, probing until it answers", "cause", why.Cause, "err", why.Message, "fix", why.Fix)
	} else if now.Sub(g.grown) >= g.delay {
		g.delay, g.grown = min(2*g.delay, 30*time.Second), now
	}
	d, up := g.delay, g.up
	g.mu.Unlock()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-up:
	case <-t.C:
	case <-ctx.Done():
	}
}

// --- heartbeat ---

func (e *Engine) heartbeat(ctx context.Context) {
	t := time.NewTicker(e.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		e.mu.Lock()
		var held []sqlstore.BatchEnd
		byID := map[int64]*batchState{}
		for st := range e.live {
			if st.b != nil && !st.lost.Load() {
				held = append(held, sqlstore.BatchEnd{ID: st.b.ID, LeaseToken: st.b.LeaseToken})
				byID[st.b.ID] = st
			}
		}
		e.mu.Unlock()
		got, err := e.DB.RenewBatches(ctx, held, e.Lease)
		if err != nil {
			if ctx.Err() == nil {
				e.Log.Error("sender: renewing leases (sending stops before they run out)", "err", err)
			}
			continue
		}
		for id, st := range byID {
			if until, ok := got[id]; ok {
				st.leaseUntil.Store(until.UnixNano())
				continue
			}
			e.mu.Lock()
			_, live := e.live[st]
			e.mu.Unlock()
			if live { // not just finished (and deleted) meanwhile
				st.lost.Store(true)
				e.Log.Warn("sender: lost a claim (taken over, or the campaign cancelled)", "campaign", st.camp.id, "batch", id)
			}
		}
	}
}
