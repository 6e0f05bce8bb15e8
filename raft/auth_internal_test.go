package raft

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var testSecret = []byte("a test secret of 32 bytes or more, never use it")

func testAuth(t *testing.T, self NodeID, secret []byte, epoch uint64) *authenticator {
	t.Helper()
	a, err := newAuthenticator(secret, self, []Peer{{ID: 1}, {ID: 2}, {ID: 3}})
	require.NoError(t, err)
	a.epoch = epoch
	return a
}

// TestAuthenticatorRefuses: a signed message is accepted once; a changed
// byte, a changed number, another secret, a repeat, an older message and a
// message from an earlier boot of its sender are each refused.
func TestAuthenticatorRefuses(t *testing.T) {
	body := []byte(`{"type":"AppendEntries","from":1,"to":2,"term":3}`)
	n1 := testAuth(t, 1, testSecret, 100)
	n2 := testAuth(t, 2, testSecret, 500)

	first := n1.sign(2, body)
	second := n1.sign(2, body)
	from, err := n2.verify(second, body)
	require.NoError(t, err)
	require.Equal(t, NodeID(1), from)

	other := testAuth(t, 1, []byte(strings.Repeat("x", MinSecretBytes)), 100)
	other.counter = 50
	tampered := []byte(strings.Replace(string(body), `"term":3`, `"term":4`, 1))
	reboot := testAuth(t, 1, testSecret, 200) // n1 restarted: a later epoch
	rebootMsg := reboot.sign(2, body)
	fields := strings.Fields(n1.sign(2, body))
	fields[1] = "3" // claim another sender
	for _, tc := range []struct {
		name, header string
		body         []byte
		want         string
	}{
		{"no header", "", body, "no Raft-Auth header"},
		{"garbage", "v1 1 2 x y z", body, "where a number belongs"},
		{"not a peer", "v1 9 2 1 1 00", body, "sender 9 is not a peer of n2"},
		{"not for me", "v1 1 3 1 1 00", body, "a message for 3 arrived at n2"},
		{"changed body", n1.sign(2, body), tampered, "fails its authentication"},
		{"changed sender", strings.Join(fields, " "), body, "fails its authentication"},
		{"another secret", other.sign(2, body), body, "fails its authentication"},
		{"replayed", second, body, "repeats or predates message 2"},
		{"older", first, body, "repeats or predates message 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := n2.verify(tc.header, tc.body)
			require.ErrorIs(t, err, errRefused)
			require.ErrorContains(t, err, tc.want)
		})
	}

	// A restarted sender is accepted at once; its earlier boot is refused from then on.
	_, err = n2.verify(rebootMsg, body)
	require.NoError(t, err, "a restarted sender must not be refused")
	_, err = n2.verify(n1.sign(2, body), body)
	require.ErrorContains(t, err, "an earlier boot of n1")
}

func TestAuthenticatorNeedsALongSecret(t *testing.T) {
	_, err := newAuthenticator([]byte("short"), 1, nil)
	require.ErrorContains(t, err, "raft: the cluster secret is 5 bytes long")
}
