package oauthclient

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// secretSink records every request that reaches it.
type secretSink struct {
	mu   sync.Mutex
	seen []string
}

func (s *secretSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.seen = append(s.seen, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization")+" "+string(body))
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"access_token":"x","token_type":"Bearer"}`)
}

func (s *secretSink) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.seen...)
}

func TestTokenRequestsAreNotRedirected(t *testing.T) {
	t.Parallel()
	for _, custom := range []bool{false, true} {
		sink := &secretSink{}
		elsewhere := httptest.NewServer(sink)
		mux := http.NewServeMux()
		for _, code := range []int{http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
			mux.HandleFunc(fmt.Sprintf("/cross/%d", code), func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, elsewhere.URL+"/token", code)
			})
		}
		mux.Handle("/token", sink)
		mux.HandleFunc("/same", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/token", http.StatusTemporaryRedirect)
		})
		as := httptest.NewServer(mux)

		o := Options{}
		if custom {
			o.HTTPClient = &http.Client{}
		}
		c, err := New(o)
		if err != nil {
			t.Fatal(err)
		}
		cc := clientCreds{id: "id", secret: "client-secret", method: "client_secret_basic"}
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"refresh-secret"}}
		for _, path := range []string{"/cross/307", "/cross/308", "/same"} {
			var tr tokenResponse
			if err := c.postForm(context.Background(), as.URL+path, cc, form, &tr); err == nil {
				t.Errorf("custom client %v: POST %s: the redirect was followed", custom, path)
			}
		}
		if got := sink.requests(); len(got) > 0 {
			t.Errorf("custom client %v: the token request was sent again: %q", custom, got)
		}
		elsewhere.Close()
		as.Close()
	}
}

func TestMetadataRedirectsStayOnOrigin(t *testing.T) {
	t.Parallel()
	doc := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"issuer":"x"}`)
	})
	other := httptest.NewServer(doc)
	defer other.Close()
	mux := http.NewServeMux()
	mux.Handle("/doc", doc)
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/doc", http.StatusMovedPermanently)
	})
	mux.HandleFunc("/away", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, strings.Replace(other.URL, "127.0.0.1", "localhost", 1)+"/doc", http.StatusFound)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	c, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if found, err := c.getJSON(context.Background(), srv.URL+"/moved", &v); err != nil || !found {
		t.Errorf("same-origin redirect: found=%v err=%v", found, err)
	}
	if _, err := c.getJSON(context.Background(), srv.URL+"/away", &v); err == nil {
		t.Error("a redirect of a metadata GET to another origin was followed")
	}
}

func TestExpiresInRange(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"3600", now.Add(time.Hour)},
		{"1", now.Add(time.Second)},
		{"315360000", now.Add(315360000 * time.Second)},
		{"1e300", time.Time{}},
		{"9223372037", time.Time{}},
		{"0", time.Time{}},
		{"-5", time.Time{}},
		{"0.5", time.Time{}},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"access_token":"a","token_type":"Bearer","expires_in":`+tc.in+`}`)
		}))
		c, err := New(Options{Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		tok, _, err := c.requestToken(context.Background(), srv.URL, clientCreds{id: "id"}, url.Values{"grant_type": {"refresh_token"}}, "")
		srv.Close()
		if err != nil {
			t.Errorf("expires_in %s: %v", tc.in, err)
			continue
		}
		if !tok.Expiry.Equal(tc.want) {
			t.Errorf("expires_in %s: expiry %v, want %v", tc.in, tok.Expiry, tc.want)
		}
	}
}

// A metadata redirect to a host equal to the first only under Unicode case
// mapping ("maİl.test", whose IDNA form is xn--mail-swc.test) leaves the
// origin: the document there is not the server's to vouch for.
func TestMetadataRedirectToLookalikeHost(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var reached []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Host == "mail.test:1" {
			w.Header().Set("Location", "http://ma\u0130l.test:1/doc")
			w.WriteHeader(http.StatusFound)
			return
		}
		mu.Lock()
		reached = append(reached, r.Host)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"issuer":"x"}`)
	}))
	defer srv.Close()
	tr := &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, srv.Listener.Addr().String())
	}}
	defer tr.CloseIdleConnections()
	c, err := New(Options{HTTPClient: &http.Client{Transport: tr}})
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if _, err := c.getJSON(context.Background(), "http://mail.test:1/start", &v); err == nil {
		t.Error("a metadata redirect to a look-alike host was followed")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reached) > 0 {
		t.Errorf("requests reached %q", reached)
	}
}
