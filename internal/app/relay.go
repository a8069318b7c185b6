package app

import (
	"time"

	"github.com/heraldhq/herald/internal/mail"
)

// RelayStatus is how outgoing mail is doing, as GET /api/v1/relay shows
// it: the transport ("smtp" or "outbox"), whether the campaign sender
// has paused because the relay cannot be used (and since when, and why),
// and each relay's state with the active one marked.
type RelayStatus struct {
	Transport   string            `json:"transport"`
	Paused      bool              `json:"paused"`
	PausedSince *time.Time        `json:"paused_since,omitempty"`
	Reason      *mail.RelayError  `json:"reason,omitempty"`
	Active      string            `json:"active,omitempty"`
	Relays      []mail.RelayState `json:"relays"`
}

// RelayStatus reports the relays' state and the sender's pause.
func (a *App) RelayStatus() any {
	st := RelayStatus{Transport: "outbox", Relays: []mail.RelayState{}}
	if r, ok := a.Transport.(mail.StatusReporter); ok {
		st.Transport = "smtp"
		st.Relays = r.Relays()
		for _, s := range st.Relays {
			if s.Active {
				st.Active = s.URL
			}
		}
	}
	if since, err, paused := a.Sender.Paused(); paused {
		st.Paused = true
		at := since.UTC()
		st.PausedSince = &at
		st.Reason = mail.RelayErrorOf(err)
	}
	return st
}
