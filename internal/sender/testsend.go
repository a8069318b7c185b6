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
//
//   - With a chosen subscriber (the job's SubscriberID), the message is
//     rendered with their data, and its unsubscribe and preferences links
//     are test links (Prepared.TestURLs): the mail goes to an editor, who
//     must not get a link that acts on that reader.
//   - Otherwise, when the address belongs to a subscriber, the message is
//     rendered with their data and their own links, which work: the mail
//     goes to them.
//   - Otherwise it is rendered for the address alone, with test links.
//
// Test links open a page that says what the link would do and never act.
// Test messages are not rate limited and not in the ledger.
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
	if p.SubscriberID != 0 {
		s, err := e.DB.GetSubscriber(ctx, p.SubscriberID)
		if herald.ErrorCode(err) == herald.ENOTFOUND {
			return queue.Permanent(fmt.Errorf("test of campaign %d: subscriber %d no longer exists", c.ID, p.SubscriberID))
		} else if err != nil {
			return err
		}
		// Their name and attributes, the test address, and test links.
		rd = &Reader{ID: s.ID, Email: s.Email, Name: s.Name, Attributes: s.Attributes, TestLinks: true, To: p.Email}
	} else if s, err := e.DB.SubscriberByEmail(ctx, p.Email); err == nil {
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
