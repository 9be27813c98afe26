package rpc_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tokenhost/tokenhost/rpc"
)

// canonical decodes JSON into plain values, keeping numbers as written,
// so that two documents compare equal whatever their key order.
func canonical(t *testing.T, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return v
}

// TestRoundTrip decodes the messages the runtime exchanges (see
// RUNTIME-NOTES.md) into the generated types and encodes them again: the
// JSON must come back unchanged, so no field is lost, renamed, or added.
func TestRoundTrip(t *testing.T) {
	const sid = "0f8fad5b-d9cb-469f-a165-70867728950e"
	tests := []struct {
		name string
		into any
		wire string
	}{
		{"connect params", &rpc.ConnectRequest{}, `{"supportedTaskKinds":["agent","client","shell"]}`},
		{"connect result", &rpc.ConnectResult{}, `{"ok":true,"protocolVersion":3,"version":"1.0.102","taskKinds":["agent","shell","client"]}`},
		{"getToken params, default provider", &rpc.ProviderTokenAcquireRequest{}, `{"providerName":"default","sessionId":"` + sid + `"}`},
		{"getToken params, named provider", &rpc.ProviderTokenAcquireRequest{}, `{"providerName":"red","sessionId":"` + sid + `"}`},
		{"getToken result", &rpc.ProviderTokenAcquireResult{}, `{"token":"eyJ0eXAiOi.x.y"}`},
		{"session.create with provider", &rpc.SessionCreateRequest{}, `{"sessionId":"` + sid + `","model":"gpt-4.1",
			"provider":{"type":"openai","baseUrl":"http://127.0.0.1:8080/v1","hasBearerTokenProvider":true},
			"requestPermission":true}`},
		{"session.create with providers and models", &rpc.SessionCreateRequest{}, `{"sessionId":"` + sid + `","model":"red/gpt-4.1",
			"providers":[
				{"name":"red","type":"openai","baseUrl":"http://127.0.0.1:8080/v1","hasBearerTokenProvider":true},
				{"name":"blue","type":"azure","wireApi":"responses","baseUrl":"http://127.0.0.1:8081/openai",
				 "azure":{"apiVersion":"2024-10-21"},"headers":{"x-team":"blue"},"apiKey":"unused","hasBearerTokenProvider":true}],
			"models":[{"id":"gpt-4.1","provider":"red"},{"id":"o3","provider":"blue","wireModel":"o3-deploy","maxOutputTokens":4096,
				"capabilities":{"supports":{"vision":false}}}],
			"requestPermission":false,"streaming":true}`},
		{"session.create result", &rpc.SessionCreateResult{}, `{"sessionId":"` + sid + `","workspacePath":"/home/u/.copilot/session-state/` + sid + `"}`},
		{"session.send params", &rpc.SendRequest{}, `{"sessionId":"` + sid + `","prompt":"hi"}`},
		{"session.send result", &rpc.SendResult{}, `{"messageId":"m-1"}`},
		{"session.abort params", &rpc.AbortRequest{}, `{"sessionId":"` + sid + `","reason":"user_initiated"}`},
		{"session.abort result", &rpc.AbortResult{}, `{"success":true}`},
		{"session.detach params", &rpc.SessionDetachRequest{}, `{"sessionId":"` + sid + `"}`},
		{"session.detach result", &rpc.SessionDetachResult{}, `{"success":true}`},
		{"session.event, first event", &rpc.SessionEventNotification{}, `{"sessionId":"` + sid + `","event":{
			"type":"user.message","data":{"content":"hi","attachments":[]},"id":"e1","timestamp":"2025-01-02T03:04:05.678Z",
			"parentId":null,"ephemeral":false}}`},
		{"session.event, assistant message", &rpc.SessionEventNotification{}, `{"sessionId":"` + sid + `","event":{
			"type":"assistant.message","data":{"messageId":"m-2","content":"hello","toolRequests":[]},"id":"e2",
			"timestamp":"2025-01-02T03:04:06Z","parentId":"e1"}}`},
		{"session.event, idle after abort", &rpc.SessionEventNotification{}, `{"sessionId":"` + sid + `","event":{
			"type":"session.idle","data":{"aborted":true},"id":"e3","timestamp":"2025-01-02T03:04:07Z","parentId":"e2","ephemeral":true}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := json.Unmarshal([]byte(tt.wire), tt.into); err != nil {
				t.Fatalf("decode: %v", err)
			}
			got, err := json.Marshal(tt.into)
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			if diff := cmp.Diff(canonical(t, []byte(tt.wire)), canonical(t, got)); diff != "" {
				t.Errorf("round trip changed the message (-sent +re-encoded):\n%s", diff)
			}
		})
	}
}

// TestDecode checks that decoding puts each value in the field the Go
// code reads it from.
func TestDecode(t *testing.T) {
	t.Run("getToken params", func(t *testing.T) {
		var got rpc.ProviderTokenAcquireRequest
		if err := json.Unmarshal([]byte(`{"providerName":"red","sessionId":"s1"}`), &got); err != nil {
			t.Fatal(err)
		}
		if want := (rpc.ProviderTokenAcquireRequest{SessionID: "s1", ProviderName: "red"}); got != want {
			t.Errorf("got %+v, want %+v", got, want)
		}
	})
	t.Run("session.event data by type", func(t *testing.T) {
		var n rpc.SessionEventNotification
		wire := `{"sessionId":"s1","event":{"type":"session.error","id":"e9","timestamp":"t","parentId":"e8",
			"data":{"errorType":"authentication","message":"Provider token request failed: credential: no token","statusCode":401,"stack":"..."}}}`
		if err := json.Unmarshal([]byte(wire), &n); err != nil {
			t.Fatal(err)
		}
		if n.Event.Type != rpc.EventSessionError || *n.Event.ParentID != "e8" || n.Event.Ephemeral != nil {
			t.Fatalf("envelope = %+v", n.Event)
		}
		var got rpc.SessionErrorData
		if err := json.Unmarshal(n.Event.Data, &got); err != nil {
			t.Fatal(err)
		}
		want := rpc.SessionErrorData{ErrorType: "authentication", Message: "Provider token request failed: credential: no token", StatusCode: 401}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("error data (-want +got):\n%s", diff)
		}
	})
}

// TestEncodeOmitsAbsent checks the omitempty rules the schema implies:
// optional fields left zero are absent, required ones are always sent,
// and a pointer override keeps an explicit false.
func TestEncodeOmitsAbsent(t *testing.T) {
	no := false
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"required zero values are sent", rpc.ProviderTokenAcquireRequest{}, `{"sessionId":"","providerName":""}`},
		{"optional zero values are absent", rpc.ProviderConfig{BaseURL: "http://127.0.0.1:1/v1"}, `{"baseUrl":"http://127.0.0.1:1/v1"}`},
		{"explicit false survives a pointer override", rpc.SessionCreateRequest{SessionID: "s1", RequestPermission: &no}, `{"sessionId":"s1","requestPermission":false}`},
		{"a null parent is sent", rpc.SessionEvent{ID: "e1", Timestamp: "t", Type: "x", Data: json.RawMessage(`{}`)}, `{"id":"e1","timestamp":"t","parentId":null,"type":"x","data":{}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := json.Marshal(tt.v)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}
