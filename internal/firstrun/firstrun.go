// Package firstrun holds the setup serve and stdio do for a new database:
// the bundled sample articles, and for serve the first admin API key and
// the first OAuth user, whose secrets are printed once with client configs
// ready to paste.
//
// The samples are a step recorded in the database itself (Steps.Once): they
// are offered once per database, by whichever of serve and stdio runs first,
// and never again, because an owner who deleted every article meant it.
// The admin key and user follow the state instead: they are made whenever
// the database has no key (revoked keys count: they stay listed) or no
// user at all, because without one nobody could sign in or call.
package firstrun

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/apikey"
	"github.com/2coffee/mcp-2coffee/internal/authn"
	"github.com/2coffee/mcp-2coffee/internal/blog"
	"github.com/2coffee/mcp-2coffee/internal/oauth"
	"github.com/2coffee/mcp-2coffee/internal/sample"
)

// StepSamples is the name of the samples step, as recorded in the database.
const StepSamples = "sample-articles"

// Steps records one-time steps; store.Backend implements it.
type Steps interface {
	Once(ctx context.Context, step string, fn func(context.Context) error) (bool, error)
}

// SampleStore is what Samples needs of the database.
type SampleStore interface {
	Steps
	CountArticles(ctx context.Context) (int, error)
	UpsertArticles(ctx context.Context, as []*blog.Article, c blog.Change) ([]blog.UpsertOutcome, error)
}

// Samples loads the bundled sample articles into a database that has never
// been offered them and holds no article, and returns how many it loaded.
// With load false (--no-sample) the step is recorded all the same: the
// owner declined the samples for this database. A database that already
// holds articles (an import ran first) is someone's blog, not a new one.
func Samples(ctx context.Context, db SampleStore, load bool) (int, error) {
	var n int
	_, err := db.Once(ctx, StepSamples, func(ctx context.Context) error {
		if !load {
			return nil
		}
		count, err := db.CountArticles(ctx)
		if err != nil || count > 0 {
			return err
		}
		n, err = sample.Load(ctx, db)
		return err
	})
	return n, err
}

// Locker runs fn while no other process sharing the database runs a
// section of the same name; store.Backend implements it. The admin key and
// user are "none exists, so create one", which two replicas starting on a
// new shared database must not both do.
type Locker interface {
	Exclusive(ctx context.Context, name string, fn func(context.Context) error) error
}

// Preparer is a writer that may fail to open (a file): AdminKey and
// AdminUser call Prepare before they create a secret, so a secret is
// never made that could not be shown.
type Preparer interface {
	Prepare() error
}

func prepare(w io.Writer) error {
	if p, ok := w.(Preparer); ok {
		return p.Prepare()
	}
	return nil
}

// Keys is what AdminKey needs of the API keys.
type Keys interface {
	List(ctx context.Context) ([]*apikey.Key, error)
	Create(ctx context.Context, name string, scopes []string, ttl time.Duration) (string, *apikey.Key, error)
}

// Site names the server in what is printed: MCPURL is the MCP endpoint,
// BaseURL the public URL (the REST API and the sign-in pages live under it).
type Site struct {
	MCPURL  string
	BaseURL string
}

// AdminKey creates an admin key when serve runs with API keys on a
// database that has none at all, and writes it to w once, with configs
// ready to paste. While any key exists (revoked ones included) it writes
// nothing. Of several processes starting at once on one database, one
// creates the key and prints it.
func AdminKey(ctx context.Context, lock Locker, keys Keys, w io.Writer, site Site) error {
	var (
		plain string
		k     *apikey.Key
	)
	err := lock.Exclusive(ctx, "admin-api-key", func(ctx context.Context) error {
		existing, err := keys.List(ctx)
		if err != nil || len(existing) > 0 {
			return err
		}
		if err := prepare(w); err != nil {
			return err
		}
		plain, k, err = keys.Create(ctx, "admin", []string{authn.ScopeWrite}, 0)
		return err
	})
	if err != nil || k == nil {
		return err
	}
	fmt.Fprintf(w, "\nFirst run: created the API key %q (id %s, scope %s). It is shown only now; store it safely.\n\n    %s\n\n",
		k.Name, k.ID, strings.Join(k.Scopes, " "), plain)
	fmt.Fprint(w, ClientConfigs(site, plain))
	fmt.Fprintf(w, "Clients that sign in with OAuth (Claude.ai and ChatGPT connectors, VS Code, Cursor, npx mcp-remote %s) need no key:\nthey discover the sign-in pages from the server.\n\n", site.MCPURL)
	fmt.Fprintln(w, "Make more keys with \"mcp-2coffee keys create --name NAME --scope articles:read\"; list or revoke them with \"keys list\" / \"keys revoke ID\".")
	fmt.Fprintln(w)
	return nil
}

// Users is what AdminUser needs of the authorization server's accounts.
type Users interface {
	ListUsers(ctx context.Context) ([]*oauth.User, error)
	CreateUser(ctx context.Context, name, password string) error
}

// AdminUser creates the user "admin" with a random password when serve
// runs with OAuth on a database that has no user at all (without one
// nobody could complete the OAuth sign-in), and writes the password to w
// once. Of several processes starting at once on one database, one
// creates the user and prints its password.
func AdminUser(ctx context.Context, lock Locker, users Users, w io.Writer, site Site) error {
	var password string
	err := lock.Exclusive(ctx, "admin-user", func(ctx context.Context) error {
		existing, err := users.ListUsers(ctx)
		if err != nil || len(existing) > 0 {
			return err
		}
		if err := prepare(w); err != nil {
			return err
		}
		p := rand.Text()
		if err := users.CreateUser(ctx, "admin", p); err != nil {
			return err
		}
		password = p
		return nil
	})
	if err != nil || password == "" {
		return err
	}
	fmt.Fprintf(w, "First run: created the user \"admin\" for OAuth sign-in at %s/oauth/login. Its password is shown only now:\n\n    %s\n\n", site.BaseURL, password)
	fmt.Fprintln(w, "Change it with \"mcp-2coffee users passwd admin\"; add people with \"mcp-2coffee users add NAME\".")
	fmt.Fprintln(w)
	return nil
}

// ClientConfigs renders ready-to-paste client configurations for key:
// Claude Desktop through mcp-remote, VS Code, and any stdio client running
// "mcp-2coffee stdio --api-url".
func ClientConfigs(site Site, key string) string {
	indent := func(v any) string {
		b, _ := json.MarshalIndent(v, "    ", "  ")
		return "    " + string(b) + "\n\n"
	}
	type obj = map[string]any
	var b strings.Builder
	b.WriteString("Claude Desktop (claude_desktop_config.json), through mcp-remote:\n")
	b.WriteString(indent(obj{"mcpServers": obj{"mcp-2coffee": obj{
		"command": "npx",
		"args":    []string{"mcp-remote", site.MCPURL, "--header", "X-API-KEY: " + key},
	}}}))
	b.WriteString("VS Code (.vscode/mcp.json):\n")
	b.WriteString(indent(obj{"servers": obj{"mcp-2coffee": obj{
		"type":    "http",
		"url":     site.MCPURL,
		"headers": obj{"X-API-KEY": key},
	}}}))
	b.WriteString("Any stdio client, with the key in env (mcp-2coffee on the PATH):\n")
	b.WriteString(indent(obj{"mcpServers": obj{"mcp-2coffee": obj{
		"command": "mcp-2coffee",
		"args":    []string{"stdio", "--api-url", site.BaseURL},
		"env":     obj{"X-API-KEY": key},
	}}}))
	return b.String()
}
