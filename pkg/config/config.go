// Package config loads YAML configuration files strictly, for the agent, the
// hub and the simulator alike, and reports every problem at once in one
// form, `file:line: key.path: message`:
//
//	agent.yaml:12: opcua[0].nodes[3].node_id: invalid NodeId "ns=2;x=1"
//	agent.yaml:4: nats.urll: unknown key; did you mean "url"?
//	hub.yaml:30: activity.flush_interval: want a duration such as 90s, 15m or 1h30m, got "1 second"
//
// What always holds after Decode: defaults were set before the file was read
// (Defaulter), an unknown key, a duplicate key or a value of the wrong type
// is an error naming its line and key path, and every problem a Validate
// method finds is reported with the line of its key (or of the nearest
// enclosing key that is in the file). Problems are sorted by line; a Validate
// complaint about a key whose value could not be read is left out, since the
// read error already names it.
//
// The package also generates the configuration references from the same
// types (reference.go).
package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// FieldError is a problem with the value at a key path such as
// "opcua[0].nodes[3].node_id". Decode adds the file name and line.
type FieldError struct {
	Path string
	Msg  string
	File string
	Line int
}

func (e *FieldError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteString(":" + strconv.Itoa(e.Line))
		}
		b.WriteString(": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errorf builds a FieldError for path.
func Errorf(path, format string, args ...any) error {
	return &FieldError{Path: path, Msg: fmt.Sprintf(format, args...)}
}

// Validator is implemented by configuration structs. Validate returns every
// problem it finds, joined (errors.Join), each a FieldError where it can.
type Validator interface {
	Validate() error
}

// Defaulter is implemented by configuration structs that fill defaults before
// decoding, so values in the file override them.
type Defaulter interface {
	SetToDefault()
}

// Load reads the file at path into v (a pointer to a struct).
func Load(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading config: %w", err)
	}
	return Decode(path, data, v)
}

// Decode decodes data (named name in errors) into v strictly, then validates.
// The error, if any, joins one FieldError per problem.
func Decode(name string, data []byte, v any) error {
	if d, ok := v.(Defaulter); ok {
		d.SetToDefault()
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return syntaxError(name, err)
	}
	read := check(&root, reflect.TypeOf(v))
	// The tree check walked is decoded as it is, rather than the file
	// parsed again: a second tree would double the memory a large file
	// takes (10,000 OPC UA nodes: about 10 MB a tree). Unknown keys are
	// check's to find; yaml.v3's KnownFields would find no other.
	if err := decodeNode(&root, v); err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			// An UnmarshalYAML method's own error stops yaml.v3 short, so
			// the rest is not decoded and not worth validating.
			if len(read) == 0 {
				read = append(read, syntaxError("", err).(*FieldError))
			}
			return joinByLine(withFile(name, read))
		}
		// What yaml.v3 finds, check finds too; this is a safety net for
		// the cases it might not, so that nothing goes unreported.
		read = append(read, uncovered(te, read)...)
	}
	problems := withFile(name, read)
	if val, ok := v.(Validator); ok {
		for _, e := range flatten(val.Validate()) {
			var fe *FieldError
			if !errors.As(e, &fe) {
				problems = append(problems, fmt.Errorf("%s: %w", name, e))
				continue
			}
			if covered(fe.Path, read) {
				continue
			}
			fe.File, fe.Line = name, Line(&root, fe.Path)
			problems = append(problems, fe)
		}
	}
	return joinByLine(problems)
}

// joinByLine joins the problems sorted by line (those without one first).
func joinByLine(problems []error) error {
	sort.SliceStable(problems, func(i, j int) bool { return lineOf(problems[i]) < lineOf(problems[j]) })
	return errors.Join(problems...)
}

// withFile sets File on every error of read and returns them as errors.
func withFile(name string, read []*FieldError) []error {
	out := make([]error, 0, len(read))
	for _, fe := range read {
		fe.File = name
		out = append(out, fe)
	}
	return out
}

// covered reports whether a Validate complaint about path comes from a value
// that could not be read (path is, or is under, the path of a read error).
func covered(path string, read []*FieldError) bool {
	for _, r := range read {
		if r.Path == "" || path == r.Path || strings.HasPrefix(path, r.Path+".") || strings.HasPrefix(path, r.Path+"[") {
			return true
		}
	}
	return false
}

func lineOf(err error) int {
	var fe *FieldError
	if errors.As(err, &fe) {
		return fe.Line
	}
	return 0
}

func flatten(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// syntaxError turns "yaml: line 3: mapping values are not allowed in this
// context" into "name:3: mapping values are not allowed in this context".
func syntaxError(name string, err error) error {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &FieldError{File: name, Line: line, Msg: m[2]}
	}
	return &FieldError{File: name, Msg: strings.TrimPrefix(msg, "yaml: ")}
}

// uncovered returns yaml.v3's decoding errors on lines where check found
// nothing, in the common form.
func uncovered(te *yaml.TypeError, read []*FieldError) []*FieldError {
	lines, msgs := map[int]bool{}, map[string]bool{}
	for _, r := range read {
		lines[r.Line] = true
		msgs[r.Msg] = true
	}
	var out []*FieldError
	for _, e := range te.Errors {
		fe := &FieldError{Msg: e}
		if m := yamlLine.FindStringSubmatch(e); m != nil {
			fe.Line, _ = strconv.Atoi(m[1])
			fe.Msg = m[2]
		}
		// An UnmarshalYAML method's TypeError has no line of its own;
		// check reported it with one when the message is the same.
		if (fe.Line == 0 && !msgs[fe.Msg]) || (fe.Line != 0 && !lines[fe.Line]) {
			out = append(out, fe)
		}
	}
	return out
}

var pathPart = regexp.MustCompile(`([^.\[\]]+)|\[(\d+)\]`)

// Line returns the line of the node at path ("a.b[2].c") in the document, or
// of the deepest existing parent when the key itself is absent; 0 if unknown.
func Line(root *yaml.Node, path string) int {
	n := root
	if n == nil {
		return 0
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := n.Line
	for _, m := range pathPart.FindAllStringSubmatch(path, -1) {
		var next *yaml.Node
		nextLine := 0
		switch {
		case m[1] != "" && n.Kind == yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == m[1] {
					next, nextLine = n.Content[i+1], n.Content[i].Line // the key's line
					break
				}
			}
		case m[2] != "" && n.Kind == yaml.SequenceNode:
			i, _ := strconv.Atoi(m[2])
			if i < len(n.Content) {
				next = n.Content[i]
				nextLine = next.Line
			}
		}
		if next == nil {
			return line
		}
		n, line = next, nextLine
		if n.Kind == yaml.AliasNode && n.Alias != nil {
			n = n.Alias
		}
	}
	return line
}

// decodeNode decodes the document root into v; an empty document decodes
// to nothing.
func decodeNode(root *yaml.Node, v any) error {
	if root.Kind == 0 {
		return nil
	}
	return root.Decode(v)
}
