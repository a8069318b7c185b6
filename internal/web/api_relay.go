package web

import "net/http"

// relayRoutes serves GET /api/v1/relay: the state of outgoing mail as the
// app reports it (Server.RelayStatus), so that an operator sees why
// sending paused — a certificate, credentials, nothing listening — and
// which relay is active, without reading the log.
func (s *Server) relayRoutes(mux *http.ServeMux) {
	mux.Handle("GET /api/v1/relay", s.authAPI(func(w http.ResponseWriter, r *http.Request) {
		var st any = map[string]any{"transport": "outbox", "paused": false, "relays": []any{}}
		if s.RelayStatus != nil {
			st = s.RelayStatus()
		}
		writeJSON(w, http.StatusOK, st)
	}))
}
