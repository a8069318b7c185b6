package policy_test

import (
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/service/policy"
)

func TestJoin(t *testing.T) {
	const (
		none = ""
		pend = herald.StatusPending
		conf = herald.StatusConfirmed
		uns  = herald.StatusUnsubscribed
	)
	cases := []struct {
		cur, optIn string
		suppressed bool
		next       string
		changed    bool
	}{
		{none, herald.Single, false, conf, true},
		{none, herald.Single, true, pend, true}, // a suppressed address confirms by mail
		{none, herald.Double, false, pend, true},
		{uns, herald.Single, false, pend, true}, // coming back asks again
		{uns, herald.Double, false, pend, true},
		{pend, herald.Single, false, pend, false},
		{pend, herald.Double, true, pend, false},
		{conf, herald.Double, false, conf, false},
		{conf, herald.Single, true, conf, false},
	}
	for _, c := range cases {
		next, changed := policy.Join(c.cur, c.optIn, c.suppressed)
		if next != c.next || changed != c.changed {
			t.Errorf("Join(%q, %q, %v) = %q, %v; want %q, %v", c.cur, c.optIn, c.suppressed, next, changed, c.next, c.changed)
		}
	}
}

func TestConfirmMailDue(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	w := 10 * time.Minute
	cases := []struct {
		name        string
		force, link bool
		last        time.Time
		due         bool
	}{
		{"first mail", false, false, time.Time{}, true},
		{"link but never mailed", false, true, time.Time{}, true},
		{"recent mail with live link", false, true, now.Add(-time.Minute), false},
		{"recent mail, link retired", false, false, now.Add(-time.Minute), true},
		{"window over", false, true, now.Add(-w), true},
		{"forced", true, true, now.Add(-time.Second), true},
	}
	for _, c := range cases {
		if got := policy.ConfirmMailDue(c.force, c.link, c.last, now, w); got != c.due {
			t.Errorf("%s: got %v, want %v", c.name, got, c.due)
		}
	}
}

func TestConfirmTTL(t *testing.T) {
	if policy.ConfirmTTL(0) != policy.DefaultConfirmTTL || policy.ConfirmTTL(-1) != policy.DefaultConfirmTTL || policy.ConfirmTTL(time.Hour) != time.Hour {
		t.Error("ConfirmTTL")
	}
}
