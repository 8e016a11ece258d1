// Package store is lcserver's embedded SQLite database (docs/history.md): user-created
// channels, the burst log and chat history, in one file of the data directory. It is plain
// code around database/sql on the pure-Go modernc.org/sqlite driver; the history actor
// (actors/history) is its one user at run time, so no lock guards it, and the server reads
// the channels and recent chat once before that actor starts.
package store

import (
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/minilivechat/minilivechat/actors/msg"
)

// FileName is the database file inside the data directory.
const FileName = "lcserver.db"

// timeFormat is how times are stored: fixed-width UTC text, so that text order is time order
// and an operator reads them in the sqlite3 tool.
const timeFormat = msg.TimestampFormat

// Store is an open database.
type Store struct {
	db *sql.DB
}

// Open opens (creating it if needed) the database in dir, switches it to WAL, brings the
// schema up to date and marks the bursts a previous process left open as interrupted.
func Open(dir string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("store: no data directory")
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("store: data directory: %w", err)
	}
	path := filepath.Join(dir, FileName)
	// WAL lets the sqlite3 tool read while lcserver writes; synchronous=NORMAL keeps every
	// committed write across a crash of the process (SIGKILL), and busy_timeout waits for
	// an operator's open transaction instead of failing at once.
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1) // one owner; SQLite serialises writers anyway
	s := &Store{db: db}
	if err := s.migrate(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("store: %s: %w", path, err)
	}
	if _, err := db.Exec(`UPDATE bursts SET end_reason = ? WHERE end_reason IS NULL`, msg.BurstInterrupted); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("store: marking interrupted bursts: %w", err)
	}
	return s, nil
}

// Close closes the database (checkpointing the WAL into the main file).
func (s *Store) Close() error { return s.db.Close() }

// Version is the schema version of the open database.
func (s *Store) Version() (int, error) {
	var v int
	err := s.db.QueryRow(`PRAGMA user_version`).Scan(&v)
	return v, err
}

func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }

func parseTime(s string) (time.Time, error) { return time.Parse(timeFormat, s) }

// SaveChannel inserts or replaces a user-created channel.
func (s *Store) SaveChannel(c msg.StoredChannel) error {
	_, err := s.db.Exec(`INSERT INTO channels (channel_id, freq, channel_name, capacity, creator, created_at)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (channel_id) DO UPDATE SET freq = excluded.freq, channel_name = excluded.channel_name,
			capacity = excluded.capacity, creator = excluded.creator, created_at = excluded.created_at`,
		c.Spec.ChannelID, c.Spec.Freq, c.Spec.ChannelName, c.Spec.Capacity, c.Creator, formatTime(c.CreatedAt))
	if err != nil {
		return fmt.Errorf("save channel %s: %w", c.Spec.ChannelID, err)
	}
	return nil
}

// ForgetChannel deletes a channel's row and its chat; its bursts stay (the log is an audit
// trail of the air time, docs/history.md).
func (s *Store) ForgetChannel(id string) error {
	tx, err := s.db.Begin()
	if err != nil {
		return fmt.Errorf("forget channel %s: %w", id, err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.Exec(`DELETE FROM channels WHERE channel_id = ?`, id); err != nil {
		return fmt.Errorf("forget channel %s: %w", id, err)
	}
	if _, err := tx.Exec(`DELETE FROM messages WHERE channel_id = ?`, id); err != nil {
		return fmt.Errorf("forget chat of channel %s: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("forget channel %s: %w", id, err)
	}
	return nil
}

// Channels lists the stored channels by id.
func (s *Store) Channels() ([]msg.StoredChannel, error) {
	rows, err := s.db.Query(`SELECT channel_id, freq, channel_name, capacity, creator, created_at FROM channels ORDER BY channel_id`)
	if err != nil {
		return nil, fmt.Errorf("list channels: %w", err)
	}
	defer rows.Close()
	var out []msg.StoredChannel
	for rows.Next() {
		var c msg.StoredChannel
		var created string
		if err := rows.Scan(&c.Spec.ChannelID, &c.Spec.Freq, &c.Spec.ChannelName, &c.Spec.Capacity, &c.Creator, &created); err != nil {
			return nil, fmt.Errorf("list channels: %w", err)
		}
		if c.CreatedAt, err = parseTime(created); err != nil {
			return nil, fmt.Errorf("channel %s: created_at: %w", c.Spec.ChannelID, err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// BeginBurst inserts an open burst and returns its id.
func (s *Store) BeginBurst(b msg.BurstBegan) (int64, error) {
	res, err := s.db.Exec(`INSERT INTO bursts (channel_id, user_id, priority, emergency, granted_at) VALUES (?, ?, ?, ?, ?)`,
		b.ChannelID, b.UserID, b.Priority, b.Priority >= msg.PriorityEmergency, formatTime(b.At))
	if err != nil {
		return 0, fmt.Errorf("begin burst in %s: %w", b.ChannelID, err)
	}
	return res.LastInsertId()
}

// EndBurst closes burst id.
func (s *Store) EndBurst(id int64, e msg.BurstEnded) error {
	_, err := s.db.Exec(`UPDATE bursts SET ended_at = ?, end_reason = ?, packets = ? WHERE id = ?`,
		formatTime(e.At), e.Reason, int64(e.Packets), id)
	if err != nil {
		return fmt.Errorf("end burst %d: %w", id, err)
	}
	return nil
}

// SetRecording links burst id to its recording file (relative to the data directory).
func (s *Store) SetRecording(id int64, file string) error {
	if _, err := s.db.Exec(`UPDATE bursts SET recording = ? WHERE id = ?`, file, id); err != nil {
		return fmt.Errorf("link recording of burst %d: %w", id, err)
	}
	return nil
}

// UnlinkRecording forgets burst id's recording (its file was removed).
func (s *Store) UnlinkRecording(id int64) error {
	if _, err := s.db.Exec(`UPDATE bursts SET recording = NULL WHERE id = ?`, id); err != nil {
		return fmt.Errorf("unlink recording of burst %d: %w", id, err)
	}
	return nil
}

// Recording is the recording file of burst id, "" when it has none.
func (s *Store) Recording(id int64) (string, error) {
	var f sql.NullString
	err := s.db.QueryRow(`SELECT recording FROM bursts WHERE id = ?`, id).Scan(&f)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("recording of burst %d: %w", id, err)
	}
	return f.String, nil
}

// DefaultBurstLimit and MaxBurstLimit bound a burst listing.
const (
	DefaultBurstLimit = 100
	MaxBurstLimit     = 1000
)

// Bursts lists bursts newest first, filtered as q says.
func (s *Store) Bursts(q msg.ListBursts) ([]msg.Burst, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultBurstLimit
	}
	limit = min(limit, MaxBurstLimit)
	since := ""
	if !q.Since.IsZero() {
		since = formatTime(q.Since)
	}
	// Two statements rather than "(? = '' OR channel_id = ?)": SQLite cannot use the
	// (channel_id, granted_at) index through such an OR, and members ask for one channel at
	// every burst's end.
	const cols = `SELECT id, channel_id, user_id, priority, emergency, granted_at, ended_at, end_reason, packets, recording FROM bursts`
	var rows *sql.Rows
	var err error
	if q.ChannelID != "" {
		rows, err = s.db.Query(cols+` WHERE channel_id = ? AND granted_at >= ? ORDER BY granted_at DESC, id DESC LIMIT ?`,
			q.ChannelID, since, limit)
	} else {
		rows, err = s.db.Query(cols+` WHERE granted_at >= ? ORDER BY granted_at DESC, id DESC LIMIT ?`, since, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("list bursts: %w", err)
	}
	defer rows.Close()
	out := []msg.Burst{}
	for rows.Next() {
		var b msg.Burst
		var granted string
		var ended, reason, rec sql.NullString
		var packets int64
		if err := rows.Scan(&b.ID, &b.ChannelID, &b.UserID, &b.Priority, &b.Emergency, &granted, &ended, &reason, &packets, &rec); err != nil {
			return nil, fmt.Errorf("list bursts: %w", err)
		}
		if b.GrantedAt, err = parseTime(granted); err != nil {
			return nil, fmt.Errorf("burst %d: granted_at: %w", b.ID, err)
		}
		if ended.Valid {
			t, err := parseTime(ended.String)
			if err != nil {
				return nil, fmt.Errorf("burst %d: ended_at: %w", b.ID, err)
			}
			b.EndedAt = &t
			d := t.Sub(b.GrantedAt).Seconds()
			b.DurationS = &d
		}
		b.EndReason, b.Packets = reason.String, uint64(packets)
		if rec.Valid && rec.String != "" {
			b.Recording = fmt.Sprintf("/admin/recordings/%d.ogg", b.ID)
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// AddMessage stores a chat message.
func (s *Store) AddMessage(m msg.MessageEvent) error {
	_, err := s.db.Exec(`INSERT INTO messages (channel_id, message_id, user_id, content, sent_at) VALUES (?, ?, ?, ?, ?)`,
		m.ChannelID, m.MessageID, m.UserID, m.Content, m.Timestamp)
	if err != nil {
		return fmt.Errorf("store message in %s: %w", m.ChannelID, err)
	}
	return nil
}

// RecentMessages is the last n chat messages of every channel that has any, oldest first.
func (s *Store) RecentMessages(n int) (map[string][]msg.MessageEvent, error) {
	rows, err := s.db.Query(`SELECT channel_id, message_id, user_id, content, sent_at FROM (
			SELECT *, ROW_NUMBER() OVER (PARTITION BY channel_id ORDER BY id DESC) AS rn FROM messages
		) WHERE rn <= ? ORDER BY channel_id, id`, n)
	if err != nil {
		return nil, fmt.Errorf("recent messages: %w", err)
	}
	defer rows.Close()
	out := map[string][]msg.MessageEvent{}
	for rows.Next() {
		var m msg.MessageEvent
		if err := rows.Scan(&m.ChannelID, &m.MessageID, &m.UserID, &m.Content, &m.Timestamp); err != nil {
			return nil, fmt.Errorf("recent messages: %w", err)
		}
		out[m.ChannelID] = append(out[m.ChannelID], m)
	}
	return out, rows.Err()
}

// Prune deletes bursts granted and chat sent before cutoff; it returns how many rows went and
// the recording files of the deleted bursts (relative to the data directory), for the caller
// to remove.
func (s *Store) Prune(cutoff time.Time) (int64, []string, error) {
	c := formatTime(cutoff)
	var files []string
	rows, err := s.db.Query(`SELECT recording FROM bursts WHERE granted_at < ? AND end_reason IS NOT NULL AND recording IS NOT NULL`, c)
	if err != nil {
		return 0, nil, fmt.Errorf("prune recordings: %w", err)
	}
	for rows.Next() {
		var f string
		if err := rows.Scan(&f); err != nil {
			rows.Close()
			return 0, nil, fmt.Errorf("prune recordings: %w", err)
		}
		files = append(files, f)
	}
	rows.Close()
	r1, err := s.db.Exec(`DELETE FROM bursts WHERE granted_at < ? AND end_reason IS NOT NULL`, c)
	if err != nil {
		return 0, nil, fmt.Errorf("prune bursts: %w", err)
	}
	r2, err := s.db.Exec(`DELETE FROM messages WHERE sent_at < ?`, c)
	if err != nil {
		return 0, files, fmt.Errorf("prune messages: %w", err)
	}
	n1, _ := r1.RowsAffected()
	n2, _ := r2.RowsAffected()
	return n1 + n2, files, nil
}
