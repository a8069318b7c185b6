package web

// The feed routes: GET/POST /feeds, GET/PATCH/DELETE /feeds/{id},
// POST /feeds/{id}/poll, GET /feeds/{id}/items. Polling is internal/feed's.

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/sqlstore"
)

func (s *Server) feedRoutes() []route {
	return []route{
		{"GET", "/feeds", s.apiListFeeds},
		{"POST", "/feeds", s.apiCreateFeed},
		{"GET", "/feeds/{id}", s.apiGetFeed},
		{"PATCH", "/feeds/{id}", s.apiUpdateFeed},
		{"DELETE", "/feeds/{id}", s.apiDeleteFeed},
		{"POST", "/feeds/{id}/poll", s.apiPollFeed},
		{"GET", "/feeds/{id}/items", s.apiFeedItems},
	}
}

type feedBody struct {
	URL      *string   `json:"url"`
	Lists    *[]string `json:"lists"`
	Interval *string   `json:"interval"`
}

// interval parses the body's interval ("5m", "1h"); 0 when absent.
func (b *feedBody) interval() (time.Duration, error) {
	if b.Interval == nil {
		return 0, nil
	}
	d, err := time.ParseDuration(strings.TrimSpace(*b.Interval))
	if err != nil {
		return 0, herald.FieldError("interval", "The interval must be a duration such as \"5m\" or \"1h\".")
	}
	if err := sqlstore.ValidateFeedInterval(d); err != nil {
		return 0, err
	}
	return d, nil
}

func (s *Server) apiListFeeds(w http.ResponseWriter, r *http.Request) error {
	feeds, err := s.DB.ListFeeds(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, page{Data: feeds, Total: len(feeds), Limit: len(feeds)})
	return nil
}

func (s *Server) apiCreateFeed(w http.ResponseWriter, r *http.Request) error {
	var b feedBody
	if err := decodeJSON(w, r, 64<<10, &b); err != nil {
		return err
	}
	d, err := b.interval()
	if err != nil {
		return err
	}
	var lists []string
	if b.Lists != nil {
		lists = *b.Lists
	}
	f, err := s.DB.CreateFeed(r.Context(), deref(b.URL), lists, d)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/feeds/"+strconv.FormatInt(f.ID, 10))
	writeJSON(w, http.StatusCreated, f)
	return nil
}

func (s *Server) apiGetFeed(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	f, err := s.DB.GetFeed(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, f)
	return nil
}

func (s *Server) apiUpdateFeed(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var b feedBody
	if err := decodeJSON(w, r, 64<<10, &b); err != nil {
		return err
	}
	p := sqlstore.FeedPatch{URL: b.URL, Lists: b.Lists}
	if b.Interval != nil {
		d, err := b.interval()
		if err != nil {
			return err
		}
		p.Interval = &d
	}
	f, err := s.DB.UpdateFeed(r.Context(), id, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, f)
	return nil
}

func (s *Server) apiDeleteFeed(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := s.DB.DeleteFeed(r.Context(), id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// apiPollFeed polls the feed now and answers with the feed afterwards: a
// feed error shows in its status and last_error (the request succeeded).
func (s *Server) apiPollFeed(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	f, err := s.Feeds.PollNow(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, f)
	return nil
}

func (s *Server) apiFeedItems(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	limit, offset, err := paging(r)
	if err != nil {
		return err
	}
	items, total, err := s.DB.FeedItems(r.Context(), id, limit, offset)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, page{Data: items, Total: total, Limit: limit, Offset: offset})
	return nil
}
