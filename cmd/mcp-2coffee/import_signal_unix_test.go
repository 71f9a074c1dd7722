//go:build unix

package main

import (
	"bufio"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/store"
)

// TestImportInterruptTwice: the first SIGINT stops the import cleanly (the
// summary is being printed), the second ends the process at once even
// though it is stuck: here, writing a summary longer than the pipe holds to
// a reader that does not read.
func TestImportInterruptTwice(t *testing.T) {
	t.Parallel()
	if signal.Ignored(syscall.SIGINT) {
		// A child inherits an ignored SIGINT, and the default action
		// restored after the first signal would then be to ignore it.
		t.Skip("SIGINT is ignored in this process (started in the background without job control)")
	}
	dir := t.TempDir()
	content := filepath.Join(dir, "content")
	if err := os.Mkdir(content, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(content, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// 1000 skipped files make a summary of over 100 KB, more than a pipe
	// holds; the posts make progress lines, one per batch.
	for i := range 1000 {
		write(fmt.Sprintf("bad-%04d.md", i), "no front matter\n")
	}
	for i := range 300 {
		write(fmt.Sprintf("post-%04d.md", i), fmt.Sprintf("---\ntitle: Post %d\ndate: 2024-03-01\n---\nBody.\n", i))
	}
	db := filepath.Join(dir, "blog.db")

	cmd := selfCommand(t, "import", content, "--database", db, "--batch-size", "1")
	stdoutR, stdoutW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = stdoutW
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stdoutW.Close()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		stdoutR.Close()
	})

	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var seen strings.Builder
	waitFor := func(prefix string) {
		t.Helper()
		timeout := time.After(30 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("stderr ended before a line starting %q:\n%s", prefix, seen.String())
				}
				seen.WriteString(l + "\n")
				if strings.HasPrefix(l, prefix) {
					return
				}
			case <-timeout:
				t.Fatalf("no line starting %q on stderr after 30s:\n%s", prefix, seen.String())
			}
		}
	}

	waitFor("imported ") // the import is under way: the handler is installed
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	waitFor("mcp-2coffee: stopping; interrupt again to quit at once")
	// Keep reading stderr so only stdout holds the process up.
	go func() {
		for range lines {
		}
	}()
	// The summary of the clean stop comes out; read its first line only,
	// so the process stays stuck writing the rest.
	first, err := bufio.NewReader(stdoutR).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the summary: %v (read %q)", err, first)
	}
	m := regexp.MustCompile(`^1300 files: (\d+) created, 0 updated, 0 unchanged, 1000 skipped`).FindStringSubmatch(first)
	if m == nil {
		t.Fatalf("stdout does not start with the summary: %q", first)
	}

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		t.Fatal("the process is still running 30s after the second SIGINT")
	}
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGINT {
		t.Errorf("process ended with %v, want killed by SIGINT", cmd.ProcessState)
	}

	// The summary counts the batches that were committed.
	created, _ := strconv.Atoi(string(m[1]))
	b, err := store.Open(t.Context(), db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if n, err := b.CountArticles(t.Context()); err != nil || n != created {
		t.Errorf("the database holds %d articles (%v); the summary says %d were created", n, err, created)
	}
}
