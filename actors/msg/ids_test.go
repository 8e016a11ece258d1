package msg

import (
	"regexp"
	"strings"
	"testing"
)

func TestValidIDMatchesIDPattern(t *testing.T) {
	re := regexp.MustCompile(IDPattern)
	for _, id := range []string{"", "a", "CH_0001", "swift-falcon_4821", strings.Repeat("x", 64),
		strings.Repeat("x", 65), "a b", "ä", "CH/1", "a.b", "영업", "\x00", "-", "_"} {
		if got, want := ValidID(id), re.MatchString(id); got != want {
			t.Errorf("ValidID(%q) = %v, IDPattern says %v", id, got, want)
		}
	}
}
