package sender

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/mail"
	"github.com/heraldhq/herald/internal/queue"
	"github.com/heraldhq/herald/internal/sqlstore"
)

// SendTest is the job handler of sqlstore.JobCampaignTest: one test
// message of a campaign, with "[Test] " before the subject, to one address.
// When the address belongs to a subscriber the message is rendered with
// their data and links (so the links work); otherwise with the address
// alone. Test messages are not rate limited and not in the ledger.
func (e *Engine) SendTest(ctx context.Context, job herald.Job) error {
	var p sqlstore.CampaignTestJob
	if err := json.Unmarshal(job.Payload, &p); err != nil {
		return queue.Permanent(fmt.Errorf("bad payload: %w", err))
	}
	c, err := e.DB.GetCampaign(ctx, p.CampaignID)
	if herald.ErrorCode(err) == herald.ENOTFOUND {
		return queue.Permanent(err)
	} else if err != nil {
		return err
	}
	prep, err := Prepare(ctx, e.DB, e.Config, c)
	if err != nil {
		if herald.ErrorCode(err) != herald.EINTERNAL {
			return queue.Permanent(fmt.Errorf("campaign %d cannot be sent: %s", c.ID, herald.ErrorMessage(err)))
		}
		return err
	}
	rd := &Reader{Email: p.Email}
	if s, err := e.DB.SubscriberByEmail(ctx, p.Email); err == nil {
		rd = &Reader{ID: s.ID, Email: s.Email, Name: s.Name, Attributes: s.Attributes}
	}
	msg, err := prep.message(rd, nil, "[Test] ", mail.NewMessageID(prep.domain), time.Now(), newBuffers())
	if err != nil {
		return queue.Permanent(err)
	}
	if err := e.Transport.Send(ctx, prep.from.Address, []string{p.Email}, msg); err != nil {
		if !mail.IsTemporary(err) {
			return queue.Permanent(err)
		}
		return err
	}
	return nil
}
