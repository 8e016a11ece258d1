package actortest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/minilivechat/minilivechat/actors/msg"
)

// Result is the one *msg.Result the records hold (what the actor answered with Respond); the
// test fails if there is not exactly one.
func Result(t testing.TB, recs []Record) *msg.Result {
	t.Helper()
	rs := Responses(recs)
	if len(rs) != 1 {
		t.Fatalf("want exactly one response, got %d:%s", len(rs), render(recs))
	}
	r, ok := rs[0].(*msg.Result)
	if !ok {
		t.Fatalf("response is %T, want *msg.Result", rs[0])
	}
	return r
}

// OK is the Data of the one successful Result the records hold.
func OK(t testing.TB, recs []Record) any {
	t.Helper()
	r := Result(t, recs)
	if r.Err != nil {
		t.Fatalf("unexpected error %v", r.Err)
	}
	return r.Data
}

// FailCode checks that the one Result the records hold is an error with code want and a
// reason a person can read.
func FailCode(t testing.TB, recs []Record, want msg.Code) {
	t.Helper()
	if r := Result(t, recs); r.Err == nil || r.Err.Code != want || r.Err.Reason == "" {
		t.Fatalf("result %+v, want error %d with a reason", r, want)
	}
}

func render(recs []Record) string {
	var b strings.Builder
	for _, r := range recs {
		fmt.Fprintf(&b, "\n  %v %v %T", r.Op, r.To, r.Message)
	}
	return b.String()
}
