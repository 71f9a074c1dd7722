package sse

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestRead(t *testing.T) {
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
	err := Read(strings.NewReader(in), func(e Event) error {
		got = append(got, ev{e.ID, e.Name, string(e.Data), e.Retry})
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
	if err := Read(strings.NewReader("data: a\n\ndata: b\n\n"), func(Event) error { return stop }); err != stop {
		t.Errorf("Read did not return the callback's error: %v", err)
	}
}

// Many data lines, each short, cannot together make an event larger than
// MaxEventBytes.
func TestReadBoundsEventSize(t *testing.T) {
	line := "data: " + strings.Repeat("x", 1<<20) + "\n"
	pr, pw := io.Pipe()
	go func() {
		for i := 0; i < MaxEventBytes>>20+4; i++ {
			if _, err := io.WriteString(pw, line); err != nil {
				return
			}
		}
		pw.Close()
	}()
	called := false
	err := Read(pr, func(Event) error { called = true; return nil })
	pr.Close()
	if !errors.Is(err, ErrEventTooLarge) {
		t.Errorf("Read = %v, want ErrEventTooLarge", err)
	}
	if called {
		t.Error("the oversized event was delivered")
	}
	// An event just within the limit is still read, though it is far
	// longer than the buffer a Read starts with.
	big := strings.Repeat("y", MaxEventBytes-10)
	var got int
	if err := Read(strings.NewReader("data: "+big[:len(big)/2]+"\ndata: "+big[len(big)/2:]+"\n\n"), func(e Event) error { got = len(e.Data); return nil }); err != nil {
		t.Fatal(err)
	}
	if got != len(big)+1 {
		t.Errorf("event of %d bytes, want %d", got, len(big)+1)
	}
}
