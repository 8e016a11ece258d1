// Package web is mini-livechat's browser push-to-talk client: a build-free page (plain HTML,
// CSS and ES modules, nothing fetched from elsewhere) embedded into lcserver and served at `/`.
//
// The page signs in over the WebSocket protocol of docs/protocol.md (automatically when the URL
// carries ?user=&token=, as `lcserver --dev` prints), lists channels, joins them with one
// RTCPeerConnection each, and drives floor control with a press-and-hold talk button.
// docs/web-client.md describes it for people; the browser tests beside this file drive it in
// headless Chromium against a real server.
package web

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed static
var static embed.FS

// Files returns the page's static files (index.html at the root).
func Files() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		// fs.Sub fails only for an invalid path; "static" is a constant that go:embed checked.
		panic(err)
	}
	return sub
}

// Handler serves the page: `/` is index.html (text/html), other paths the embedded files.
// Responses carry Cache-Control: no-cache so a browser picks up a new server's page at once
// (the files are small; revalidation costs one request each).
func Handler() http.Handler {
	files := http.FileServerFS(Files())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if strings.HasSuffix(r.URL.Path, ".js") {
			// Module scripts must be served with a JavaScript MIME type.
			w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		}
		files.ServeHTTP(w, r)
	})
}
