package main

import (
	"encoding/json"
	"github.com/tokenhost/tokenhost/credential"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tokenhost/tokenhost/rpc"
	"github.com/tokenhost/tokenhost/session"
)

func TestRunSession(t *testing.T) {
	def := provider{NamedProviderConfig: rpc.NamedProviderConfig{Name: "default", Type: rpc.ProviderConfigTypeOpenAI, BaseURL: "http://127.0.0.1:9/v1", Headers: map[string]string{"X-A": "1"}}}
	red := provider{NamedProviderConfig: rpc.NamedProviderConfig{Name: "red", BaseURL: "http://127.0.0.1:9/red"}}
	redModel := []rpc.ProviderModelConfig{{ID: "m", Provider: "red"}}
	tests := []struct {
		name      string
		cfg       config
		model     string
		wantModel string
		wantWhole *rpc.ProviderConfig
		wantNamed []rpc.NamedProviderConfig
		wantErr   string
	}{
		{name: "default provider", cfg: config{Model: "gpt-4.1", Providers: []provider{def}}, wantModel: "gpt-4.1",
			wantWhole: &rpc.ProviderConfig{Type: rpc.ProviderConfigTypeOpenAI, BaseURL: "http://127.0.0.1:9/v1", Headers: map[string]string{"X-A": "1"}, HasBearerTokenProvider: true}},
		{name: "flag overrides config", cfg: config{Model: "gpt-4.1", Providers: []provider{def}}, model: "gpt-5", wantModel: "gpt-5",
			wantWhole: &rpc.ProviderConfig{Type: rpc.ProviderConfigTypeOpenAI, BaseURL: "http://127.0.0.1:9/v1", Headers: map[string]string{"X-A": "1"}, HasBearerTokenProvider: true}},
		{name: "named, first model by default", cfg: config{Models: redModel, Providers: []provider{red}}, wantModel: "red/m",
			wantNamed: []rpc.NamedProviderConfig{{Name: "red", BaseURL: "http://127.0.0.1:9/red", HasBearerTokenProvider: true}}},
		{name: "no model", cfg: config{Providers: []provider{def}}, wantErr: "no model"},
		{name: "unknown named model", cfg: config{Models: redModel, Providers: []provider{red}}, model: "red/x", wantErr: `model "red/x": no entry`},
		{name: "plain model without default", cfg: config{Models: redModel, Providers: []provider{red}}, model: "gpt-4.1", wantErr: `select a named provider's model as "provider/id" (providers: "red")`},
		{name: "no baseUrl", cfg: config{Model: "x", Providers: []provider{{NamedProviderConfig: rpc.NamedProviderConfig{Name: "default"}}}}, wantErr: "baseUrl: missing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sources := map[string]credential.Source{}
			for _, p := range tc.cfg.Providers {
				sources[p.Name] = credential.NewEnvSource("UNUSED")
			}
			sc, err := runSession(&tc.cfg, sources, tc.model)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if sc.Model != tc.wantModel {
				t.Errorf("model %q, want %q", sc.Model, tc.wantModel)
			}
			var whole *rpc.ProviderConfig
			if sc.Provider != nil {
				w := sc.Provider.Wire()
				whole = &w
			}
			if diff := cmp.Diff(tc.wantWhole, whole); diff != "" {
				t.Errorf("whole-session provider (-want +got):\n%s", diff)
			}
			var named []rpc.NamedProviderConfig
			for _, p := range sc.Providers {
				named = append(named, p.Wire())
			}
			if diff := cmp.Diff(tc.wantNamed, named); diff != "" {
				t.Errorf("named providers (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReplyWriter(t *testing.T) {
	ev := func(typ string, data any) rpc.SessionEvent {
		b, _ := json.Marshal(data)
		return rpc.SessionEvent{Type: typ, Data: b}
	}
	delta := func(id, s string) rpc.SessionEvent {
		return ev(rpc.EventAssistantMessageDelta, rpc.AssistantMessageDeltaData{MessageID: id, DeltaContent: s})
	}
	msg := func(id, s string) rpc.SessionEvent {
		return ev(rpc.EventAssistantMessage, rpc.AssistantMessageData{MessageID: id, Content: s})
	}
	tests := []struct {
		name   string
		events []rpc.SessionEvent
		want   string
	}{
		{"streamed", []rpc.SessionEvent{delta("a", "hel"), delta("a", "lo"), msg("a", "hello")}, "hello\n"},
		{"not streamed", []rpc.SessionEvent{msg("a", "hello")}, "hello\n"},
		{"two messages", []rpc.SessionEvent{delta("a", "one"), msg("a", "one"), msg("b", "two\n")}, "one\n\ntwo\n"},
		{"nothing", []rpc.SessionEvent{ev(rpc.EventSessionIdle, struct{}{})}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out strings.Builder
			w := &replyWriter{w: &out}
			for _, e := range tc.events {
				w.event(e)
			}
			w.end()
			if got := out.String(); got != tc.want {
				t.Errorf("stdout %q, want %q", got, tc.want)
			}
		})
	}
}

func TestProgress(t *testing.T) {
	var out strings.Builder
	progress(&out)(session.Call{Args: session.ProviderTokenArgs{SessionID: "s", ProviderName: "red"}, Provider: "default"})
	if got, want := out.String(), `tokenhost: token for provider "red" (served by "default") acquired in 0s`+"\n"; got != want {
		t.Errorf("progress %q, want %q", got, want)
	}
}
