// Package sse is the one home of reading a text/event-stream (WHATWG
// HTML, "Server-sent events", §9.2.6): the bridge reads the standalone
// notification stream with it, and the load generator (internal/loadgen)
// the SSE answers to its POSTs.
package sse

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// MaxEventBytes bounds one server-sent event (each line, and the data of
// all its data lines together), like go-sdk's DefaultMaxEventSize.
const MaxEventBytes = 16 << 20

// ErrEventTooLarge ends a stream whose event's data exceeds MaxEventBytes.
var ErrEventTooLarge = fmt.Errorf("server-sent event larger than %d bytes", MaxEventBytes)

// Event is one event of a stream.
type Event struct {
	ID    string
	Name  string // the "event" field; "" means "message"
	Data  []byte
	Retry time.Duration // zero: not set
}

// initialBuffer is the line buffer a Read starts with. It grows as long
// lines need, up to MaxEventBytes; starting small keeps a short answer
// (the usual case for a POST) from allocating more than it reads.
const initialBuffer = 4 << 10

// Read calls fn for every event in r until r ends, fn fails, or a line or
// an event's data is too long. Comments and fields we do not use are
// skipped.
func Read(r io.Reader, fn func(Event) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, initialBuffer), MaxEventBytes)
	var (
		ev      Event
		data    bytes.Buffer
		hasData bool
	)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			if hasData || ev.ID != "" || ev.Retry != 0 {
				ev.Data = bytes.Clone(data.Bytes())
				if err := fn(ev); err != nil {
					return err
				}
			}
			ev, hasData = Event{}, false
			data.Reset()
			continue
		}
		if strings.HasPrefix(line, ":") {
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "data":
			if data.Len()+1+len(value) > MaxEventBytes {
				return ErrEventTooLarge
			}
			if hasData {
				data.WriteByte('\n')
			}
			data.WriteString(value)
			hasData = true
		case "event":
			ev.Name = value
		case "id":
			if !strings.ContainsRune(value, 0) {
				ev.ID = value
			}
		case "retry":
			if ms, err := strconv.Atoi(value); err == nil && ms >= 0 {
				ev.Retry = time.Duration(ms) * time.Millisecond
			}
		}
	}
	return sc.Err()
}
