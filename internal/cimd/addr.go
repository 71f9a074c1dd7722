package cimd

import "net/netip"

// PublicUnicast reports whether a is a globally routable unicast address,
// the only kind a client metadata URL may resolve to by default.
//
// Draft §6.5 requires refusing the special-use addresses of RFC 6890; this
// follows the IANA special-purpose address registries that RFC 6890 set up,
// and refuses every range whose addresses are not "globally reachable" or
// that reach the server's own networks: loopback, RFC 1918 and unique-local
// private ranges, link-local (where cloud metadata services live), shared
// CGNAT space, unspecified and "this network", multicast, broadcast,
// documentation, benchmarking and reserved ranges. IPv6 outside 2000::/3 is
// refused wholesale. An IPv4-mapped IPv6 address (::ffff:a.b.c.d) and a
// NAT64 address under the well-known prefix 64:ff9b::/96 (RFC 6052) are
// judged by the IPv4 address they carry, so neither can smuggle 127.0.0.1
// or 10.0.0.1 past the check.
func PublicUnicast(a netip.Addr) bool {
	return classify(a) == ""
}

// classify names the kind of special-use address a is, as a phrase that
// completes "the client metadata URL resolves to …"; "" means a is public
// unicast.
func classify(a netip.Addr) string {
	if !a.IsValid() {
		return "an invalid address"
	}
	// Prefix.Contains never matches an address with a zone; the zone does
	// not change which range the address is in.
	a = a.WithZone("")
	if a.Is4In6() {
		a = a.Unmap()
	}
	if a.Is4() {
		return classify4(a)
	}
	if nat64.Contains(a) {
		b := a.As16()
		return classify4(netip.AddrFrom4([4]byte(b[12:])))
	}
	for _, r := range special6 {
		if r.prefix.Contains(a) {
			return r.class
		}
	}
	if !globalUnicast6.Contains(a) {
		return "a reserved address"
	}
	return ""
}

func classify4(a netip.Addr) string {
	if a == netip.IPv4Unspecified() {
		return "the unspecified address"
	}
	for _, r := range special4 {
		if r.prefix.Contains(a) {
			return r.class
		}
	}
	return ""
}

type addrRange struct {
	prefix netip.Prefix
	class  string
}

// special4 is the IANA IPv4 Special-Purpose Address Registry (RFC 6890 and
// its updates), less the few entries marked globally reachable (AS112,
// AMT), which no web server lives in but which are not a threat either.
var special4 = []addrRange{
	{netip.MustParsePrefix("0.0.0.0/8"), `a "this network" address`},                 // RFC 791
	{netip.MustParsePrefix("10.0.0.0/8"), "a private address"},                       // RFC 1918
	{netip.MustParsePrefix("100.64.0.0/10"), "a shared (carrier-grade NAT) address"}, // RFC 6598
	{netip.MustParsePrefix("127.0.0.0/8"), "a loopback address"},                     // RFC 1122
	{netip.MustParsePrefix("169.254.0.0/16"), "a link-local address"},                // RFC 3927
	{netip.MustParsePrefix("172.16.0.0/12"), "a private address"},                    // RFC 1918
	{netip.MustParsePrefix("192.0.0.0/24"), "a reserved address"},                    // RFC 6890 IETF protocol assignments
	{netip.MustParsePrefix("192.0.2.0/24"), "a documentation address"},               // RFC 5737
	{netip.MustParsePrefix("192.88.99.0/24"), "a reserved address"},                  // RFC 7526 deprecated 6to4 relay
	{netip.MustParsePrefix("192.168.0.0/16"), "a private address"},                   // RFC 1918
	{netip.MustParsePrefix("198.18.0.0/15"), "a benchmarking address"},               // RFC 2544
	{netip.MustParsePrefix("198.51.100.0/24"), "a documentation address"},            // RFC 5737
	{netip.MustParsePrefix("203.0.113.0/24"), "a documentation address"},             // RFC 5737
	{netip.MustParsePrefix("224.0.0.0/4"), "a multicast address"},                    // RFC 5771
	{netip.MustParsePrefix("255.255.255.255/32"), "the broadcast address"},           // RFC 919; before 240/4
	{netip.MustParsePrefix("240.0.0.0/4"), "a reserved address"},                     // RFC 1112
}

var (
	// nat64 is the well-known NAT64 prefix; RFC 6052 §3.1 allows it only
	// with global IPv4 addresses, which classify checks.
	nat64 = netip.MustParsePrefix("64:ff9b::/96")
	// globalUnicast6 is the only IPv6 space IANA allocates for global
	// unicast; everything outside it is special in some way.
	globalUnicast6 = netip.MustParsePrefix("2000::/3")
)

// special6 names the IPv6 ranges worth naming, and the special ranges
// inside 2000::/3 (the IANA IPv6 Special-Purpose Address Registry).
var special6 = []addrRange{
	{netip.MustParsePrefix("::/128"), "the unspecified address"},            // RFC 4291
	{netip.MustParsePrefix("::1/128"), "a loopback address"},                // RFC 4291
	{netip.MustParsePrefix("64:ff9b:1::/48"), "a NAT64 local-use address"},  // RFC 8215
	{netip.MustParsePrefix("fc00::/7"), "a private (unique local) address"}, // RFC 4193
	{netip.MustParsePrefix("fe80::/10"), "a link-local address"},            // RFC 4291
	{netip.MustParsePrefix("fec0::/10"), "a site-local address"},            // RFC 3879
	{netip.MustParsePrefix("ff00::/8"), "a multicast address"},              // RFC 4291
	{netip.MustParsePrefix("2001:db8::/32"), "a documentation address"},     // RFC 3849
	{netip.MustParsePrefix("3fff::/20"), "a documentation address"},         // RFC 9637
	{netip.MustParsePrefix("2001::/23"), "a reserved address"},              // RFC 2928: Teredo, benchmarking, ORCHID
	{netip.MustParsePrefix("2002::/16"), "a 6to4 address"},                  // RFC 3056, deprecated by RFC 7526; embeds any IPv4
}
