package web

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/token"
)

// testLink is the page behind the unsubscribe and preferences links of
// test sends and previews (sender.Prepared.TestURLs). It says what the
// link would do for a real reader and changes nothing, on GET and on POST
// alike: a mail client's RFC 8058 one-click POST gets 200 and no effect.
func (s *Server) testLink(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		// Read (a little of) the one-click body so the client sees a clean answer.
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 16<<10))
	}
	t, err := s.Tokens.Parse(token.TestLink, r.PathValue("token"), time.Now())
	if err != nil {
		s.message(w, http.StatusNotFound, "This link is not valid", "Please check that you copied the whole link from the email.")
		return
	}
	campaign := "a campaign that has since been deleted"
	if c, err := s.DB.GetCampaign(r.Context(), t.CampaignID); err == nil {
		campaign = fmt.Sprintf("the campaign “%s” (subject “%s”)", c.Name, c.Subject)
	} else if herald.ErrorCode(err) != herald.ENOTFOUND {
		s.logIfInternal(r, err)
	}
	lists := "the lists the campaign is sent to"
	if names := s.listNames(r, t.Lists); len(names) > 0 {
		lists = strings.Join(names, ", ")
	}
	var would string
	switch t.Nonce {
	case token.TestUnsubscribe:
		would = "For a real reader, this unsubscribe link would show a one-button page that unsubscribes them from " + lists +
			" (mail programs can also do it in one click, RFC 8058)."
	case token.TestManage:
		would = "For a real reader, this link would open their preferences page: their newsletters, “Unsubscribe from all”, " +
			"“Download my data” and “Erase my data”."
	default:
		s.message(w, http.StatusNotFound, "This link is not valid", "Please check that you copied the whole link from the email.")
		return
	}
	s.message(w, http.StatusOK, "This link is from a test message",
		"This link is from a test send of "+campaign+". "+would+" Test links never act on anyone: nothing has been changed.")
}
