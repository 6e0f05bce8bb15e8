// Package kv is a small replicated key/value service on top of the real-time
// Raft runtime: the state machine (Store), its HTTP front (Service), a client
// that finds the leader and retries (Client), and a linearizability check of a
// recorded client history (Check, with porcupine).
//
// Every request — reads included — is a command in the Raft log, so a server
// answers only once the command is committed and applied: a read sees every
// write acknowledged before it began (the reads are linearizable without a
// read-index or lease scheme, at the cost of one log round per read).
//
// A client may send the same request twice (its answer was lost, the leader
// changed): each request carries the client's ID and a sequence number, and
// the Store applies a client's sequence number once, answering a repeat with
// the first answer. That table is part of the replicated state — every server
// builds it from the same log — so it survives a change of leader and a
// restart, as section 8 of the Raft paper asks.
package kv

import (
	"encoding/json"
	"fmt"
)

// The operations a Command carries.
const (
	OpPut    = "put"
	OpGet    = "get"
	OpDelete = "delete"
)

// Limits on what a client may store, so one request cannot exhaust a server.
const (
	MaxKeyBytes   = 1 << 10
	MaxValueBytes = 64 << 10
)

// Command is one client request, as it travels in the Raft log.
type Command struct {
	Op    string `json:"op"`
	Key   string `json:"key"`
	Value string `json:"value,omitempty"`
	// Client and Seq identify the request for duplicate detection: a client
	// numbers its requests 1, 2, 3... and sends the next only after the
	// previous one was answered. Client 0 asks for no duplicate detection.
	Client uint64 `json:"client,omitempty"`
	Seq    uint64 `json:"seq,omitempty"`
}

// Validate says what is wrong with c, in one sentence, or nil.
func (c Command) Validate() error {
	switch {
	case c.Op != OpPut && c.Op != OpGet && c.Op != OpDelete:
		return fmt.Errorf("kv: unknown operation %q: use put, get or delete", c.Op)
	case c.Key == "":
		return fmt.Errorf("kv: the key is empty: name the key to %s", c.Op)
	case len(c.Key) > MaxKeyBytes:
		return fmt.Errorf("kv: the key is %d bytes long; keep it under %d", len(c.Key), MaxKeyBytes)
	case len(c.Value) > MaxValueBytes:
		return fmt.Errorf("kv: the value is %d bytes long; keep it under %d", len(c.Value), MaxValueBytes)
	case c.Op != OpPut && c.Value != "":
		return fmt.Errorf("kv: a %s carries no value", c.Op)
	case (c.Client == 0) != (c.Seq == 0):
		return fmt.Errorf("kv: give both client and seq (for duplicate detection), or neither")
	}
	return nil
}

// Result is what applying a Command gave.
type Result struct {
	// Value is the key's value before a delete, or at a get.
	Value string `json:"value,omitempty"`
	// Found says whether the key had a value (at a get or a delete; a put
	// reports whether it replaced one).
	Found bool `json:"found"`
	// Duplicate says the request had been applied already: this is the
	// answer it had then.
	Duplicate bool `json:"duplicate,omitempty"`
}

// session is what the Store remembers of one client: its newest request and
// that request's answer.
type session struct {
	seq    uint64
	result Result
}

// Store is the replicated state machine: the map, and the answers to each
// client's newest request. Every server applies the same commands in the same
// order, so every Store holds the same state at the same index.
// It is not safe for concurrent use.
type Store struct {
	data     map[string]string
	sessions map[uint64]session
	applied  uint64
}

// NewStore returns an empty store.
func NewStore() *Store {
	return &Store{data: map[string]string{}, sessions: map[uint64]session{}}
}

// Applied is the index of the last entry applied.
func (s *Store) Applied() uint64 { return s.applied }

// Len is the number of keys held.
func (s *Store) Len() int { return len(s.data) }

// Apply applies the log entry at index holding cmd. An entry that is not a
// valid command (a leader's empty entry of its term, or garbage) changes
// nothing; ok says whether it was a command.
func (s *Store) Apply(index uint64, cmd []byte) (res Result, ok bool) {
	s.applied = index
	var c Command
	if len(cmd) == 0 || json.Unmarshal(cmd, &c) != nil || c.Validate() != nil {
		return Result{}, false
	}
	if c.Client != 0 {
		if last, seen := s.sessions[c.Client]; seen && c.Seq <= last.seq {
			// Applied already. An older seq than the newest can only be a
			// very late copy: its client has moved on and reads no answer.
			r := last.result
			r.Duplicate = true
			return r, true
		}
	}
	res = s.exec(c)
	if c.Client != 0 {
		s.sessions[c.Client] = session{seq: c.Seq, result: res}
	}
	return res, true
}

func (s *Store) exec(c Command) Result {
	old, found := s.data[c.Key]
	switch c.Op {
	case OpPut:
		s.data[c.Key] = c.Value
		return Result{Found: found}
	case OpDelete:
		delete(s.data, c.Key)
	}
	return Result{Value: old, Found: found}
}

// storeSnapshot is a Store as its snapshot holds it (stage 4): the map, the
// answers to each client's newest request — a restored server must answer a
// retried request as the others do — and the index applied.
type storeSnapshot struct {
	Applied  uint64                   `json:"applied"`
	Data     map[string]string        `json:"data"`
	Sessions map[uint64]sessionRecord `json:"sessions,omitempty"`
}

type sessionRecord struct {
	Seq    uint64 `json:"seq"`
	Result Result `json:"result"`
}

// Snapshot encodes the store's whole state. The same state always encodes to
// the same bytes (JSON sorts map keys), so servers' snapshots can be compared.
func (s *Store) Snapshot() ([]byte, error) {
	snap := storeSnapshot{Applied: s.applied, Data: s.data, Sessions: make(map[uint64]sessionRecord, len(s.sessions))}
	for c, ses := range s.sessions {
		snap.Sessions[c] = sessionRecord{Seq: ses.seq, Result: ses.result}
	}
	return json.Marshal(snap)
}

// Restore replaces the store's state with a snapshot Snapshot made.
func (s *Store) Restore(data []byte) error {
	var snap storeSnapshot
	if err := json.Unmarshal(data, &snap); err != nil {
		return fmt.Errorf("kv: the snapshot does not decode: %w", err)
	}
	if snap.Data == nil {
		snap.Data = map[string]string{}
	}
	sessions := make(map[uint64]session, len(snap.Sessions))
	for c, r := range snap.Sessions {
		sessions[c] = session{seq: r.Seq, result: r.Result}
	}
	s.data, s.sessions, s.applied = snap.Data, sessions, snap.Applied
	return nil
}
