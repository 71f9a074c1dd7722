package main

import (
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/store/postgres/pgtest"
)

// pgLink is a TCP hop between serve and PostgreSQL that the test can cut
// and mend, to play a database that stops answering.
type pgLink struct {
	t      *testing.T
	addr   string // where serve connects
	target string // PostgreSQL

	mu    sync.Mutex
	ln    net.Listener
	conns []net.Conn
}

func newPGLink(t *testing.T, target string) *pgLink {
	l := &pgLink{t: t, target: target}
	l.listen("127.0.0.1:0")
	t.Cleanup(l.cut)
	return l
}

func (l *pgLink) listen(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		l.t.Fatal(err)
	}
	l.mu.Lock()
	l.ln, l.addr = ln, ln.Addr().String()
	l.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", l.target)
			if err != nil {
				c.Close()
				continue
			}
			l.mu.Lock()
			l.conns = append(l.conns, c, up)
			l.mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
}

// cut stops accepting and drops every connection, as a database host
// that went away would.
func (l *pgLink) cut() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ln != nil {
		l.ln.Close()
		l.ln = nil
	}
	for _, c := range l.conns {
		c.Close()
	}
	l.conns = nil
}

// mend accepts again on the same address.
func (l *pgLink) mend() { l.listen(l.addr) }

// /readyz reports whether the database answers, so a load balancer stops
// sending to a replica that lost it; /healthz (the process is alive) does
// not change. When the database is back, so is readiness.
func TestServeReadyzFollowsPostgres(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Schema(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	link := newPGLink(t, u.Host)
	u.Host = link.addr
	q := u.Query()
	q.Set("connect_timeout", "2")
	u.RawQuery = q.Encode()
	s := startServe(t, "--database", u.String())

	status := func(path string) int {
		t.Helper()
		c := &http.Client{Timeout: 10 * time.Second}
		resp, err := c.Get(s.base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	waitFor := func(path string, want int) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for status(path) != want {
			if time.Now().After(deadline) {
				t.Fatalf("GET %s did not become %d", path, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if got := status("/readyz"); got != http.StatusOK {
		t.Fatalf("/readyz with the database reachable = %d, want 200", got)
	}
	link.cut()
	waitFor("/readyz", http.StatusServiceUnavailable)
	if got := status("/healthz"); got != http.StatusOK {
		t.Errorf("/healthz without the database = %d, want 200 (the process is alive)", got)
	}
	link.mend()
	waitFor("/readyz", http.StatusOK)
}
