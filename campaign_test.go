package herald

import "testing"

func TestCampaignValidate(t *testing.T) {
	ok := Campaign{Name: " Issue 1 ", Subject: "Nöws — “quoted”", From: "Daily Planet <news@planet.example>", ReplyTo: "desk@planet.example",
		Lists: []string{"daily", " daily", "sport", ""}, Body: "Hello"}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	if ok.Name != "Issue 1" || ok.Format != FormatMarkdown || len(ok.Lists) != 2 {
		t.Errorf("defaults and clean-up: %+v", ok)
	}
	if err := ok.ValidateForSending(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		c     Campaign
		field string
	}{
		{Campaign{Name: ""}, "name"},
		{Campaign{Name: "a\nb"}, "name"},
		{Campaign{Name: "x", Subject: "Hello\r\nBcc: victim@example.com"}, "subject"},
		{Campaign{Name: "x", Subject: "Hello\u2028there"}, "subject"},
		{Campaign{Name: "x", From: "news@planet.example\r\nBcc: victim@example.com"}, "from"},
		{Campaign{Name: "x", From: "Planet <news@planet.example>\nX: y"}, "from"},
		{Campaign{Name: "x", From: "not an address"}, "from"},
		{Campaign{Name: "x", ReplyTo: "desk@planet.example\r\nBcc: victim@example.com"}, "reply_to"},
		{Campaign{Name: "x", Format: "pdf"}, "format"},
	} {
		err := c.c.Validate()
		if ErrorField(err) != c.field || ErrorCode(err) != EINVALID {
			t.Errorf("%+v: %v, want an EINVALID error about %s", c.c, err, c.field)
		}
	}
	for _, c := range []Campaign{{Name: "x", Subject: "s", Body: "b"}, {Name: "x", Lists: []string{"a"}, Body: "b"}, {Name: "x", Subject: "s", Lists: []string{"a"}}} {
		if err := c.ValidateForSending(); ErrorCode(err) != EINVALID {
			t.Errorf("%+v can be sent: %v", c, err)
		}
	}
}
