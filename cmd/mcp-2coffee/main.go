// Command mcp-2coffee is an MCP server for a blog: it serves the blog's
// articles to AI assistants over stdio (started by a desktop client) or
// Streamable HTTP, imports Markdown content, and manages API keys.
//
// Run "mcp-2coffee help" for the subcommands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"sort"
	"strings"
	"syscall"
)

// command is one subcommand: its flags, a one-line summary, and what it runs.
type command struct {
	name    string
	summary string
	usage   string // the argument part of the usage line
	flags   func(fs *flag.FlagSet) func(ctx context.Context, env *environment, args []string) error
}

// environment is what a command may touch of the outside world; tests
// replace it.
type environment struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
}

// exitError carries a specific exit status out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageError marks a mistake in the command line (exit status 2).
func usageError(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, args...)}
}

func commands() []*command {
	return []*command{
		stdioCommand(),
		importCommand(),
		exportCommand(),
		migrateCommand(),
		copyCommand(),
		serveCommand(),
		revisionsCommand(),
		trashCommand(),
		keysCommand(),
		usersCommand(),
		clientsCommand(),
		grantsCommand(),
		connectCommand(),
		callCommand(),
		benchCommand(),
		loginCommand("login"),
		loginCommand("logout"),
		authCommand(),
		versionCommand(),
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first signal asks the command to stop cleanly (a server drains
	// its requests, an import finishes its transaction and prints its
	// summary); it also gives the signals back to their default handler,
	// so a second one ends the process at once, whatever it was doing.
	// stdio gets no hint: its stderr is a client's log, and its client
	// stops it by signal routinely (supergateway once per request); it
	// logs the stop itself.
	hint := len(os.Args) < 2 || os.Args[1] != "stdio"
	unwatch := context.AfterFunc(ctx, func() {
		stop()
		if hint {
			fmt.Fprintln(os.Stderr, "mcp-2coffee: stopping; interrupt again to quit at once")
		}
	})
	stopProfile := startCPUProfile(os.Getenv(envCPUProfile))
	code := run(ctx, os.Args[1:], &environment{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv})
	stopProfile()
	unwatch()
	stop()
	os.Exit(code)
}

// envCPUProfile names a file to write a CPU profile of the whole command
// to (go tool pprof reads it), for finding where a server, a bridge or an
// import spends its time on the machine it runs on. The profile covers the
// run until the command returns: a server stopped by SIGTERM or SIGINT
// writes it as it drains.
const envCPUProfile = "MCP_2COFFEE_CPUPROFILE"

func startCPUProfile(path string) (stop func()) {
	if path == "" {
		return func() {}
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err == nil {
		if err = pprof.StartCPUProfile(f); err != nil {
			f.Close()
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "mcp-2coffee: %s: %v\n", envCPUProfile, err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

// run executes one command line and returns the exit status.
func run(ctx context.Context, args []string, env *environment) int {
	cmds := commands()
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		if len(args) > 1 {
			args = []string{args[1], "--help"}
		} else {
			printUsage(env.stderr, cmds)
			if len(args) == 0 {
				return 2
			}
			return 0
		}
	}
	var cmd *command
	for _, c := range cmds {
		if c.name == args[0] {
			cmd = c
		}
	}
	if cmd == nil {
		fmt.Fprintf(env.stderr, "mcp-2coffee: unknown command %q\n\n", args[0])
		printUsage(env.stderr, cmds)
		return 2
	}
	fs := flag.NewFlagSet(cmd.name, flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	runner := cmd.flags(fs)
	fs.Usage = func() {
		fmt.Fprintf(env.stderr, "Usage: mcp-2coffee %s [flags] %s\n\n%s\n\nFlags (each also read from the environment variable shown):\n", cmd.name, cmd.usage, cmd.summary)
		fs.VisitAll(func(f *flag.Flag) {
			def := ""
			if f.DefValue != "" && f.DefValue != "false" {
				def = fmt.Sprintf(" (default %q)", f.DefValue)
			}
			fmt.Fprintf(env.stderr, "  --%s  [$%s]%s\n      %s\n", f.Name, strings.Join(envNames(f.Name), ", $"), def, f.Usage)
		})
	}
	if err := applyEnv(fs, env.getenv); err != nil {
		fmt.Fprintf(env.stderr, "mcp-2coffee %s: %v\n", cmd.name, err)
		return 2
	}
	positional, err := parseInterspersed(fs, args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if err := runner(ctx, env, positional); err != nil {
		fmt.Fprintf(env.stderr, "mcp-2coffee %s: %v\n", cmd.name, err)
		var ee *exitError
		if errors.As(err, &ee) {
			return ee.code
		}
		return 1
	}
	return 0
}

// parseInterspersed parses flags wherever they stand among the positional
// arguments ("keys create --name x" and "keys --name x create" alike);
// everything from a "--" on is positional, untouched, "--" included.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var tail []string
	for i, a := range args {
		if a == "--" {
			// Keep the marker: call uses it to tell a command from a
			// method; other commands refuse it as an extra argument.
			args, tail = args[:i], args[i:]
			break
		}
	}
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
	return append(positional, tail...), nil
}

// envName is the environment variable that sets a flag: --api-url is
// MCP_2COFFEE_API_URL.
func envName(flagName string) string {
	return "MCP_2COFFEE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// applyEnv sets every flag whose environment variable is present, before
// the command line is parsed, so flags given on the command line win.
func applyEnv(fs *flag.FlagSet, getenv func(string) string) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		for _, name := range envNames(f.Name) {
			v := getenv(name)
			if v == "" {
				continue
			}
			if e := f.Value.Set(v); e != nil && err == nil {
				err = fmt.Errorf("$%s: %w", name, e)
			}
			break
		}
	})
	return err
}

// envFallbacks are the conventional variables a flag also reads, after
// its own: DATABASE_URL is what platforms (Heroku, Render, Fly.io,
// Railway) set for an attached PostgreSQL.
var envFallbacks = map[string][]string{
	"database": {"DATABASE_URL"},
}

// envNames lists the variables a flag reads, first one set wins.
func envNames(flagName string) []string {
	return append([]string{envName(flagName)}, envFallbacks[flagName]...)
}

func printUsage(w io.Writer, cmds []*command) {
	fmt.Fprintf(w, "mcp-2coffee %s: an MCP server for a blog.\n\nUsage: mcp-2coffee <command> [flags] [args]\n\nCommands:\n", version())
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].name < cmds[j].name })
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun \"mcp-2coffee <command> --help\" for a command's flags.\n")
}

// version is the module version stamped by the Go toolchain, or "dev".
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

func versionCommand() *command {
	return &command{
		name:    "version",
		summary: "Print the version.",
		flags: func(fs *flag.FlagSet) func(context.Context, *environment, []string) error {
			return func(_ context.Context, env *environment, _ []string) error {
				fmt.Fprintln(env.stdout, "mcp-2coffee", version())
				return nil
			}
		},
	}
}
