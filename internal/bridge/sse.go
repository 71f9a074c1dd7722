package bridge

import (
	"bufio"
	"bytes"
	"io"
	"strconv"
	"strings"
	"time"
)

// maxEventBytes bounds one server-sent event line, like go-sdk's
// DefaultMaxEventSize.
const maxEventBytes = 16 << 20

// sseEvent is one event of a text/event-stream (WHATWG HTML, "Server-sent
// events", §9.2.6).
type sseEvent struct {
	id    string
	name  string
	data  []byte
	retry time.Duration // zero: not set
}

// readEvents calls fn for every event in r until r ends, fn fails, or a
// line is too long. Comments and fields we do not use are skipped.
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
