package main

import "testing"

func TestDisplayWidth(t *testing.T) {
	cases := []struct {
		name, s string
		want    int
	}{
		{"empty", "", 0},
		{"ascii", "CH_0001", 7},
		{"hangul syllables", "영업", 4},
		{"seed channel name", "📢 영업/시연", 12},
		{"seed channel name 2", "🤝 스스 파트너스", 16},
		{"seed channel name 3", "🏠 동천 패밀리", 14},
		{"hangul conjoining jamo", "\u1112\u1161\u11AB", 2}, // 한 decomposed
		{"cjk ideographs", "中文", 4},
		{"hiragana", "ひらがな", 8},
		{"fullwidth latin", "ＡＢ", 4},
		{"halfwidth katakana", "ｱｲ", 2},
		{"combining acute", "e\u0301", 1},
		{"text heart", "\u2764", 1},
		{"heart with VS16", "\u2764\uFE0F", 2},
		{"VS15 text presentation", "\u2764\uFE0E", 1},
		{"skin tone", "👍🏽", 2},
		{"zwj family", "👨\u200D👩\u200D👧", 2},
		{"flag", "🇰🇷", 2},
		{"ambiguous bullets stay narrow", "● ○ · ─", 7},
		{"mixed", "a한b😀c", 7},
		{"bidi override is zero width", "a\u202Eb", 2},
	}
	for _, c := range cases {
		if got := displayWidth(c.s); got != c.want {
			t.Errorf("%s: displayWidth(%q) = %d, want %d", c.name, c.s, got, c.want)
		}
	}
}

func TestPadRight(t *testing.T) {
	if got := padRight("📢 영업", 10); got != "📢 영업   " {
		t.Errorf("padRight = %q", got)
	}
	if got := padRight("toolong", 3); got != "toolong" {
		t.Errorf("padRight of a longer string = %q", got)
	}
}

func TestSanitize(t *testing.T) {
	if got := sanitize("ok\x1b[31mred\u202E"); got != "ok\uFFFD[31mred\uFFFD" {
		t.Errorf("sanitize = %q", got)
	}
	if got := sanitize("📢 영업/시연"); got != "📢 영업/시연" {
		t.Errorf("sanitize changed clean text: %q", got)
	}
}
