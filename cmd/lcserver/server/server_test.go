package server

import (
	"net/http"
	"strings"
	"testing"
)

func TestServerServesWebSocketRESTAndWebClient(t *testing.T) {
	s := start(t, nil)
	alice := s.client("alice", 100)
	ack := alice.Request(15, nil).Map()
	chans, _ := ack["channels"].([]any)
	if len(chans) != 3 || ack["req_op"].(float64) != 15 {
		t.Fatalf("CHANNEL_LIST ACK = %v, want the three presets", ack)
	}
	if code, body := s.get("/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz = %d %s", code, body)
	}
	if code, body := s.get("/channels"); code != http.StatusOK || !strings.Contains(body, "CH_0003") {
		t.Fatalf("/channels = %d %s", code, body)
	}
	if code, body := s.get("/"); code != http.StatusOK || !strings.Contains(strings.ToLower(body), "<html") {
		t.Fatalf("/ = %d", code)
	}
}
