// Package service holds Herald's rules about readers — validation,
// suppression policy, consent rules — between the callers (the JSON API,
// and next the admin UI and the CLI) and the store. A handler parses its
// input, calls one function here with who is calling, and renders the
// result; the function runs the whole change in one store transaction
// built from the store's transaction-scoped primitives, so the rules live
// in one place and the store keeps only the SQL.
//
// Here so far: the operator's addition and change of a subscriber
// (AddSubscriber, UpdateSubscriber), the reader's confirmation (Confirm)
// and manage-page choices (ChangePreferences), and erasure by either
// (Erase). The pure decisions that the store's grouped signup transaction
// shares with this package (which status a join results in, when a
// confirmation mail is due) are in internal/service/policy, which reads
// nothing, so the store can call it without a round trip. Signup still
// keeps its other rules in the store (internal/sqlstore/signup.go).
package service

import "github.com/heraldhq/herald/internal/sqlstore"

// Roles of callers. The API's tokens act as RoleAdmin for now; the admin
// UI's users will carry their own.
const (
	RoleAdmin  = "admin"
	RoleEditor = "editor"
	RoleAuthor = "author"
	RoleViewer = "viewer"
	// RoleReader is a reader acting on their own subscriptions from a
	// signed link (confirmation, manage page): the id the link carries is
	// the only subscriber they may change.
	RoleReader = "reader"
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
