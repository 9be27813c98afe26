package session

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/tokenhost/tokenhost/rpc"
)

// ProtocolVersion is the runtime protocol version a [Client] speaks; the
// runtime reports its own in the answer to connect.
const ProtocolVersion = 3

// DefaultShutdownTimeout bounds [Client.Close]'s goodbye (session.detach,
// runtime.shutdown, the runtime's exit) unless
// [ClientOptions.ShutdownTimeout] says otherwise. Past it the runtime is
// killed.
const DefaultShutdownTimeout = 5 * time.Second

// ErrClosed is returned by the methods of a [Client] or [Session] that was
// closed, and wrapped by the errors of calls that the end of the connection
// interrupted.
var ErrClosed = errors.New("session: client closed")

// ErrAborted is returned by [Session.Run] when the turn ended by
// session.abort.
var ErrAborted = errors.New("session: turn aborted")

// ClientOptions configures a [Client]. A nil *ClientOptions means the
// defaults.
type ClientOptions struct {
	// Path is the runtime program [Start] runs. Empty means
	// $COPILOT_CLI_PATH, else "copilot" found on PATH.
	Path string
	// Home is the HOME the runtime runs with; it keeps its state under
	// Home/.copilot. Empty means the caller's own.
	Home string
	// Dir is the runtime's working directory. Empty means the caller's.
	Dir string
	// Env adds "KEY=value" entries to the runtime's environment, which is
	// otherwise the caller's.
	Env []string
	// Stderr receives the runtime's stderr. Nil discards it, keeping only
	// its last line for the error that reports an unexpected exit.
	Stderr io.Writer
	// Dispatcher answers the runtime's providerToken.getToken on the
	// connection; sessions register their providers' callbacks on it. Nil
	// means a new one with the default [Options].
	Dispatcher *Dispatcher
	// Logger receives the client's diagnostics. Nil means [slog.Default].
	Logger *slog.Logger
	// ShutdownTimeout bounds [Client.Close]'s goodbye. Zero means
	// [DefaultShutdownTimeout].
	ShutdownTimeout time.Duration

	// getenv and lookPath stand in for os.Getenv and exec.LookPath in tests.
	getenv   func(string) string
	lookPath func(string) (string, error)
}

// Client is the Go side of a Copilot runtime session host: it holds one
// JSON-RPC connection to a runtime, creates sessions on it with BYOK
// providers, answers the runtime's token requests with the [Dispatcher]
// mounted on the same connection, and delivers each session's events.
//
// A Client is made by [Start] (it spawns the runtime) or [Attach] (the
// caller already has the streams), and must be closed. Its methods are safe
// for concurrent use.
type Client struct {
	conn    *rpc.Conn
	d       *Dispatcher
	log     *slog.Logger
	info    rpc.ConnectResult
	proc    *process // nil when attached
	timeout time.Duration
	cancel  context.CancelFunc // ends the context of the runtime's requests
	done    chan struct{}      // closed once the runtime is gone

	mu       sync.Mutex
	sessions map[string]*Session
	closed   bool  // Close was called
	ended    bool  // the connection has ended and sessions' events are closed
	err      error // why the connection ended, once done is closed
}

// Attach connects to a runtime over rwc (its stdout to read, its stdin to
// write), sends connect and checks the protocol version. Closing the
// [Client] closes rwc. ctx bounds the connect call only.
func Attach(ctx context.Context, rwc io.ReadWriteCloser, opts *ClientOptions) (*Client, error) {
	c := newClient(rwc, nil, opts)
	if err := c.handshake(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func newClient(rwc io.ReadWriteCloser, proc *process, opts *ClientOptions) *Client {
	var o ClientOptions
	if opts != nil {
		o = *opts
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Dispatcher == nil {
		o.Dispatcher = NewDispatcher(&Options{Logger: o.Logger})
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = DefaultShutdownTimeout
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Client{
		d:        o.Dispatcher,
		log:      o.Logger,
		proc:     proc,
		timeout:  o.ShutdownTimeout,
		cancel:   cancel,
		done:     make(chan struct{}),
		sessions: map[string]*Session{},
	}
	mux := rpc.NewMux()
	c.d.Mount(mux)
	mux.HandleNotification(rpc.MethodSessionEvent, c.event)
	c.conn = rpc.NewConn(ctx, rwc, mux, &rpc.Options{Logger: o.Logger})
	go c.watch()
	return c
}

// handshake sends connect and checks the answer.
func (c *Client) handshake(ctx context.Context) error {
	if err := c.call(ctx, rpc.MethodConnect, rpc.ConnectRequest{}, &c.info); err != nil {
		return err
	}
	if c.info.ProtocolVersion != ProtocolVersion {
		return fmt.Errorf("session: the runtime (version %q) speaks protocol version %d; this client speaks %d", c.info.Version, c.info.ProtocolVersion, ProtocolVersion)
	}
	return nil
}

// watch waits for the end of the connection (or of the runtime process),
// then ends every session's events and records why.
func (c *Client) watch() {
	var err error
	if c.proc != nil {
		select {
		case <-c.conn.Done():
			// The runtime closed its stdout, or Close closed the conn: the
			// process is about to exit or be killed by Close.
			select {
			case <-c.proc.exited:
			case <-time.After(c.timeout):
				c.proc.kill()
				<-c.proc.exited
			}
		case <-c.proc.exited:
			c.conn.Close() // a grandchild may hold the pipe open
		}
		err = c.proc.exitError()
	}
	<-c.conn.Done()
	c.cancel() // token requests in flight have no one to answer
	c.conn.Wait()
	c.mu.Lock()
	if err == nil && !c.closed {
		err = errors.New("session: the runtime closed the connection")
	}
	if c.closed {
		err = nil
	}
	c.err = err
	c.ended = true
	sessions := make([]*Session, 0, len(c.sessions))
	for _, s := range c.sessions {
		sessions = append(sessions, s)
	}
	c.mu.Unlock()
	for _, s := range sessions {
		s.q.close()
	}
	close(c.done)
}

// Runtime returns the runtime's answer to connect: its protocol and package
// versions.
func (c *Client) Runtime() rpc.ConnectResult { return c.info }

// Dispatcher returns the dispatcher that answers the runtime's token
// requests on this connection.
func (c *Client) Dispatcher() *Dispatcher { return c.d }

// Done is closed when the runtime is gone: the connection has ended and a
// spawned runtime has exited and been reaped.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns, once [Client.Done] is closed, why the runtime went away
// unasked (it exited, crashed or closed the connection), or nil after
// [Client.Close]. Before that it returns nil.
func (c *Client) Err() error {
	select {
	case <-c.done:
	default:
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close ends the client: it detaches every open session, sends
// runtime.shutdown, closes the connection and, for a spawned runtime, waits
// for it to exit, killing its process group when it has not exited within
// [ClientOptions.ShutdownTimeout]. The child is reaped before Close
// returns. It returns the runtime's unexpected exit, if there was one, or
// the failure of the goodbye.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		<-c.done
		return nil
	}
	c.closed = true
	sessions := make([]*Session, 0, len(c.sessions))
	for _, s := range c.sessions {
		sessions = append(sessions, s)
	}
	c.mu.Unlock()

	var errs []error
	select {
	case <-c.done:
		errs = append(errs, c.errLocked())
	default:
		ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
		for _, s := range sessions {
			errs = append(errs, s.detach(ctx))
		}
		if err := c.call(ctx, rpc.MethodRuntimeShutdown, struct{}{}, nil); err != nil && !errors.Is(err, ErrClosed) {
			errs = append(errs, err)
		}
		cancel()
		c.conn.Close() // the end of its stdin also tells the runtime to go
		if c.proc != nil {
			c.proc.waitOrKill(c.timeout)
		}
	}
	for _, s := range sessions {
		s.release()
	}
	c.conn.Close()
	c.cancel()
	<-c.done
	return errors.Join(errs...)
}

func (c *Client) errLocked() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// call calls the runtime, wrapping its errors with the method name and the
// end of the connection with the runtime's fate.
func (c *Client) call(ctx context.Context, method string, params, result any) error {
	err := c.conn.Call(ctx, method, params, result)
	if err == nil {
		return nil
	}
	var re *rpc.Error
	if errors.As(err, &re) {
		return fmt.Errorf("session: %s: %w", method, err)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("session: %s: %w", method, ctx.Err())
	}
	if errors.Is(err, rpc.ErrClosed) {
		<-c.conn.Done() // at once: the connection has ended
		<-c.done        // soon: watch bounds the runtime's exit
		if cause := c.Err(); cause != nil {
			return fmt.Errorf("session: %s: %w (%w)", method, ErrClosed, cause)
		}
		return fmt.Errorf("session: %s: %w", method, ErrClosed)
	}
	return fmt.Errorf("session: %s: %w", method, err)
}

// SessionConfig describes a session to create.
type SessionConfig struct {
	// ID is the session's id. Empty means a new random UUID.
	ID string
	// Model is the model selection: a model id for the whole-session
	// provider, "provider/id" for a named provider's model.
	Model string
	// Provider, when set, serves the whole session; the runtime asks for
	// its tokens as [DefaultProvider].
	Provider *Provider
	// Providers are the session's named providers, each asked for by name.
	Providers []NamedProvider
	// Models are the models the named providers serve.
	Models []rpc.ProviderModelConfig
	// Streaming asks for assistant.message_delta events while a reply is
	// generated.
	Streaming bool
	// WorkingDirectory is the directory the session's tools work in. Empty
	// means the runtime's.
	WorkingDirectory string
	// ClientName is recorded by the runtime with the session.
	ClientName string
}

// CreateSession creates a session: it registers the callbacks of the
// config's providers with the client's [Dispatcher] for the new session,
// sends session.create with the providers in wire form, and starts
// delivering the session's events (see [Session.Events]).
func (c *Client) CreateSession(ctx context.Context, cfg SessionConfig) (*Session, error) {
	id := cfg.ID
	if id == "" {
		id = newUUID()
	}
	s := &Session{id: id, c: c, q: newQueue()}
	c.mu.Lock()
	switch {
	case c.closed:
		c.mu.Unlock()
		return nil, ErrClosed
	case c.sessions[id] != nil:
		c.mu.Unlock()
		return nil, fmt.Errorf("session: session %q already exists on this client", id)
	}
	s.remove = c.d.RegisterProviders(id, cfg.Provider, cfg.Providers)
	c.sessions[id] = s // before the call: events arrive before its answer
	if c.ended {
		s.q.close()
	}
	c.mu.Unlock()

	req := rpc.SessionCreateRequest{
		SessionID:         id,
		Model:             cfg.Model,
		ClientName:        cfg.ClientName,
		Models:            cfg.Models,
		Streaming:         cfg.Streaming,
		WorkingDirectory:  cfg.WorkingDirectory,
		RequestPermission: new(bool), // no permission requests: tokenhost answers none
	}
	if cfg.Provider != nil {
		w := cfg.Provider.Wire()
		req.Provider = &w
	}
	for _, p := range cfg.Providers {
		req.Providers = append(req.Providers, p.Wire())
	}
	var res rpc.SessionCreateResult
	if err := c.call(ctx, rpc.MethodSessionCreate, req, &res); err != nil {
		s.release()
		return nil, err
	}
	if res.SessionID != id {
		s.release()
		return nil, fmt.Errorf("session: session.create: the runtime created session %q, not the requested %q", res.SessionID, id)
	}
	s.workspace = res.WorkspacePath
	return s, nil
}

// event receives a session.event notification on the read loop: it only
// queues the event for the session's consumer.
func (c *Client) event(_ context.Context, params json.RawMessage) {
	var n rpc.SessionEventNotification
	if err := json.Unmarshal(params, &n); err != nil {
		c.log.Warn("session: session.event ignored: bad params", "err", err)
		return
	}
	c.mu.Lock()
	s := c.sessions[n.SessionID]
	c.mu.Unlock()
	if s == nil {
		c.log.Debug("session: session.event ignored: unknown session", "session", n.SessionID, "type", n.Event.Type)
		return
	}
	s.q.push(n.Event)
}

// Session is a session on a runtime, created by [Client.CreateSession].
// Its methods are safe for concurrent use, but its events have one
// consumer: either the caller reading [Session.Events] or [Session.Run].
type Session struct {
	id        string
	workspace string
	c         *Client
	q         *queue
	remove    func() // removes the providers' registrations

	once sync.Once
}

// ID returns the session's id.
func (s *Session) ID() string { return s.id }

// WorkspacePath returns the directory where the runtime keeps the session's
// workspace, when it reported one.
func (s *Session) WorkspacePath() string { return s.workspace }

// Events returns the session's events in the order the runtime sent them.
// They are queued without bound, so a slow reader never holds up the
// connection. The channel is closed after [Session.Close], [Client.Close],
// or the end of the connection (then [Client.Err] says why).
func (s *Session) Events() <-chan rpc.SessionEvent { return s.q.out }

// Send queues a user message and returns the id the runtime gave it. The
// turn it starts is followed through [Session.Events].
func (s *Session) Send(ctx context.Context, prompt string) (messageID string, err error) {
	var res rpc.SendResult
	if err := s.c.call(ctx, rpc.MethodSessionSend, rpc.SendRequest{SessionID: s.id, Prompt: prompt}, &res); err != nil {
		return "", err
	}
	return res.MessageID, nil
}

// Abort aborts the session's current turn. The runtime ends the turn only
// once a pending token request is answered, which the [Dispatcher]'s
// timeout bounds.
func (s *Session) Abort(ctx context.Context) error {
	var res rpc.AbortResult
	if err := s.c.call(ctx, rpc.MethodSessionAbort, rpc.AbortRequest{SessionID: s.id}, &res); err != nil {
		return err
	}
	if !res.Success {
		return fmt.Errorf("session: session.abort: the runtime refused: %s", res.Error)
	}
	return nil
}

// TurnError is a turn's failure as the runtime reported it in a
// session.error event; its Message is what a user of the runtime sees, and
// after a failed token request it ends with the dispatcher's message.
type TurnError struct {
	rpc.SessionErrorData
}

// Error returns the runtime's message.
func (e *TurnError) Error() string { return "session: turn failed: " + e.Message }

// Run runs one turn: it sends prompt, then reads [Session.Events] until
// session.idle, passing each event to onEvent (when not nil) as it
// arrives, on the caller's goroutine. It returns the turn's reply, the
// content of its assistant messages joined by a blank line, or the turn's
// *[TurnError], [ErrAborted], or the end of the connection.
//
// When ctx ends first, Run asks the runtime to abort the turn and returns
// ctx's error; the session's later events then still hold the rest of that
// turn, so close the session rather than run another turn on it.
func (s *Session) Run(ctx context.Context, prompt string, onEvent func(rpc.SessionEvent)) (string, error) {
	if _, err := s.Send(ctx, prompt); err != nil {
		return "", err
	}
	var (
		replies []string
		turnErr *TurnError
	)
	for {
		var ev rpc.SessionEvent
		var ok bool
		select {
		case ev, ok = <-s.q.out:
		case <-ctx.Done():
			go func() { // best effort: the turn may be stuck on a token
				actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.c.timeout)
				defer cancel()
				_ = s.Abort(actx)
			}()
			return "", fmt.Errorf("session: turn: %w", ctx.Err())
		}
		if !ok {
			if turnErr != nil {
				return "", turnErr
			}
			if err := s.c.Err(); err != nil {
				return "", fmt.Errorf("session: turn: %w (%w)", ErrClosed, err)
			}
			return "", fmt.Errorf("session: turn: %w", ErrClosed)
		}
		if onEvent != nil {
			onEvent(ev)
		}
		switch ev.Type {
		case rpc.EventAssistantMessage:
			var d rpc.AssistantMessageData
			if json.Unmarshal(ev.Data, &d) == nil && d.Content != "" {
				replies = append(replies, d.Content)
			}
		case rpc.EventSessionError:
			var d rpc.SessionErrorData
			if err := json.Unmarshal(ev.Data, &d); err != nil || d.Message == "" {
				d.Message = "the runtime reported an error without a message"
			}
			turnErr = &TurnError{d}
		case rpc.EventSessionIdle:
			var d rpc.SessionIdleData
			_ = json.Unmarshal(ev.Data, &d)
			switch {
			case turnErr != nil:
				return "", turnErr
			case d.Aborted:
				return "", ErrAborted
			}
			return strings.Join(replies, "\n\n"), nil
		}
	}
}

// Close detaches the session, removes its providers' callbacks from the
// dispatcher and closes its events. The runtime keeps the session's state
// on disk.
func (s *Session) Close(ctx context.Context) error {
	s.c.mu.Lock()
	open := s.c.sessions[s.id] == s
	s.c.mu.Unlock()
	if !open {
		return nil
	}
	err := s.detach(ctx)
	s.release()
	return err
}

// detach sends session.detach, unless the connection has ended.
func (s *Session) detach(ctx context.Context) error {
	select {
	case <-s.c.conn.Done():
		return nil
	default:
	}
	var res rpc.SessionDetachResult
	if err := s.c.call(ctx, rpc.MethodSessionDetach, rpc.SessionDetachRequest{SessionID: s.id}, &res); err != nil {
		if errors.Is(err, ErrClosed) {
			return nil
		}
		return err
	}
	if !res.Success {
		return fmt.Errorf("session: session.detach %q: the runtime refused: %s", s.id, res.Error)
	}
	return nil
}

// release forgets the session: its callbacks, its place in the client, its
// events.
func (s *Session) release() {
	s.once.Do(func() {
		s.remove()
		s.c.mu.Lock()
		if s.c.sessions[s.id] == s {
			delete(s.c.sessions, s.id)
		}
		s.c.mu.Unlock()
		s.q.stop()
	})
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
