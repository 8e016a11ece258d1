package tlscert

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync/atomic"

	"github.com/fsnotify/fsnotify"
)

// Files serves the certificate of a PEM certificate/key file pair and swaps it, without
// touching established connections, when the files change or Reload is called (SIGHUP). A
// pair that does not load (half-written, key not matching) is logged and the previous
// certificate stays in use, so a renewal that writes the two files one after the other ends
// with the new pair once the second file lands.
//
// New TLS handshakes read the current certificate through GetCertificate; connections that
// finished their handshake keep the certificate they were given.
type Files struct {
	// Static after WatchFiles.
	certFile, keyFile string
	log               *slog.Logger
	watcher           *fsnotify.Watcher

	cur atomic.Pointer[tls.Certificate] // swapped whole; Reload may run from any goroutine
}

// WatchFiles loads the pair and starts watching the directories that hold them (watching the
// directory, not the file, sees renames and symlink swaps, which is how certbot, acme.sh and
// Kubernetes secrets replace certificates). Run must be called to act on changes, Close to
// release the watcher.
func WatchFiles(certFile, keyFile string, log *slog.Logger) (*Files, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &Files{certFile: certFile, keyFile: keyFile, log: log}
	c, err := f.load()
	if err != nil {
		return nil, err
	}
	f.cur.Store(c)
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watch certificate files: %w", err)
	}
	for _, dir := range uniqueDirs(certFile, keyFile) {
		if err := w.Add(dir); err != nil {
			_ = w.Close()
			return nil, fmt.Errorf("watch certificate directory %s: %w", dir, err)
		}
	}
	f.watcher = w
	return f, nil
}

func uniqueDirs(paths ...string) []string {
	var dirs []string
	seen := map[string]bool{}
	for _, p := range paths {
		d := filepath.Dir(p)
		if !seen[d] {
			seen[d] = true
			dirs = append(dirs, d)
		}
	}
	return dirs
}

func (f *Files) load() (*tls.Certificate, error) {
	c, err := tls.LoadX509KeyPair(f.certFile, f.keyFile)
	if err != nil {
		return nil, fmt.Errorf("load TLS certificate %s with key %s: %w", f.certFile, f.keyFile, err)
	}
	return &c, nil
}

// GetCertificate is the tls.Config hook: the current certificate.
func (f *Files) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return f.cur.Load(), nil
}

// Certificate is the certificate new handshakes get.
func (f *Files) Certificate() *tls.Certificate { return f.cur.Load() }

// Reload reads the files again and swaps the certificate when they load. On an error the
// previous certificate stays in use.
func (f *Files) Reload() error {
	c, err := f.load()
	if err != nil {
		return err
	}
	old := f.cur.Swap(c)
	if old != nil && bytes.Equal(old.Certificate[0], c.Certificate[0]) {
		return nil // same certificate: nothing to tell
	}
	f.log.Info("TLS certificate loaded", "cert", f.certFile,
		"fingerprint_sha256", Fingerprint(c.Certificate[0]), "not_after", c.Leaf.NotAfter)
	return nil
}

// Run reloads on every change in the watched directories until ctx ends or Close is called.
// Reload errors are logged at warn; the server keeps serving the previous certificate.
func (f *Files) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-f.watcher.Events:
			if !ok {
				return nil
			}
			if ev.Has(fsnotify.Chmod) && !ev.Has(fsnotify.Write|fsnotify.Create|fsnotify.Rename|fsnotify.Remove) {
				continue
			}
			if err := f.Reload(); err != nil {
				f.log.Warn("TLS certificate files changed but do not load; keeping the previous certificate",
					"event", ev.String(), "err", err)
			}
		case err, ok := <-f.watcher.Errors:
			if !ok {
				return nil
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				if rerr := f.Reload(); rerr != nil {
					f.log.Warn("TLS certificate reload after a watch overflow failed", "err", rerr)
				}
				continue
			}
			f.log.Warn("watching the TLS certificate files", "err", err)
		}
	}
}

// Close stops watching.
func (f *Files) Close() error { return f.watcher.Close() }
