// Package cimd fetches OAuth Client ID Metadata Documents: a client whose
// client_id is an HTTPS URL publishes its metadata (name, redirect URIs, …)
// at that URL, and the authorization server fetches it instead of keeping a
// registration (draft-ietf-oauth-client-id-metadata-document, which the MCP
// authorization spec adopts from revision 2025-11-25).
//
// The client picks the URL, so the fetch is a server-side request forgery
// vector; Fetcher is built around that. The address policy is enforced at
// the dialer: the host name is resolved once, every address is vetted, and
// the connection goes to a vetted address, so a DNS answer that changes
// between check and connect (rebinding) cannot steer it. Redirects are not
// followed, no proxy is used, and the time and bytes spent are bounded.
//
// Section numbers cite draft -01 (March 2026); -00, which MCP references,
// numbers the same rules the same way. Later revisions renumber them.
//
// Every refusal is an *Error: the authorization server answers
// invalid_client with its message.
package cimd

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sync/singleflight"
)

// Defaults of the Fetcher options.
const (
	// DefaultTimeout bounds a whole fetch: resolving, connecting, TLS,
	// headers and body.
	DefaultTimeout = 5 * time.Second
	// DefaultMaxBytes is draft §6.6's recommended maximum response size,
	// "5 kilobytes", read as 5 KiB.
	DefaultMaxBytes = 5 << 10
	// DefaultMinCacheTTL keeps a document at least this long even when its
	// server says max-age=0, so a client cannot make every authorization
	// request cost an outbound fetch (draft §4.4 allows a lower bound).
	DefaultMinCacheTTL = time.Minute
	// DefaultCacheTTL applies when the response has neither max-age nor
	// Expires.
	DefaultCacheTTL = 5 * time.Minute
	// DefaultMaxCacheTTL caps what the client's server may ask for, so a
	// changed document is picked up within a day.
	DefaultMaxCacheTTL = 24 * time.Hour
	// DefaultCacheSize bounds the number of cached URLs.
	DefaultCacheSize = 1000
)

// maxHeaderBytes bounds the response header block: the body is 5 KiB, and
// nothing the fetch needs lives in large headers.
const maxHeaderBytes = 16 << 10

const userAgent = "mcp-2coffee (client metadata fetcher)"

// Resolver looks up the addresses of a host name. *net.Resolver implements
// it.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Fetcher fetches, validates and caches client metadata documents. The
// zero value is ready to use with the defaults. Set fields before the first
// Fetch and leave them alone afterwards; a Fetcher must not be copied after
// first use. It is safe for concurrent use.
type Fetcher struct {
	// Timeout bounds each fetch from DNS lookup to the last body byte;
	// zero means DefaultTimeout.
	Timeout time.Duration
	// MaxBytes is the largest document accepted; larger ones are refused
	// without being read in full. Zero means DefaultMaxBytes.
	MaxBytes int64

	// MinCacheTTL and MaxCacheTTL bound how long a document is reused,
	// whatever its Cache-Control or Expires says; DefaultCacheTTL applies
	// when it says nothing. Zero means the Default* constant; a negative
	// MinCacheTTL means no lower bound. A response marked no-store or
	// no-cache is never reused.
	MinCacheTTL, DefaultCacheTTL, MaxCacheTTL time.Duration
	// FailureCacheTTL, when positive, makes a failed fetch answer the same
	// error for that long without trying again. Zero, the default, caches
	// no failures, as draft §4.4 requires ("MUST NOT cache error
	// responses"); concurrent fetches of one URL are merged either way.
	// Turn it on only to blunt a flood of requests naming a slow host.
	FailureCacheTTL time.Duration
	// CacheSize bounds the number of cached URLs; zero means
	// DefaultCacheSize.
	CacheSize int

	// Resolver resolves host names; nil means net.DefaultResolver.
	Resolver Resolver
	// DialHook opens the TCP connection to an address that passed Allow;
	// nil means a net.Dialer, which checks Allow again on the socket
	// before connecting. Tests replace it to redirect or record dials.
	DialHook func(ctx context.Context, network string, addr netip.AddrPort) (net.Conn, error)
	// Allow decides which addresses may be connected to. A host is
	// refused if any of its addresses is refused. It sees IPv4-mapped
	// addresses as plain IPv4. nil means PublicUnicast.
	// Draft §6.5 permits one exception a custom policy can express: a
	// server itself running on loopback may fetch from that same loopback
	// address.
	Allow func(netip.Addr) bool
	// RootCAs verifies the servers' certificates; nil means the system
	// roots.
	RootCAs *x509.CertPool
	// Now is the clock for cache expiry; nil means time.Now.
	Now func() time.Time

	// MaxInFlight bounds the fetches running at once across all URLs
	// (default 16): the client_id is the caller's choice, so without a
	// cap a flood of distinct URLs would make the server open any number
	// of outbound connections. A fetch that finds no slot fails at once.
	MaxInFlight int

	slots  chan struct{}
	once   sync.Once
	client *http.Client
	ttl    ttlPolicy
	group  singleflight.Group
	cache  cache

	// joined, if set, is called when a Fetch starts waiting for a fetch in
	// flight; tests use it to know that callers have piled up.
	joined func()
}

func (f *Fetcher) init() {
	f.ttl = ttlPolicy{min: DefaultMinCacheTTL, def: DefaultCacheTTL, max: DefaultMaxCacheTTL}
	switch {
	case f.MinCacheTTL < 0:
		f.ttl.min = 0
	case f.MinCacheTTL > 0:
		f.ttl.min = f.MinCacheTTL
	}
	if f.DefaultCacheTTL > 0 {
		f.ttl.def = f.DefaultCacheTTL
	}
	if f.MaxCacheTTL > 0 {
		f.ttl.max = f.MaxCacheTTL
	}
	f.ttl.min = min(f.ttl.min, f.ttl.max)
	n := f.MaxInFlight
	if n <= 0 {
		n = DefaultMaxInFlight
	}
	f.slots = make(chan struct{}, n)
	f.cache.size = DefaultCacheSize
	if f.CacheSize > 0 {
		f.cache.size = f.CacheSize
	}

	var protocols http.Protocols
	protocols.SetHTTP1(true)
	t := &http.Transport{
		// Never a proxy from the environment: it would dial on our
		// behalf, past the address check.
		Proxy:       nil,
		DialContext: f.dialContext,
		TLSClientConfig: &tls.Config{
			RootCAs:    f.RootCAs,
			MinVersion: tls.VersionTLS12,
		},
		// One request per connection: fetches are rare (cached), and a
		// pooled connection would outlive the address check it passed.
		DisableKeepAlives: true,
		// No Accept-Encoding, so MaxBytes bounds the bytes on the wire and
		// there is no decompression to bomb.
		DisableCompression:     true,
		MaxResponseHeaderBytes: maxHeaderBytes,
		Protocols:              &protocols,
	}
	f.client = &http.Client{
		Transport: t,
		// Draft-01 §4: the server MUST NOT follow redirects. Returning
		// the 3xx itself lets fetch report it.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func (f *Fetcher) timeout() time.Duration {
	if f.Timeout > 0 {
		return f.Timeout
	}
	return DefaultTimeout
}

func (f *Fetcher) maxBytes() int64 {
	if f.MaxBytes > 0 {
		return f.MaxBytes
	}
	return DefaultMaxBytes
}

func (f *Fetcher) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

func (f *Fetcher) allowed(a netip.Addr) bool {
	if f.Allow != nil {
		return f.Allow(a)
	}
	return PublicUnicast(a)
}

// Fetch returns the validated metadata document of clientID, from the cache
// when fresh. The returned Document is the caller's to modify.
//
// A refused client yields an *Error (see the Err* reasons). If ctx ends
// first, Fetch returns ctx.Err(), which is not the client's fault; the
// fetch itself carries on, bounded by Timeout, so its result is cached for
// the next caller. Concurrent calls for one URL share one fetch.
func (f *Fetcher) Fetch(ctx context.Context, clientID string) (*Document, error) {
	f.once.Do(f.init)
	u, err := ValidateClientID(clientID)
	if err != nil {
		return nil, err
	}
	// An IP literal is refused here, before any I/O; the dialer would
	// refuse it too.
	if a, err := netip.ParseAddr(u.Hostname()); err == nil && !f.allowed(a.Unmap()) {
		return nil, f.blocked(a.Unmap(), u.Hostname())
	}
	// A caller that has already given up starts no fetch.
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if doc, err, ok := f.cache.get(clientID, f.now()); ok {
		if err != nil {
			return nil, err
		}
		return doc.clone(), nil
	}

	// The fetch runs detached from ctx: callers share it, and one caller
	// giving up must not fail the others.
	detached := context.WithoutCancel(ctx)
	ch := f.group.DoChan(clientID, func() (any, error) {
		return f.fetchAndCache(detached, clientID)
	})
	if f.joined != nil {
		f.joined()
	}
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*Document).clone(), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// DefaultMaxInFlight is the default of Fetcher.MaxInFlight.
const DefaultMaxInFlight = 16

func (f *Fetcher) fetchAndCache(ctx context.Context, clientID string) (*Document, error) {
	select {
	case f.slots <- struct{}{}:
		defer func() { <-f.slots }()
	default:
		// Busy is not the client's fault and is not cached.
		return nil, refuse(ErrBusy, nil, "the server is fetching too many client metadata documents; try again shortly")
	}
	doc, header, err := f.fetch(ctx, clientID)
	now := f.now()
	if err != nil {
		if f.FailureCacheTTL > 0 {
			f.cache.put(clientID, nil, err, now.Add(f.FailureCacheTTL))
		}
		return nil, err
	}
	if ttl, ok := f.ttl.lifetime(header, now); ok {
		f.cache.put(clientID, doc, nil, now.Add(ttl))
	} else {
		f.cache.remove(clientID)
	}
	return doc, nil
}

// fetch performs one GET of clientID and validates the response.
func (f *Fetcher) fetch(ctx context.Context, clientID string) (*Document, http.Header, error) {
	ctx, cancel := context.WithTimeout(ctx, f.timeout())
	defer cancel()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, clientID, nil)
	if err != nil { // ValidateClientID let it through, so this is a bug
		return nil, nil, refuse(ErrInvalidURL, err, "the client_id URL cannot be parsed")
	}
	// application/cimd+json is the media type later drafts ask servers to
	// request; plain JSON is what every deployed client serves.
	req.Header.Set("Accept", "application/cimd+json, application/json")
	req.Header.Set("User-Agent", userAgent)

	resp, err := f.client.Do(req)
	if err != nil {
		return nil, nil, f.transportError(ctx, err)
	}
	defer resp.Body.Close()

	switch code := resp.StatusCode; {
	case code == http.StatusOK:
	case code >= 300 && code < 400:
		return nil, nil, refuse(ErrRedirect, nil,
			"the client metadata URL answered with a redirect (HTTP %d); redirects are not followed", code)
	default:
		return nil, nil, refuse(ErrStatus, nil, "the client metadata URL answered HTTP %d, not 200", code)
	}
	if !isJSONMediaType(resp.Header.Get("Content-Type")) {
		return nil, nil, refuse(ErrContentType, nil, "the client metadata document is not served as application/json")
	}
	limit := f.maxBytes()
	tooLarge := func() error {
		return refuse(ErrTooLarge, nil, "the client metadata document is larger than %s", formatBytes(limit))
	}
	if resp.ContentLength > limit {
		return nil, nil, tooLarge()
	}
	// One byte past the limit is enough to know it is too large; the rest
	// is never read (closing the body drops the connection).
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	// When the deadline cuts a chunked body short, the transport does not
	// always report it as an error; a body read past the deadline is
	// suspect either way.
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return nil, nil, f.transportError(ctx, err)
	}
	if int64(len(body)) > limit {
		return nil, nil, tooLarge()
	}
	doc, err := parseDocument(body, clientID)
	if err != nil {
		return nil, nil, err
	}
	return doc, resp.Header, nil
}

// transportError turns an error from the HTTP client into an *Error.
func (f *Fetcher) transportError(ctx context.Context, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return refuse(ErrTimeout, err, "the client metadata URL did not answer within %s", f.timeout())
	}
	if e, ok := errors.AsType[*Error](err); ok {
		return e // refused by the dialer
	}
	if _, ok := errors.AsType[*tls.CertificateVerificationError](err); ok {
		return refuse(ErrUnreachable, err, "the client metadata URL's TLS certificate could not be verified")
	}
	return refuse(ErrUnreachable, err, "the client metadata URL could not be reached")
}

// dialContext is the transport's only way out. It resolves the host once,
// refuses it unless every address passes Allow, then connects to the
// vetted addresses themselves, in order, so no second lookup can change
// where the connection goes. TLS is layered on top by the transport, with
// SNI and certificate verification against the host name of the URL.
func (f *Fetcher) dialContext(ctx context.Context, network, hostport string) (net.Conn, error) {
	host, portStr, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil, refuse(ErrInvalidURL, err, "the client_id URL has an invalid host")
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return nil, refuse(ErrInvalidURL, err, "the client_id URL has an invalid port")
	}
	addrs, err := f.resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	for _, a := range addrs {
		if !f.allowed(a) {
			return nil, f.blocked(a, host)
		}
	}
	dial := f.DialHook
	if dial == nil {
		dial = f.dialGuarded
	}
	var errs []error
	for _, a := range addrs {
		conn, err := dial(ctx, network, netip.AddrPortFrom(a, uint16(port)))
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, refuse(ErrUnreachable, errors.Join(errs...), "the client metadata URL could not be reached")
}

// resolve returns the distinct addresses of host, an IP literal or a name.
// IPv4-mapped IPv6 addresses come back as plain IPv4, so an Allow policy
// sees, and the dialer connects to, the address the packets really go to.
func (f *Fetcher) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a.Unmap()}, nil
	}
	var r Resolver = net.DefaultResolver
	if f.Resolver != nil {
		r = f.Resolver
	}
	// The trailing dot makes the name absolute, so the resolver's search
	// domains (which could turn "docs.example" into an internal
	// "docs.example.corp.local") are never tried.
	addrs, err := r.LookupNetIP(ctx, "ip", host+".")
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, refuse(ErrUnresolvable, err, "the client metadata URL's host name does not resolve")
	}
	seen := make(map[netip.Addr]bool, len(addrs))
	out := addrs[:0:0]
	for _, a := range addrs {
		a = a.Unmap()
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return nil, refuse(ErrUnresolvable, nil, "the client metadata URL's host name does not resolve")
	}
	return out, nil
}

// blocked is the refusal for a host that is or resolves to a disallowed
// address. The message names the kind of address, never the address.
func (f *Fetcher) blocked(a netip.Addr, host string) *Error {
	kind := classify(a)
	if kind == "" {
		kind = "an address this server does not connect to"
	}
	return refuse(ErrBlockedAddress, fmt.Errorf("%s resolves to %s", host, a),
		"the client metadata URL resolves to %s", kind)
}

// dialGuarded is the default DialHook. The Control function checks the
// address once more on the socket itself, just before connect, as a second
// line should a future change hand this dialer an unvetted address.
func (f *Fetcher) dialGuarded(ctx context.Context, network string, addr netip.AddrPort) (net.Conn, error) {
	d := net.Dialer{
		Control: func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("cimd: refusing to connect to unparsable address %q", address)
			}
			if !f.allowed(ap.Addr()) {
				return fmt.Errorf("cimd: refusing to connect to %s", ap.Addr())
			}
			return nil
		},
	}
	return d.DialContext(ctx, network, addr.String())
}

// isJSONMediaType accepts application/json and the more specific
// application/<type>+json (draft §4.1), with parameters; a charset other
// than UTF-8 is refused, as JSON is UTF-8 (RFC 8259 §8.1).
func isJSONMediaType(v string) bool {
	mt, params, err := mime.ParseMediaType(v)
	if err != nil {
		return false
	}
	sub, ok := strings.CutPrefix(mt, "application/")
	if !ok || (sub != "json" && (!strings.HasSuffix(sub, "+json") || sub == "+json")) {
		return false
	}
	cs, ok := params["charset"]
	return !ok || strings.EqualFold(cs, "utf-8")
}

// formatBytes writes n as "5 KiB" when it is a whole number of KiB.
func formatBytes(n int64) string {
	if n >= 1024 && n%1024 == 0 {
		return strconv.FormatInt(n/1024, 10) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}
