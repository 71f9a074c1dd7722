package tokencache

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func entry(server, access string) *Entry {
	return &Entry{
		ServerURL: server,
		Issuer:    "https://as.example.com",
		Client:    &Client{ID: "client-1", Secret: "client-secret", AuthMethod: "client_secret_basic", Kind: "dynamic", Issuer: "https://as.example.com"},
		Token:     &Token{AccessToken: access, RefreshToken: "refresh-" + access, Expiry: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC), Scope: "articles:read"},
	}
}

func TestSaveLoadDelete(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "mcp-2coffee")
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load("https://blog.example.com/mcp"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Load before Save = %v, want ErrNotFound", err)
	}
	want := entry("https://blog.example.com/mcp", "at-1")
	if err := s.Save(want); err != nil {
		t.Fatal(err)
	}
	got, err := s.Load("HTTPS://Blog.Example.com:443/mcp/")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Load after Save (-want +got):\n%s", diff)
	}
	if err := s.Delete("https://blog.example.com/mcp"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete("https://blog.example.com/mcp"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Delete = %v, want ErrNotFound", err)
	}
}

func TestPermissions(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permissions")
	}
	base := t.TempDir()
	// A directory the cache creates is 0700.
	dir := filepath.Join(base, "new", "mcp-2coffee")
	s, _ := Open(dir)
	if err := s.Save(entry("https://blog.example.com/mcp", "at-1")); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o700 {
		t.Errorf("directory mode = %o, want 700", got)
	}
	// An existing directory (say a home directory given as --config-dir)
	// keeps its mode.
	shared := filepath.Join(base, "home")
	if err := os.Mkdir(shared, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(shared, 0o755)
	if err := (&Store{dir: shared}).Save(entry("https://blog.example.com/mcp", "at-1")); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(shared); fi.Mode().Perm() != 0o755 {
		t.Errorf("existing directory mode changed to %o, want 755", fi.Mode().Perm())
	}
	// One that others can write to is refused, and left alone too.
	for _, mode := range []os.FileMode{0o775, 0o777} {
		open := filepath.Join(base, fmt.Sprintf("open%o", mode))
		if err := os.Mkdir(open, 0o700); err != nil {
			t.Fatal(err)
		}
		os.Chmod(open, mode)
		err := (&Store{dir: open}).Save(entry("https://blog.example.com/mcp", "at-1"))
		if err == nil || !strings.Contains(err.Error(), "writable by other users") {
			t.Errorf("Save into a %o directory: %v, want a refusal", mode, err)
		}
		if fi, _ := os.Stat(open); fi.Mode().Perm() != mode {
			t.Errorf("directory mode changed from %o to %o", mode, fi.Mode().Perm())
		}
		if names, _ := os.ReadDir(open); len(names) != 0 {
			t.Errorf("files written into a %o directory: %v", mode, names)
		}
	}
	p, _ := s.Path("https://blog.example.com/mcp")
	fi, err = os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("file mode = %o, want 600", got)
	}
	// Rewriting keeps 0600 even under a permissive umask-independent path.
	if err := s.Save(entry("https://blog.example.com/mcp", "at-2")); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode after rewrite = %o, want 600", fi.Mode().Perm())
	}
}

func TestAtomicWrite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, _ := Open(dir)
	if err := s.Save(entry("https://blog.example.com/mcp", "at-1")); err != nil {
		t.Fatal(err)
	}
	p, _ := s.Path("https://blog.example.com/mcp")
	before, _ := os.Stat(p)
	if err := s.Save(entry("https://blog.example.com/mcp", "at-2")); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(p)
	// rename replaces the directory entry: a reader holding the old file
	// never sees a mix of old and new content.
	if os.SameFile(before, after) {
		t.Errorf("the file was rewritten in place, not replaced")
	}
	names, _ := os.ReadDir(dir)
	if len(names) != 1 || names[0].Name() != filepath.Base(p) {
		var n []string
		for _, d := range names {
			n = append(n, d.Name())
		}
		t.Errorf("directory holds %v, want only %s (no temporary files left)", n, filepath.Base(p))
	}
	got, _ := s.Load("https://blog.example.com/mcp")
	if got.Token.AccessToken != "at-2" {
		t.Errorf("access token = %q, want at-2", got.Token.AccessToken)
	}

	// A failed write leaves the previous file intact.
	if runtime.GOOS != "windows" {
		if err := os.Chmod(dir, 0o500); err != nil {
			t.Fatal(err)
		}
		defer os.Chmod(dir, 0o700)
		if err := s.Save(entry("https://blog.example.com/mcp", "at-3")); err == nil && os.Geteuid() != 0 {
			t.Errorf("Save into a read-only directory succeeded")
		}
		os.Chmod(dir, 0o700)
		if got, _ := s.Load("https://blog.example.com/mcp"); got.Token.AccessToken == "" {
			t.Errorf("the previous entry was damaged by a failed write")
		}
	}
}

func TestPerServerSeparation(t *testing.T) {
	t.Parallel()
	s, _ := Open(t.TempDir())
	a, b := "https://blog.example.com/mcp", "https://blog.example.com/other/mcp"
	if err := s.Save(entry(a, "at-a")); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(entry(b, "at-b")); err != nil {
		t.Fatal(err)
	}
	pa, _ := s.Path(a)
	pb, _ := s.Path(b)
	if pa == pb {
		t.Fatalf("two servers share the file %s", pa)
	}
	if strings.Contains(pa, "blog") {
		t.Errorf("file name %s reveals the server", pa)
	}
	ga, _ := s.Load(a)
	gb, _ := s.Load(b)
	if ga.Token.AccessToken != "at-a" || gb.Token.AccessToken != "at-b" {
		t.Errorf("tokens = %q, %q; want at-a, at-b", ga.Token.AccessToken, gb.Token.AccessToken)
	}
	all, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	var urls []string
	for _, e := range all {
		urls = append(urls, e.ServerURL)
	}
	if diff := cmp.Diff([]string{a, b}, urls); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
	if err := s.Delete(a); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(b); err != nil {
		t.Errorf("deleting one server's entry affected another: %v", err)
	}
}

func TestLoadRefusesEntryForAnotherServer(t *testing.T) {
	t.Parallel()
	s, _ := Open(t.TempDir())
	if err := s.Save(entry("https://a.example.com/mcp", "at-a")); err != nil {
		t.Fatal(err)
	}
	pa, _ := s.Path("https://a.example.com/mcp")
	pb, _ := s.Path("https://b.example.com/mcp")
	data, _ := os.ReadFile(pa)
	os.WriteFile(pb, data, 0o600) // as if copied by hand
	if _, err := s.Load("https://b.example.com/mcp"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Load of a file holding another server's entry = %v, want ErrNotFound", err)
	}
}

func TestListSkipsDamagedFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, _ := Open(dir)
	if err := s.Save(entry("https://a.example.com/mcp", "at-a")); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "auth-0000.json"), []byte("{not json"), 0o600)
	os.WriteFile(filepath.Join(dir, "unrelated.txt"), []byte("x"), 0o600)
	all, err := s.List()
	if len(all) != 1 || all[0].ServerURL != "https://a.example.com/mcp" {
		t.Errorf("List = %v entries", len(all))
	}
	if err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("List error = %v, want a note about the damaged file", err)
	}
}

func TestCanonicalURL(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		bad      bool
	}{
		{in: "https://blog.example.com/mcp", want: "https://blog.example.com/mcp"},
		{in: "HTTPS://Blog.Example.COM:443/mcp/", want: "https://blog.example.com/mcp"},
		{in: "http://127.0.0.1:80/mcp#frag", want: "http://127.0.0.1/mcp"},
		{in: "http://[::1]:3000/mcp", want: "http://[::1]:3000/mcp"},
		{in: "https://blog.example.com/", want: "https://blog.example.com"},
		{in: "https://blog.example.com/mcp?tenant=a", want: "https://blog.example.com/mcp?tenant=a"},
		{in: "blog.example.com/mcp", bad: true},
		{in: "ftp://blog.example.com/mcp", bad: true},
		{in: "https://user:pw@blog.example.com/mcp", bad: true},
		{in: "http://[0:0::1]:3000/mcp", want: "http://[::1]:3000/mcp"},
		{in: "https://blog.example.com:0443/mcp", want: "https://blog.example.com/mcp"},
		// Only ASCII letters fold: Go lowers "İ" to "i", but the HTTP
		// client dials "maİl.test" as xn--mail-swc.test, another host,
		// which must not be given mail.test's tokens.
		{in: "https://ma\u0130l.test/mcp", want: "https://ma%C4%B0l.test/mcp"},
		// A zone names an interface of this machine, not the server;
		// browsers refuse it, and so does the cache.
		{in: "http://[fe80::1%25eth0]:3000/mcp", bad: true},
	} {
		got, err := CanonicalURL(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("CanonicalURL(%q) = %q, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("CanonicalURL(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestDefaultDir(t *testing.T) {
	t.Setenv(EnvConfigDir, "/tmp/somewhere")
	if d, err := DefaultDir(); err != nil || d != "/tmp/somewhere" {
		t.Errorf("DefaultDir with %s = %q, %v", EnvConfigDir, d, err)
	}
	t.Setenv(EnvConfigDir, "")
	t.Setenv("XDG_CONFIG_HOME", "/tmp/xdg")
	t.Setenv("HOME", "/tmp/home")
	d, err := DefaultDir()
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(d) != "mcp-2coffee" {
		t.Errorf("DefaultDir = %q, want …/mcp-2coffee", d)
	}
}
