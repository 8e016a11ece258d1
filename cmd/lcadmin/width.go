package main

import (
	"sort"
	"strings"
	"unicode"
)

// Terminal display width. A table lines up only if every cell is padded by the number of
// terminal cells its text takes, not by its bytes or runes: Hangul, CJK and most emoji take
// two cells, combining marks and variation selectors none. The rules follow UAX #11 (East
// Asian Width: Wide and Fullwidth are 2, Ambiguous counts as 1 as in non-CJK locales) and
// UTS #51 (emoji presentation, ZWJ sequences, skin-tone modifiers), simplified to what
// common terminals (VTE, xterm, Windows Terminal, iTerm2) render.

// runeRange is an inclusive range of code points.
type runeRange struct{ lo, hi rune }

// wideRanges are the East Asian Wide (W) and Fullwidth (F) ranges of Unicode 15, emoji with
// default emoji presentation included, sorted.
var wideRanges = []runeRange{
	{0x1100, 0x115F}, {0x231A, 0x231B}, {0x2329, 0x232A}, {0x23E9, 0x23EC}, {0x23F0, 0x23F0},
	{0x23F3, 0x23F3}, {0x25FD, 0x25FE}, {0x2614, 0x2615}, {0x2648, 0x2653}, {0x267F, 0x267F},
	{0x2693, 0x2693}, {0x26A1, 0x26A1}, {0x26AA, 0x26AB}, {0x26BD, 0x26BE}, {0x26C4, 0x26C5},
	{0x26CE, 0x26CE}, {0x26D4, 0x26D4}, {0x26EA, 0x26EA}, {0x26F2, 0x26F3}, {0x26F5, 0x26F5},
	{0x26FA, 0x26FA}, {0x26FD, 0x26FD}, {0x2705, 0x2705}, {0x270A, 0x270B}, {0x2728, 0x2728},
	{0x274C, 0x274C}, {0x274E, 0x274E}, {0x2753, 0x2755}, {0x2757, 0x2757}, {0x2795, 0x2797},
	{0x27B0, 0x27B0}, {0x27BF, 0x27BF}, {0x2B1B, 0x2B1C}, {0x2B50, 0x2B50}, {0x2B55, 0x2B55},
	{0x2E80, 0x303E}, {0x3041, 0x33FF}, {0x3400, 0x4DBF}, {0x4E00, 0x9FFF}, {0xA000, 0xA4CF},
	{0xA960, 0xA97F}, {0xAC00, 0xD7A3}, {0xF900, 0xFAFF}, {0xFE10, 0xFE19}, {0xFE30, 0xFE6F},
	{0xFF00, 0xFF60}, {0xFFE0, 0xFFE6},
	{0x16FE0, 0x16FE4}, {0x16FF0, 0x16FF1}, {0x17000, 0x18CD5}, {0x18D00, 0x18D08},
	{0x1AFF0, 0x1B2FB},
	{0x1F004, 0x1F004}, {0x1F0CF, 0x1F0CF}, {0x1F18E, 0x1F18E}, {0x1F191, 0x1F19A},
	{0x1F200, 0x1F202}, {0x1F210, 0x1F23B}, {0x1F240, 0x1F248}, {0x1F250, 0x1F251},
	{0x1F260, 0x1F265}, {0x1F300, 0x1F320}, {0x1F32D, 0x1F335}, {0x1F337, 0x1F37C},
	{0x1F37E, 0x1F393}, {0x1F3A0, 0x1F3CA}, {0x1F3CF, 0x1F3D3}, {0x1F3E0, 0x1F3F0},
	{0x1F3F4, 0x1F3F4}, {0x1F3F8, 0x1F43E}, {0x1F440, 0x1F440}, {0x1F442, 0x1F4FC},
	{0x1F4FF, 0x1F53D}, {0x1F54B, 0x1F54E}, {0x1F550, 0x1F567}, {0x1F57A, 0x1F57A},
	{0x1F595, 0x1F596}, {0x1F5A4, 0x1F5A4}, {0x1F5FB, 0x1F64F}, {0x1F680, 0x1F6C5},
	{0x1F6CC, 0x1F6CC}, {0x1F6D0, 0x1F6D2}, {0x1F6D5, 0x1F6D7}, {0x1F6DC, 0x1F6DF},
	{0x1F6EB, 0x1F6EC}, {0x1F6F4, 0x1F6FC}, {0x1F7E0, 0x1F7EB}, {0x1F7F0, 0x1F7F0},
	{0x1F90C, 0x1F93A}, {0x1F93C, 0x1F945}, {0x1F947, 0x1F9FF}, {0x1FA70, 0x1FAFF},
	{0x20000, 0x2FFFD}, {0x30000, 0x3FFFD},
}

const (
	zwj        = 0x200D // zero width joiner: glues emoji into one glyph
	vs16       = 0xFE0F // variation selector 16: emoji presentation (2 cells)
	skinToneLo = 0x1F3FB
	skinToneHi = 0x1F3FF
)

func inRanges(r rune, rs []runeRange) bool {
	i := sort.Search(len(rs), func(i int) bool { return rs[i].hi >= r })
	return i < len(rs) && rs[i].lo <= r
}

// runeWidth is the width of r on its own: 0, 1 or 2 cells.
func runeWidth(r rune) int {
	switch {
	case r < 0x20 || (r >= 0x7F && r < 0xA0):
		return 0 // control characters (sanitize replaces them before printing)
	case r < 0x300:
		return 1 // Latin fast path; no marks below U+0300
	case r >= 0x1160 && r <= 0x11FF:
		return 0 // Hangul medial vowels and final consonants join the initial's syllable
	case r >= 0xFE00 && r <= 0xFE0F, r >= 0xE0100 && r <= 0xE01EF:
		return 0 // variation selectors
	case unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf):
		return 0 // combining marks and format characters (ZWJ, ZWNJ, tags, bidi controls)
	case inRanges(r, wideRanges):
		return 2
	default:
		return 1
	}
}

// displayWidth returns the number of terminal cells s takes.
func displayWidth(s string) int {
	w, prev := 0, 0 // prev: width of the last cluster's base
	joined := false // the previous rune was a ZWJ
	for _, r := range s {
		switch {
		case r == zwj:
			joined = true
			continue
		case r == vs16:
			// A text-default symbol (❤, ☀) asked for emoji presentation widens to 2.
			if prev == 1 {
				w++
				prev = 2
			}
			continue
		case r >= skinToneLo && r <= skinToneHi && prev == 2:
			continue // modifies the emoji before it
		}
		rw := runeWidth(r)
		if joined {
			joined = false
			if rw > 0 && prev == 2 {
				continue // ZWJ sequence (👨‍👩‍👧): one glyph
			}
		}
		if rw > 0 {
			prev = rw
		}
		w += rw
	}
	return w
}

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
