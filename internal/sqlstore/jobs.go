package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"sync"
	"time"

	"github.com/heraldhq/herald"
)

// enqueue adds a job in the caller's transaction, so the job exists if and
// only if the change that causes it is committed.
func enqueue(ctx context.Context, tx *Tx, kind string, payload any, runAt time.Time) error {
	b, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	if _, err := tx.exec(ctx, `INSERT INTO jobs (kind, payload, status, attempts, max_attempts, run_at, created_at, updated_at)
		VALUES (?, ?, 'pending', 0, 10, ?, ?, ?)`, kind, string(b), runAt, tx.now, tx.now); err != nil {
		return err
	}
	tx.afterCommit(tx.db.wakeWorkers)
	return nil
}

// Enqueue adds a job on its own.
func (db *DB) Enqueue(ctx context.Context, kind string, payload any, runAt time.Time) error {
	return db.write(ctx, func(tx *Tx) error {
		if runAt.IsZero() {
			runAt = tx.now
		}
		return enqueue(ctx, tx, kind, payload, runAt)
	})
}

// JobNotify returns a channel that receives a value (without blocking the
// sender) whenever this process commits a new job.
func (db *DB) JobNotify() <-chan struct{} { return db.jobsWake.subscribe() }

func (db *DB) wakeWorkers() { db.jobsWake.wake() }

// wakeup hands a value, without blocking, to every channel subscribed:
// a wake-up for goroutines that poll the database, after a commit.
type wakeup struct {
	mu  sync.Mutex
	chs []chan struct{}
}

func (w *wakeup) subscribe() <-chan struct{} {
	ch := make(chan struct{}, 1)
	w.mu.Lock()
	w.chs = append(w.chs, ch)
	w.mu.Unlock()
	return ch
}

func (w *wakeup) wake() {
	w.mu.Lock()
	for _, ch := range w.chs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	w.mu.Unlock()
}

// ClaimJobs leases up to n due pending jobs and counts the attempt. On
// PostgreSQL concurrent claimers skip each other's rows. Jobs whose lease
// ran out (their process died) come back through ReapExpiredLeases.
func (db *DB) ClaimJobs(ctx context.Context, n int, lease time.Duration) ([]herald.Job, error) {
	var jobs []herald.Job
	err := db.write(ctx, func(tx *Tx) error {
		rows, err := tx.query(ctx, `UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_until = ?, updated_at = ?
			WHERE id IN (SELECT id FROM jobs WHERE status = 'pending' AND run_at <= ?
				ORDER BY status, run_at, id LIMIT ?`+tx.db.dialect.claimSuffix()+`)
			RETURNING id, kind, payload, status, attempts, max_attempts, run_at, last_error, created_at`,
			tx.now.Add(lease), tx.now, tx.now, n)
		if err != nil {
			return err
		}
		jobs, err = scanJobs(rows)
		return err
	})
	return jobs, err
}

// ClaimJobsOf is ClaimJobs for the given kinds only (the worker leaves out
// kinds whose service is down). Each kind is claimed through the
// (status, kind, run_at) index, so a large backlog of a paused kind costs
// nothing.
func (db *DB) ClaimJobsOf(ctx context.Context, n int, lease time.Duration, kinds []string) ([]herald.Job, error) {
	var jobs []herald.Job
	err := db.write(ctx, func(tx *Tx) error {
		for _, kind := range kinds {
			if len(jobs) >= n {
				break
			}
			rows, err := tx.query(ctx, `UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_until = ?, updated_at = ?
				WHERE id IN (SELECT id FROM jobs WHERE status = 'pending' AND kind = ? AND run_at <= ?
					ORDER BY status, kind, run_at, id LIMIT ?`+tx.db.dialect.claimSuffix()+`)
				RETURNING id, kind, payload, status, attempts, max_attempts, run_at, last_error, created_at`,
				tx.now.Add(lease), tx.now, kind, tx.now, n-len(jobs))
			if err != nil {
				return err
			}
			got, err := scanJobs(rows)
			if err != nil {
				return err
			}
			jobs = append(jobs, got...)
		}
		return nil
	})
	return jobs, err
}

// ReapExpiredLeases returns running jobs whose lease has run out to the
// pending state, so they run again; it reports how many it found.
func (db *DB) ReapExpiredLeases(ctx context.Context) (int, error) {
	var n int64
	err := db.write(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, `UPDATE jobs SET status = 'pending', lease_until = NULL, updated_at = ?
			WHERE status = 'running' AND lease_until < ?`, tx.now, tx.now)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

// CompleteJobs removes finished jobs.
func (db *DB) CompleteJobs(ctx context.Context, ids ...int64) error {
	if len(ids) == 0 {
		return nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	return db.write(ctx, func(tx *Tx) error {
		_, err := tx.exec(ctx, `DELETE FROM jobs WHERE id IN (`+placeholders(len(ids))+`)`, args...)
		return err
	})
}

// RetryJob puts a job back to run again at runAt.
func (db *DB) RetryJob(ctx context.Context, id int64, runAt time.Time, lastErr string) error {
	// Grouped: when a relay is down every job fails at once, and one write
	// per failure would crowd signups off the single SQLite writer.
	return db.writeGrouped(ctx, func(tx *Tx) error {
		_, err := tx.exec(ctx, `UPDATE jobs SET status = 'pending', run_at = ?, lease_until = NULL, last_error = ?, updated_at = ? WHERE id = ?`,
			runAt.UTC(), clip(lastErr, 2000), tx.now, id)
		return err
	})
}

// FailJob marks a job as failed for good; it stays visible through the API.
func (db *DB) FailJob(ctx context.Context, id int64, lastErr string) error {
	return db.writeGrouped(ctx, func(tx *Tx) error {
		_, err := tx.exec(ctx, `UPDATE jobs SET status = 'failed', lease_until = NULL, last_error = ?, updated_at = ? WHERE id = ?`,
			clip(lastErr, 2000), tx.now, id)
		return err
	})
}

// JobFilter narrows Jobs.
type JobFilter struct {
	Status string
	Limit  int
	Offset int
}

// Jobs lists jobs (for the API: failed ones are the interesting ones).
func (db *DB) Jobs(ctx context.Context, f JobFilter) ([]herald.Job, int, error) {
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	where, args := "", []any{}
	if f.Status != "" {
		where, args = ` WHERE status = ?`, append(args, f.Status)
	}
	var out []herald.Job
	var total int
	err := db.read(ctx, func(tx *Tx) error {
		if err := tx.queryRow(ctx, `SELECT COUNT(*) FROM jobs`+where, args...).Scan(&total); err != nil {
			return err
		}
		rows, err := tx.query(ctx, `SELECT id, kind, payload, status, attempts, max_attempts, run_at, last_error, created_at FROM jobs`+where+
			` ORDER BY id LIMIT ? OFFSET ?`, append(args, f.Limit, f.Offset)...)
		if err != nil {
			return err
		}
		out, err = scanJobs(rows)
		return err
	})
	if out == nil {
		out = []herald.Job{}
	}
	return out, total, err
}

// scanJobs reads job rows (id, kind, payload, status, attempts,
// max_attempts, run_at, last_error, created_at) and closes them.
func scanJobs(rows *sql.Rows) ([]herald.Job, error) {
	defer rows.Close()
	var out []herald.Job
	for rows.Next() {
		var j herald.Job
		var payload string
		if err := rows.Scan(&j.ID, &j.Kind, &payload, &j.Status, &j.Attempts, &j.MaxAttempts, &j.RunAt, &j.LastError, &j.CreatedAt); err != nil {
			return nil, err
		}
		j.Payload = []byte(payload)
		j.RunAt, j.CreatedAt = j.RunAt.UTC(), j.CreatedAt.UTC()
		out = append(out, j)
	}
	return out, rows.Err()
}

// SnoozeJob puts a running job back to run at runAt without counting the
// attempt: it did not try, it waited its turn.
func (db *DB) SnoozeJob(ctx context.Context, id int64, runAt time.Time) error {
	return db.write(ctx, func(tx *Tx) error {
		_, err := tx.exec(ctx, `UPDATE jobs SET status = 'pending', run_at = ?, lease_until = NULL,
			attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, updated_at = ? WHERE id = ?`, runAt.UTC(), tx.now, id)
		return err
	})
}
