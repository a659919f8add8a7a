package config

import (
	"fmt"
	"math"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"
)

var (
	durationType    = reflect.TypeFor[time.Duration]()
	unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()
	shorthandType   = reflect.TypeFor[Shorthand]()
)

// Shorthand is implemented by a section that may also be written as one
// scalar, such as `http: 127.0.0.1:8080` for `http: {listen: 127.0.0.1:8080}`.
// Its UnmarshalYAML takes both forms; written as a mapping, its keys are
// checked and documented as any section's.
type Shorthand interface {
	yaml.Unmarshaler
	// YAMLShorthand names the key the scalar form sets.
	YAMLShorthand() string
}

// scalarType reports whether a value of type t (not a pointer) is read
// as one scalar when written as node n (nil: in general, for the reference).
func scalarType(t reflect.Type, n *yaml.Node) bool {
	if t == durationType {
		return true
	}
	if !reflect.PointerTo(t).Implements(unmarshalerType) {
		return false
	}
	if reflect.PointerTo(t).Implements(shorthandType) {
		return n != nil && n.Kind != yaml.MappingNode
	}
	return true
}

// check walks the document beside the Go type t (a pointer to the config
// struct) and returns a FieldError for every unknown or repeated key and
// every value that does not fit its field's type, with line and key path.
// yaml.v3 finds the same problems but names only the line, and not the file
// or key.
func check(root *yaml.Node, t reflect.Type) []*FieldError {
	var c checker
	n := root
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return nil
		}
		n = n.Content[0]
	}
	if n.Kind == 0 {
		return nil
	}
	c.walk(n, t, "", 0)
	return c.errs
}

type checker struct{ errs []*FieldError }

func (c *checker) add(line int, path, format string, args ...any) {
	c.errs = append(c.errs, &FieldError{Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// walk checks node n against type t. keyLine is the line of the key whose
// value n is (0 for list elements and the document), where errors are put.
func (c *checker) walk(n *yaml.Node, t reflect.Type, path string, keyLine int) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	line := keyLine
	if line == 0 {
		line = n.Line
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return // leaves the default
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() == reflect.Interface {
		return
	}
	if scalarType(t, n) {
		c.leaf(n, t, path, line)
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			c.add(line, path, "want a mapping (key: value), got %s", describe(n))
			return
		}
		fields := yamlFields(t)
		c.mapping(n, path, func(k, v *yaml.Node) {
			f, ok := fields[k.Value]
			if !ok {
				c.unknown(k, path, fields)
				return
			}
			c.walk(v, f.Type, join(path, k.Value), k.Line)
		}, func(v *yaml.Node) { c.walk(v, t, path, line) })
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			c.add(line, path, "want a mapping (key: value), got %s", describe(n))
			return
		}
		c.mapping(n, path, func(k, v *yaml.Node) {
			c.leaf(k, t.Key(), join(path, k.Value), k.Line)
			c.walk(v, t.Elem(), join(path, k.Value), k.Line)
		}, func(v *yaml.Node) { c.walk(v, t, path, line) })
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			c.add(line, path, "want a list, got %s", describe(n))
			return
		}
		for i, e := range n.Content {
			c.walk(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i), 0)
		}
	default:
		c.leaf(n, t, path, line)
	}
}

// mapping calls pair for every key and value of n, merge for the value of a
// merge key ("<<"), and reports repeated keys.
func (c *checker) mapping(n *yaml.Node, path string, pair func(k, v *yaml.Node), merge func(v *yaml.Node)) {
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			if v.Kind == yaml.SequenceNode {
				for _, m := range v.Content {
					merge(m)
				}
			} else {
				merge(v)
			}
			continue
		}
		if prev, dup := seen[k.Value]; dup {
			c.add(k.Line, join(path, k.Value), "set twice (first at line %d)", prev)
			continue
		}
		seen[k.Value] = k.Line
		pair(k, v)
	}
}

// unknown reports key k, which is not a field of the struct at path.
func (c *checker) unknown(k *yaml.Node, path string, fields map[string]reflect.StructField) {
	known := make([]string, 0, len(fields))
	for name := range fields {
		known = append(known, name)
	}
	msg := "unknown key"
	if s := Suggest(k.Value, known); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	}
	c.add(k.Line, join(path, k.Value), "%s", msg)
}

// leaf decodes n into a new value of type t, as the real decoding will,
// and reports a failure in words naming the type wanted.
func (c *checker) leaf(n *yaml.Node, t reflect.Type, path string, line int) {
	err := n.Decode(reflect.New(t).Interface())
	if err == nil {
		return
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		c.add(line, path, "%s", unmarshalerMessage(err))
		return
	}
	c.add(line, path, "want %s, got %s", want(t), describe(n))
}

var linePrefix = regexp.MustCompile(`^(?:yaml: unmarshal errors:\s*)?(?:line \d+: )?`)

// unmarshalerMessage is the message of a custom UnmarshalYAML method's
// error, without a line of its own (the FieldError gives it).
func unmarshalerMessage(err error) string {
	if te, ok := err.(*yaml.TypeError); ok && len(te.Errors) > 0 {
		return linePrefix.ReplaceAllString(te.Errors[0], "")
	}
	return linePrefix.ReplaceAllString(err.Error(), "")
}

// want names what a value of type t is written as.
func want(t reflect.Type) string {
	if t == durationType {
		return "a duration such as 90s, 15m or 1h30m"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64:
		return "a whole number"
	case reflect.Int8, reflect.Int16, reflect.Int32:
		return fmt.Sprintf("a whole number from %d to %d", -1<<(t.Bits()-1), 1<<(t.Bits()-1)-1)
	case reflect.Uint, reflect.Uint64, reflect.Uintptr:
		return "a whole number, not negative"
	case reflect.Uint8, reflect.Uint16, reflect.Uint32:
		return fmt.Sprintf("a whole number from 0 to %d", uint64(math.MaxUint64)>>(64-t.Bits()))
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a single value (text)"
	}
	return "a " + t.String()
}

// describe says what a node holds, for "got ...".
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return strconv.Quote(n.Value)
	}
	return "nothing usable"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// fieldsByType holds what yamlFields returned, by type: a list of 10,000
// OPC UA nodes would otherwise list the node type's fields 10,000 times
// (most of what loading such a file allocated).
var fieldsByType sync.Map // reflect.Type -> map[string]reflect.StructField

// yamlFields returns the fields of struct type t by their YAML keys, those
// of inlined structs included, as yaml.v3 decodes them. The map is shared:
// read it, never change it.
func yamlFields(t reflect.Type) map[string]reflect.StructField {
	if m, ok := fieldsByType.Load(t); ok {
		return m.(map[string]reflect.StructField)
	}
	out := map[string]reflect.StructField{}
	for _, f := range YAMLFields(t) {
		out[f.Key] = f.StructField
	}
	fieldsByType.Store(t, out)
	return out
}

// Field is a struct field decoded from a YAML key.
type Field struct {
	reflect.StructField
	Key   string
	Index []int // as for reflect.Value.FieldByIndex, through inlined structs
}

// YAMLFields lists the fields of struct type t that yaml.v3 decodes, in
// order, with their keys; fields of inlined structs are listed in place.
func YAMLFields(t reflect.Type) []Field {
	var out []Field
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if strings.Contains(","+opts+",", ",inline,") {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for _, in := range YAMLFields(ft) {
					in.Index = append([]int{i}, in.Index...)
					out = append(out, in)
				}
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out = append(out, Field{StructField: f, Key: name, Index: []int{i}})
	}
	return out
}

// Suggest returns the entry of known one or two edits (insertions,
// deletions, substitutions or swaps of neighbours, ignoring case) away from
// key, the nearest and then the first in alphabetical order; "" if none is.
func Suggest(key string, known []string) string {
	sorted := append([]string(nil), known...)
	sort.Strings(sorted)
	best, bestD := "", 3
	for _, k := range sorted {
		d := distance(strings.ToLower(key), strings.ToLower(k))
		if d < bestD && d < len(k) && d < len(key) {
			best, bestD = k, d
		}
	}
	return best
}

// distance is the optimal string alignment distance between a and b.
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}
