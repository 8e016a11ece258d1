package web_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/minilivechat/minilivechat/web"
)

// TestHandlerServesPage checks what a browser needs to load the page: `/` is HTML that loads
// the module script, and the scripts come with a JavaScript MIME type (browsers refuse module
// scripts served otherwise).
func TestHandlerServesPage(t *testing.T) {
	srv := httptest.NewServer(web.Handler())
	defer srv.Close()

	cases := []struct {
		path, contentType, contains string
	}{
		{"/", "text/html", `<script type="module" src="app.js">`},
		{"/app.js", "text/javascript", "window.lc"},
		{"/protocol.js", "text/javascript", "export const Op"},
		{"/media.js", "text/javascript", "RTCPeerConnection"},
		{"/style.css", "text/css", "#ptt"},
	}
	for _, c := range cases {
		res, err := http.Get(srv.URL + c.path)
		if err != nil {
			t.Fatalf("GET %s: %v", c.path, err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Errorf("GET %s: status %d", c.path, res.StatusCode)
		}
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, c.contentType) {
			t.Errorf("GET %s: Content-Type %q, want %s", c.path, ct, c.contentType)
		}
		if !strings.Contains(string(body), c.contains) {
			t.Errorf("GET %s: body lacks %q", c.path, c.contains)
		}
	}
}

// TestHandlerRejectsWrites checks that the static handler answers only GET and HEAD.
func TestHandlerRejectsWrites(t *testing.T) {
	srv := httptest.NewServer(web.Handler())
	defer srv.Close()
	res, err := http.Post(srv.URL+"/", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST /: status %d, want 405", res.StatusCode)
	}
}

// TestHandlerUnknownPath checks that a missing file is a 404, not the page.
func TestHandlerUnknownPath(t *testing.T) {
	srv := httptest.NewServer(web.Handler())
	defer srv.Close()
	res, err := http.Get(srv.URL + "/nope.js")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /nope.js: status %d, want 404", res.StatusCode)
	}
}
