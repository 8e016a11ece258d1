package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Buckets of the JetStream KV store the cluster uses.
const (
	OwnerBucket = "lc_owners" // channel id → the node owning the channel (a Lease)
	NodeBucket  = "lc_nodes"  // node id → NodeInfo, re-put every heartbeat
)

// ErrHeld is returned by Acquire when another node holds the lease.
var ErrHeld = errors.New("lease held by another node")

// ErrLost is returned by Renew and Release when the lease is no longer this holder's: it
// expired and someone else took it, or it was released.
var ErrLost = errors.New("lease lost")

// Lease is one held lease: the KV revision is the fencing token, so a renew or release by a
// holder whose lease expired and was taken fails instead of overwriting the new owner.
type Lease struct {
	Key      string
	Owner    string
	Revision uint64
}

// ownerRecord is the value stored under a lease key.
type ownerRecord struct {
	Node  string    `json:"node"`
	Since time.Time `json:"since"`
}

// Leases is a KV bucket of leases with one TTL. Acquire is a KV create (succeeds only when
// the key is absent, deleted or expired), renew is an update conditioned on the revision the
// holder last wrote, and a lease whose holder stops renewing ages out after TTL: the bucket's
// MaxAge. Every write restarts a key's age, so a renewed lease never expires.
type Leases struct {
	kv  jetstream.KeyValue
	ttl time.Duration
}

// BucketConfig is the KV configuration of a TTL bucket. Expiry leaves a marker (LimitMarkerTTL)
// so watchers learn at once that a key aged out, instead of polling for it.
func BucketConfig(name string, ttl time.Duration, replicas int) jetstream.KeyValueConfig {
	if replicas <= 0 {
		replicas = 1
	}
	return jetstream.KeyValueConfig{
		Bucket:         name,
		TTL:            ttl,
		LimitMarkerTTL: max(ttl, time.Second), // the server refuses markers under a second
		History:        1,
		Storage:        jetstream.MemoryStorage, // soft state: re-created by renewals
		Replicas:       replicas,
	}
}

// OpenLeases creates (or opens, when another node already did with the same settings) the
// lease bucket.
func OpenLeases(ctx context.Context, js jetstream.JetStream, bucket string, ttl time.Duration, replicas int) (*Leases, error) {
	if ttl < 100*time.Millisecond {
		return nil, fmt.Errorf("lease TTL %v is below 100 ms", ttl)
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, BucketConfig(bucket, ttl, replicas))
	if err != nil {
		return nil, fmt.Errorf("lease bucket %s: %w", bucket, err)
	}
	return &Leases{kv: kv, ttl: ttl}, nil
}

// TTL is how long a lease lives without renewal.
func (l *Leases) TTL() time.Duration { return l.ttl }

// Acquire takes the lease on key for owner if nobody holds it. ErrHeld means somebody does.
func (l *Leases) Acquire(ctx context.Context, key, owner string) (Lease, error) {
	v, _ := json.Marshal(ownerRecord{Node: owner, Since: time.Now().UTC()})
	rev, err := l.kv.Create(ctx, key, v)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return Lease{}, ErrHeld
	}
	if err != nil {
		return Lease{}, fmt.Errorf("acquire lease %s: %w", key, err)
	}
	return Lease{Key: key, Owner: owner, Revision: rev}, nil
}

// Renew rewrites the lease, restarting its TTL. ErrLost means it is no longer ours.
func (l *Leases) Renew(ctx context.Context, ls Lease) (Lease, error) {
	v, _ := json.Marshal(ownerRecord{Node: ls.Owner, Since: time.Now().UTC()})
	rev, err := l.kv.Update(ctx, ls.Key, v, ls.Revision)
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists) {
		return Lease{}, ErrLost
	}
	if err != nil {
		return Lease{}, fmt.Errorf("renew lease %s: %w", ls.Key, err)
	}
	ls.Revision = rev
	return ls, nil
}

// Release gives the lease up at once (a delete conditioned on our revision), so a contender
// need not wait for the TTL.
func (l *Leases) Release(ctx context.Context, ls Lease) error {
	err := l.kv.Delete(ctx, ls.Key, jetstream.LastRevision(ls.Revision))
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists) {
		return ErrLost
	}
	if err != nil {
		return fmt.Errorf("release lease %s: %w", ls.Key, err)
	}
	return nil
}

// Owner is the node holding key's lease, or "" when nobody does.
func (l *Leases) Owner(ctx context.Context, key string) (string, error) {
	e, err := l.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("lease %s: %w", key, err)
	}
	return decodeOwner(e), nil
}

// Watch streams every change of every lease (acquire, renew, release, expiry).
func (l *Leases) Watch(ctx context.Context) (jetstream.KeyWatcher, error) {
	return l.kv.WatchAll(ctx)
}

// decodeOwner is the owner node of a watched or read entry, "" for a delete, purge or expiry
// marker or a value this version cannot read.
func decodeOwner(e jetstream.KeyValueEntry) string {
	if e.Operation() != jetstream.KeyValuePut {
		return ""
	}
	var r ownerRecord
	if json.Unmarshal(e.Value(), &r) != nil {
		return ""
	}
	return r.Node
}
