package forward

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
)

// onAck counts one answer of the stream to a published message.
func (f *Forwarder) onAck(m *nats.Msg) {
	id, err := strconv.ParseUint(strings.TrimPrefix(m.Subject, f.inbox), 10, 64)
	if err != nil {
		return
	}
	dup, ackErr := parseAck(m)
	f.mu.Lock()
	defer f.mu.Unlock()
	fl := f.flights[id]
	if fl == nil || fl.closed {
		return
	}
	if ackErr != nil {
		fl.err = ackErr
		fl.finish()
		return
	}
	fl.acked++
	if dup {
		fl.dups++
	}
	if !fl.sending && fl.acked >= fl.sent {
		fl.finish()
	}
}

// Prefixes of the stream's answers: the server writes the error, when there
// is one, before the ack's fields, and names hold no quotes.
var (
	ackPrefix = []byte(`{"stream":`)
	duplicate = []byte(`"duplicate":`)
)

// parseAck reads the stream's answer to one publish: stored, stored
// before (a duplicate within the window), or an error (no stream for the
// subject, storage failed, ...).
func parseAck(m *nats.Msg) (dup bool, err error) {
	if len(m.Data) == 0 {
		if status := m.Header.Get("Status"); status == "503" {
			return false, nats.ErrNoResponders
		} else if status != "" {
			return false, fmt.Errorf("status %s %s", status, m.Header.Get("Description"))
		}
		return false, errors.New("empty answer to a publish")
	}
	if bytes.HasPrefix(m.Data, ackPrefix) {
		// The server writes `"duplicate": true` (with a space); either way.
		i := bytes.Index(m.Data, duplicate)
		return i >= 0 && bytes.HasPrefix(bytes.TrimLeft(m.Data[i+len(duplicate):], " "), []byte("true")), nil
	}
	var a struct {
		Error *struct {
			Code        int    `json:"code"`
			ErrCode     int    `json:"err_code"`
			Description string `json:"description"`
		} `json:"error"`
		Stream    string `json:"stream"`
		Duplicate bool   `json:"duplicate"`
	}
	if err := json.Unmarshal(m.Data, &a); err != nil {
		return false, fmt.Errorf("unreadable answer to a publish %q: %w", m.Data, err)
	}
	if a.Error != nil {
		return false, fmt.Errorf("jetstream error %d (%d): %s", a.Error.Code, a.Error.ErrCode, a.Error.Description)
	}
	if a.Stream == "" {
		return false, fmt.Errorf("answer to a publish names no stream: %q", m.Data)
	}
	return a.Duplicate, nil
}
