package bridge

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// maxEventBytes bounds one server-sent event (each line, and the data of
// all its data lines together), like go-sdk's DefaultMaxEventSize.
const maxEventBytes = 16 << 20

// errEventTooLarge ends a stream whose event's data exceeds maxEventBytes.
var errEventTooLarge = fmt.Errorf("server-sent event larger than %d bytes", maxEventBytes)

// sseEvent is one event of a text/event-stream (WHATWG HTML, "Server-sent
// events", §9.2.6).
type sseEvent struct {
	id    string
	name  string
	data  []byte
	retry time.Duration // zero: not set
}

// readEvents calls fn for every event in r until r ends, fn fails, or a
// line or an event's data is too long. Comments and fields we do not use are skipped.
func readEvents(r io.Reader, fn func(sseEvent) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxEventBytes)
	var (
		ev      sseEvent
		data    bytes.Buffer
		hasData bool
	)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			if hasData || ev.id != "" || ev.retry != 0 {
				ev.data = bytes.Clone(data.Bytes())
				if err := fn(ev); err != nil {
					return err
				}
			}
			ev, hasData = sseEvent{}, false
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
			if data.Len()+1+len(value) > maxEventBytes {
				return errEventTooLarge
			}
			if hasData {
				data.WriteByte('\n')
			}
			data.WriteString(value)
			hasData = true
		case "event":
			ev.name = value
		case "id":
			if !strings.ContainsRune(value, 0) {
				ev.id = value
			}
		case "retry":
			if ms, err := strconv.Atoi(value); err == nil && ms >= 0 {
				ev.retry = time.Duration(ms) * time.Millisecond
			}
		}
	}
	return sc.Err()
}
