// Package csvsafe keeps the CSV files Herald writes from becoming formulas
// in the spreadsheet an editor opens them with (CSV or "formula"
// injection), and undoes that protection when Herald reads such a file
// back, so that an export followed by an import changes nothing.
//
// The rule, after OWASP's: a cell whose first character is one that a
// spreadsheet reads as the start of a formula — '=', '+', '-', '@', a tab
// or a carriage return — is written with a single quote in front, which
// spreadsheets show as text and do not evaluate. Two exceptions keep files
// readable and lossless:
//
//   - A plain decimal number (an optional sign, digits, an optional
//     fraction: "-5", "+44", "-33.86") is left alone. A spreadsheet reads it
//     as the number it is; nothing in it can be a formula. (A phone number
//     written with spaces, "+44 20 7946 0000", is not a plain number and is
//     quoted.)
//   - A cell that already begins with one or more quotes followed by such a
//     character (such as "'=x") gets one more quote, so that Restore, which
//     removes exactly one leading quote from a cell of the form
//     quote(s)+trigger, gives back the original text in every case.
//
// So Restore(Neutralize(s)) == s for every s. The cost falls on files that
// Herald did not write: a value that genuinely begins with a quote followed
// by a trigger character (a name typed as "'=x" in another system) loses
// its first quote on import. Nothing else is changed.
package csvsafe

// trigger reports whether c starts a formula in common spreadsheets.
func trigger(c byte) bool {
	switch c {
	case '=', '+', '-', '@', '\t', '\r':
		return true
	}
	return false
}

// quotedTrigger reports whether s is one or more quotes followed by a
// trigger character.
func quotedTrigger(s string) bool {
	i := 0
	for i < len(s) && s[i] == '\'' {
		i++
	}
	return i > 0 && i < len(s) && trigger(s[i])
}

// plainNumber reports whether s is an optional sign, digits and an optional
// fraction.
func plainNumber(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		i++
	}
	digits := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
		digits++
	}
	if digits == 0 {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		frac := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			frac++
		}
		if frac == 0 {
			return false
		}
	}
	return i == len(s)
}

// Needs reports whether Neutralize would change s. It is cheap (it looks
// at the first bytes only, unless s is a signed number), for hot loops.
func Needs(s string) bool {
	if s == "" {
		return false
	}
	if trigger(s[0]) {
		return !plainNumber(s)
	}
	return s[0] == '\'' && quotedTrigger(s)
}

// Neutralize returns s as it should be written in a CSV cell.
func Neutralize(s string) string {
	if Needs(s) {
		return "'" + s
	}
	return s
}

// Restore undoes Neutralize on a cell read from a CSV file.
func Restore(s string) string {
	if len(s) > 1 && s[0] == '\'' && quotedTrigger(s) {
		return s[1:]
	}
	return s
}
