package mqtt

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/floorpulse/floorpulse/agent/internal/config"
	"github.com/floorpulse/floorpulse/agent/internal/metrics"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// maxPayload bounds what the JSON and plain decoders read; larger messages
// are decode errors.
const maxPayload = signal.MaxEncodedSize

// errDecode is wrapped by every decoding error; each also carries the
// reason it is counted under (aside, reasonOf).
var errDecode = errors.New("undecodable message")

// Plausible source timestamps: not before 2000, not more than a day after
// the receive time (a device clock that is a little ahead is tolerated).
var earliest = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

const maxAhead = 24 * time.Hour

func plausibleAt(t, rx time.Time) bool {
	return !t.Before(earliest) && !t.After(rx.Add(maxAhead))
}

func errImplausibleTime(t time.Time) error {
	return aside(metrics.BadTimestamp, "timestamp %s is before 2000 or more than %s ahead of the receive time", t.Format(time.RFC3339Nano), maxAhead)
}

// seqRoom is what the queue adds to an encoded signal (its sequence number).
const seqRoom = 32

// checkSignal validates a decoded signal, checks that its value has a type
// the hub can interpret for its name and makes sure its encoding fits the
// wire limit (a long string can grow when JSON escapes it).
func checkSignal(s signal.Signal) error {
	if !mapped(s) {
		if err := s.Validate(); err != nil {
			return aside(metrics.UnmappedTopic, "%v", err)
		}
		return aside(metrics.UnmappedTopic, "signal name %q is reserved to the agent", s.Name)
	}
	if err := s.Validate(); err != nil {
		return aside(metrics.BadValue, "%v", err)
	}
	if err := s.CheckType(); err != nil {
		return &setAside{reason: metrics.WrongType, err: err}
	}
	if s.Value.Kind == signal.KindString && len(s.Value.Str) > signal.MaxEncodedSize/8 {
		b, err := signal.Marshal(s)
		if err != nil {
			return aside(metrics.BadValue, "%v", err)
		}
		if len(b) > signal.MaxEncodedSize-seqRoom {
			return aside(metrics.TooLarge, "signal of %d bytes exceeds the wire limit", len(b))
		}
	}
	return nil
}

// mapped reports whether the signal's place and name are valid.
func mapped(s signal.Signal) bool {
	return signal.ValidToken(s.Site) && signal.ValidToken(s.Line) && signal.ValidToken(s.Equipment) &&
		signal.ValidToken(s.Name) && !signal.Reserved(s.Name)
}

// Decoder turns the messages of one subscription into signals.
type Decoder struct {
	tmpl       config.Template
	fixed      map[string]string // field -> value when the template does not give it
	format     string
	valuePath  []string
	timePath   []string
	timeFormat string
	agent      string
}

// NewDecoder builds the decoder of a validated subscription.
func NewDecoder(sub config.Subscription, defaultSite, agent string) *Decoder {
	site := sub.Site
	if site == "" {
		site = defaultSite
	}
	return &Decoder{
		tmpl: sub.Compiled(),
		fixed: map[string]string{
			config.FieldSite: site, config.FieldLine: sub.Line, config.FieldEquipment: sub.Equipment, config.FieldSignal: sub.Signal,
		},
		format:     sub.Format,
		valuePath:  splitPath(sub.Value),
		timePath:   splitPath(sub.Time),
		timeFormat: sub.TimeFormat,
		agent:      agent,
	}
}

func splitPath(p string) []string {
	if p == "" {
		return nil
	}
	return strings.Split(p, ".")
}

// Decode maps one message to a signal. rx is the receive time, used (and
// flagged) when the message carries no timestamp.
func (d *Decoder) Decode(topic string, payload []byte, rx time.Time) (signal.Signal, error) {
	if !utf8.ValidString(topic) {
		return signal.Signal{}, aside(metrics.UnmappedTopic, "topic is not UTF-8")
	}
	fields, err := d.tmpl.MatchFields(topic)
	if err != nil {
		return signal.Signal{}, aside(metrics.UnmappedTopic, "%v", err)
	}
	get := func(f string) string {
		if v := fields.Get(f); v != "" {
			return v
		}
		return d.fixed[f]
	}
	s := signal.Signal{
		Site: get(config.FieldSite), Line: get(config.FieldLine), Equipment: get(config.FieldEquipment),
		Name: get(config.FieldSignal), Agent: d.agent,
	}
	var ts time.Time
	switch d.format {
	case config.FormatPlain:
		switch s.Name {
		case signal.Operator, signal.Login, signal.Logout:
			// Operator ids are text, digits or not: "0042" stays "0042".
			var text string
			text, err = plainText(payload)
			s.Value = signal.String(text)
		default:
			s.Value, err = DecodePlain(payload)
		}
	default:
		s.Value, ts, err = DecodeJSON(payload, d.valuePath, d.timePath, d.timeFormat)
	}
	if err != nil {
		return signal.Signal{}, err
	}
	if ts.IsZero() {
		ts, s.Received = rx, true
	} else if !plausibleAt(ts, rx) {
		return signal.Signal{}, errImplausibleTime(ts)
	}
	s.Time = ts
	if err := checkSignal(s); err != nil {
		return signal.Signal{}, err
	}
	return s, nil
}

// DecodePlain reads a text payload: "true"/"false" are bools, a finite number
// is a number, anything else (valid UTF-8) is a string.
func DecodePlain(payload []byte) (signal.Value, error) {
	text, err := plainText(payload)
	if err != nil {
		return signal.Value{}, err
	}
	switch text {
	case "true":
		return signal.Bool(true), nil
	case "false":
		return signal.Bool(false), nil
	}
	if f, err := strconv.ParseFloat(text, 64); err == nil {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return signal.Value{}, aside(metrics.BadValue, "%q is not a finite number", text)
		}
		return signal.Number(f), nil
	}
	return signal.String(text), nil
}

// plainText is a text payload without the white space around it.
func plainText(payload []byte) (string, error) {
	if len(payload) > maxPayload {
		return "", aside(metrics.TooLarge, "payload of %d bytes", len(payload))
	}
	if !utf8.Valid(payload) {
		return "", aside(metrics.BadPayload, "payload is not UTF-8 text")
	}
	return strings.TrimSpace(string(payload)), nil
}

// DecodeJSON reads the value at valuePath (nil: the whole document) and the
// timestamp at timePath (nil: none) of a JSON payload. A missing timestamp
// field gives a zero time (the caller uses the receive time); a timestamp
// that is present but unreadable is an error.
func DecodeJSON(payload []byte, valuePath, timePath []string, timeFormat string) (signal.Value, time.Time, error) {
	if len(payload) > maxPayload {
		return signal.Value{}, time.Time{}, aside(metrics.TooLarge, "payload of %d bytes", len(payload))
	}
	if len(valuePath) == 1 && len(timePath) <= 1 {
		if v, ts, ok := decodeFlat(payload, valuePath[0], timePath, timeFormat); ok {
			return v, ts, nil
		}
	}
	return decodeGeneric(payload, valuePath, timePath, timeFormat)
}

// decodeFlat is the fast path for the common payload: a flat object whose
// members are plain scalars (strings without escapes, numbers, literals),
// with the value and the timestamp at its top level. It scans the bytes
// without building the document. ok is false whenever it cannot decide alone
// (anything else: nesting, escapes, errors); then decodeGeneric decides, with
// its error messages, so both paths agree (a fuzz test checks this).
func decodeFlat(payload []byte, valueKey string, timePath []string, timeFormat string) (signal.Value, time.Time, bool) {
	timeKey := ""
	if len(timePath) == 1 {
		timeKey = timePath[0]
	}
	rawV, rawT, ok := scanFlat(payload, valueKey, timeKey)
	if !ok || rawV == nil {
		return signal.Value{}, time.Time{}, false
	}
	var v signal.Value
	switch c := rawV[0]; {
	case c == '"':
		v = signal.String(string(rawV[1 : len(rawV)-1]))
	case string(rawV) == "true":
		v = signal.Bool(true)
	case string(rawV) == "false":
		v = signal.Bool(false)
	case c == '-' || c >= '0' && c <= '9':
		var err error
		if v, err = jsonValue(json.Number(rawV)); err != nil {
			return signal.Value{}, time.Time{}, false
		}
	default: // null
		return signal.Value{}, time.Time{}, false
	}
	if timeKey == "" || rawT == nil || string(rawT) == "null" {
		return v, time.Time{}, true
	}
	var text any
	switch c := rawT[0]; {
	case c == '"':
		text = string(rawT[1 : len(rawT)-1])
	case c == '-' || c >= '0' && c <= '9':
		text = json.Number(rawT)
	default:
		return signal.Value{}, time.Time{}, false
	}
	ts, err := parseTime(text, timeFormat)
	if err != nil {
		return signal.Value{}, time.Time{}, false
	}
	return v, ts, true
}

// scanFlat reads a flat JSON object and returns the raw values of two keys
// (the last occurrence, as encoding/json keeps it; nil when absent). ok is
// false for anything but a flat object of plain scalars.
func scanFlat(p []byte, k1, k2 string) (v1, v2 []byte, ok bool) {
	i := skipWS(p, 0)
	if i >= len(p) || p[i] != '{' {
		return nil, nil, false
	}
	i = skipWS(p, i+1)
	if i < len(p) && p[i] == '}' {
		return nil, nil, skipWS(p, i+1) == len(p)
	}
	for {
		key, n, ok := scanString(p, i)
		if !ok {
			return nil, nil, false
		}
		i = skipWS(p, n)
		if i >= len(p) || p[i] != ':' {
			return nil, nil, false
		}
		i = skipWS(p, i+1)
		end, ok := scanScalar(p, i)
		if !ok {
			return nil, nil, false
		}
		if string(key) == k1 {
			v1 = p[i:end]
		}
		if k2 != "" && string(key) == k2 {
			v2 = p[i:end]
		}
		i = skipWS(p, end)
		if i >= len(p) {
			return nil, nil, false
		}
		if p[i] == '}' {
			return v1, v2, skipWS(p, i+1) == len(p)
		}
		if p[i] != ',' {
			return nil, nil, false
		}
		i = skipWS(p, i+1)
	}
}

func skipWS(p []byte, i int) int {
	for i < len(p) && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r') {
		i++
	}
	return i
}

// scanString reads a string without escapes at p[i]; it returns its content
// and the index after the closing quote.
func scanString(p []byte, i int) ([]byte, int, bool) {
	if i >= len(p) || p[i] != '"' {
		return nil, 0, false
	}
	for j := i + 1; j < len(p); j++ {
		switch c := p[j]; {
		case c == '"':
			s := p[i+1 : j]
			return s, j + 1, utf8.Valid(s)
		case c == '\\' || c < 0x20:
			return nil, 0, false
		}
	}
	return nil, 0, false
}

// scanScalar reads a plain string, a number or a literal at p[i] and returns
// the index after it.
func scanScalar(p []byte, i int) (int, bool) {
	if i >= len(p) {
		return 0, false
	}
	switch c := p[i]; {
	case c == '"':
		_, n, ok := scanString(p, i)
		return n, ok
	case c == 't':
		return i + 4, len(p) >= i+4 && string(p[i:i+4]) == "true"
	case c == 'f':
		return i + 5, len(p) >= i+5 && string(p[i:i+5]) == "false"
	case c == 'n':
		return i + 4, len(p) >= i+4 && string(p[i:i+4]) == "null"
	case c == '-' || c >= '0' && c <= '9':
		return scanNumber(p, i)
	}
	return 0, false
}

// scanNumber reads a number in JSON's grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func scanNumber(p []byte, i int) (int, bool) {
	digits := func(j int) int {
		for j < len(p) && p[j] >= '0' && p[j] <= '9' {
			j++
		}
		return j
	}
	if i < len(p) && p[i] == '-' {
		i++
	}
	switch {
	case i < len(p) && p[i] == '0':
		i++
	case i < len(p) && p[i] >= '1' && p[i] <= '9':
		i = digits(i + 1)
	default:
		return 0, false
	}
	if i < len(p) && p[i] == '.' {
		j := digits(i + 1)
		if j == i+1 {
			return 0, false
		}
		i = j
	}
	if i < len(p) && (p[i] == 'e' || p[i] == 'E') {
		i++
		if i < len(p) && (p[i] == '+' || p[i] == '-') {
			i++
		}
		j := digits(i)
		if j == i {
			return 0, false
		}
		i = j
	}
	return i, true
}

// decodeGeneric decodes the whole document and follows the paths.
func decodeGeneric(payload []byte, valuePath, timePath []string, timeFormat string) (signal.Value, time.Time, error) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return signal.Value{}, time.Time{}, aside(metrics.BadPayload, "%v", err)
	}
	if dec.More() {
		return signal.Value{}, time.Time{}, aside(metrics.BadPayload, "trailing data after JSON")
	}
	raw, ok := lookup(doc, valuePath)
	if !ok {
		return signal.Value{}, time.Time{}, aside(metrics.BadPayload, "no value at %q", strings.Join(valuePath, "."))
	}
	v, err := jsonValue(raw)
	if err != nil {
		return signal.Value{}, time.Time{}, err
	}
	if timePath == nil {
		return v, time.Time{}, nil
	}
	rawTS, ok := lookup(doc, timePath)
	if !ok || rawTS == nil {
		return v, time.Time{}, nil
	}
	ts, err := parseTime(rawTS, timeFormat)
	if err != nil {
		return signal.Value{}, time.Time{}, err
	}
	return v, ts, nil
}

func lookup(doc any, path []string) (any, bool) {
	for _, k := range path {
		m, ok := doc.(map[string]any)
		if !ok {
			return nil, false
		}
		if doc, ok = m[k]; !ok {
			return nil, false
		}
	}
	return doc, true
}

func jsonValue(raw any) (signal.Value, error) {
	switch x := raw.(type) {
	case bool:
		return signal.Bool(x), nil
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil || math.IsInf(f, 0) {
			return signal.Value{}, aside(metrics.BadValue, "number %s out of range", x)
		}
		return signal.Number(f), nil
	case string:
		return signal.String(x), nil
	case nil:
		return signal.Value{}, aside(metrics.BadValue, "value is null")
	default:
		return signal.Value{}, aside(metrics.BadValue, "value is a JSON %T, want bool, number or string", raw)
	}
}

func parseTime(raw any, format string) (time.Time, error) {
	var text string
	switch x := raw.(type) {
	case string:
		text = x
	case json.Number:
		text = string(x)
	default:
		return time.Time{}, aside(metrics.BadTimestamp, "timestamp is a JSON %T", raw)
	}
	switch format {
	case "unix", "unix_ms":
		unit := int64(time.Second)
		if format == "unix_ms" {
			unit = int64(time.Millisecond)
		}
		if n, err := strconv.ParseInt(text, 10, 64); err == nil {
			if n > math.MaxInt64/unit || n < math.MinInt64/unit {
				return time.Time{}, aside(metrics.BadTimestamp, "timestamp %s out of range", text)
			}
			return time.Unix(0, n*unit).UTC(), nil
		}
		f, err := strconv.ParseFloat(text, 64)
		if err != nil || math.IsNaN(f) || math.Abs(f*float64(unit)) > math.MaxInt64/2 {
			return time.Time{}, aside(metrics.BadTimestamp, "timestamp %q is not a %s time", text, format)
		}
		// Round to the microsecond: float seconds carry no more, and the same
		// payload must always give the same time.
		return time.Unix(0, int64(f*float64(unit))).Round(time.Microsecond).UTC(), nil
	default:
		t, err := time.Parse(time.RFC3339Nano, text)
		if err != nil {
			return time.Time{}, aside(metrics.BadTimestamp, "timestamp %q is not RFC 3339", text)
		}
		return t.UTC(), nil
	}
}
