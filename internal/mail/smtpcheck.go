package mail

import (
	"context"
	"errors"
)

// Check tries the relay step by step, as `herald smtp test` shows it:
// connect, greeting, EHLO, TLS, authentication and — when to is not
// empty — one message from from to to. report hears what each step found
// (step names: connect, greeting, ehlo, tls, auth, message). The first
// failure ends the check; it is a *SendError whose Command names the step
// and whose Cause and Fix (Diagnosis) say why and what to change.
func (t *SMTPTransport) Check(ctx context.Context, from, to string, msg []byte, report func(step, detail string)) error {
	c, err := t.dialTrace(ctx, report)
	t.noteDial(err)
	if err != nil {
		return err
	}
	defer c.quit()
	if to == "" {
		report("message", "none sent (give --to ADDRESS to send one)")
		return nil
	}
	if err := checkEnvelope(from, []string{to}); err != nil {
		return err
	}
	if err := c.send(ctx, from, []string{to}, msg); err != nil {
		var se *SendError
		if errors.As(err, &se) && se.Cause == "" && se.Code/100 == 5 {
			se.Fix = "the relay refused the message: read its reply; a 5.7.x (relay access denied) reply means it does not relay for Herald — give credentials in HERALD_SMTP_URL or allow Herald's address on the relay (Postfix: mynetworks)"
			se.Cause = "refused_message"
		}
		return err
	}
	report("message", "accepted by the relay for "+to+" (delivery onwards is the relay's work now: check the mailbox)")
	return nil
}
