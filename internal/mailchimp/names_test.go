package mailchimp

import (
	"net/url"
	"testing"
)

func TestNames(t *testing.T) {
	for _, tc := range []struct{ name, first, last string }{
		{"", "", ""},
		{"Ann", "Ann", ""},
		{"Ann Lee", "Ann", "Lee"},
		{"  Mary   Ann  Smith ", "Mary", "Ann Smith"},
		{"Ædel Ørsted", "Ædel", "Ørsted"},
	} {
		first, last := SplitName(tc.name)
		if first != tc.first || last != tc.last {
			t.Errorf("SplitName(%q) = %q, %q; want %q, %q", tc.name, first, last, tc.first, tc.last)
		}
		if got, want := JoinName(first, last), JoinName(tc.first, tc.last); got != want {
			t.Errorf("JoinName(%q, %q) = %q", first, last, got)
		}
	}
	if got := JoinName(" Ann ", ""); got != "Ann" {
		t.Errorf("JoinName = %q", got)
	}
	if got := JoinName("", "Lee"); got != "Lee" {
		t.Errorf("JoinName = %q", got)
	}
}

func TestEventChange(t *testing.T) {
	for _, tc := range []struct {
		ev   Event
		want Change
	}{
		{Event{Type: EventSubscribe}, ChangeSubscribed},
		{Event{Type: EventUnsubscribe, Action: ActionUnsub, Reason: ReasonManual}, ChangeUnsubscribed},
		{Event{Type: EventUnsubscribe, Action: ActionDelete, Reason: ReasonManual}, ChangeUnsubscribed},
		{Event{Type: EventUnsubscribe, Action: ActionUnsub, Reason: ReasonAbuse}, ChangeComplaint},
		{Event{Type: EventCleaned, Reason: ReasonHard}, ChangeBounced},
		{Event{Type: EventCleaned, Reason: "something-new"}, ChangeBounced},
		{Event{Type: EventCleaned, Reason: ReasonAbuse}, ChangeComplaint},
		{Event{Type: EventProfile}, ChangeProfile},
		{Event{Type: EventUpemail}, ChangeEmail},
		{Event{Type: EventCampaign}, ChangeNone},
	} {
		if got := tc.ev.Change(); got != tc.want {
			t.Errorf("%s/%s/%s: Change = %v, want %v", tc.ev.Type, tc.ev.Action, tc.ev.Reason, got, tc.want)
		}
	}
}

func TestEventInInterest(t *testing.T) {
	form, _ := url.ParseQuery("type=profile&fired_at=2024-01-01+00:00:00&data[list_id]=l1&data[email]=a%40herald.test" +
		"&data[merges][GROUPINGS][0][id]=7&data[merges][GROUPINGS][0][unique_id]=cat1&data[merges][GROUPINGS][0][name]=Newsletters" +
		"&data[merges][GROUPINGS][0][groups]=Morning,+Weekend" +
		"&data[merges][GROUPINGS][1][id]=8&data[merges][GROUPINGS][1][unique_id]=cat2&data[merges][GROUPINGS][1][groups]=")
	ev, err := ParseWebhook(form)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		cat, name string
		in, known bool
	}{
		{"cat1", "Weekend", true, true},
		{"cat1", "weekend", true, true},
		{"7", "Morning", true, true},
		{"cat1", "Evening", false, true},
		{"cat2", "Anything", false, true},
		{"cat3", "Morning", false, false},
		{"", "Morning", false, false},
	} {
		in, known := ev.InInterest(tc.cat, tc.name)
		if in != tc.in || known != tc.known {
			t.Errorf("InInterest(%q, %q) = %v, %v; want %v, %v", tc.cat, tc.name, in, known, tc.in, tc.known)
		}
	}
}
