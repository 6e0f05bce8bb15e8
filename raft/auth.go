package raft

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// AuthHeader is the HTTP header that carries a message's proof of origin:
//
//	Raft-Auth: v1 <from> <to> <epoch> <counter> <mac>
//
// mac is HMAC-SHA256, keyed with the cluster secret, of a fixed prefix, from,
// to, epoch and counter (8 bytes each, big-endian) and then the whole body.
// Changing any byte of the body or of those numbers changes the mac.
const AuthHeader = "Raft-Auth"

// MinSecretBytes is the shortest cluster secret accepted: 32 random bytes
// make the HMAC key as strong as SHA-256 allows.
const MinSecretBytes = 32

const authPrefix = "raftlab-rpc-v1\n"

// authenticator signs what one server sends and checks what it receives. It
// is the whole of the peer authentication; the HTTP transport only carries
// its header. See the package doc, "Peers authenticate", for the reasoning.
type authenticator struct {
	secret []byte
	self   NodeID
	peers  map[NodeID]bool // the other servers of the cluster
	epoch  uint64          // this boot of this server

	sendMu  sync.Mutex
	counter uint64 // the last counter this server signed

	recvMu sync.Mutex
	seen   map[NodeID]seenMark // the newest (epoch, counter) accepted from each peer
}

type seenMark struct{ epoch, counter uint64 }

func newAuthenticator(secret []byte, self NodeID, peers []Peer) (*authenticator, error) {
	if len(secret) < MinSecretBytes {
		return nil, fmt.Errorf("raft: the cluster secret is %d bytes long; give every server the same secret of at least %d random bytes (for example from `head -c 32 /dev/urandom | base64`)",
			len(secret), MinSecretBytes)
	}
	a := &authenticator{
		secret: append([]byte(nil), secret...),
		self:   self,
		peers:  map[NodeID]bool{},
		// The epoch orders this boot after every earlier boot of this server, as
		// long as its clock does not go back (see the package doc).
		epoch: uint64(time.Now().UnixNano()),
		seen:  map[NodeID]seenMark{},
	}
	for _, p := range peers {
		if p.ID != self {
			a.peers[p.ID] = true
		}
	}
	return a, nil
}

func (a *authenticator) mac(from, to NodeID, epoch, counter uint64, body []byte) []byte {
	h := hmac.New(sha256.New, a.secret)
	var nums [32]byte
	binary.BigEndian.PutUint64(nums[0:], uint64(from))
	binary.BigEndian.PutUint64(nums[8:], uint64(to))
	binary.BigEndian.PutUint64(nums[16:], epoch)
	binary.BigEndian.PutUint64(nums[24:], counter)
	h.Write([]byte(authPrefix))
	h.Write(nums[:])
	h.Write(body)
	return h.Sum(nil)
}

// sign returns the header value that proves body, sent to to, comes from this server.
func (a *authenticator) sign(to NodeID, body []byte) string {
	a.sendMu.Lock()
	a.counter++
	counter := a.counter
	a.sendMu.Unlock()
	return fmt.Sprintf("v1 %d %d %d %d %s", a.self, to, a.epoch, counter,
		hex.EncodeToString(a.mac(a.self, to, a.epoch, counter, body)))
}

// errRefused marks a message refused as unauthenticated, tampered or replayed.
var errRefused = errors.New("raft: message refused")

// verify checks header against body and, if they hold, records the message as
// seen. It returns who sent it. It refuses a header that is missing or
// malformed, names a server that is not a peer or a receiver that is not this
// server, fails its mac (a wrong secret or a changed byte), or repeats or
// predates a message already accepted from that sender.
func (a *authenticator) verify(header string, body []byte) (from NodeID, err error) {
	refuse := func(format string, args ...any) (NodeID, error) {
		return None, fmt.Errorf("%w: "+format, append([]any{errRefused}, args...)...)
	}
	if header == "" {
		return refuse("no %s header: every server of the cluster must be given the cluster secret", AuthHeader)
	}
	if len(header) > 200 {
		return refuse("the %s header is %d bytes long, far more than a valid one", AuthHeader, len(header))
	}
	f := strings.Fields(header)
	if len(f) != 6 || f[0] != "v1" {
		return refuse("the %s header is not \"v1 from to epoch counter mac\"", AuthHeader)
	}
	var nums [4]uint64
	for i := range nums {
		n, perr := strconv.ParseUint(f[i+1], 10, 64)
		if perr != nil {
			return refuse("the %s header has %q where a number belongs", AuthHeader, f[i+1])
		}
		nums[i] = n
	}
	sender, to, epoch, counter := NodeID(nums[0]), NodeID(nums[1]), nums[2], nums[3]
	if nums[0] > 1<<31 || !a.peers[sender] {
		return refuse("the sender %d is not a peer of %v", nums[0], a.self)
	}
	if to != a.self {
		return refuse("a message for %d arrived at %v", nums[1], a.self)
	}
	got, herr := hex.DecodeString(f[5])
	if herr != nil || !hmac.Equal(got, a.mac(sender, to, epoch, counter, body)) {
		return refuse("the message from %v fails its authentication: it was changed on the way, or the sender has another cluster secret", sender)
	}
	a.recvMu.Lock()
	defer a.recvMu.Unlock()
	last := a.seen[sender]
	switch {
	case epoch < last.epoch:
		return refuse("a message from an earlier boot of %v (a replay, or its clock went back)", sender)
	case epoch == last.epoch && counter <= last.counter:
		return refuse("message %d from %v repeats or predates message %d, already received (a replay)", counter, sender, last.counter)
	}
	a.seen[sender] = seenMark{epoch, counter}
	return sender, nil
}
