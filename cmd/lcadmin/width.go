package main

import (
	"strings"
	"unicode"

	"github.com/rivo/uniseg"
)

// displayWidth returns the number of terminal cells s takes. A table lines up only if every
// cell is padded by the cells its text takes, not by its bytes or runes: Hangul, CJK and most
// emoji take two cells, combining marks and variation selectors none. uniseg applies UAX #11
// (East Asian Width; Ambiguous counts as 1 as in non-CJK locales) and UTS #51 (emoji
// presentation, ZWJ sequences, skin-tone modifiers) per grapheme cluster.
func displayWidth(s string) int { return uniseg.StringWidth(s) }

// sanitize makes text from the server safe to print: control characters (a channel name
// could carry terminal escape sequences) and bidi overrides become U+FFFD.
func sanitize(s string) string {
	bad := func(r rune) bool {
		return r < 0x20 || (r >= 0x7F && r < 0xA0) || (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069)
	}
	if strings.IndexFunc(s, bad) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if bad(r) {
			return unicode.ReplacementChar
		}
		return r
	}, s)
}

// padRight pads s with spaces to width cells.
func padRight(s string, width int) string {
	if d := width - displayWidth(s); d > 0 {
		return s + strings.Repeat(" ", d)
	}
	return s
}
