package session_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/tokenhost/tokenhost/credential"
	"github.com/tokenhost/tokenhost/rpc"
	"github.com/tokenhost/tokenhost/session"
)

// Run one prompt on a whole-session provider whose bearer tokens come from
// an environment variable. It needs the Copilot runtime on PATH (or
// COPILOT_CLI_PATH), so it has no checked output.
func ExampleStart() {
	ctx := context.Background()
	client, err := session.Start(ctx, &session.ClientOptions{Home: os.TempDir()})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	s, err := client.CreateSession(ctx, session.SessionConfig{
		Model: "gpt-4.1",
		Provider: &session.Provider{
			ProviderConfig: rpc.ProviderConfig{Type: rpc.ProviderConfigTypeOpenAI, BaseURL: "https://models.example.com/v1"},
			Token:          session.SourceFunc(credential.NewEnvSource("MODEL_TOKEN")),
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close(ctx)

	reply, err := s.Run(ctx, "Say hello.", nil)
	var te *session.TurnError
	if errors.As(err, &te) {
		log.Fatalf("the turn failed: %s", te.Message) // names the provider and the cause
	} else if err != nil {
		log.Fatal(err)
	}
	fmt.Println(reply)
}

// Two named providers in one session, each with its own token source; the
// model selection "provider/id" picks one. Reading the events shows the
// reply as it streams.
func ExampleClient_CreateSession() {
	ctx := context.Background()
	client, err := session.Start(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	s, err := client.CreateSession(ctx, session.SessionConfig{
		Model:     "red/gpt-4.1",
		Streaming: true,
		Providers: []session.NamedProvider{
			{NamedProviderConfig: rpc.NamedProviderConfig{Name: "red", Type: rpc.ProviderConfigTypeOpenAI, BaseURL: "https://red.example.com/v1"},
				Token: session.SourceFunc(credential.NewEnvSource("RED_TOKEN"))},
			{NamedProviderConfig: rpc.NamedProviderConfig{Name: "blue", Type: rpc.ProviderConfigTypeAzure, BaseURL: "https://blue.example.com/openai"},
				Token: session.SourceFunc(credential.NewExecSource([]string{"/usr/local/bin/blue-token"}, nil))},
		},
		Models: []rpc.ProviderModelConfig{{ID: "gpt-4.1", Provider: "red"}, {ID: "gpt-4.1", Provider: "blue"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close(ctx)

	_, err = s.Run(ctx, "Say hello.", func(ev rpc.SessionEvent) {
		var d rpc.AssistantMessageDeltaData
		if ev.Type == rpc.EventAssistantMessageDelta && json.Unmarshal(ev.Data, &d) == nil {
			fmt.Print(d.DeltaContent)
		}
	})
	if err != nil {
		log.Fatal(err)
	}
}
