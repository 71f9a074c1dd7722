// Package tokencache keeps what the bridge learns when it signs in to a
// remote MCP server: the OAuth client it registered (or was given) and the
// tokens it holds, one file per server.
//
// The files live in the user's configuration directory
// (os.UserConfigDir()/mcp-2coffee, or $MCP_2COFFEE_CONFIG_DIR), a 0700
// directory of 0600 files. A file is replaced atomically (a temporary file in
// the same directory, then rename) so a crash or a concurrent reader never
// sees half a token, and its name is a hash of the canonical server URL so
// that no URL (which may carry a tenant name) shows in a directory listing.
//
// Two bridges for the same server may run at once. A refresh is made under
// the server's lock (Store.Lock, an OS advisory lock on a file beside the
// entry) and starts by re-reading the entry, so a rotating refresh token
// is spent once however many processes share it; other writes (a sign-in)
// replace the file, the last writer winning.
package tokencache

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/webaddr"
)

// EnvConfigDir names the environment variable that overrides the
// configuration directory (tests and unusual setups).
const EnvConfigDir = "MCP_2COFFEE_CONFIG_DIR"

// ErrNotFound is returned by Load and Delete when nothing is cached for a
// server.
var ErrNotFound = errors.New("tokencache: nothing cached for this server")

// filePrefix and fileSuffix frame every cache file name; List relies on them
// to ignore anything else in the directory.
const (
	filePrefix = "auth-"
	fileSuffix = ".json"
)

// Client is an OAuth client identity at one authorization server.
type Client struct {
	// ID is the client_id.
	ID string `json:"client_id"`
	// Secret is the client_secret issued by dynamic registration, if any.
	// Secrets of pre-registered clients are not stored: they come from the
	// command line every time.
	Secret string `json:"client_secret,omitempty"`
	// SecretExpiresAt is when a registered secret stops working (zero:
	// never).
	SecretExpiresAt time.Time `json:"client_secret_expires_at,omitzero"`
	// AuthMethod is the token endpoint authentication method:
	// "none", "client_secret_basic" or "client_secret_post".
	AuthMethod string `json:"token_endpoint_auth_method"`
	// Kind says where the identity came from: "dynamic", "metadata-document"
	// or "preregistered".
	Kind string `json:"kind"`
	// Issuer is the authorization server the identity belongs to.
	Issuer string `json:"issuer"`
	// RedirectURI is the redirect URI a dynamic registration was made for.
	RedirectURI string `json:"redirect_uri,omitempty"`
	// RegisteredAt is when the identity was first used or registered.
	RegisteredAt time.Time `json:"registered_at,omitzero"`
}

// Token is an OAuth token set.
type Token struct {
	// AccessToken is sent as the bearer token.
	AccessToken string `json:"access_token"`
	// TokenType is "Bearer".
	TokenType string `json:"token_type,omitempty"`
	// RefreshToken obtains new access tokens (RFC 6749 §6).
	RefreshToken string `json:"refresh_token,omitempty"`
	// Expiry is when the access token expires (zero: unknown).
	Expiry time.Time `json:"expiry,omitzero"`
	// Scope is the space-separated scope granted (or requested, when the
	// authorization server did not say).
	Scope string `json:"scope,omitempty"`
}

// Entry is everything cached for one MCP server.
type Entry struct {
	// ServerURL is the canonical MCP endpoint URL (see CanonicalURL).
	ServerURL string `json:"server_url"`
	// Resource is the RFC 8707 resource indicator used for this server.
	Resource string `json:"resource,omitempty"`
	// Issuer is the authorization server's issuer identifier.
	Issuer string `json:"issuer,omitempty"`
	// The authorization server endpoints, kept so that a refresh or a
	// revocation needs no discovery.
	AuthorizationEndpoint string `json:"authorization_endpoint,omitempty"`
	TokenEndpoint         string `json:"token_endpoint,omitempty"`
	RevocationEndpoint    string `json:"revocation_endpoint,omitempty"`

	// Client is the client identity at Issuer.
	Client *Client `json:"client,omitempty"`
	// Token is the current token set, if signed in.
	Token *Token `json:"token,omitempty"`

	// UpdatedAt is set by Save.
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

// Clone returns a deep copy of e.
func (e *Entry) Clone() *Entry {
	if e == nil {
		return nil
	}
	c := *e
	if e.Client != nil {
		cl := *e.Client
		c.Client = &cl
	}
	if e.Token != nil {
		t := *e.Token
		c.Token = &t
	}
	return &c
}

// Store is a directory of cache files. The zero value is not usable; use
// Open.
type Store struct {
	dir string
}

// DefaultDir returns the configuration directory: $MCP_2COFFEE_CONFIG_DIR
// when set, else os.UserConfigDir()/mcp-2coffee.
func DefaultDir() (string, error) {
	if d := os.Getenv(EnvConfigDir); d != "" {
		return d, nil
	}
	base, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("tokencache: no configuration directory (set %s): %w", EnvConfigDir, err)
	}
	return filepath.Join(base, "mcp-2coffee"), nil
}

// Open returns the store in dir, or in DefaultDir when dir is empty. The
// directory is created on the first Save.
func Open(dir string) (*Store, error) {
	if dir == "" {
		d, err := DefaultDir()
		if err != nil {
			return nil, err
		}
		dir = d
	}
	return &Store{dir: dir}, nil
}

// Dir returns the directory holding the files.
func (s *Store) Dir() string { return s.dir }

// CanonicalURL normalises an MCP server URL for use as a cache key: its
// origin as webaddr.Origin writes it (scheme and host in lower case, no
// default port), then the path without a trailing slash and the query; no
// fragment. It fails for anything but an absolute http(s) URL with an
// origin.
func CanonicalURL(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "", fmt.Errorf("invalid server URL %q: %w", raw, err)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("invalid server URL %q: want an absolute http or https URL", raw)
	}
	if u.User != nil {
		return "", fmt.Errorf("invalid server URL %q: credentials in URLs are not supported", raw)
	}
	// The key's scheme and host are the server's origin, so that two URLs
	// share tokens exactly when the bridge would send them credentials
	// alike (webaddr.Origin: ASCII case only, no default port).
	origin := webaddr.Origin(u)
	if origin == "" {
		return "", fmt.Errorf("invalid server URL %q: no usable host", raw)
	}
	u.Host = strings.TrimPrefix(origin, u.Scheme+"://")
	u.Fragment = ""
	u.RawFragment = ""
	if len(u.Path) > 1 {
		u.Path = strings.TrimRight(u.Path, "/")
		u.RawPath = ""
	}
	if u.Path == "/" {
		u.Path = ""
	}
	return u.String(), nil
}

// Path returns the file that holds (or would hold) serverURL's entry.
func (s *Store) Path(serverURL string) (string, error) {
	c, err := CanonicalURL(serverURL)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(c))
	return filepath.Join(s.dir, filePrefix+hex.EncodeToString(sum[:16])+fileSuffix), nil
}

// Load returns serverURL's entry, or ErrNotFound.
func (s *Store) Load(serverURL string) (*Entry, error) {
	p, err := s.Path(serverURL)
	if err != nil {
		return nil, err
	}
	e, err := readEntry(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	c, _ := CanonicalURL(serverURL)
	if e.ServerURL != c {
		// A hash collision or a hand-edited file: do not hand out a token
		// that was obtained for another server.
		return nil, ErrNotFound
	}
	return e, nil
}

func readEntry(path string) (*Entry, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var e Entry
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, fmt.Errorf("tokencache: %s is damaged (delete it to sign in again): %w", path, err)
	}
	return &e, nil
}

// Save writes e, replacing any previous entry for e.ServerURL atomically.
// ServerURL is canonicalised and UpdatedAt set.
func (s *Store) Save(e *Entry) error {
	c, err := CanonicalURL(e.ServerURL)
	if err != nil {
		return err
	}
	e.ServerURL = c
	e.UpdatedAt = time.Now().UTC().Truncate(time.Second)
	p, err := s.Path(c)
	if err != nil {
		return err
	}
	data, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return err
	}
	if err := s.ensureDir(); err != nil {
		return err
	}
	return writeAtomic(p, append(data, '\n'))
}

// ensureDir creates the directory with mode 0700 when it does not exist.
// An existing directory may be shared (a home directory given as
// --config-dir, say), so its mode is left alone; but one that other users
// can write to is refused, since they could replace or plant entries.
func (s *Store) ensureDir() error {
	fi, err := os.Stat(s.dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(s.dir, 0o700); err != nil {
			return fmt.Errorf("tokencache: %w", err)
		}
		// Ours alone: exactly 0700 whatever the umask.
		if err := os.Chmod(s.dir, 0o700); err != nil {
			return fmt.Errorf("tokencache: %w", err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("tokencache: %w", err)
	case !fi.IsDir():
		return fmt.Errorf("tokencache: %s is not a directory", s.dir)
	case runtime.GOOS != "windows" && fi.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("tokencache: the token cache directory %s is writable by other users (mode %04o); not storing tokens there (use a directory only you can write to, or run chmod go-w on it)", s.dir, fi.Mode().Perm())
	}
	return nil
}

// writeAtomic writes data to path through a temporary file in the same
// directory (so the rename cannot cross file systems). os.CreateTemp makes
// the file with mode 0600, before any secret is written to it.
func writeAtomic(path string, data []byte) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filePrefix+"*")
	if err != nil {
		return fmt.Errorf("tokencache: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(0o600); err != nil && !isUnsupported(err) {
		f.Close()
		return fmt.Errorf("tokencache: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("tokencache: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("tokencache: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("tokencache: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("tokencache: %w", err)
	}
	return nil
}

// isUnsupported reports a Chmod failure on a platform without Unix modes.
func isUnsupported(err error) bool {
	return errors.Is(err, errors.ErrUnsupported)
}

// Delete removes serverURL's entry; ErrNotFound when there is none.
func (s *Store) Delete(serverURL string) error {
	p, err := s.Path(serverURL)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return ErrNotFound
		}
		return fmt.Errorf("tokencache: %w", err)
	}
	return nil
}

// List returns every entry, sorted by server URL. Damaged files are
// skipped and reported in the joined error, with the good entries.
func (s *Store) List() ([]*Entry, error) {
	names, err := filepath.Glob(filepath.Join(s.dir, filePrefix+"*"+fileSuffix))
	if err != nil {
		return nil, err
	}
	var (
		out  []*Entry
		errs []error
	)
	for _, n := range names {
		e, err := readEntry(n)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
			continue
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ServerURL < out[j].ServerURL })
	return out, errors.Join(errs...)
}
