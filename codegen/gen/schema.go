package gen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// draft is the only JSON Schema dialect the documents may declare.
const draft = "https://json-schema.org/draft/2020-12/schema"

// document is one schema document: its tables and its definitions.
type document struct {
	Schema      string           `json:"$schema"`
	ID          string           `json:"$id"`
	Title       string           `json:"title"`
	Description string           `json:"description"`
	Methods     []method         `json:"x-methods"`
	Events      []event          `json:"x-events"`
	Defs        ordered[*schema] `json:"$defs"`
}

// method is one row of a document's x-methods table.
type method struct {
	Name        string  `json:"name"`
	Direction   string  `json:"direction"`
	Description string  `json:"description"`
	Params      *schema `json:"params"`
	Result      *schema `json:"result"`
}

// event is one row of a document's x-events table.
type event struct {
	Type        string  `json:"type"`
	Description string  `json:"description"`
	Data        *schema `json:"data"`
}

// schema is the part of JSON Schema the documents may use. Decoding is
// strict, so a misspelt keyword is an error rather than a silent no-op.
type schema struct {
	Ref                  string            `json:"$ref"`
	Type                 typeList          `json:"type"`
	Description          string            `json:"description"`
	Properties           ordered[*schema]  `json:"properties"`
	Required             []string          `json:"required"`
	AdditionalProperties json.RawMessage   `json:"additionalProperties"`
	Items                *schema           `json:"items"`
	Enum                 []string          `json:"enum"`
	EnumDescriptions     map[string]string `json:"x-enumDescriptions"`
	Const                json.RawMessage   `json:"const"`
	Subset               bool              `json:"x-subset"`
}

// closed reports whether s forbids properties it does not list.
func (s *schema) closed() bool {
	return string(bytes.TrimSpace(s.AdditionalProperties)) == "false"
}

// valueSchema returns the schema of the values of a map-like object, or
// nil when s has none.
func (s *schema) valueSchema() (*schema, error) {
	if len(s.AdditionalProperties) == 0 || s.closed() {
		return nil, nil
	}
	var v schema
	if err := strictUnmarshal(s.AdditionalProperties, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// typeList is the "type" keyword: one name or a list of names.
type typeList []string

func (t *typeList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*t = typeList{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("type must be a string or a list of strings: %w", err)
	}
	*t = many
	return nil
}

// nonNull returns the type names other than "null", and whether "null"
// was among them.
func (t typeList) nonNull() (names []string, nullable bool) {
	for _, n := range t {
		if n == "null" {
			nullable = true
		} else {
			names = append(names, n)
		}
	}
	return names, nullable
}

// ordered is a JSON object decoded with its keys in document order, so
// that generated code follows the order of the schema.
type ordered[T any] struct {
	keys []string
	vals map[string]T
}

func (o *ordered[T]) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return fmt.Errorf("want a JSON object")
	}
	o.vals = map[string]T{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key := tok.(string) // object keys are always strings
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return err
		}
		if _, dup := o.vals[key]; dup {
			return fmt.Errorf("duplicate key %q", key)
		}
		var v T
		if err := strictUnmarshal(raw, &v); err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		o.keys = append(o.keys, key)
		o.vals[key] = v
	}
	return nil
}

// strictUnmarshal decodes b into v, rejecting unknown keywords.
func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data after JSON value")
	}
	return nil
}

// parseDocument decodes and checks the document header of one source.
func parseDocument(src Source) (*document, error) {
	var d document
	if err := strictUnmarshal(src.Data, &d); err != nil {
		return nil, fmt.Errorf("gen: %s: %w", src.Name, err)
	}
	if d.Schema != draft {
		return nil, fmt.Errorf("gen: %s: $schema is %q, want %q", src.Name, d.Schema, draft)
	}
	if d.Title == "" || strings.ContainsAny(d.Title, " .-") {
		return nil, fmt.Errorf("gen: %s: title %q must be one CamelCase word: it names the methods table", src.Name, d.Title)
	}
	return &d, nil
}
