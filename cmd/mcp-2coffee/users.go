package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/2coffee/mcp-2coffee/internal/authserver"
	"github.com/2coffee/mcp-2coffee/internal/oauth"
	"github.com/2coffee/mcp-2coffee/internal/store"
)

// storeCommand builds a subcommand group that works on the database: it
// registers the common flags (and extra's), wants a subcommand, and opens
// the store for run.
func storeCommand(name, summary, usage string, run func(ctx context.Context, env *environment, c *commonFlags, db store.Backend, logger *slog.Logger, args []string) error, extra func(fs *flag.FlagSet, c *commonFlags)) *command {
	return &command{
		name:    name,
		summary: summary,
		usage:   usage,
		flags: func(fs *flag.FlagSet) func(context.Context, *environment, []string) error {
			var c commonFlags
			c.register(fs)
			if extra != nil {
				extra(fs, &c)
			}
			return func(ctx context.Context, env *environment, args []string) error {
				if len(args) == 0 {
					return usageError("want a subcommand: %s", usage)
				}
				logger, err := c.logger(env.stderr)
				if err != nil {
					return err
				}
				db, err := c.openStore(ctx, logger)
				if err != nil {
					return err
				}
				defer db.Close()
				return run(ctx, env, &c, db, logger, args)
			}
		},
	}
}

// adminCommand builds a subcommand group over the OAuth admin API on the
// database, with the authorization server's rules for new clients.
func adminCommand(name, summary, usage string, run func(ctx context.Context, env *environment, admin *oauth.Admin, args []string) error, extra func(fs *flag.FlagSet)) *command {
	return storeCommand(name, summary, usage, func(ctx context.Context, env *environment, _ *commonFlags, db store.Backend, logger *slog.Logger, args []string) error {
		return run(ctx, env, oauth.NewAdmin(db, oauth.AdminOptions{Logger: logger, BuildClient: authserver.BuildClient}), args)
	}, func(fs *flag.FlagSet, _ *commonFlags) {
		if extra != nil {
			extra(fs)
		}
	})
}

func usersCommand() *command {
	return adminCommand("users", "Manage the people who may sign in to the OAuth pages: add, passwd, list, remove.",
		"add NAME | passwd NAME | list | remove NAME",
		func(ctx context.Context, env *environment, admin *oauth.Admin, args []string) error {
			switch {
			case args[0] == "add" && len(args) == 2:
				pw, err := readNewPassword(env)
				if err != nil {
					return err
				}
				if err := admin.CreateUser(ctx, args[1], pw); err != nil {
					return err
				}
				fmt.Fprintf(env.stderr, "Added user %q.\n", args[1])
				return nil
			case args[0] == "passwd" && len(args) == 2:
				pw, err := readNewPassword(env)
				if err != nil {
					return err
				}
				if err := admin.SetPassword(ctx, args[1], pw); err != nil {
					return err
				}
				fmt.Fprintf(env.stderr, "Changed the password of %q and signed them out everywhere.\n", args[1])
				return nil
			case args[0] == "list" && len(args) == 1:
				users, err := admin.ListUsers(ctx)
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tSIGNS IN\tCREATED\tLAST SIGN-IN")
				for _, u := range users {
					how := "password"
					if u.Federated() {
						how = u.Issuer + " (sub " + u.Subject + ")"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Name, how, u.CreatedAt.Format("2006-01-02"), optTime(u.LastLoginAt, "never"))
				}
				return tw.Flush()
			case args[0] == "remove" && len(args) == 2:
				if err := admin.DeleteUser(ctx, args[1]); err != nil {
					return err
				}
				fmt.Fprintf(env.stderr, "Removed user %q with their sessions, approvals and tokens.\n", args[1])
				return nil
			}
			return usageError("usage: users add NAME | passwd NAME | list | remove NAME")
		}, nil)
}

// readNewPassword asks twice, without echo, on a terminal; otherwise it
// reads one line from standard input (for scripts: echo pw | users add x).
// A password never comes from a flag, where it would show in ps and
// shell history.
func readNewPassword(env *environment) (string, error) {
	if f, ok := env.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(env.stderr, "New password: ")
		a, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(env.stderr)
		if err != nil {
			return "", err
		}
		fmt.Fprint(env.stderr, "Again: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(env.stderr)
		if err != nil {
			return "", err
		}
		if string(a) != string(b) {
			return "", errors.New("the passwords differ")
		}
		return string(a), nil
	}
	line, err := bufio.NewReader(env.stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", usageError("give the password on standard input (one line), or run on a terminal to be asked")
	}
	return line, nil
}

func clientsCommand() *command {
	var name, redirects, auth, scopes, grant string
	return adminCommand("clients", "Manage pre-registered OAuth clients: add, list, remove.",
		"add --name N --redirect-uri URI[,URI] [--auth none|client_secret_basic|client_secret_post] [--scope S]\n"+
			"  | add --name N --grant client_credentials|jwt-bearer --auth client_secret_basic|client_secret_post [--scope S]\n"+
			"  | list | remove CLIENT_ID\n\n"+
			"--grant client_credentials makes a machine client (a script, a CI job): it gets tokens for itself at\n"+
			"/oauth/token with its id and secret, no browser and no user, limited to --scope; no refresh token.\n"+
			"--grant jwt-bearer makes an enterprise client (enterprise-managed authorization, serve --enterprise-issuer):\n"+
			"it presents an ID-JAG its user's enterprise identity provider issued it and gets a token for that user,\n"+
			"limited to --scope and to what the ID-JAG grants; no browser, no refresh token.",
		func(ctx context.Context, env *environment, admin *oauth.Admin, args []string) error {
			switch {
			case args[0] == "add" && len(args) == 1:
				spec := oauth.ClientSpec{Name: name, AuthMethod: auth}
				switch grant {
				case oauth.GrantAuthorizationCode:
				case oauth.GrantClientCredentials:
					spec.ClientCredentials = true
				case "jwt-bearer", oauth.GrantJWTBearer:
					spec.JWTBearer = true
				default:
					return usageError("--grant %q: want authorization_code, client_credentials or jwt-bearer", grant)
				}
				for _, u := range strings.Split(redirects, ",") {
					if u = strings.TrimSpace(u); u != "" {
						spec.RedirectURIs = append(spec.RedirectURIs, u)
					}
				}
				for _, s := range strings.Fields(strings.ReplaceAll(scopes, ",", " ")) {
					spec.Scopes = append(spec.Scopes, s)
				}
				cl, secret, err := admin.CreateClient(ctx, spec)
				if err != nil {
					return err
				}
				fmt.Fprintf(env.stdout, "client_id: %s\n", cl.ID)
				if secret != "" {
					fmt.Fprintf(env.stdout, "client_secret: %s\n", secret)
					fmt.Fprintln(env.stderr, "The secret is shown only now; store it with the client.")
				}
				return nil
			case args[0] == "list" && len(args) == 1:
				list, err := admin.ListClients(ctx)
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "CLIENT ID\tNAME\tKIND\tAUTH\tGRANTS\tSCOPES\tREDIRECT URIS")
				for _, cl := range list {
					scopes := strings.Join(cl.Scopes, " ")
					if scopes == "" {
						scopes = "any"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", cl.ID, cl.Name, cl.Kind, cl.AuthMethod,
						strings.Join(cl.GrantTypes, ","), scopes, strings.Join(cl.RedirectURIs, " "))
				}
				return tw.Flush()
			case args[0] == "remove" && len(args) == 2:
				if err := admin.DeleteClient(ctx, args[1]); err != nil {
					return err
				}
				fmt.Fprintf(env.stderr, "Removed client %s and revoked its tokens.\n", args[1])
				return nil
			}
			return usageError("usage: clients add --name N --redirect-uri URI | add --name N --grant client_credentials --auth client_secret_basic | list | remove CLIENT_ID")
		}, func(fs *flag.FlagSet) {
			fs.StringVar(&name, "name", "", "add: the name shown on the consent page")
			fs.StringVar(&redirects, "redirect-uri", "", "add: comma-separated redirect URIs (https, http://127.0.0.1 on any port, or an app scheme like cursor://)")
			fs.StringVar(&auth, "auth", "none", "add: none (public client), client_secret_basic or client_secret_post (confidential; a secret is printed once)")
			fs.StringVar(&scopes, "scope", "", "add: scopes the client may ask for (default: any; articles:read for a client_credentials client, which nobody approves)")
			fs.StringVar(&grant, "grant", oauth.GrantAuthorizationCode, "add: authorization_code (people sign in through the browser; with refresh tokens), client_credentials (a machine client: tokens for itself, with its secret), or jwt-bearer (an enterprise client: tokens for the user an ID-JAG names)")
		})
}

func grantsCommand() *command {
	return adminCommand("grants", "List or revoke the approvals users gave to OAuth clients (revoking also revokes their tokens).",
		"list | revoke USER CLIENT_ID",
		func(ctx context.Context, env *environment, admin *oauth.Admin, args []string) error {
			switch {
			case args[0] == "list" && len(args) == 1:
				list, err := admin.ListGrants(ctx)
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "USER\tCLIENT\tCLIENT ID\tSCOPES\tAPPROVED")
				for _, g := range list {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", g.User, g.ClientName, g.ClientID, strings.Join(g.Scopes, " "), g.UpdatedAt.Format(time.DateTime))
				}
				return tw.Flush()
			case args[0] == "revoke" && len(args) == 3:
				if err := admin.RevokeGrant(ctx, args[1], args[2]); err != nil {
					return err
				}
				fmt.Fprintf(env.stderr, "Revoked the approval of %s for %s; its tokens stop working now.\n", args[2], args[1])
				return nil
			}
			return usageError("usage: grants list | grants revoke USER CLIENT_ID")
		}, nil)
}
