package modelserver

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
)

// Path is the path, under the base URL, of the Chat Completions API.
const Path = "/chat/completions"

// basePath is the path the server's base URL ends with, as OpenAI's does.
const basePath = "/v1"

// Request is one request the server received.
type Request struct {
	Method string
	// Path is the request's URL path, such as "/v1/chat/completions".
	Path string
	// Authorization is the Authorization header as received.
	Authorization string
	// Model is the body's "model", when the body was a completions request.
	Model string
	// Stream is the body's "stream".
	Stream bool
}

// Options configures a [Server]. A nil *Options means the defaults.
type Options struct {
	// OnRequest, when set, is called with every request as it arrives,
	// before it is answered. It must return quickly.
	OnRequest func(Request)
}

// Server is a running loopback model endpoint.
type Server struct {
	reply    string
	onReq    func(Request)
	srv      *http.Server
	ln       net.Listener
	mu       sync.Mutex
	requests []Request
}

// New starts a server on 127.0.0.1 that answers every completions request
// with reply.
func New(reply string, opts *Options) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("modelserver: %w", err)
	}
	s := &Server{reply: reply, ln: ln}
	if opts != nil {
		s.onReq = opts.OnRequest
	}
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve)}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// URL returns the base URL to give a provider of type "openai":
// "http://127.0.0.1:PORT/v1".
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() + basePath }

// Requests returns the requests received so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// Close stops the server.
func (s *Server) Close() error { return s.srv.Close() }

// body is the part of a completions request the server reads.
type body struct {
	Model  string `json:"model"`
	Stream bool   `json:"stream"`
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	var b body
	raw, _ := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	_ = json.Unmarshal(raw, &b)
	req := Request{Method: r.Method, Path: r.URL.Path, Authorization: r.Header.Get("Authorization"), Model: b.Model, Stream: b.Stream}
	s.mu.Lock()
	s.requests = append(s.requests, req)
	s.mu.Unlock()
	if s.onReq != nil {
		s.onReq(req)
	}
	if r.Method != http.MethodPost || r.URL.Path != basePath+Path {
		http.Error(w, `{"error":{"message":"not found"}}`, http.StatusNotFound)
		return
	}
	if b.Stream {
		s.stream(w, b.Model)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"id": "chatcmpl-modelserver", "object": "chat.completion", "created": 0, "model": b.Model,
		"choices": []any{map[string]any{
			"index": 0, "finish_reason": "stop",
			"message": map[string]any{"role": "assistant", "content": s.reply},
		}},
		"usage": usage,
	})
}

var usage = map[string]int{"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}

// stream writes the reply as server-sent events, a word at a time.
func (s *Server) stream(w http.ResponseWriter, model string) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	flusher, _ := w.(http.Flusher)
	chunk := func(delta map[string]any, finish any, withUsage bool) {
		c := map[string]any{
			"id": "chatcmpl-modelserver", "object": "chat.completion.chunk", "created": 0, "model": model,
			"choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish}},
		}
		if withUsage {
			c["usage"] = usage
		}
		b, _ := json.Marshal(c)
		fmt.Fprintf(w, "data: %s\n\n", b)
		if flusher != nil {
			flusher.Flush()
		}
	}
	for i, piece := range pieces(s.reply) {
		d := map[string]any{"content": piece}
		if i == 0 {
			d["role"] = "assistant"
		}
		chunk(d, nil, false)
	}
	chunk(map[string]any{}, "stop", true)
	fmt.Fprint(w, "data: [DONE]\n\n")
}

// pieces splits s after each space, so that the pieces join back to s.
func pieces(s string) []string {
	var out []string
	for s != "" {
		i := strings.IndexByte(s, ' ')
		if i < 0 {
			return append(out, s)
		}
		out = append(out, s[:i+1])
		s = s[i+1:]
	}
	return out
}
