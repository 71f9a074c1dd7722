package cimd

import (
	"net/netip"
	"testing"
)

// These only classify values; nothing is dialed.
func TestPublicUnicast(t *testing.T) {
	tests := []struct {
		addr string
		want string // classify's phrase; "" for public
	}{
		{"93.184.215.14", ""},
		{"8.8.8.8", ""},
		{"1.1.1.1", ""},
		{"100.63.255.255", ""}, // just below CGNAT
		{"100.128.0.0", ""},    // just above
		{"172.15.255.255", ""}, // just below 172.16/12
		{"172.32.0.0", ""},     // just above
		{"192.0.3.1", ""},
		{"223.255.255.255", ""},
		{"2606:4700::1111", ""},
		{"2a00:1450:4001:82a::200e", ""},
		{"::ffff:8.8.8.8", ""},   // mapped public stays public
		{"64:ff9b::808:808", ""}, // NAT64 of 8.8.8.8 (DNS64 networks)
		{"2001:4860:4860::8888", ""},

		{"0.0.0.0", "the unspecified address"},
		{"0.255.255.255", `a "this network" address`},
		{"10.255.255.255", "a private address"},
		{"100.64.0.0", "a shared (carrier-grade NAT) address"},
		{"100.100.100.200", "a shared (carrier-grade NAT) address"}, // Alibaba Cloud metadata
		{"127.0.0.1", "a loopback address"},
		{"169.254.169.254", "a link-local address"},
		{"172.16.0.0", "a private address"},
		{"192.0.0.8", "a reserved address"},
		{"192.0.2.255", "a documentation address"},
		{"192.88.99.1", "a reserved address"},
		{"192.168.0.1", "a private address"},
		{"198.19.255.255", "a benchmarking address"},
		{"198.51.100.7", "a documentation address"},
		{"203.0.113.10", "a documentation address"},
		{"239.255.255.250", "a multicast address"},
		{"255.255.255.255", "the broadcast address"},
		{"250.1.2.3", "a reserved address"},
		{"::", "the unspecified address"},
		{"::1", "a loopback address"},
		{"::127.0.0.1", "a reserved address"}, // IPv4-compatible, deprecated
		{"::ffff:169.254.169.254", "a link-local address"},
		{"::ffff:0.0.0.0", "the unspecified address"},
		{"64:ff9b::7f00:1", "a loopback address"},
		{"64:ff9b::c0a8:101", "a private address"},
		{"64:ff9b:1::a00:1", "a NAT64 local-use address"},
		{"100::1", "a reserved address"}, // discard-only
		{"fc00::1", "a private (unique local) address"},
		{"fdff:ffff::1", "a private (unique local) address"},
		{"fe80::1", "a link-local address"},
		{"febf::1", "a link-local address"},
		{"fec0::1", "a site-local address"},
		{"ff05::2", "a multicast address"},
		{"2001:db8::", "a documentation address"},
		{"3fff::1", "a documentation address"},
		{"2001::1", "a reserved address"},
		{"2001:2::1", "a reserved address"}, // benchmarking
		{"2002:7f00:1::", "a 6to4 address"},
		{"5f00::1", "a reserved address"}, // SRv6 SIDs, outside 2000::/3
		{"4000::1", "a reserved address"},
	}
	for _, tt := range tests {
		a := netip.MustParseAddr(tt.addr)
		if got := classify(a); got != tt.want {
			t.Errorf("classify(%s) = %q, want %q", tt.addr, got, tt.want)
		}
		if got := PublicUnicast(a); got != (tt.want == "") {
			t.Errorf("PublicUnicast(%s) = %v", tt.addr, got)
		}
	}
	if PublicUnicast(netip.Addr{}) {
		t.Error("PublicUnicast(zero Addr) = true")
	}
}
