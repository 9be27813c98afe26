package rpc_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/invopop/jsonschema"

	"github.com/tokenhost/tokenhost/rpc"
)

// shape is the part of a schema definition the contract tests compare:
// property names and types, required list, enum values and whether other
// properties are allowed.
type shape struct {
	Kind       string            // "object" or "enum"
	Properties map[string]string // property name -> normalised type
	Required   []string          // sorted
	Enum       []string          // sorted
	Closed     bool              // additionalProperties is false
}

// defs is the definitions of one or more schema documents, by name.
type defs map[string]map[string]any

// refName returns the definition name a $ref points at, in any of the
// forms the documents use: "#/$defs/X", "#/definitions/X",
// "other.schema.json#/$defs/X".
func refName(ref string) string { return ref[strings.LastIndex(ref, "/")+1:] }

// typeOf normalises the type of a property schema to a short string:
// "string", "null|string", "array<integer>", "map<string>", "object", or
// "string{a|b}" for an enum, resolving $ref to the enum or object behind it.
func (d defs) typeOf(s map[string]any) string {
	if ref, ok := s["$ref"].(string); ok {
		target, ok := d[refName(ref)]
		if !ok {
			return "unresolved " + ref
		}
		if _, ok := target["properties"]; ok {
			return "object" // named objects compare by their own shape
		}
		return d.typeOf(target)
	}
	for _, key := range []string{"anyOf", "oneOf"} {
		if branches, ok := s[key].([]any); ok {
			var types []string
			for _, b := range branches {
				types = append(types, d.typeOf(b.(map[string]any)))
			}
			slices.Sort(types)
			return strings.Join(slices.Compact(types), "|")
		}
	}
	var types []string
	switch t := s["type"].(type) {
	case string:
		types = []string{t}
	case []any:
		for _, n := range t {
			types = append(types, n.(string))
		}
	default:
		return "any"
	}
	for i, t := range types {
		switch t {
		case "array":
			types[i] = "array<" + d.typeOf(s["items"].(map[string]any)) + ">"
		case "object":
			if ap, ok := s["additionalProperties"].(map[string]any); ok {
				types[i] = "map<" + d.typeOf(ap) + ">"
			}
		case "string":
			if enum, ok := s["enum"].([]any); ok {
				types[i] = "string{" + strings.Join(sortedStrings(enum), "|") + "}"
			}
		}
	}
	slices.Sort(types)
	return strings.Join(types, "|")
}

func sortedStrings(vs []any) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = fmt.Sprint(v)
	}
	slices.Sort(out)
	return out
}

// shapeOf returns the shape of definition name. A union of objects, such
// as the published SessionEvent, has the shape its variants share: the
// properties all of them have, required where all of them require it.
func (d defs) shapeOf(name string) (shape, error) {
	s, ok := d[name]
	if !ok {
		return shape{}, fmt.Errorf("no definition %s", name)
	}
	if enum, ok := s["enum"].([]any); ok {
		return shape{Kind: "enum", Enum: sortedStrings(enum)}, nil
	}
	if variants, ok := s["anyOf"].([]any); ok {
		return d.commonShape(variants)
	}
	out := shape{Kind: "object", Properties: map[string]string{}, Closed: s["additionalProperties"] == false}
	props, _ := s["properties"].(map[string]any)
	for p, ps := range props {
		out.Properties[p] = d.typeOf(ps.(map[string]any))
	}
	if req, ok := s["required"].([]any); ok {
		out.Required = sortedStrings(req)
	}
	return out, nil
}

func (d defs) commonShape(variants []any) (shape, error) {
	var common shape
	for i, v := range variants {
		ref, _ := v.(map[string]any)["$ref"].(string)
		vs, err := d.shapeOf(refName(ref))
		if err != nil {
			return shape{}, err
		}
		if i == 0 {
			common = vs
			continue
		}
		for p, t := range common.Properties {
			switch vt, ok := vs.Properties[p]; {
			case !ok:
				delete(common.Properties, p)
			case vt != t:
				common.Properties[p] = "mixed"
			}
		}
		common.Required = slices.DeleteFunc(common.Required, func(r string) bool { return !slices.Contains(vs.Required, r) })
		common.Closed = common.Closed && vs.Closed
	}
	return common, nil
}

// restrict keeps of s only the properties named in keep, for comparing an
// x-subset definition with the full one.
func (s shape) restrict(keep map[string]string) shape {
	out := s
	out.Properties = map[string]string{}
	for p, t := range s.Properties {
		if _, ok := keep[p]; ok {
			out.Properties[p] = t
		}
	}
	out.Required = slices.DeleteFunc(slices.Clone(s.Required), func(r string) bool { _, ok := keep[r]; return !ok })
	return out
}

// ourSchema is the documents of schema/, merged.
type ourSchema struct {
	defs    defs
	subset  map[string]bool // definitions marked x-subset
	methods []map[string]any
}

func loadOurSchema(t *testing.T) ourSchema {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("..", "schema", "*.schema.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no schema documents in ../schema: %v", err)
	}
	out := ourSchema{defs: defs{}, subset: map[string]bool{}}
	for _, p := range paths {
		var doc struct {
			Defs    map[string]map[string]any `json:"$defs"`
			Methods []map[string]any          `json:"x-methods"`
		}
		readJSON(t, p, &doc)
		for name, s := range doc.Defs {
			if _, dup := out.defs[name]; dup {
				t.Fatalf("definition %s is in two documents", name)
			}
			out.defs[name] = s
			out.subset[name] = s["x-subset"] == true
		}
		out.methods = append(out.methods, doc.Methods...)
	}
	return out
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// goTypes maps every definition of schema/ to its generated Go type.
var goTypes = map[string]any{
	"ProviderTokenAcquireRequest": rpc.ProviderTokenAcquireRequest{},
	"ProviderTokenAcquireResult":  rpc.ProviderTokenAcquireResult{},
	"ProviderConfig":              rpc.ProviderConfig{},
	"NamedProviderConfig":         rpc.NamedProviderConfig{},
	"ProviderModelConfig":         rpc.ProviderModelConfig{},
	"ProviderConfigAzure":         rpc.ProviderConfigAzure{},
	"ProviderConfigType":          rpc.ProviderConfigType(""),
	"ProviderConfigWireApi":       rpc.ProviderConfigWireAPI(""),
	"ProviderConfigTransport":     rpc.ProviderConfigTransport(""),
	"ConnectRequest":              rpc.ConnectRequest{},
	"ConnectClientInfo":           rpc.ConnectClientInfo{},
	"ConnectResult":               rpc.ConnectResult{},
	"TaskKind":                    rpc.TaskKind(""),
	"SessionCreateRequest":        rpc.SessionCreateRequest{},
	"SessionCreateResult":         rpc.SessionCreateResult{},
	"SendRequest":                 rpc.SendRequest{},
	"SendMode":                    rpc.SendMode(""),
	"SendResult":                  rpc.SendResult{},
	"AbortRequest":                rpc.AbortRequest{},
	"AbortReason":                 rpc.AbortReason(""),
	"AbortResult":                 rpc.AbortResult{},
	"SessionDetachRequest":        rpc.SessionDetachRequest{},
	"SessionDetachResult":         rpc.SessionDetachResult{},
	"SessionEventNotification":    rpc.SessionEventNotification{},
	"SessionEvent":                rpc.SessionEvent{},
	"AssistantMessageData":        rpc.AssistantMessageData{},
	"AssistantMessageDeltaData":   rpc.AssistantMessageDeltaData{},
	"ErrorData":                   rpc.SessionErrorData{},
	"IdleData":                    rpc.SessionIdleData{},
}

// enumValues maps each generated enum type to the values its Values
// function reports, which is what the Go side says the enum is.
var enumValues = map[reflect.Type][]string{
	reflect.TypeFor[rpc.ProviderConfigType]():      strs(rpc.ProviderConfigTypeValues()),
	reflect.TypeFor[rpc.ProviderConfigWireAPI]():   strs(rpc.ProviderConfigWireAPIValues()),
	reflect.TypeFor[rpc.ProviderConfigTransport](): strs(rpc.ProviderConfigTransportValues()),
	reflect.TypeFor[rpc.TaskKind]():                strs(rpc.TaskKindValues()),
	reflect.TypeFor[rpc.SendMode]():                strs(rpc.SendModeValues()),
	reflect.TypeFor[rpc.AbortReason]():             strs(rpc.AbortReasonValues()),
}

func strs[T ~string](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}

// reflectGo reflects the Go type of definition name back to JSON Schema
// with invopop/jsonschema and returns its definitions, keyed by schema
// names.
func reflectGo(t *testing.T, name string) defs {
	t.Helper()
	schemaName := map[reflect.Type]string{}
	for n, v := range goTypes {
		schemaName[reflect.TypeOf(v)] = n
	}
	r := &jsonschema.Reflector{
		Namer: func(t reflect.Type) string {
			if n, ok := schemaName[t]; ok {
				return n
			}
			return t.Name()
		},
		Mapper: func(t reflect.Type) *jsonschema.Schema {
			if t == reflect.TypeFor[json.RawMessage]() {
				return &jsonschema.Schema{Type: "object"} // opaque objects
			}
			if values, ok := enumValues[t]; ok {
				s := &jsonschema.Schema{Type: "string"}
				for _, v := range values {
					s.Enum = append(s.Enum, v)
				}
				return s
			}
			return nil
		},
	}
	b, err := json.Marshal(r.Reflect(goTypes[name]))
	if err != nil {
		t.Fatal(err)
	}
	var root map[string]any
	if err := json.Unmarshal(b, &root); err != nil {
		t.Fatal(err)
	}
	out := defs{}
	all, _ := root["$defs"].(map[string]any) // absent for an enum
	for n, s := range all {
		out[n] = s.(map[string]any)
	}
	if _, ok := out[name]; !ok { // enums reflect inline, as the root
		out[name] = root
	}
	return out
}

// TestGoTypesMatchSchema reflects every generated type back to JSON Schema
// and compares it with its definition in schema/.
func TestGoTypesMatchSchema(t *testing.T) {
	ours := loadOurSchema(t)
	for name := range ours.defs {
		if _, ok := goTypes[name]; !ok {
			t.Errorf("definition %s has no entry in goTypes: add its Go type", name)
		}
	}
	for name := range goTypes {
		t.Run(name, func(t *testing.T) {
			want, err := ours.defs.shapeOf(name)
			if err != nil {
				t.Fatalf("schema/: %v", err)
			}
			got, err := reflectGo(t, name).shapeOf(name)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Go type of %s drifted from schema/ (-schema +Go):\n%s", name, diff)
			}
		})
	}
}

// unpublished lists our definitions the runtime's published schemas lack.
var unpublished = []string{
	"SessionCreateRequest",
	"SessionCreateResult",
	"SessionDetachRequest",
	"SessionDetachResult",
	"SessionEventNotification",
}

// published is the runtime's published API: definitions by name (the
// titled inline params of its methods first, as they carry sessionId),
// and methods by name.
type published struct {
	api, events defs
	methods     map[string]publishedMethod
}

type publishedMethod struct {
	direction      rpc.Direction
	params, result string // definition names; "" for none or null
}

func loadPublished(t *testing.T) published {
	t.Helper()
	path := os.Getenv("TOKENHOST_API_SCHEMA")
	if path == "" {
		path = filepath.Join("..", "e2e", "runtime", "node_modules", "@github", "copilot-sdk-linux-x64", "schemas", "api.schema.json")
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		if os.Getenv("TOKENHOST_REQUIRE_RUNTIME") == "1" {
			t.Fatalf("published schema %s is missing: run `make runtime`", path)
		}
		t.Skipf("published schema %s is missing: run `make runtime` to check against it", path)
	}
	var api struct {
		Definitions defs `json:"definitions"`
	}
	var tables map[string]any
	readJSON(t, path, &api)
	readJSON(t, path, &tables)
	var events struct {
		Definitions defs `json:"definitions"`
	}
	readJSON(t, filepath.Join(filepath.Dir(path), "session-events.schema.json"), &events)

	p := published{api: api.Definitions, events: events.Definitions, methods: map[string]publishedMethod{}}
	name := func(s any) string {
		m, _ := s.(map[string]any)
		if m == nil || m["type"] == "null" {
			return ""
		}
		if ref, ok := m["$ref"].(string); ok {
			return refName(ref)
		}
		title, _ := m["title"].(string)
		if title != "" {
			p.api[title] = m // the inline form, with sessionId
		}
		return title
	}
	var walk func(node any, dir rpc.Direction)
	walk = func(node any, dir rpc.Direction) {
		m, ok := node.(map[string]any)
		if !ok {
			return
		}
		if method, ok := m["rpcMethod"].(string); ok {
			p.methods[method] = publishedMethod{direction: dir, params: name(m["params"]), result: name(m["result"])}
			return
		}
		for _, v := range m {
			walk(v, dir)
		}
	}
	for section, dir := range map[string]rpc.Direction{
		"server":        rpc.DirectionClientToRuntime,
		"session":       rpc.DirectionClientToRuntime,
		"clientSession": rpc.DirectionRuntimeToClient,
		"clientGlobal":  rpc.DirectionRuntimeToClient,
	} {
		walk(tables[section], dir)
	}
	return p
}

// TestSchemaMatchesPublished compares every definition of schema/ that the
// runtime publishes with the published one: property names, types,
// required lists and enums (an x-subset definition with the published
// properties of the same names), and every method of ours the runtime
// publishes by direction and params/result definitions.
func TestSchemaMatchesPublished(t *testing.T) {
	ours := loadOurSchema(t)
	pub := loadPublished(t)
	for name := range ours.defs {
		t.Run(name, func(t *testing.T) {
			theirs := pub.api
			if _, ok := theirs[name]; !ok {
				theirs = pub.events
			}
			_, found := theirs[name]
			switch listed := slices.Contains(unpublished, name); {
			case !found && listed:
				t.Skipf("%s is not in the published schemas", name)
			case !found:
				t.Fatalf("%s is not in the published schemas: was it renamed? If it is ours alone, add it to unpublished", name)
			case listed:
				t.Fatalf("%s is now published: remove it from unpublished", name)
			}
			want, err := theirs.shapeOf(name)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ours.defs.shapeOf(name)
			if err != nil {
				t.Fatal(err)
			}
			if ours.subset[name] {
				want = want.restrict(got.Properties)
				for p := range got.Properties {
					if _, ok := want.Properties[p]; !ok {
						t.Errorf("x-subset %s has property %s, which the published definition lacks", name, p)
					}
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s differs from the published definition (-published +schema/):\n%s", name, diff)
			}
		})
	}
	for _, m := range ours.methods {
		name := m["name"].(string)
		t.Run("method "+name, func(t *testing.T) {
			want, ok := pub.methods[name]
			if !ok {
				t.Skipf("method %s is not in the published schema", name)
			}
			got := publishedMethod{direction: rpc.Direction(m["direction"].(string))}
			if params, ok := m["params"].(map[string]any); ok {
				got.params = refName(params["$ref"].(string))
			}
			if result, ok := m["result"].(map[string]any); ok && result["type"] != "null" {
				got.result = refName(result["$ref"].(string))
			}
			if diff := cmp.Diff(want, got, cmp.AllowUnexported(publishedMethod{})); diff != "" {
				t.Errorf("method %s differs from the published one (-published +schema/):\n%s", name, diff)
			}
		})
	}
}
