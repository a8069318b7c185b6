package mailchimp

import "unicode/utf8"

// validEmail is a fast, allocation-free plausibility check of an address
// (it runs for every row of an import): one local part of at most 64
// octets and a domain with a dot, no spaces, controls or the specials that
// need quoting. It accepts UTF-8 (SMTPUTF8) addresses. Mailchimp checks
// further and may still refuse an address (IsInvalidAddress).
func validEmail(s string) bool {
	if len(s) < 3 || len(s) > 254 {
		return false
	}
	at := -1
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '@' {
			if at >= 0 {
				return false
			}
			at = i
			continue
		}
		if c <= ' ' || c == 0x7f {
			return false
		}
		switch c {
		case '<', '>', '(', ')', '[', ']', '\\', ',', ';', ':', '"':
			return false
		}
	}
	if at < 1 || at > 64 || at == len(s)-1 {
		return false
	}
	local, domain := s[:at], s[at+1:]
	if local[0] == '.' || local[len(local)-1] == '.' || hasDoubleDot(local) {
		return false
	}
	dot := false
	prev := byte('.')
	for i := 0; i < len(domain); i++ {
		c := domain[i]
		switch {
		case c == '.':
			if prev == '.' || prev == '-' {
				return false
			}
			dot = true
		case c == '-':
			if prev == '.' {
				return false
			}
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c >= 0x80:
		default:
			return false
		}
		prev = c
	}
	if !dot || prev == '.' || prev == '-' {
		return false
	}
	return utf8.ValidString(s)
}

func hasDoubleDot(s string) bool {
	for i := 1; i < len(s); i++ {
		if s[i] == '.' && s[i-1] == '.' {
			return true
		}
	}
	return false
}
