package web_test

import (
	"io/fs"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/minilivechat/minilivechat/actors/msg"
	"github.com/minilivechat/minilivechat/web"
)

// TestEveryErrorCodeHasText checks that the page has a sentence for every ERROR code a client
// can receive (docs/protocol.md), so no user ever sees a bare number.
func TestEveryErrorCodeHasText(t *testing.T) {
	src, err := fs.ReadFile(web.Files(), "protocol.js")
	if err != nil {
		t.Fatal(err)
	}
	text := string(src)
	start := strings.Index(text, "export const ErrorText")
	if start < 0 {
		t.Fatal("protocol.js has no ErrorText table")
	}
	end := strings.Index(text[start:], "});")
	table := text[start : start+end]
	have := map[int]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s*(\d{4}):\s*"[^"]+"`).FindAllStringSubmatch(table, -1) {
		n, _ := strconv.Atoi(m[1])
		have[n] = true
	}
	codes := []msg.Code{
		msg.CodeNotIdentified, msg.CodeInvalidToken, msg.CodeAlreadyIdentified, msg.CodeUnknownOp,
		msg.CodeMalformed, msg.CodeRateLimited, msg.CodeFrameTooLarge, msg.CodePriorityDenied,
		msg.CodeNoSuchChannel, msg.CodeChannelFull, msg.CodeNotPermitted, msg.CodeAlreadyJoined,
		msg.CodeNotJoined, msg.CodeChannelExists, msg.CodeBadOffer, msg.CodeEmptyMessage,
		msg.CodeMessageTooLong, msg.CodeNotMember, msg.CodeInternal, msg.CodeNoHistory, // HISTORY_LIST (docs/protocol.md)
	}
	for _, c := range codes {
		if !have[int(c)] {
			t.Errorf("protocol.js ErrorText has no text for code %d", c)
		}
	}
	if len(have) != len(codes) {
		t.Errorf("protocol.js ErrorText has %d codes, the protocol has %d", len(have), len(codes))
	}
}
