package gen

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"go/format"
	"go/scanner"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Source is one schema document: its file name in schema/ and its bytes.
type Source struct {
	Name string // for example "session.schema.json"
	Data []byte
}

// File is one generated Go file of package rpc.
type File struct {
	Name string // for example "zsession.go"
	Data []byte
}

// Override replaces the Go name derived from a schema name, or turns an
// optional property into a pointer field; see [Overrides].
type Override struct {
	Name    string
	Pointer bool
}

// ReadSources reads every *.schema.json document of dir, in name order.
func ReadSources(dir string) ([]Source, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.schema.json"))
	if err != nil {
		return nil, fmt.Errorf("gen: %w", err)
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("gen: no *.schema.json in %s", dir)
	}
	var srcs []Source
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("gen: %w", err)
		}
		srcs = append(srcs, Source{Name: filepath.Base(p), Data: b})
	}
	return srcs, nil
}

// OutputName returns the name of the Go file generated from the schema
// document named schemaName: session.schema.json gives zsession.go.
func OutputName(schemaName string) string {
	return "z" + strings.TrimSuffix(schemaName, ".schema.json") + ".go"
}

// directions maps the direction of an x-methods row to its constant in
// package rpc.
var directions = map[string]string{
	"client->runtime": "DirectionClientToRuntime",
	"runtime->client": "DirectionRuntimeToClient",
	"notification":    "DirectionNotification",
}

// Generate turns the schema documents srcs into one formatted Go file of
// package rpc each, in the order of srcs. Definition names are shared by
// all documents, which refer to each other's definitions as
// "other.schema.json#/$defs/Name". Generate fails on anything it does not
// understand, on a key of overrides it did not use, and on output that
// go/format rejects.
func Generate(srcs []Source, overrides map[string]Override) ([]File, error) {
	g := &generator{
		overrides: overrides,
		used:      map[string]bool{},
		defs:      map[string]*definition{},
		idents:    map[string]string{},
	}
	docs := make([]*document, len(srcs))
	for i, src := range srcs {
		d, err := parseDocument(src)
		if err != nil {
			return nil, err
		}
		docs[i] = d
		for _, name := range d.Defs.keys {
			if prev, dup := g.defs[name]; dup {
				return nil, fmt.Errorf("gen: definition %s is in both %s and %s", name, prev.doc, src.Name)
			}
			g.defs[name] = &definition{doc: src.Name, name: name, s: d.Defs.vals[name]}
		}
	}
	var files []File
	for i, src := range srcs {
		f := &fileGen{generator: g, src: src.Name}
		out, err := f.generate(src, docs[i])
		if err != nil {
			return nil, err
		}
		files = append(files, File{Name: OutputName(src.Name), Data: out})
	}
	var unused []string
	for key := range overrides {
		if !g.used[key] {
			unused = append(unused, key)
		}
	}
	if len(unused) > 0 {
		slices.Sort(unused)
		return nil, fmt.Errorf("gen: unused overrides (remove them or fix their keys): %s", strings.Join(unused, ", "))
	}
	return files, nil
}

// generator holds what all documents share: definitions, overrides and
// the Go identifiers already taken.
type generator struct {
	overrides map[string]Override
	used      map[string]bool
	defs      map[string]*definition
	idents    map[string]string // Go identifier -> what it names
}

// definition is one entry of a document's $defs.
type definition struct {
	doc  string
	name string
	s    *schema
}

func (d *definition) isEnum() bool { return len(d.s.Enum) > 0 }

// override returns the override of key and marks it used.
func (g *generator) override(key string) Override {
	ov, ok := g.overrides[key]
	if ok {
		g.used[key] = true
	}
	return ov
}

// name returns the Go name of key: its override, or derived.
func (g *generator) name(key, derived string) (string, error) {
	ov := g.override(key)
	if ov.Pointer {
		return "", fmt.Errorf("gen: override %s: Pointer applies only to properties", key)
	}
	if ov.Name != "" {
		return ov.Name, nil
	}
	return derived, nil
}

// claim records that ident names what, failing on a collision.
func (g *generator) claim(ident, what string) error {
	if prev, ok := g.idents[ident]; ok {
		return fmt.Errorf("gen: Go name %s is wanted by both %s and %s", ident, prev, what)
	}
	g.idents[ident] = what
	return nil
}

// typeName returns the Go type name of a definition.
func (g *generator) typeName(d *definition) (string, error) {
	return g.name(d.name, camel(d.name))
}

// fileGen writes the Go file of one document.
type fileGen struct {
	*generator
	src      string
	buf      bytes.Buffer
	needJSON bool
}

func (f *fileGen) printf(format string, args ...any) { fmt.Fprintf(&f.buf, format, args...) }

func (f *fileGen) generate(src Source, d *document) ([]byte, error) {
	if err := f.methods(d); err != nil {
		return nil, err
	}
	if err := f.events(d); err != nil {
		return nil, err
	}
	for _, name := range d.Defs.keys {
		if err := f.definition(f.defs[name]); err != nil {
			return nil, err
		}
	}
	var out bytes.Buffer
	fmt.Fprintf(&out, "// Code generated by codegen from schema/%s; DO NOT EDIT.\n", src.Name)
	fmt.Fprintf(&out, "// schema sha256: %x\n\npackage rpc\n\n", sha256.Sum256(src.Data))
	if f.needJSON {
		out.WriteString("import \"encoding/json\"\n\n")
	}
	out.Write(f.buf.Bytes())
	formatted, err := format.Source(out.Bytes())
	if err != nil {
		return nil, fmt.Errorf("gen: %s: generated code does not format: %w%s", OutputName(src.Name), err, offendingLine(out.Bytes(), err))
	}
	return formatted, nil
}

// offendingLine quotes the source line a go/format error points at.
func offendingLine(src []byte, err error) string {
	var list scanner.ErrorList
	if !errors.As(err, &list) || len(list) == 0 {
		return ""
	}
	lines := strings.Split(string(src), "\n")
	if n := list[0].Pos.Line; n >= 1 && n <= len(lines) {
		return fmt.Sprintf("\n\tline %d: %s", n, strings.TrimSpace(lines[n-1]))
	}
	return ""
}

// where names a place in the current document for error messages.
func (f *fileGen) where(path string) string { return f.src + ": " + path }

// resolve finds the definition a $ref points at.
func (f *fileGen) resolve(path, ref string) (*definition, error) {
	file, name, ok := strings.Cut(ref, "#/$defs/")
	if file == "" {
		file = f.src
	}
	d := f.defs[name]
	if !ok || d == nil || d.doc != file {
		return nil, fmt.Errorf("gen: %s: unresolved $ref %q", f.where(path), ref)
	}
	return d, nil
}

// refName returns the Go type name a params, result or data schema of a
// table names: "" for none or null, the definition's name for a $ref.
func (f *fileGen) refName(path string, s *schema) (string, error) {
	if s == nil || (s.Ref == "" && slices.Equal(s.Type, typeList{"null"})) {
		return "", nil
	}
	d, err := f.resolve(path, s.Ref)
	if err != nil {
		return "", err
	}
	if d.isEnum() {
		return "", fmt.Errorf("gen: %s: must refer to an object definition", f.where(path))
	}
	return f.typeName(d)
}

func (f *fileGen) methods(d *document) error {
	if len(d.Methods) == 0 {
		return nil
	}
	type row struct{ ident, dir, params, result string }
	var rows []row
	f.printf("// Methods of schema/%s.\nconst (\n", f.src)
	for _, m := range d.Methods {
		path := "x-methods " + m.Name
		dir, ok := directions[m.Direction]
		if !ok || m.Name == "" || m.Description == "" {
			return fmt.Errorf("gen: %s: want a name, a description and a direction among client->runtime, runtime->client, notification", f.where(path))
		}
		params, err := f.refName(path+" params", m.Params)
		if err != nil {
			return err
		}
		result, err := f.refName(path+" result", m.Result)
		if err != nil {
			return err
		}
		ident := "Method" + camel(m.Name)
		if err := f.claim(ident, "method "+m.Name); err != nil {
			return err
		}
		var sentence string
		switch m.Direction {
		case "client->runtime":
			sentence = "a request the client sends to the runtime"
		case "runtime->client":
			sentence = "a request the runtime sends to the client"
		default:
			if result != "" {
				return fmt.Errorf("gen: %s: a notification has no result", f.where(path))
			}
			sentence = "a notification the runtime sends to the client"
		}
		if params == "" {
			sentence += ", with no params"
		} else {
			sentence += ", with [" + params + "] params"
		}
		if m.Direction != "notification" && result == "" {
			sentence += " and a null result"
		} else if m.Direction != "notification" {
			sentence += " and a [" + result + "] result"
		}
		f.printf("%s\t%s = %q\n", comment("\t", fmt.Sprintf("%s is %q, %s.\n\n%s", ident, m.Name, sentence, m.Description)), ident, m.Name)
		rows = append(rows, row{ident, dir, params, result})
	}
	f.printf(")\n\n")
	table := camel(d.Title) + "Methods"
	if err := f.claim(table, "the methods table of "+f.src); err != nil {
		return err
	}
	f.printf("%svar %s = []Method{\n", comment("", fmt.Sprintf("%s lists the methods of schema/%s, in schema order.", table, f.src)), table)
	for _, r := range rows {
		f.printf("\t{Name: %s, Direction: %s, Params: %q, Result: %q},\n", r.ident, r.dir, r.params, r.result)
	}
	f.printf("}\n\n")
	return nil
}

func (f *fileGen) events(d *document) error {
	if len(d.Events) == 0 {
		return nil
	}
	f.printf("// Session event types of schema/%s.\nconst (\n", f.src)
	for _, e := range d.Events {
		path := "x-events " + e.Type
		if e.Type == "" || e.Description == "" {
			return fmt.Errorf("gen: %s: want a type and a description", f.where(path))
		}
		data, err := f.refName(path+" data", e.Data)
		if err != nil {
			return err
		}
		ident := "Event" + camel(e.Type)
		if err := f.claim(ident, "event "+e.Type); err != nil {
			return err
		}
		text := fmt.Sprintf("%s is the event type %q: %s", ident, e.Type, predicate(e.Description))
		if data != "" {
			text += " Its data decodes into [" + data + "]."
		}
		f.printf("%s\t%s = %q\n", comment("\t", text), ident, e.Type)
	}
	f.printf(")\n\n")
	return nil
}

func (f *fileGen) definition(d *definition) error {
	name, err := f.typeName(d)
	if err != nil {
		return err
	}
	if err := f.claim(name, "definition "+d.name); err != nil {
		return err
	}
	if d.s.Description == "" {
		return fmt.Errorf("gen: %s: definition has no description", f.where(d.name))
	}
	if d.isEnum() {
		return f.enum(d, name)
	}
	if !slices.Equal(d.s.Type, typeList{"object"}) || !d.s.closed() || len(d.s.Properties.keys) == 0 {
		return fmt.Errorf("gen: %s: a definition is a string enum or an object with properties and additionalProperties false (a Go struct carries only its fields)", f.where(d.name))
	}
	text := fmt.Sprintf("%s is %s", name, predicate(d.s.Description))
	if d.s.Subset {
		text += "\n\nIt keeps only the properties tokenhost uses of a larger message; decoding drops the others."
	}
	text += fmt.Sprintf("\n\nSchema: schema/%s, definition %s.", f.src, d.name)
	f.printf("%stype %s struct {\n", comment("", text), name)
	for _, req := range d.s.Required {
		if _, ok := d.s.Properties.vals[req]; !ok {
			return fmt.Errorf("gen: %s: required property %s is not defined", f.where(d.name), req)
		}
	}
	for _, prop := range d.s.Properties.keys {
		if err := f.field(d, prop); err != nil {
			return err
		}
	}
	f.printf("}\n\n")
	return nil
}

func (f *fileGen) field(d *definition, prop string) error {
	p := d.s.Properties.vals[prop]
	path := d.name + "." + prop
	if p.Description == "" {
		return fmt.Errorf("gen: %s: property has no description", f.where(path))
	}
	typ, err := f.goType(path, p)
	if err != nil {
		return err
	}
	required := slices.Contains(d.s.Required, prop)
	ov := f.override(path)
	if ov.Pointer {
		if required || strings.HasPrefix(typ.name, "*") {
			return fmt.Errorf("gen: override %s: Pointer applies only to optional properties that are not pointers already", path)
		}
		typ.name = "*" + typ.name
	} else if typ.isStruct && !required {
		typ.name = "*" + typ.name
	}
	name := camel(prop)
	if ov.Name != "" {
		name = ov.Name
	}
	tag := prop
	if !required {
		tag += ",omitempty"
	}
	tags := fmt.Sprintf("json:%q", tag)
	if typ.nullable {
		tags += ` jsonschema:"nullable"`
	}
	f.printf("%s\t%s %s `%s`\n", comment("\t", name+" is "+predicate(p.Description)), name, typ.name, tags)
	return nil
}

// goType is the Go type of a property schema.
type goType struct {
	name     string
	isStruct bool // a definition rendered as a struct
	nullable bool // "null" is among the JSON types
}

func (f *fileGen) goType(path string, s *schema) (goType, error) {
	if s.Ref != "" {
		d, err := f.resolve(path, s.Ref)
		if err != nil {
			return goType{}, err
		}
		name, err := f.typeName(d)
		return goType{name: name, isStruct: !d.isEnum()}, err
	}
	names, nullable := s.Type.nonNull()
	if len(names) != 1 {
		return goType{}, fmt.Errorf("gen: %s: want one type besides null, have %q", f.where(path), s.Type)
	}
	t := goType{nullable: nullable}
	switch names[0] {
	case "string":
		if len(s.Enum) > 0 {
			return goType{}, fmt.Errorf("gen: %s: an enum must be a definition of its own", f.where(path))
		}
		t.name = "string"
	case "boolean":
		t.name = "bool"
	case "integer":
		t.name = "int"
	case "number":
		t.name = "float64"
	case "array":
		if s.Items == nil {
			return goType{}, fmt.Errorf("gen: %s: an array needs items", f.where(path))
		}
		item, err := f.goType(path+"[]", s.Items)
		if err != nil {
			return goType{}, err
		}
		if item.nullable {
			return goType{}, fmt.Errorf("gen: %s: nullable items are not supported", f.where(path))
		}
		t.name = "[]" + item.name
	case "object":
		if len(s.Properties.keys) > 0 {
			return goType{}, fmt.Errorf("gen: %s: an object with properties must be a definition of its own", f.where(path))
		}
		vs, err := s.valueSchema()
		if err != nil {
			return goType{}, fmt.Errorf("gen: %s: additionalProperties: %w", f.where(path), err)
		}
		if vs == nil { // an opaque object, passed through undecoded
			f.needJSON = true
			t.name = "json.RawMessage"
			break
		}
		val, err := f.goType(path+"{}", vs)
		if err != nil {
			return goType{}, err
		}
		t.name = "map[string]" + val.name
	default:
		return goType{}, fmt.Errorf("gen: %s: unsupported type %q", f.where(path), names[0])
	}
	if nullable {
		t.name = "*" + t.name
	}
	return t, nil
}

func (f *fileGen) enum(d *definition, name string) error {
	if !slices.Equal(d.s.Type, typeList{"string"}) {
		return fmt.Errorf("gen: %s: enums must be strings", f.where(d.name))
	}
	if len(d.s.EnumDescriptions) != len(d.s.Enum) {
		return fmt.Errorf("gen: %s: x-enumDescriptions must describe each enum value once", f.where(d.name))
	}
	text := fmt.Sprintf("%s is %s\n\nSchema: schema/%s, definition %s.", name, predicate(d.s.Description), f.src, d.name)
	f.printf("%stype %s string\n\n// Values of [%s].\nconst (\n", comment("", text), name, name)
	var idents []string
	for _, v := range d.s.Enum {
		desc, ok := d.s.EnumDescriptions[v]
		if !ok {
			return fmt.Errorf("gen: %s: enum value %q has no x-enumDescriptions entry", f.where(d.name), v)
		}
		ident, err := f.name(d.name+"."+v, name+camel(v))
		if err != nil {
			return err
		}
		if err := f.claim(ident, "enum value "+d.name+"."+v); err != nil {
			return err
		}
		f.printf("%s\t%s %s = %q\n", comment("\t", fmt.Sprintf("%s is %q: %s", ident, v, desc)), ident, name, v)
		idents = append(idents, ident)
	}
	f.printf(")\n\n")
	values := name + "Values"
	if err := f.claim(values, "the values of "+d.name); err != nil {
		return err
	}
	f.printf("%sfunc %s() []%s {\n\treturn []%s{%s}\n}\n\n",
		comment("", fmt.Sprintf("%s returns every [%s] the schema defines, in schema order.", values, name)),
		values, name, name, strings.Join(idents, ", "))
	return nil
}
