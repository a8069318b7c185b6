package mailchimp

import "strings"

// SplitName splits Herald's single name field into Mailchimp's FNAME and
// LNAME: the first word, and the rest. "Mary Ann Smith" gives "Mary" and
// "Ann Smith", which JoinName turns back into the same name.
func SplitName(name string) (first, last string) {
	name = strings.Join(strings.Fields(name), " ")
	first, last, _ = strings.Cut(name, " ")
	return first, last
}

// JoinName builds Herald's name from Mailchimp's first and last name.
func JoinName(first, last string) string {
	return strings.TrimSpace(strings.TrimSpace(first) + " " + strings.TrimSpace(last))
}
