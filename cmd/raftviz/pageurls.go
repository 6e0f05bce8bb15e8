package main

import (
	"net"
	"net/netip"
	"slices"
)

// pageURLs returns the addresses at which a browser can open the page served
// by a listener at addr. A listener on every interface (-addr :8080,
// 0.0.0.0:8080, [::]:8080) has no address a student can type — "[::]" is
// not one — so it gets one per address of the machine on its networks:
// IPv4 first, then global IPv6; loopback and link-local addresses left out.
// With none found, the machine's own name for itself, localhost.
func pageURLs(addr net.Addr) []string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok || !tcp.IP.IsUnspecified() {
		return []string{"http://" + addr.String() + "/"}
	}
	ifaddrs, _ := net.InterfaceAddrs() // none known: localhost below
	return lanURLs(tcp.Port, ifaddrs)
}

// lanURLs is pageURLs for a listener on every interface at port, given the
// machine's interface addresses.
func lanURLs(port int, ifaddrs []net.Addr) []string {
	var v4, v6 []netip.Addr
	for _, a := range ifaddrs {
		ipnet, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(ipnet.IP)
		if !ok {
			continue
		}
		ip = ip.Unmap()
		switch {
		case ip.IsLoopback(), ip.IsLinkLocalUnicast(), ip.IsUnspecified(), ip.IsMulticast():
		case ip.Is4():
			v4 = append(v4, ip)
		default:
			v6 = append(v6, ip)
		}
	}
	slices.SortFunc(v4, netip.Addr.Compare)
	slices.SortFunc(v6, netip.Addr.Compare)
	var urls []string
	for _, ip := range append(v4, v6...) {
		urls = append(urls, "http://"+netip.AddrPortFrom(ip, uint16(port)).String()+"/")
	}
	if len(urls) == 0 {
		urls = []string{"http://" + netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)).String() + "/"}
	}
	return urls
}
