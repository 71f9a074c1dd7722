package tokencache

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// holdLockEnv makes the test binary a lock holder (see TestMain): it takes
// the lock of the server named in the variable, in the directory of
// holdLockDirEnv, says "locked" on stdout, and keeps the lock until its
// stdin closes.
const (
	holdLockEnv    = "TOKENCACHE_TEST_HOLD_LOCK"
	holdLockDirEnv = "TOKENCACHE_TEST_HOLD_LOCK_DIR"
)

func TestMain(m *testing.M) {
	if server := os.Getenv(holdLockEnv); server != "" {
		os.Exit(holdLock(os.Getenv(holdLockDirEnv), server))
	}
	os.Exit(m.Run())
}

func holdLock(dir, server string) int {
	s, err := Open(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	l, err := s.Lock(context.Background(), server, 10*time.Second)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("locked")
	bufio.NewReader(os.Stdin).ReadString('\n') // until the parent closes stdin
	l.Unlock()
	return 0
}

func lockSupported(t *testing.T) {
	switch runtime.GOOS {
	case "linux", "darwin", "dragonfly", "freebsd", "netbsd", "openbsd", "illumos", "windows":
	default:
		t.Skipf("no cross-process lock on %s", runtime.GOOS)
	}
}

// Another process holding a server's lock keeps this one out until it
// lets go; a bounded wait ends in ErrLockBusy and a cancelled context in
// its error; other servers' locks are independent.
func TestLockAcrossProcesses(t *testing.T) {
	lockSupported(t)
	t.Parallel()
	dir := t.TempDir()
	const server = "https://blog.example.com/mcp"
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), holdLockEnv+"="+server, holdLockDirEnv+"="+dir)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Wait() })
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "locked\n" {
		t.Fatalf("the holder said %q, %v", line, err)
	}

	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if l, err := s.Lock(context.Background(), server, 50*time.Millisecond); !errors.Is(err, ErrLockBusy) {
		l.Unlock()
		t.Fatalf("Lock while another process holds it: %v, want ErrLockBusy", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if l, err := s.Lock(ctx, server, time.Minute); !errors.Is(err, context.Canceled) {
		l.Unlock()
		t.Fatalf("Lock with a cancelled context: %v, want context.Canceled", err)
	}
	other, err := s.Lock(context.Background(), "https://other.example.com/mcp", 50*time.Millisecond)
	if err != nil {
		t.Fatalf("another server's lock: %v", err)
	}
	other.Unlock()

	// The holder lets go: the lock is ours.
	var released atomic.Bool
	go func() {
		released.Store(true)
		stdin.Close()
	}()
	l, err := s.Lock(context.Background(), server, time.Minute)
	if err != nil {
		t.Fatalf("Lock after the holder let go: %v", err)
	}
	if !released.Load() {
		t.Error("took the lock before the holder let go")
	}
	if err := l.Unlock(); err != nil {
		t.Error(err)
	}
	if err := l.Unlock(); err != nil {
		t.Errorf("second Unlock: %v", err)
	}
	// The lock file is private and is not an entry.
	fi, err := os.Stat(strings.TrimSuffix(mustPath(t, s, server), fileSuffix) + lockSuffix)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("lock file mode %04o, want 0600", fi.Mode().Perm())
	}
	if es, err := s.List(); err != nil || len(es) != 0 {
		t.Errorf("List = %v, %v; want no entries", es, err)
	}
}

// Two Stores on one directory in one process exclude each other as two
// processes do (the OAuth clients of two bridges in one test binary).
func TestLockBetweenStores(t *testing.T) {
	lockSupported(t)
	t.Parallel()
	dir := t.TempDir()
	const server = "https://blog.example.com/mcp"
	a, _ := Open(dir)
	b, _ := Open(dir)
	held, err := a.Lock(context.Background(), server, 0)
	if err != nil {
		t.Fatal(err)
	}
	if l, err := b.Lock(context.Background(), server, 20*time.Millisecond); !errors.Is(err, ErrLockBusy) {
		l.Unlock()
		t.Fatalf("second Store took a held lock: %v", err)
	}
	var released atomic.Bool
	go func() {
		released.Store(true)
		held.Unlock()
	}()
	l, err := b.Lock(context.Background(), server, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	if !released.Load() {
		t.Error("took the lock before it was released")
	}
}

func mustPath(t *testing.T, s *Store, server string) string {
	t.Helper()
	p, err := s.Path(server)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
