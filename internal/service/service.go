// Package service holds Herald's rules about readers — validation,
// suppression policy, consent rules — between the callers (the JSON API,
// and next the admin UI and the CLI) and the store. A handler parses its
// input, calls one function here with who is calling, and renders the
// result; the function runs the whole change in one store transaction
// built from the store's transaction-scoped primitives, so the rules live
// in one place and the store keeps only the SQL.
//
// Here: the reader's signup (Signup, SignupShown), confirmation (Confirm)
// and manage-page choices (ChangePreferences); the operator's addition and
// change of a subscriber (AddSubscriber, UpdateSubscriber); erasure by
// either (Erase).
//
// Signup is the hot path: on SQLite the store writes several readers'
// signups in one transaction (a group commit). So the service validates
// and normalises a signup with no database access and hands it to the
// store's grouped write, and the decisions that write needs (which status
// a join results in, when a confirmation mail is due) are pure functions
// in internal/service/policy that both the store and this package call.
// What stays inside the grouped write besides them: the consent kinds it
// records (a signup event, and a confirmation event marked "single
// opt-in" for lists confirmed at once).
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
