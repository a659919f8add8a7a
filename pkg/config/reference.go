package config

import (
	"bytes"
	"errors"
	"fmt"
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"
)

// Reference generates the Markdown configuration reference of one program
// from its root config type: every key (walking the yaml tags, inlined
// structs included), its type, its default where SetToDefault (and Validate,
// which fills some) makes it knowable, and its description, the doc comment
// of its field in the Go source.
type Reference struct {
	Title   string // first heading
	Intro   string // Markdown after the heading
	Command string // the command that regenerates the file
	Root    any    // pointer to the root config struct
}

type refRow struct {
	key, typ, def, desc string
}

type refSection struct {
	key, typ, desc string
	rows           []refRow
}

// Generate returns the reference and the keys that have no description.
func (r Reference) Generate() ([]byte, []string, error) {
	t := reflect.TypeOf(r.Root)
	if t == nil || t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return nil, nil, errors.New("Reference.Root must be a pointer to a struct")
	}
	defaults := reflect.New(t.Elem())
	if d, ok := defaults.Interface().(Defaulter); ok {
		d.SetToDefault()
	}
	if v, ok := defaults.Interface().(Validator); ok {
		_ = v.Validate() // fills the defaults it knows; the zero config is not valid
	}
	g := &refGen{docs: map[string]map[string]string{}, seen: map[reflect.Type]string{}}
	if err := g.findModule(); err != nil {
		return nil, nil, err
	}
	top := refSection{key: "", desc: "Keys at the top of the file."}
	var sections []refSection
	for _, f := range YAMLFields(t.Elem()) {
		desc, err := g.describe(t.Elem(), f)
		if err != nil {
			return nil, nil, err
		}
		ft, fv := fieldOf(t.Elem(), defaults.Elem(), f)
		if !expands(ft) {
			top.rows = append(top.rows, refRow{"`" + f.Key + "`", typeName(ft), defaultOf(fv), desc})
			g.check(f.Key, desc)
			continue
		}
		s := refSection{key: f.Key, typ: typeName(ft), desc: desc}
		g.check(f.Key, desc)
		if first, again := g.again(ft, fv, f.Key); again {
			s.typ += fmt.Sprintf(", the same keys as [`%s`](#%s)", first, first)
		} else if s.rows, err = g.walk(ft, fv, f.Key); err != nil {
			return nil, nil, err
		}
		sections = append(sections, s)
	}
	return r.render(top, sections), g.undocumented, nil
}

func (r Reference) render(top refSection, sections []refSection) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s\n\n", r.Title)
	fmt.Fprintf(&b, "<!-- Generated from the Go config types; do not edit. Regenerate with: %s -->\n\n", r.Command)
	fmt.Fprintf(&b, "Generated from the configuration types and their doc comments; do not edit by hand. After changing a key, regenerate with `%s`.\n\n", r.Command)
	if r.Intro != "" {
		b.WriteString(strings.TrimSpace(r.Intro) + "\n\n")
	}
	b.WriteString("Durations are written as `500ms`, `90s`, `15m` or `1h30m`. In a key path, `[]` stands for any element of a list and `<key>` for a key of your choosing. A default left blank is empty, zero or described in the text.\n\n")
	b.WriteString("Sections: [top level](#top-level)")
	for _, s := range sections {
		fmt.Fprintf(&b, ", [`%s`](#%s)", s.key, s.key)
	}
	b.WriteString(".\n")
	writeTable := func(rows []refRow) {
		b.WriteString("| Key | Type | Default | Description |\n|---|---|---|---|\n")
		for _, row := range rows {
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", row.key, row.typ, row.def, cell(row.desc))
		}
	}
	b.WriteString("\n## Top level\n\n")
	writeTable(top.rows)
	for _, s := range sections {
		fmt.Fprintf(&b, "\n## %s\n\n", s.key)
		fmt.Fprintf(&b, "%s Type: %s.\n\n", cell(s.desc), s.typ)
		writeTable(s.rows)
	}
	return b.Bytes()
}

type refGen struct {
	root, module string
	docs         map[string]map[string]string // "pkgpath.Type" -> field name -> doc
	seen         map[reflect.Type]string      // struct types listed, at which key
	undocumented []string
}

func (g *refGen) check(key, desc string) {
	if strings.TrimSpace(desc) == "" {
		g.undocumented = append(g.undocumented, key)
	}
}

// walk returns the rows of the keys under prefix, of struct type t with
// default value v (invalid when not knowable: inside a list or map).
func (g *refGen) walk(t reflect.Type, v reflect.Value, prefix string) ([]refRow, error) {
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		return g.walk(deref(t.Elem()), reflect.Value{}, prefix+"[]")
	case reflect.Map:
		return g.walk(deref(t.Elem()), reflect.Value{}, prefix+".<key>")
	}
	var rows []refRow
	for _, f := range YAMLFields(t) {
		if len(f.Index) > 1 { // an inlined struct's keys are listed here
			if in := deref(t.Field(f.Index[0]).Type); g.seen[in] == "" {
				g.seen[in] = prefix
			}
		}
		key := prefix + "." + f.Key
		desc, err := g.describe(t, f)
		if err != nil {
			return nil, err
		}
		g.check(key, desc)
		ft, fv := fieldOf(t, v, f)
		row := refRow{"`" + key + "`", typeName(ft), defaultOf(fv), desc}
		if !expands(ft) {
			rows = append(rows, row)
			continue
		}
		if first, again := g.again(ft, fv, key); again {
			row.typ += fmt.Sprintf(", the same keys as `%s`", first)
			rows = append(rows, row)
			continue
		}
		rows = append(rows, row)
		sub, err := g.walk(ft, fv, key)
		if err != nil {
			return nil, err
		}
		rows = append(rows, sub...)
	}
	return rows, nil
}

// again reports whether the keys under key (of type t, default value v)
// were listed already, under first, and need not be again: they are when
// there are no defaults of their own to show (t is a list or a map, or v is
// unknown). Otherwise it records key as where they are listed.
func (g *refGen) again(t reflect.Type, v reflect.Value, key string) (first string, again bool) {
	st := structOf(t)
	first, seen := g.seen[st]
	if seen && (t.Kind() != reflect.Struct || !v.IsValid()) {
		return first, true
	}
	if !seen {
		g.seen[st] = key
	}
	return "", false
}

// fieldOf returns the type of field f of struct type t (pointers removed)
// and its value in v, when v is valid and no nil pointer is in the way.
func fieldOf(t reflect.Type, v reflect.Value, f Field) (reflect.Type, reflect.Value) {
	ft := deref(f.Type)
	if !v.IsValid() {
		return ft, v
	}
	fv, err := v.FieldByIndexErr(f.Index)
	if err != nil {
		return ft, reflect.Value{}
	}
	for fv.Kind() == reflect.Pointer {
		if fv.IsNil() {
			return ft, reflect.Value{}
		}
		fv = fv.Elem()
	}
	return ft, fv
}

func deref(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// leafType reports whether a value of type t is written as one scalar.
func leafType(t reflect.Type) bool {
	t = deref(t)
	if scalarType(t, nil) {
		return true
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Slice, reflect.Array, reflect.Map:
		return false
	}
	return true
}

// structOf returns the struct type t holds (itself, or its list's or map's
// elements'), nil if none.
func structOf(t reflect.Type) reflect.Type {
	for {
		t = deref(t)
		if leafType(t) {
			return nil
		}
		switch t.Kind() {
		case reflect.Struct:
			return t
		case reflect.Slice, reflect.Array, reflect.Map:
			t = t.Elem()
		}
	}
}

// expands reports whether a key of type t has keys under it.
func expands(t reflect.Type) bool { return structOf(t) != nil }

// typeName names the type of a key for people.
func typeName(t reflect.Type) string {
	t = deref(t)
	if t == durationType {
		return "duration"
	}
	if reflect.PointerTo(t).Implements(shorthandType) {
		return "section, or its " + reflect.New(t).Interface().(Shorthand).YAMLShorthand()
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) && t.Name() != "" {
		return strings.ToLower(t.Name())
	}
	switch t.Kind() {
	case reflect.Bool:
		return "bool"
	case reflect.String:
		return "string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Struct:
		return "section"
	case reflect.Slice, reflect.Array:
		if deref(t.Elem()).Kind() == reflect.Struct && !leafType(t.Elem()) {
			return "list of sections"
		}
		return "list of " + typeName(t.Elem())
	case reflect.Map:
		if deref(t.Elem()).Kind() == reflect.Struct && !leafType(t.Elem()) {
			return "map of sections"
		}
		return "map of " + typeName(t.Elem())
	}
	return t.String()
}

// defaultOf formats a default value; "" when unknown, empty or zero
// (false is shown: it is a choice, not an absence).
func defaultOf(v reflect.Value) string {
	if !v.IsValid() {
		return ""
	}
	if v.Kind() == reflect.Bool {
		return fmt.Sprintf("`%t`", v.Bool())
	}
	if v.IsZero() || v.Kind() == reflect.Struct {
		return ""
	}
	switch {
	case v.Type() == durationType:
		return "`" + shortDuration(time.Duration(v.Int())) + "`"
	case v.Kind() == reflect.Slice || v.Kind() == reflect.Array:
		if v.Len() == 0 {
			return ""
		}
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = strings.Trim(defaultOf(v.Index(i)), "`")
		}
		return "`[" + strings.Join(parts, ", ") + "]`"
	case v.Kind() == reflect.Map:
		if v.Len() == 0 {
			return ""
		}
		return "(see text)"
	}
	if s, ok := v.Interface().(fmt.Stringer); ok {
		return "`" + s.String() + "`"
	}
	return fmt.Sprintf("`%v`", v.Interface())
}

// shortDuration is d as written in a file: 1080h, 2m, 1h30m, 250ms.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// describe returns the doc comment of field f of struct type t (found in
// the struct that declares it, an inlined one maybe), with the Go field
// name it may start with replaced by the key.
func (g *refGen) describe(t reflect.Type, f Field) (string, error) {
	owner := t
	for _, i := range f.Index[:len(f.Index)-1] {
		owner = deref(owner.Field(i).Type)
	}
	docs, err := g.typeDocs(owner)
	if err != nil {
		return "", err
	}
	d := oneLine(docs[f.Name])
	if rest, ok := strings.CutPrefix(d, f.Name); ok && (rest == "" || rest[0] == ' ' || rest[0] == ':' || rest[0] == ',') {
		d = "`" + f.Key + "`" + rest
	}
	return d, nil
}

// typeDocs returns the field comments of struct type t, parsing its
// package's source the first time.
func (g *refGen) typeDocs(t reflect.Type) (map[string]string, error) {
	pkg := t.PkgPath()
	if _, ok := g.docs[pkg+"."+t.Name()]; !ok {
		if err := g.parsePackage(pkg); err != nil {
			return nil, err
		}
	}
	return g.docs[pkg+"."+t.Name()], nil
}

func (g *refGen) parsePackage(pkg string) error {
	rel, ok := strings.CutPrefix(pkg, g.module)
	if !ok {
		return fmt.Errorf("config type in package %s, outside module %s", pkg, g.module)
	}
	dir := filepath.Join(g.root, filepath.FromSlash(strings.TrimPrefix(rel, "/")))
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return err
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		if err != nil {
			return err
		}
		files = append(files, f)
	}
	p, err := doc.NewFromFiles(fset, files, pkg, doc.PreserveAST|doc.AllDecls)
	if err != nil {
		return err
	}
	for _, typ := range p.Types {
		fields := map[string]string{}
		g.docs[pkg+"."+typ.Name] = fields
		for _, spec := range typ.Decl.Specs {
			ts, ok := spec.(*ast.TypeSpec)
			if !ok || ts.Name.Name != typ.Name {
				continue
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				continue
			}
			for _, field := range st.Fields.List {
				text := field.Doc.Text()
				if text == "" {
					text = field.Comment.Text()
				}
				for _, n := range field.Names {
					fields[n.Name] = text
				}
			}
		}
	}
	return nil
}

// findModule finds the module's root directory and path, from the working
// directory up (a test runs in its package's directory).
func (g *refGen) findModule() error {
	dir, err := os.Getwd()
	if err != nil {
		return err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil {
			for _, line := range strings.Split(string(data), "\n") {
				if m, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
					g.root, g.module = dir, strings.Trim(strings.TrimSpace(m), `"`)
					return nil
				}
			}
			return fmt.Errorf("%s: no module line", filepath.Join(dir, "go.mod"))
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// oneLine joins a comment's lines into one.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// cell makes s safe inside a Markdown table cell: "|" is escaped
// everywhere, and outside `code` spans "\" and "<" are too (so that
// "<site>" is not taken for HTML).
func cell(s string) string {
	var b strings.Builder
	code := false
	for _, r := range s {
		switch {
		case r == '`':
			code = !code
		case r == '|':
			b.WriteByte('\\')
		case !code && (r == '\\' || r == '<'):
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Check generates the reference and compares it with the file at path (with
// update it writes the file instead). The error names every key without a
// description and says how to regenerate a stale file.
func (r Reference) Check(path string, update bool) error {
	doc, undocumented, err := r.Generate()
	if err != nil {
		return err
	}
	var errs []error
	if len(undocumented) > 0 {
		errs = append(errs, fmt.Errorf("keys without a description (give their fields a doc comment): %s", strings.Join(undocumented, ", ")))
	}
	if err := CheckReference(path, doc, update, r.Command); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// CheckReference compares the reference file at path with want; with update
// it writes want there instead. The error says how to regenerate.
func CheckReference(path string, want []byte, update bool, command string) error {
	if update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		return os.WriteFile(path, want, 0o644)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%v; generate it with: %s", err, command)
	}
	if bytes.Equal(got, want) {
		return nil
	}
	gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	line := 0
	for line < len(gl) && line < len(wl) && gl[line] == wl[line] {
		line++
	}
	var first string
	if line < len(wl) {
		first = wl[line]
	}
	return fmt.Errorf("%s is out of date with the config types (first difference at line %d, which should read %q); regenerate with: %s",
		path, line+1, first, command)
}
