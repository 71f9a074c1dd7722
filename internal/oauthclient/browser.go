package oauthclient

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
)

// BrowserOpener shows a URL to the user, usually by starting a browser. It
// should return once the browser is started, not when the user is done.
type BrowserOpener func(ctx context.Context, url string) error

// BrowserCommand returns the command line that opens url: $BROWSER when set
// (a "%s" in it is replaced by the URL, otherwise the URL is appended; only
// the first of several colon-separated commands is used), else xdg-open on
// Linux and the BSDs, open on macOS, rundll32's URL handler on Windows. The
// URL is one argument, never passed through a shell.
func BrowserCommand(browserEnv, goos, url string) []string {
	if b := strings.TrimSpace(browserEnv); b != "" {
		if goos != "windows" {
			// The $BROWSER convention allows a colon-separated list of
			// alternatives; we take the first.
			b, _, _ = strings.Cut(b, ":")
		}
		fields := strings.Fields(b)
		replaced := false
		for i, f := range fields {
			if strings.Contains(f, "%s") {
				fields[i] = strings.ReplaceAll(f, "%s", url)
				replaced = true
			}
		}
		if !replaced {
			fields = append(fields, url)
		}
		return fields
	}
	switch goos {
	case "darwin":
		return []string{"open", url}
	case "windows":
		return []string{"rundll32", "url.dll,FileProtocolHandler", url}
	default:
		return []string{"xdg-open", url}
	}
}

// SystemBrowser returns a BrowserOpener that runs BrowserCommand. The
// command's output goes to out (never to stdout, which carries the MCP
// protocol in the bridge); it is not waited for beyond its start.
func SystemBrowser(out io.Writer) BrowserOpener {
	if out == nil {
		out = io.Discard
	}
	return func(ctx context.Context, url string) error {
		argv := BrowserCommand(os.Getenv("BROWSER"), runtime.GOOS, url)
		if len(argv) == 0 {
			return errors.New("no browser command")
		}
		// Not CommandContext: the browser (or a script standing in for
		// it) may outlive the request that started it.
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Stdin = nil
		cmd.Stdout = out
		cmd.Stderr = out
		if err := cmd.Start(); err != nil {
			return err
		}
		go cmd.Wait() // reap it
		return nil
	}
}
