package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/tokenhost/tokenhost/rpc"
)

// fakeRuntimeEnv, set in a test binary's environment, makes it a fake
// runtime on its stdio (see TestMain) instead of running tests.
const fakeRuntimeEnv = "TOKENHOST_TEST_FAKE_RUNTIME"

func TestMain(m *testing.M) {
	if mode := os.Getenv(fakeRuntimeEnv); mode != "" {
		os.Exit(fakeRuntimeMain(mode))
	}
	os.Exit(m.Run())
}

// fakeRuntimeMain is the fake runtime as a process: it serves stdio until
// stdin ends. Modes: "ok"; "deaf" (never answers runtime.shutdown and
// ignores the end of stdin).
func fakeRuntimeMain(mode string) int {
	f := newFakeRuntime(context.Background(), stdio{os.Stdin, os.Stdout}, ProtocolVersion, mode == "deaf")
	<-f.conn.Done()
	if f.deaf {
		select {}
	}
	return 0
}

type stdio struct {
	io.Reader
	io.Writer
}

func (s stdio) Close() error { return os.Stdin.Close() }

// fakeRuntime plays the Copilot runtime's side of the session protocol
// over rpc.Conn. Its turns ask for one token (of the provider the session's
// model selects) and reply "token=<token>" in two deltas and a message;
// some prompts do other things (see turn).
type fakeRuntime struct {
	conn     *rpc.Conn // set once ready is closed: the conn reads at once
	ready    chan struct{}
	protocol int
	deaf     bool

	mu      sync.Mutex
	creates []rpc.SessionCreateRequest
	models  map[string]string // session id -> model
}

func newFakeRuntime(ctx context.Context, rwc io.ReadWriteCloser, protocol int, deaf bool) *fakeRuntime {
	f := &fakeRuntime{protocol: protocol, deaf: deaf, models: map[string]string{}, ready: make(chan struct{})}
	mux := rpc.NewMux()
	mux.Handle(rpc.MethodConnect, func(context.Context, json.RawMessage) (any, error) {
		// The version says which HOME the runtime got, for the spawn test.
		return rpc.ConnectResult{OK: true, ProtocolVersion: f.protocol, Version: "home=" + os.Getenv("HOME")}, nil
	})
	mux.Handle(rpc.MethodSessionCreate, func(_ context.Context, p json.RawMessage) (any, error) {
		var req rpc.SessionCreateRequest
		if err := json.Unmarshal(p, &req); err != nil {
			return nil, err
		}
		f.mu.Lock()
		f.creates = append(f.creates, req)
		f.models[req.SessionID] = req.Model
		f.mu.Unlock()
		return rpc.SessionCreateResult{SessionID: req.SessionID, WorkspacePath: "/ws/" + req.SessionID}, nil
	})
	mux.Handle(rpc.MethodSessionSend, func(_ context.Context, p json.RawMessage) (any, error) {
		var req rpc.SendRequest
		if err := json.Unmarshal(p, &req); err != nil {
			return nil, err
		}
		go f.turn(ctx, req)
		return rpc.SendResult{MessageID: "user-1"}, nil
	})
	mux.Handle(rpc.MethodSessionDetach, func(context.Context, json.RawMessage) (any, error) {
		return rpc.SessionDetachResult{Success: true}, nil
	})
	mux.Handle(rpc.MethodSessionAbort, func(context.Context, json.RawMessage) (any, error) {
		return rpc.AbortResult{Success: true}, nil
	})
	mux.Handle(rpc.MethodRuntimeShutdown, func(ctx context.Context, _ json.RawMessage) (any, error) {
		if f.deaf {
			<-ctx.Done()
		}
		return nil, nil
	})
	f.conn = rpc.NewConn(ctx, rwc, mux, nil)
	close(f.ready)
	return f
}

func (f *fakeRuntime) createRequests() []rpc.SessionCreateRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]rpc.SessionCreateRequest(nil), f.creates...)
}

// emit sends one session event.
func (f *fakeRuntime) emit(ctx context.Context, sessionID, typ string, data any) {
	b, _ := json.Marshal(data)
	<-f.ready
	_ = f.conn.Notify(ctx, rpc.MethodSessionEvent, rpc.SessionEventNotification{
		SessionID: sessionID,
		Event:     rpc.SessionEvent{ID: typ, Timestamp: "2026-01-01T00:00:00Z", Type: typ, Data: b},
	})
}

// turn plays one turn. Prompts: "crash" exits the process with status 3
// after a line on stderr; "flood N" sends N events and no session.idle;
// anything else asks for a token and replies with it, or fails with the
// token error as the runtime does.
func (f *fakeRuntime) turn(ctx context.Context, req rpc.SendRequest) {
	id := req.SessionID
	switch {
	case req.Prompt == "crash":
		fmt.Fprintln(os.Stderr, "fatal: boom")
		os.Exit(3)
	case strings.HasPrefix(req.Prompt, "flood "):
		n, _ := strconv.Atoi(strings.TrimPrefix(req.Prompt, "flood "))
		for i := range n {
			f.emit(ctx, id, "test.flood", map[string]int{"i": i})
		}
		return
	}
	f.mu.Lock()
	model := f.models[id]
	f.mu.Unlock()
	provider := DefaultProvider
	if name, _, ok := strings.Cut(model, "/"); ok {
		provider = name
	}
	var res rpc.ProviderTokenAcquireResult
	<-f.ready
	err := f.conn.Call(ctx, rpc.MethodProviderTokenGetToken, rpc.ProviderTokenAcquireRequest{SessionID: id, ProviderName: provider}, &res)
	var re *rpc.Error
	switch {
	case errors.As(err, &re):
		f.emit(ctx, id, rpc.EventSessionError, rpc.SessionErrorData{ErrorType: "authentication", Message: "Provider token request failed: " + re.Message})
	case err != nil:
		return
	default:
		f.emit(ctx, id, rpc.EventAssistantMessageDelta, rpc.AssistantMessageDeltaData{MessageID: "a1", DeltaContent: "token="})
		f.emit(ctx, id, rpc.EventAssistantMessageDelta, rpc.AssistantMessageDeltaData{MessageID: "a1", DeltaContent: res.Token})
		f.emit(ctx, id, rpc.EventAssistantMessage, rpc.AssistantMessageData{MessageID: "a1", Content: "token=" + res.Token})
	}
	f.emit(ctx, id, rpc.EventSessionIdle, rpc.SessionIdleData{})
}
