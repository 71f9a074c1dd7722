package bridge

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestReadEvents(t *testing.T) {
	in := ": comment\n" +
		"id: 1\nretry: 500\ndata: \n\n" + // priming event: id and retry only
		"event: message\nid: 2\ndata: {\"a\":\ndata: 1}\n\n" +
		"data: no id\r\n\r\n" +
		"event: endpoint\ndata: /x\n\n" +
		"data: unterminated"
	type ev struct {
		ID, Name, Data string
		Retry          time.Duration
	}
	var got []ev
	err := readEvents(strings.NewReader(in), func(e sseEvent) error {
		got = append(got, ev{e.id, e.name, string(e.data), e.retry})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []ev{
		{ID: "1", Retry: 500 * time.Millisecond},
		{ID: "2", Name: "message", Data: "{\"a\":\n1}"},
		{Data: "no id"},
		{Name: "endpoint", Data: "/x"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	stop := errors.New("stop")
	if err := readEvents(strings.NewReader("data: a\n\ndata: b\n\n"), func(sseEvent) error { return stop }); err != stop {
		t.Errorf("readEvents did not return the callback's error: %v", err)
	}
}

func FuzzExpandEnv(f *testing.F) {
	for _, s := range []string{"", "plain", "${A}", "a${A}b${B_2}", "${", "${}", "$A", "${A", "${1}", "}${A}{"} {
		f.Add(s)
	}
	lookup := env(map[string]string{"A": "x", "B_2": "${A}"})
	f.Fuzz(func(t *testing.T, s string) {
		out, err := ExpandEnv(s, lookup)
		if err != nil {
			return
		}
		if !strings.Contains(s, "${") && out != s {
			t.Errorf("ExpandEnv(%q) = %q, changed a value without ${", s, out)
		}
		// Expansion is not recursive: a value that itself contains ${A}
		// stays as it is.
		if strings.Contains(s, "${B_2}") && !strings.Contains(out, "${A}") {
			t.Errorf("ExpandEnv(%q) = %q expanded a variable's value", s, out)
		}
	})
}

// Many data lines, each short, cannot together make an event larger than
// maxEventBytes.
func TestReadEventsBoundsEventSize(t *testing.T) {
	line := "data: " + strings.Repeat("x", 1<<20) + "\n"
	pr, pw := io.Pipe()
	go func() {
		for i := 0; i < maxEventBytes>>20+4; i++ {
			if _, err := io.WriteString(pw, line); err != nil {
				return
			}
		}
		pw.Close()
	}()
	called := false
	err := readEvents(pr, func(sseEvent) error { called = true; return nil })
	pr.Close()
	if err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("readEvents = %v, want an event-too-large error", err)
	}
	if called {
		t.Error("the oversized event was delivered")
	}
	// An event just within the limit is still read.
	big := strings.Repeat("y", maxEventBytes-10)
	var got int
	if err := readEvents(strings.NewReader("data: "+big[:len(big)/2]+"\ndata: "+big[len(big)/2:]+"\n\n"), func(e sseEvent) error { got = len(e.data); return nil }); err != nil {
		t.Fatal(err)
	}
	if got != len(big)+1 {
		t.Errorf("event of %d bytes, want %d", got, len(big)+1)
	}
}
