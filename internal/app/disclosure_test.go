package app

import "testing"

func TestIsDefaultDisclosure(t *testing.T) {
	for text, want := range map[string]bool{
		DefaultDisclosure("Herald"):           true,
		DefaultDisclosure("The Daily Planet"): true,
		DefaultDisclosure("A"):                true,
		DefaultDisclosure("Herald") + " ":     false,
		"Our own words.":                      false,
		"":                                    false,
		DefaultDisclosure("Herald")[:40]:      false,
		// the name differs between its two places: edited by hand
		"Acme uses your email address (and your name, if you give it) only to send you the newsletters you choose. Your details are kept on Other's own Herald server and are not passed to anyone else. We record when and where you signed up as proof of your consent. You can unsubscribe at any time with the link in every email.": false,
	} {
		if got := isDefaultDisclosure(text); got != want {
			t.Errorf("isDefaultDisclosure(%.60q…) = %v, want %v", text, got, want)
		}
	}
}
