package mailchimp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/mailchimp/mailchimptest"
)

const audience = "a1b2c3d4e5"

// newTestClient starts a fake with one audience and returns a client for it.
func newTestClient(t *testing.T, opts ...Option) (*Client, *mailchimptest.Server) {
	t.Helper()
	srv := mailchimptest.NewServer(t)
	srv.AddList(audience, "Herald readers")
	c, err := New(srv.APIKey(), append([]Option{WithBaseURL(srv.URL())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c, srv
}

func TestSubscriberHash(t *testing.T) {
	for _, tc := range []struct{ email, want string }{
		{"Urist.McVankab@freddiesjokes.com", "62eeb292278cc15f5817cb78f7790b08"},
		{"urist.mcvankab@freddiesjokes.com", "62eeb292278cc15f5817cb78f7790b08"},
		{"URIST.MCVANKAB@FREDDIESJOKES.COM", "62eeb292278cc15f5817cb78f7790b08"},
	} {
		if got := SubscriberHash(tc.email); got != tc.want {
			t.Errorf("SubscriberHash(%q) = %s, want %s", tc.email, got, tc.want)
		}
		if got := mailchimptest.Hash(tc.email); got != tc.want {
			t.Errorf("mailchimptest.Hash(%q) = %s, want %s", tc.email, got, tc.want)
		}
	}
}

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		name     string
		key      string
		opts     []Option
		wantBase string
		wantErr  error
	}{
		{"us6", "0123456789abcdef0123456789abcdef-us6", nil, "https://us6.api.mailchimp.com/3.0", nil},
		{"us21 with spaces around", "  abc-us21\n", nil, "https://us21.api.mailchimp.com/3.0", nil},
		{"no suffix", "0123456789abcdef0123456789abcdef", nil, "", ErrInvalidAPIKey},
		{"empty suffix", "abc-", nil, "", ErrInvalidAPIKey},
		{"digits only", "abc-6", nil, "", ErrInvalidAPIKey},
		{"host injection", "abc-us6.evil.com", nil, "", ErrInvalidAPIKey},
		{"path injection", "abc-us6/x", nil, "", ErrInvalidAPIKey},
		{"upper case", "abc-US6", nil, "", ErrInvalidAPIKey},
		{"empty", "", nil, "", ErrInvalidAPIKey},
		{"inner space", "abc def-us6", nil, "", ErrInvalidAPIKey},
		{"base URL without suffix", "test-key", []Option{WithBaseURL("http://127.0.0.1:9/3.0/")}, "http://127.0.0.1:9/3.0", nil},
		{"base URL not absolute", "abc-us6", []Option{WithBaseURL("/3.0")}, "", nil},
		{"base URL with credentials", "abc-us6", []Option{WithBaseURL("https://user:hunter2@us6.api.mailchimp.com/3.0")}, "", nil},
		{"malformed base URL with credentials", "abc-us6", []Option{WithBaseURL("http://user:hunter2@[::1")}, "", nil},
		{"too many connections", "abc-us6", []Option{WithMaxConnections(11)}, "", nil},
		{"no connections", "abc-us6", []Option{WithMaxConnections(0)}, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(tc.key, tc.opts...)
			if tc.wantBase == "" {
				if err == nil {
					t.Fatalf("New(%q) = %s, want an error", tc.key, c.BaseURL())
				}
				if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
					t.Fatalf("New(%q) error %v, want %v", tc.key, err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Fatalf("the error repeats a password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("New(%q): %v", tc.key, err)
			}
			if c.BaseURL() != tc.wantBase {
				t.Errorf("BaseURL = %s, want %s", c.BaseURL(), tc.wantBase)
			}
		})
	}
}

func TestAuth(t *testing.T) {
	c, srv := newTestClient(t)
	ctx := context.Background()
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	reqs := srv.Requests()
	if len(reqs) != 1 || reqs[0].Method != "GET" || reqs[0].Path != "/ping" || reqs[0].User == "" {
		t.Fatalf("requests = %+v", reqs)
	}

	bad, err := New("wrong-us6", WithBaseURL(srv.URL()))
	if err != nil {
		t.Fatal(err)
	}
	err = bad.Ping(ctx)
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 401 || ae.Title != "API Key Invalid" || !IsAuth(err) {
		t.Fatalf("Ping with a wrong key: %v, want 401 API Key Invalid", err)
	}
	if IsRetryable(err) {
		t.Error("a bad key is retryable")
	}
}

func TestGetList(t *testing.T) {
	c, srv := newTestClient(t)
	ctx := context.Background()
	srv.PutMember(audience, mailchimptest.Member{EmailAddress: "a@herald.test", Status: "subscribed"})
	l, err := c.GetList(ctx, audience)
	if err != nil {
		t.Fatal(err)
	}
	if l.ID != audience || l.Name != "Herald readers" || l.Stats.MemberCount != 1 {
		t.Errorf("GetList = %+v", l)
	}
	_, err = c.GetList(ctx, "nosuchlist")
	if !IsNotFound(err) || IsRetryable(err) {
		t.Errorf("GetList(unknown) = %v, want not found", err)
	}
	if _, err := c.GetList(ctx, ""); err == nil {
		t.Error("GetList(\"\") succeeded")
	}
	if _, err := c.GetList(ctx, "../x"); err == nil {
		t.Error("GetList(\"../x\") succeeded")
	}
	if n := srv.Count("", "/lists"); n != 2 {
		t.Errorf("%d requests to /lists, want 2 (invalid ids must not be sent)", n)
	}
}

func TestGetInterest(t *testing.T) {
	c, srv := newTestClient(t)
	ctx := context.Background()
	srv.AddInterest(audience, "cat1", "Topics", "int-a", "Politics")
	srv.AddInterest(audience, "cat2", "Newsletters", "int-b", "Morning brief")
	srv.AddInterest(audience, "cat2", "Newsletters", "int-c", "Weekend")

	in, err := c.GetInterest(ctx, audience, "int-c")
	if err != nil {
		t.Fatal(err)
	}
	want := Interest{ID: "int-c", CategoryID: "cat2", CategoryTitle: "Newsletters", ListID: audience, Name: "Weekend"}
	if in != want {
		t.Errorf("GetInterest = %+v, want %+v", in, want)
	}
	// One listing of categories, then one look-up per category until found.
	if n := srv.Count("GET", "/lists/"+audience+"/interest-categories"); n != 3 {
		t.Errorf("%d requests, want 3", n)
	}
	if q := srv.Requests()[0].Query; q.Get("count") != "1000" {
		t.Errorf("categories listed with count=%q, want 1000", q.Get("count"))
	}

	_, err = c.GetInterest(ctx, audience, "nope")
	if !IsNotFound(err) {
		t.Errorf("GetInterest(unknown) = %v, want not found", err)
	}
	_, err = c.GetInterest(ctx, "otherlist", "int-a")
	if !IsNotFound(err) {
		t.Errorf("GetInterest(unknown audience) = %v, want not found", err)
	}
}

func TestUpsertMember(t *testing.T) {
	c, srv := newTestClient(t)
	ctx := context.Background()
	srv.AddInterest(audience, "cat1", "Newsletters", "int-a", "Morning brief")
	signup := time.Date(2025, 3, 1, 9, 30, 0, 0, time.UTC)
	opt := signup.Add(5 * time.Minute)
	m := Member{
		Email:           "Urist.McVankab@freddiesjokes.com",
		StatusIfNew:     StatusSubscribed,
		Status:          StatusSubscribed,
		FirstName:       "Urist",
		LastName:        "McVankab",
		MergeFields:     map[string]string{"CITY": "Bronzemurder"},
		Interests:       map[string]bool{"int-a": true},
		IPSignup:        "192.0.2.1",
		TimestampSignup: signup,
		IPOpt:           "2001:db8::1",
		TimestampOpt:    opt,
	}
	info, err := c.UpsertMember(ctx, audience, m)
	if err != nil {
		t.Fatal(err)
	}
	if info.ID != "62eeb292278cc15f5817cb78f7790b08" || info.Status != StatusSubscribed || !info.TimestampOpt.Equal(opt) {
		t.Errorf("UpsertMember = %+v", info)
	}
	reqs := srv.Requests()
	if len(reqs) != 1 || reqs[0].Method != "PUT" || reqs[0].Path != "/lists/"+audience+"/members/62eeb292278cc15f5817cb78f7790b08" {
		t.Fatalf("requests = %+v", reqs)
	}
	var body map[string]any
	if err := reqs[0].DecodeJSON(&body); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{
		"email_address":    "Urist.McVankab@freddiesjokes.com",
		"status_if_new":    "subscribed",
		"status":           "subscribed",
		"ip_signup":        "192.0.2.1",
		"timestamp_signup": "2025-03-01T09:30:00Z",
		"ip_opt":           "2001:db8::1",
		"timestamp_opt":    "2025-03-01T09:35:00Z",
	} {
		if body[k] != want {
			t.Errorf("body[%s] = %v, want %v", k, body[k], want)
		}
	}
	if mf := body["merge_fields"].(map[string]any); mf["FNAME"] != "Urist" || mf["LNAME"] != "McVankab" || mf["CITY"] != "Bronzemurder" {
		t.Errorf("merge_fields = %v", mf)
	}
	if in := body["interests"].(map[string]any); in["int-a"] != true {
		t.Errorf("interests = %v", in)
	}
	stored, ok := srv.Member(audience, "urist.mcvankab@freddiesjokes.com")
	if !ok || stored.Status != "subscribed" || stored.MergeFields["FNAME"] != "Urist" || !stored.Interests["int-a"] {
		t.Errorf("stored member = %+v", stored)
	}

	// Idempotent: the same call again updates the same member.
	if _, err := c.UpsertMember(ctx, audience, m); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.Members(audience)); n != 1 {
		t.Errorf("%d members after two upserts, want 1", n)
	}

	// status alone serves as status_if_new.
	if _, err := c.UpsertMember(ctx, audience, Member{Email: "b@herald.test", Status: StatusPending}); err != nil {
		t.Fatal(err)
	}
}

func TestUpsertMemberInvalidInput(t *testing.T) {
	c, srv := newTestClient(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		m    Member
	}{
		{"no email", Member{StatusIfNew: StatusSubscribed}},
		{"bad email", Member{Email: "not-an-address", StatusIfNew: StatusSubscribed}},
		{"no status", Member{Email: "a@herald.test"}},
		{"bad status", Member{Email: "a@herald.test", StatusIfNew: "active"}},
	} {
		if _, err := c.UpsertMember(ctx, audience, tc.m); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d requests sent for invalid input", n)
	}
}

func TestRefusals(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		setup func(*mailchimptest.Server)
		m     Member
		check func(error) bool
		title string
	}{
		{
			name:  "compliance state",
			setup: func(s *mailchimptest.Server) { s.SetComplianceState("gone@herald.test") },
			m:     Member{Email: "gone@herald.test", StatusIfNew: StatusSubscribed, Status: StatusSubscribed},
			check: IsComplianceState,
			title: "Member In Compliance State",
		},
		{
			name: "unsubscribed through Mailchimp",
			setup: func(s *mailchimptest.Server) {
				s.PutMember(audience, mailchimptest.Member{EmailAddress: "left@herald.test", Status: "subscribed"})
				s.MemberUnsubscribes(audience, "left@herald.test")
			},
			m:     Member{Email: "left@herald.test", StatusIfNew: StatusSubscribed, Status: StatusSubscribed},
			check: IsComplianceState,
			title: "Member In Compliance State",
		},
		{
			name:  "fake address",
			setup: func(s *mailchimptest.Server) { s.SetFake("test@test.test") },
			m:     Member{Email: "test@test.test", StatusIfNew: StatusSubscribed},
			check: IsInvalidAddress,
			title: "Invalid Resource",
		},
		{
			name:  "unknown audience",
			setup: func(s *mailchimptest.Server) {},
			m:     Member{Email: "x@herald.test", StatusIfNew: StatusSubscribed},
			check: IsNotFound,
			title: "Resource Not Found",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, srv := newTestClient(t)
			tc.setup(srv)
			list := audience
			if tc.title == "Resource Not Found" {
				list = "unknown0"
			}
			_, err := c.UpsertMember(ctx, list, tc.m)
			var ae *APIError
			if !errors.As(err, &ae) || ae.Title != tc.title || !tc.check(err) {
				t.Fatalf("UpsertMember = %v, want %s", err, tc.title)
			}
			if IsRetryable(err) {
				t.Error("refusal is retryable")
			}
			if ae.Detail == "" || ae.Type == "" || ae.Instance == "" {
				t.Errorf("problem document not parsed: %+v", ae)
			}
			if n := len(srv.Requests()); n != 1 {
				t.Errorf("%d requests, want exactly 1 (the client must not retry)", n)
			}
		})
	}
}

func TestComplianceStateReconfirm(t *testing.T) {
	c, srv := newTestClient(t)
	ctx := context.Background()
	email := "back@herald.test"
	srv.PutMember(audience, mailchimptest.Member{EmailAddress: email, Status: "subscribed"})
	srv.MemberUnsubscribes(audience, email)

	_, err := c.UpsertMember(ctx, audience, Member{Email: email, StatusIfNew: StatusSubscribed, Status: StatusSubscribed})
	if !IsComplianceState(err) {
		t.Fatalf("resubscribe = %v, want compliance state", err)
	}
	// The documented way out: pending, so Mailchimp sends its confirmation.
	info, err := c.UpsertMember(ctx, audience, Member{Email: email, StatusIfNew: StatusPending, Status: StatusPending})
	if err != nil || info.Status != StatusPending {
		t.Fatalf("pending = %+v, %v", info, err)
	}
	if !srv.Confirm(audience, email) {
		t.Fatal("no pending member to confirm")
	}
	if m, _ := srv.Member(audience, email); m.Status != "subscribed" {
		t.Errorf("status after confirmation = %s", m.Status)
	}
}

func TestUnsubscribe(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name         string
		link         Link
		wantStatus   string
		wantInterest bool
	}{
		{"audience", Link{AudienceID: audience}, "unsubscribed", true},
		{"interest group", Link{AudienceID: audience, InterestID: "int-a"}, "subscribed", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, srv := newTestClient(t)
			srv.AddInterest(audience, "cat", "Newsletters", "int-a", "Morning")
			srv.PutMember(audience, mailchimptest.Member{EmailAddress: "r@herald.test", Status: "subscribed", Interests: map[string]bool{"int-a": true}})
			if err := c.Unsubscribe(ctx, tc.link, "R@herald.test"); err != nil {
				t.Fatal(err)
			}
			m, _ := srv.Member(audience, "r@herald.test")
			if m.Status != tc.wantStatus || m.Interests["int-a"] != tc.wantInterest {
				t.Errorf("member = %+v", m)
			}
			if n := srv.Count("PATCH", "/lists/"+audience+"/members/"+SubscriberHash("r@herald.test")); n != 1 {
				t.Errorf("%d PATCH requests, want 1", n)
			}
			err := c.Unsubscribe(ctx, tc.link, "nobody@herald.test")
			if !IsNotFound(err) {
				t.Errorf("Unsubscribe(unknown member) = %v, want not found", err)
			}
		})
	}
	c, _ := newTestClient(t)
	if err := c.UpdateMemberStatus(ctx, audience, "r@herald.test", "gone"); err == nil {
		t.Error("UpdateMemberStatus accepted an invalid status")
	}
}

func TestDeletePermanent(t *testing.T) {
	c, srv := newTestClient(t)
	ctx := context.Background()
	email := "erase@herald.test"
	if _, err := c.UpsertMember(ctx, audience, Member{Email: email, StatusIfNew: StatusSubscribed}); err != nil {
		t.Fatal(err)
	}
	if err := c.DeletePermanent(ctx, audience, email); err != nil {
		t.Fatal(err)
	}
	if _, ok := srv.Member(audience, email); ok || !srv.Forgotten(audience, email) {
		t.Fatal("member not deleted permanently")
	}
	want := "/lists/" + audience + "/members/" + SubscriberHash(email) + "/actions/delete-permanent"
	if n := srv.Count("POST", want); n != 1 {
		t.Errorf("%d POST %s, want 1", n, want)
	}
	if err := c.DeletePermanent(ctx, audience, email); !IsNotFound(err) {
		t.Errorf("second DeletePermanent = %v, want not found", err)
	}
	_, err := c.UpsertMember(ctx, audience, Member{Email: email, StatusIfNew: StatusSubscribed})
	if !IsForgotten(err) || IsRetryable(err) {
		t.Errorf("re-adding a forgotten address = %v, want Forgotten Email Not Subscribed", err)
	}
	if _, err := c.GetMember(ctx, audience, email); !IsNotFound(err) {
		t.Errorf("GetMember after delete = %v", err)
	}
}

func TestBatchUpsert(t *testing.T) {
	c, srv := newTestClient(t)
	ctx := context.Background()
	const n = 1234
	members := make([]Member, n)
	for i := range members {
		members[i] = Member{Email: fmt.Sprintf("reader%04d@herald.test", i), Status: StatusSubscribed, FirstName: "R"}
	}
	members[7].Email = "fake@herald.test"
	srv.SetFake("fake@herald.test")
	members[900].Email = "Stays.Away@herald.test"
	srv.SetComplianceState("stays.away@herald.test")
	srv.PutMember(audience, mailchimptest.Member{EmailAddress: "reader0003@herald.test", Status: "unsubscribed"})

	res, err := c.BatchUpsert(ctx, audience, members)
	if err != nil {
		t.Fatal(err)
	}
	if res.Created != n-3 || res.Updated != 1 || len(res.Errors) != 2 {
		t.Fatalf("result = created %d, updated %d, errors %v", res.Created, res.Updated, res.Errors)
	}
	byIndex := map[int]*MemberError{}
	for _, e := range res.Errors {
		byIndex[e.Index] = e
	}
	if e := byIndex[7]; e == nil || !IsInvalidAddress(e) || IsComplianceState(e) {
		t.Errorf("member 7 error = %v, want invalid address", e)
	}
	if e := byIndex[900]; e == nil || !IsComplianceState(e) || e.Email != "Stays.Away@herald.test" {
		t.Errorf("member 900 error = %v, want compliance state", e)
	}

	reqs := srv.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3", len(reqs))
	}
	for i, want := range []int{500, 500, 234} {
		var body struct {
			Members        []map[string]any `json:"members"`
			UpdateExisting bool             `json:"update_existing"`
		}
		if err := reqs[i].DecodeJSON(&body); err != nil {
			t.Fatal(err)
		}
		if reqs[i].Method != "POST" || reqs[i].Path != "/lists/"+audience || len(body.Members) != want || !body.UpdateExisting {
			t.Errorf("request %d: %s %s with %d members, update_existing %v", i, reqs[i].Method, reqs[i].Path, len(body.Members), body.UpdateExisting)
		}
		if _, ok := body.Members[0]["status_if_new"]; ok || body.Members[0]["status"] != "subscribed" {
			t.Errorf("batch member = %v, want status and no status_if_new", body.Members[0])
		}
	}
	if m, _ := srv.Member(audience, "reader0003@herald.test"); m.Status != "subscribed" {
		t.Errorf("existing member status = %s, want subscribed", m.Status)
	}

	// Empty input sends nothing; invalid input sends nothing.
	srv.ResetRequests()
	if res, err := c.BatchUpsert(ctx, audience, nil); err != nil || res.Created != 0 {
		t.Errorf("empty batch = %+v, %v", res, err)
	}
	if _, err := c.BatchUpsert(ctx, audience, []Member{{Email: "a@herald.test"}}); err == nil {
		t.Error("batch without status accepted")
	}
	if len(srv.Requests()) != 0 {
		t.Error("requests sent for empty or invalid batches")
	}

	// A failing chunk stops the batch and reports what went through.
	srv.Inject(mailchimptest.Fault{Method: "POST", Status: 503, Times: 1})
	res, err = c.BatchUpsert(ctx, audience, members[:600])
	if err == nil || !IsRetryable(err) || res.Created+res.Updated != 0 {
		t.Errorf("batch with failing first chunk = %+v, %v", res, err)
	}
	if n := len(srv.Requests()); n != 1 {
		t.Errorf("%d requests after failing chunk, want 1", n)
	}
}

func TestFaults(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name           string
		fault          mailchimptest.Fault
		opts           []Option
		ctxTimeout     time.Duration
		wantStatus     int
		wantRetryable  bool
		wantRetryAfter time.Duration
		wantNetwork    bool
	}{
		{name: "429 with Retry-After", fault: mailchimptest.Fault{Status: 429, RetryAfter: "7"}, wantStatus: 429, wantRetryable: true, wantRetryAfter: 7 * time.Second},
		{name: "429 without Retry-After", fault: mailchimptest.Fault{Status: 429}, wantStatus: 429, wantRetryable: true},
		{name: "500", fault: mailchimptest.Fault{Status: 500}, wantStatus: 500, wantRetryable: true},
		{name: "503 with Retry-After", fault: mailchimptest.Fault{Status: 503, RetryAfter: "120"}, wantStatus: 503, wantRetryable: true, wantRetryAfter: 2 * time.Minute},
		{name: "slow answer, client timeout", fault: mailchimptest.Fault{Delay: 2 * time.Second}, opts: []Option{WithTimeout(50 * time.Millisecond)}, wantRetryable: true, wantNetwork: true},
		{name: "slow answer, context deadline", fault: mailchimptest.Fault{Delay: 2 * time.Second}, ctxTimeout: 50 * time.Millisecond, wantRetryable: true, wantNetwork: true},
		{name: "slow answer within timeout", fault: mailchimptest.Fault{Delay: 20 * time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, srv := newTestClient(t, tc.opts...)
			srv.Inject(tc.fault)
			ctx := ctx
			if tc.ctxTimeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.ctxTimeout)
				defer cancel()
			}
			_, err := c.UpsertMember(ctx, audience, Member{Email: "f@herald.test", StatusIfNew: StatusSubscribed})
			if tc.wantStatus == 0 && !tc.wantNetwork {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			if got := IsRetryable(err); got != tc.wantRetryable {
				t.Errorf("IsRetryable(%v) = %v", err, got)
			}
			if got := RetryAfter(err); got != tc.wantRetryAfter {
				t.Errorf("RetryAfter = %v, want %v", got, tc.wantRetryAfter)
			}
			var ae *APIError
			if tc.wantStatus != 0 && (!errors.As(err, &ae) || ae.Status != tc.wantStatus) {
				t.Errorf("error %v, want status %d", err, tc.wantStatus)
			}
			var ne *NetworkError
			if tc.wantNetwork != errors.As(err, &ne) {
				t.Errorf("error %T %v, network error wanted: %v", err, err, tc.wantNetwork)
			}
			if tc.wantStatus == 429 && !errors.Is(err, ErrRateLimited) {
				t.Errorf("429 does not match ErrRateLimited")
			}
			// The client never retries by itself.
			time.Sleep(10 * time.Millisecond)
			if n := srv.Count("PUT", "/lists/"); n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
		})
	}
}

func TestCancelledContextNotRetryable(t *testing.T) {
	c, srv := newTestClient(t)
	srv.Inject(mailchimptest.Fault{Delay: 5 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(30*time.Millisecond, cancel)
	err := c.Ping(ctx)
	if err == nil || IsRetryable(err) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Ping with cancelled context = %v", err)
	}
}

func TestConnectionLimit(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []Option
		want int
	}{
		{"default 10", nil, MaxConnections},
		{"lowered to 3", []Option{WithMaxConnections(3)}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, srv := newTestClient(t, tc.opts...)
			srv.Inject(mailchimptest.Fault{Delay: 30 * time.Millisecond, Times: -1})
			var wg sync.WaitGroup
			errs := make(chan error, 40)
			for i := range 40 {
				wg.Go(func() {
					_, err := c.UpsertMember(context.Background(), audience, Member{Email: fmt.Sprintf("c%d@herald.test", i), StatusIfNew: StatusSubscribed})
					errs <- err
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatalf("request failed: %v", err)
				}
			}
			if got := srv.MaxInFlight(); got != tc.want {
				t.Errorf("max in flight = %d, want %d", got, tc.want)
			}
			if n := len(srv.Members(audience)); n != 40 {
				t.Errorf("%d members, want 40", n)
			}
		})
	}
}

func TestFakeServerRefusesBeyondTenConnections(t *testing.T) {
	srv := mailchimptest.NewServer(t)
	// Long enough that all 12 requests overlap even on a busy machine.
	srv.Inject(mailchimptest.Fault{Delay: time.Second, Times: -1})
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	for range 12 {
		wg.Go(func() {
			req, _ := http.NewRequest("GET", srv.URL()+"/ping", nil)
			req.SetBasicAuth("x", srv.APIKey())
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			mu.Lock()
			statuses[resp.StatusCode]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if statuses[200] != 10 || statuses[429] != 2 {
		t.Errorf("statuses = %v, want 10×200 and 2×429", statuses)
	}
}

func TestNonJSONErrorBody(t *testing.T) {
	for _, tc := range []struct {
		name      string
		status    int
		body      string
		wantTitle string
		retryable bool
	}{
		{"proxy HTML", 502, "<html><body>Bad gateway</body></html>", "Bad Gateway", true},
		{"empty 404", 404, "", "Not Found", false},
		{"problem with string status", 400, `{"type":"x","title":"Invalid Resource","status":"400","detail":"Please provide a valid email address."}`, "Invalid Resource", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				fmt.Fprint(w, tc.body)
			}))
			defer hs.Close()
			c, err := New("k-us1", WithBaseURL(hs.URL))
			if err != nil {
				t.Fatal(err)
			}
			err = c.Ping(context.Background())
			var ae *APIError
			if !errors.As(err, &ae) || ae.Status != tc.status || ae.Title != tc.wantTitle || IsRetryable(err) != tc.retryable {
				t.Fatalf("Ping = %#v", err)
			}
			if tc.status == 400 && !IsInvalidAddress(err) {
				t.Errorf("%v not recognised as invalid address", err)
			}
			if tc.body != "" && ae.Detail == "" {
				t.Error("detail lost")
			}
		})
	}
}

func TestNetworkError(t *testing.T) {
	hs := httptest.NewServer(http.NotFoundHandler())
	base := hs.URL
	hs.Close()
	c, err := New("k-us1", WithBaseURL(base))
	if err != nil {
		t.Fatal(err)
	}
	err = c.Ping(context.Background())
	var ne *NetworkError
	if !errors.As(err, &ne) || !IsRetryable(err) {
		t.Fatalf("Ping to a closed server = %v, want a retryable network error", err)
	}
	if strings.Contains(err.Error(), "k-us1") {
		t.Error("error shows the API key")
	}
}
