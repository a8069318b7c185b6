// Package service holds Herald's rules about readers — validation,
// suppression policy, consent rules — between the callers (the JSON API,
// and next the admin UI and the CLI) and the store. A handler parses its
// input, calls one function here with who is calling, and renders the
// result; the function runs the whole change in one store transaction
// built from the store's transaction-scoped primitives, so the rules live
// in one place and the store keeps only the SQL.
//
// So far the operator's change of a subscriber (Subscribers.Update) lives
// here; signup, confirmation, preferences and erasure still keep their
// rules in the store (internal/sqlstore/signup.go, subscribers.go).
package service

import "github.com/heraldhq/herald/internal/sqlstore"

// Roles of callers. The API's tokens act as RoleAdmin for now; the admin
// UI's users will carry their own.
const (
	RoleAdmin  = "admin"
	RoleEditor = "editor"
	RoleAuthor = "author"
	RoleViewer = "viewer"
)

// Caller is who asks for a change, and from where (for the ledger).
type Caller struct {
	Role string
	Meta sqlstore.Meta
}

// Service is the rules over one store.
type Service struct {
	DB *sqlstore.DB
}

// New returns the service layer over db.
func New(db *sqlstore.DB) *Service { return &Service{DB: db} }
