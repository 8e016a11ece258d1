package store

import (
	"fmt"
)

// migrations are the schema, one step per version: migrations[i] takes the database from
// version i to i+1 (PRAGMA user_version). Steps are only ever appended, never edited, so a
// database of any earlier lcserver is brought up to date in order.
var migrations = []string{
	// 1: channels, bursts, chat.
	`CREATE TABLE channels (
		channel_id   TEXT PRIMARY KEY,
		freq         TEXT NOT NULL,
		channel_name TEXT NOT NULL,
		capacity     INTEGER NOT NULL,
		creator      TEXT NOT NULL,
		created_at   TEXT NOT NULL
	);
	CREATE TABLE bursts (
		id         INTEGER PRIMARY KEY AUTOINCREMENT,
		channel_id TEXT NOT NULL,
		user_id    TEXT NOT NULL,
		priority   INTEGER NOT NULL,
		emergency  INTEGER NOT NULL,
		granted_at TEXT NOT NULL,
		ended_at   TEXT,
		end_reason TEXT,
		packets    INTEGER NOT NULL DEFAULT 0
	);
	CREATE INDEX bursts_by_channel ON bursts (channel_id, granted_at);
	CREATE INDEX bursts_by_time ON bursts (granted_at);
	CREATE TABLE messages (
		id         INTEGER PRIMARY KEY AUTOINCREMENT,
		channel_id TEXT NOT NULL,
		message_id TEXT NOT NULL,
		user_id    TEXT NOT NULL,
		content    TEXT NOT NULL,
		sent_at    TEXT NOT NULL
	);
	CREATE INDEX messages_by_channel ON messages (channel_id, id);`,
	// 2: recordings: the Ogg Opus file of a burst, relative to the data directory.
	`ALTER TABLE bursts ADD COLUMN recording TEXT;`,
}

// SchemaVersion is the version this lcserver writes.
func SchemaVersion() int { return len(migrations) }

// migrate applies the steps the database lacks, each in its own transaction with its version
// bump, and refuses a database from a newer lcserver.
func (s *Store) migrate() error {
	v, err := s.Version()
	if err != nil {
		return fmt.Errorf("schema version: %w", err)
	}
	if v > len(migrations) {
		return fmt.Errorf("schema version %d is newer than this lcserver's %d: run the newer lcserver or restore a backup", v, len(migrations))
	}
	for i := v; i < len(migrations); i++ {
		tx, err := s.db.Begin()
		if err != nil {
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
		if _, err := tx.Exec(migrations[i]); err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
		if _, err := tx.Exec(fmt.Sprintf("PRAGMA user_version = %d", i+1)); err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
	}
	return nil
}
