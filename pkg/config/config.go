// Package config loads YAML configuration files strictly: unknown keys are
// errors, and every problem found by a Validate method is reported with its
// key path and line, all at once (e.g.
// `agent.yaml:12: opcua[0].nodes[3].node_id: invalid NodeId "ns=2;x=1"`).
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// FieldError is a problem with the value at a key path such as
// "opcua[0].nodes[3].node_id". Load adds the file name and line.
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
	b.WriteString(e.Path + ": " + e.Msg)
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
func Decode(name string, data []byte, v any) error {
	if d, ok := v.(Defaulter); ok {
		d.SetToDefault()
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var decodeErr error
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		decodeErr = fmt.Errorf("%s: %w", name, cleanYAMLError(err))
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return decodeErr // not YAML at all: nothing to validate
		}
		// Unknown keys and mistyped values: the rest was decoded, so report
		// its problems too, all at once.
	}
	var root yaml.Node
	_ = yaml.Unmarshal(data, &root)
	val, ok := v.(Validator)
	if !ok {
		return decodeErr
	}
	err := val.Validate()
	if err == nil {
		return decodeErr
	}
	return errors.Join(decodeErr, annotate(name, &root, err))
}

// annotate sets File and Line on every FieldError in err.
func annotate(name string, root *yaml.Node, err error) error {
	var out []error
	for _, e := range flatten(err) {
		var fe *FieldError
		if errors.As(e, &fe) {
			fe.File = name
			fe.Line = Line(root, fe.Path)
			out = append(out, fe)
			continue
		}
		out = append(out, fmt.Errorf("%s: %w", name, e))
	}
	return errors.Join(out...)
}

func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
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
		switch {
		case m[1] != "" && n.Kind == yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == m[1] {
					next = n.Content[i+1]
					if next.Kind == yaml.ScalarNode {
						next = &yaml.Node{Line: n.Content[i].Line}
					}
					break
				}
			}
		case m[2] != "" && n.Kind == yaml.SequenceNode:
			i, _ := strconv.Atoi(m[2])
			if i < len(n.Content) {
				next = n.Content[i]
			}
		}
		if next == nil {
			return line
		}
		n = next
		line = n.Line
	}
	return line
}

// cleanYAMLError turns yaml.v3's "yaml: unmarshal errors:\n  line 3: field x
// not found in type main.T" into "line 3: unknown key "x"".
func cleanYAMLError(err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return err
	}
	var out []error
	for _, e := range te.Errors {
		if i := strings.Index(e, ": field "); i >= 0 && strings.Contains(e, " not found in type ") {
			key := strings.TrimPrefix(e[i:], ": field ")
			key = key[:strings.Index(key, " not found in type ")]
			out = append(out, fmt.Errorf("%s: unknown key %q", e[:i], key))
			continue
		}
		out = append(out, errors.New(e))
	}
	return errors.Join(out...)
}
