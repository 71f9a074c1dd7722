package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/term"

	"github.com/2coffee/mcp-2coffee/internal/store"
)

// secretsFileName is where serve writes first-run secrets when nobody is
// watching its standard error: beside the SQLite database.
const secretsFileName = "first-run-secrets.txt"

// secretsOutput decides where the first run's secrets (the admin key, the
// admin password, configs holding the key) go. Under systemd or in a
// container standard error is a journal that keeps every line, so in
// "auto" mode they are printed only when standard error is a terminal,
// and otherwise written to a 0600 file beside the database whose path is
// logged. "stderr" prints them in any case; any other value is the file.
// done reports, once provisioning is over, where the secrets went.
func secretsOutput(mode, database string, stderr io.Writer) (w io.Writer, done func(*slog.Logger), err error) {
	path := mode
	switch mode {
	case "stderr":
		return stderr, func(*slog.Logger) {}, nil
	case "", "auto":
		if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			return stderr, func(*slog.Logger) {}, nil
		}
		dir := "."
		if d, err := store.ParseDSN(database); err == nil && d.Path != "" {
			dir = filepath.Dir(d.Path)
		}
		path = filepath.Join(dir, secretsFileName)
	}
	lf := &lazyFile{path: path}
	return lf, func(logger *slog.Logger) {
		if err := lf.close(); err != nil {
			logger.Error("could not write the first-run secrets", "file", path, "err", err)
			return
		}
		if lf.f != nil {
			logger.Warn("first run: the admin key and password were written to a file readable only by you (standard error is not a terminal, and logs keep what they are given); read it, store them safely, and delete it",
				"file", path)
		}
	}, nil
}

// lazyFile creates its file, 0600, at the first write: a run with nothing
// to provision leaves no file.
type lazyFile struct {
	path string
	mu   sync.Mutex
	f    *os.File
	err  error
}

func (l *lazyFile) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.openLocked(); err != nil {
		return 0, err
	}
	return l.f.Write(p)
}

// Prepare creates the file now: firstrun calls it before it makes a
// secret, so a file that cannot be written stops serve with nothing
// created, rather than after a key exists that nobody will ever see.
func (l *lazyFile) Prepare() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.openLocked()
}

func (l *lazyFile) openLocked() error {
	if l.f == nil && l.err == nil {
		l.f, l.err = os.OpenFile(l.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if l.err == nil {
			// An older file others could read must not receive secrets.
			l.err = l.f.Chmod(0o600)
		}
	}
	if l.err != nil {
		return fmt.Errorf("first-run secrets file (choose another with --first-run-secrets): %w", l.err)
	}
	return nil
}

func (l *lazyFile) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return l.err
	}
	if l.f != nil {
		return l.f.Close()
	}
	return nil
}

// readSecretFile reads a secret an operator keeps in a file (a mounted
// container secret, say), without the line end editors add.
func readSecretFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	s := strings.TrimRight(string(b), "\r\n")
	if strings.TrimSpace(s) == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return s, nil
}
