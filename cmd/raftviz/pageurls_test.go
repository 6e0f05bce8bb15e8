package main

import (
	"net"
	"testing"

	"github.com/stretchr/testify/require"
)

// A server listening on every interface prints addresses students can open:
// the machine's LAN addresses, never http://[::]:PORT/.
func TestPageURLsAreLANAddresses(t *testing.T) {
	cidr := func(s string) net.Addr {
		ip, n, err := net.ParseCIDR(s)
		require.NoError(t, err)
		n.IP = ip
		return n
	}
	got := lanURLs(18533, []net.Addr{
		cidr("127.0.0.1/8"), cidr("::1/128"), cidr("fe80::1/64"), cidr("169.254.3.4/16"),
		cidr("2001:db8::5/64"), cidr("192.168.1.20/24"), cidr("10.0.0.7/8"),
	})
	require.Equal(t, []string{"http://10.0.0.7:18533/", "http://192.168.1.20:18533/", "http://[2001:db8::5]:18533/"}, got)
	require.Equal(t, []string{"http://127.0.0.1:8080/"}, lanURLs(8080, nil), "no LAN address: the machine itself")

	require.Equal(t, []string{"http://127.0.0.1:8080/"}, pageURLs(&net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 8080}))
	for _, u := range pageURLs(&net.TCPAddr{IP: net.IPv6unspecified, Port: 8080}) {
		require.NotContains(t, u, "[::]")
		require.NotContains(t, u, "0.0.0.0")
	}
}
