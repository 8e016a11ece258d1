// Package tlscert provides the server certificates of lcserver's one TCP port
// (docs/operations.md §8): a PEM file pair reloaded when the files change or on request
// (Files), a self-signed certificate kept in the data directory (SelfSigned), and the
// fingerprints users compare (Fingerprint, SPKIHash). It imports no project package.
package tlscert
