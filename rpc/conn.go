package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/sourcegraph/jsonrpc2"
)

// DefaultDrainTimeout is how long requests still being handled when the
// input ends may take to answer unless [Options.DrainTimeout] says
// otherwise.
const DefaultDrainTimeout = 2 * time.Second

// DefaultMaxInFlight is how many requests a [Conn] handles at once unless
// [Options.MaxInFlight] says otherwise. Past it, reading pauses, so a flood
// waits in the pipe instead of in memory.
const DefaultMaxInFlight = 1024

// methodCancelRequest is the notification by which a peer cancels one of its
// requests.
const methodCancelRequest = "$/cancelRequest"

// HandlerFunc answers one request. params is the request's raw params (nil
// when absent). A returned *[Error] is sent as it is; any other error is
// sent as [CodeInternalError] with the error's text, so handlers should
// return *Error for anything a peer can act on.
type HandlerFunc func(ctx context.Context, params json.RawMessage) (result any, err error)

// NotificationFunc receives one notification. Notifications are delivered
// in the order they arrive, on the connection's read loop, so a
// NotificationFunc must return quickly and must not call the peer.
type NotificationFunc func(ctx context.Context, params json.RawMessage)

// Mux routes incoming requests and notifications to handlers by method
// name. Its methods may be called at any time, before or while a [Conn]
// uses it.
type Mux struct {
	mu       sync.RWMutex
	requests map[string]HandlerFunc
	inline   map[string]InlineFunc
	notifs   map[string]NotificationFunc
}

// InlineFunc answers a request at once, where it arrives, when it can do
// so without waiting (a cache hit): ok true sends result; ok false hands the
// request to the method's [HandlerFunc], which runs in a goroutine of its
// own. It runs on the connection's read loop, so it must never block.
type InlineFunc func(params json.RawMessage) (result any, ok bool)

// NewMux returns an empty [Mux].
func NewMux() *Mux {
	return &Mux{requests: map[string]HandlerFunc{}, inline: map[string]InlineFunc{}, notifs: map[string]NotificationFunc{}}
}

// Handle registers h for requests of method, replacing any earlier one.
// A nil h removes the registration.
func (m *Mux) Handle(method string, h HandlerFunc) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if h == nil {
		delete(m.requests, method)
		return
	}
	m.requests[method] = h
}

// HandleNotification registers f for notifications of method, replacing
// any earlier one. A nil f removes the registration.
func (m *Mux) HandleNotification(method string, f NotificationFunc) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if f == nil {
		delete(m.notifs, method)
		return
	}
	m.notifs[method] = f
}

// HandleInline registers f to try requests of method before their
// [HandlerFunc] does, replacing any earlier one. A nil f removes the
// registration.
func (m *Mux) HandleInline(method string, f InlineFunc) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if f == nil {
		delete(m.inline, method)
		return
	}
	m.inline[method] = f
}

func (m *Mux) inlineFunc(method string) InlineFunc {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.inline[method]
}

func (m *Mux) handler(method string) HandlerFunc {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.requests[method]
}

func (m *Mux) notification(method string) NotificationFunc {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.notifs[method]
}

// Options configures a [Conn]. The zero value, like a nil *Options, means
// the defaults.
type Options struct {
	// MaxFrameSize bounds a frame's body in bytes; a larger frame is refused
	// before its body is read into memory. Zero means [DefaultMaxFrameSize].
	MaxFrameSize int64
	// MaxInFlight bounds the requests handled at once. Zero means
	// [DefaultMaxInFlight].
	MaxInFlight int
	// DrainTimeout is how long requests still being handled when the input
	// ends may take to answer before they are cancelled and the connection
	// closes: long enough for answers already on their way, short enough
	// that a peer that has gone does not keep the process waiting. Zero
	// means [DefaultDrainTimeout].
	DrainTimeout time.Duration
	// Logger receives the connection's diagnostics. Nil means
	// [slog.Default].
	Logger *slog.Logger
}

// Conn is a JSON-RPC 2.0 connection over a Content-Length framed stream.
// It serves the peer's requests through a [Mux], each in its own goroutine,
// and calls methods on the peer.
type Conn struct {
	rpc    *jsonrpc2.Conn
	stream *stream
	mux    *Mux
	log    *slog.Logger
	sem    chan struct{}
	// ctx is the parent of the requests the stream hands over itself; it
	// ends when the connection does, as jsonrpc2's own does.
	ctx context.Context
	// ready is closed once rpc is set.
	ready chan struct{}

	mu       sync.Mutex
	inflight map[jsonrpc2.ID]context.CancelCauseFunc
	handlers sync.WaitGroup // added to under mu, and only while !waited
	waited   bool           // Wait has begun: no handler may start
}

// errCancelledByPeer is the cause of a request context cancelled by the
// peer's $/cancelRequest.
var errCancelledByPeer = errors.New("rpc: request cancelled by the peer")

// NewConn starts serving rwc with mux and returns the connection. It reads
// until rwc ends or [Conn.Close] is called; ctx is the parent of every
// request's context.
func NewConn(ctx context.Context, rwc io.ReadWriteCloser, mux *Mux, opts *Options) *Conn {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.MaxFrameSize <= 0 {
		o.MaxFrameSize = DefaultMaxFrameSize
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = DefaultMaxInFlight
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = DefaultDrainTimeout
	}
	if mux == nil {
		mux = NewMux()
	}
	ctx, cancel := context.WithCancel(ctx)
	c := &Conn{
		mux:      mux,
		log:      o.Logger,
		sem:      make(chan struct{}, o.MaxInFlight),
		ctx:      ctx,
		ready:    make(chan struct{}),
		inflight: map[jsonrpc2.ID]context.CancelCauseFunc{},
	}
	s := newStream(rwc, o.MaxFrameSize, o.Logger)
	s.drain = func() { c.drain(o.DrainTimeout) }
	s.onRequest = func(req *jsonrpc2.Request) {
		<-c.ready
		c.Handle(c.ctx, c.rpc, req)
	}
	c.stream = s
	c.rpc = jsonrpc2.NewConn(ctx, s, c, jsonrpc2.SetLogger(logAdapter{o.Logger}))
	close(c.ready)
	go func() {
		<-c.rpc.DisconnectNotify()
		cancel()
	}()
	return c
}

// Call sends a request to the peer and waits for its answer, which it
// decodes into result (unless result is nil). An error answer is returned
// as *[Error]; the connection ending first, as [ErrClosed].
func (c *Conn) Call(ctx context.Context, method string, params, result any) error {
	return fromWire(c.rpc.Call(ctx, method, params, result))
}

// Notify sends a notification to the peer.
func (c *Conn) Notify(ctx context.Context, method string, params any) error {
	return fromWire(c.rpc.Notify(ctx, method, params))
}

// Close closes the connection and its stream at once: requests still being
// handled are cancelled and their answers discarded. (When the input ends
// instead, requests being handled have [Options.DrainTimeout] to answer
// before the same happens.)
func (c *Conn) Close() error { return c.rpc.Close() }

// Done is closed when the connection has ended, by [Conn.Close], by the end
// of its input, or by a failed read or write.
func (c *Conn) Done() <-chan struct{} { return c.rpc.DisconnectNotify() }

// Wait blocks until the connection has ended and every request handler has
// returned.
func (c *Conn) Wait() {
	<-c.Done()
	// The read loop may still be handing over a request it read before
	// the end: from here on it drops it instead of starting a handler.
	c.mu.Lock()
	c.waited = true
	c.mu.Unlock()
	c.handlers.Wait()
}

// drain waits, at most timeout, for the requests being handled to answer.
// It runs on the read loop when the input has ended, so no request is added
// while it waits.
func (c *Conn) drain(timeout time.Duration) {
	done := make(chan struct{})
	go func() {
		c.handlers.Wait()
		close(done)
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		c.log.Warn("rpc: input ended; cancelling requests still unanswered", "after", timeout)
	}
}

// Handle implements [jsonrpc2.Handler]. It runs on the read loop.
func (c *Conn) Handle(ctx context.Context, conn *jsonrpc2.Conn, req *jsonrpc2.Request) {
	if req.Notif {
		c.notify(ctx, req)
		return
	}
	if f := c.mux.inlineFunc(req.Method); f != nil {
		if result, ok := c.tryInline(f, req); ok {
			if err := c.replyResult(conn, req.ID, result, true); err != nil {
				c.replyFailed(req, err)
			}
			return
		}
	}
	c.sem <- struct{}{} // a full semaphore pauses reading
	rctx, cancel := context.WithCancelCause(ctx)
	c.mu.Lock()
	if c.waited {
		// The connection has ended and its owner is waiting for the
		// handlers: this request came too late to be answered.
		c.mu.Unlock()
		cancel(nil)
		<-c.sem
		return
	}
	c.inflight[req.ID] = cancel
	c.handlers.Add(1)
	c.mu.Unlock()
	go func() {
		defer c.handlers.Done()
		defer func() { <-c.sem }()
		result, err := c.serve(rctx, req)
		c.mu.Lock()
		delete(c.inflight, req.ID)
		c.mu.Unlock()
		cancelled := errors.Is(context.Cause(rctx), errCancelledByPeer)
		cancel(nil)
		if err != nil {
			c.reply(ctx, conn, req, asError(err, cancelled))
			return
		}
		if err := c.replyResult(conn, req.ID, result, false); err != nil {
			c.replyFailed(req, err)
		}
	}()
}

// replyResult writes a successful answer straight to the stream, which
// writes it as jsonrpc2's Conn.Reply would, with one encoding instead of
// three; like Reply, it fails once the connection is closed.
// onReadLoop says the caller is the read loop (an inline answer).
func (c *Conn) replyResult(conn *jsonrpc2.Conn, id jsonrpc2.ID, result any, onReadLoop bool) error {
	select {
	case <-conn.DisconnectNotify():
		return jsonrpc2.ErrClosed
	default:
	}
	return c.stream.writeResult(id, result, onReadLoop)
}

// tryInline calls an InlineFunc; a panic hands the request on to the
// handler, which will answer it.
func (c *Conn) tryInline(f InlineFunc, req *jsonrpc2.Request) (result any, ok bool) {
	defer func() {
		if p := recover(); p != nil {
			c.log.Error("rpc: inline handler panicked", "method", req.Method, "panic", fmt.Sprintf("%T", p), "stack", string(debug.Stack()))
			result, ok = nil, false
		}
	}()
	var params json.RawMessage
	if req.Params != nil {
		params = *req.Params
	}
	return f(params)
}

// serve calls the request's handler, turning a panic into an error.
func (c *Conn) serve(ctx context.Context, req *jsonrpc2.Request) (result any, err error) {
	h := c.mux.handler(req.Method)
	if h == nil {
		return nil, Errorf(CodeMethodNotFound, "method not found: %q", req.Method)
	}
	defer func() {
		if p := recover(); p != nil {
			c.log.Error("rpc: handler panicked", "method", req.Method, "panic", fmt.Sprintf("%T", p), "stack", string(debug.Stack()))
			err = Errorf(CodeInternalError, "internal error: the handler for %q failed", req.Method)
		}
	}()
	var params json.RawMessage
	if req.Params != nil {
		params = *req.Params
	}
	return h(ctx, params)
}

func (c *Conn) reply(ctx context.Context, conn *jsonrpc2.Conn, req *jsonrpc2.Request, e *Error) {
	if err := conn.ReplyWithError(ctx, req.ID, e.wire()); err != nil {
		c.replyFailed(req, err)
	}
}

func (c *Conn) replyFailed(req *jsonrpc2.Request, err error) {
	if errors.Is(err, jsonrpc2.ErrClosed) {
		c.log.Debug("rpc: answer dropped: connection closed", "method", req.Method, "id", req.ID.String())
		return
	}
	c.log.Warn("rpc: answer not sent", "method", req.Method, "id", req.ID.String(), "err", err)
}

// asError turns a handler's error into the error object sent to the peer.
func asError(err error, cancelledByPeer bool) *Error {
	if cancelledByPeer {
		return Errorf(CodeRequestCancelled, "request cancelled")
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: CodeInternalError, Message: err.Error()}
}

func (c *Conn) notify(ctx context.Context, req *jsonrpc2.Request) {
	var params json.RawMessage
	if req.Params != nil {
		params = *req.Params
	}
	if req.Method == methodCancelRequest {
		c.cancel(params)
		return
	}
	f := c.mux.notification(req.Method)
	if f == nil {
		c.log.Debug("rpc: notification ignored: no handler", "method", req.Method)
		return
	}
	defer func() {
		if p := recover(); p != nil {
			c.log.Error("rpc: notification handler panicked", "method", req.Method, "panic", fmt.Sprintf("%T", p), "stack", string(debug.Stack()))
		}
	}()
	f(ctx, params)
}

// cancel handles $/cancelRequest {id}.
func (c *Conn) cancel(params json.RawMessage) {
	var p struct {
		ID jsonrpc2.ID `json:"id"`
	}
	if err := json.Unmarshal(params, &p); err != nil {
		c.log.Warn("rpc: $/cancelRequest ignored: bad params", "err", describe(err))
		return
	}
	c.mu.Lock()
	cancel := c.inflight[p.ID]
	c.mu.Unlock()
	if cancel != nil {
		cancel(errCancelledByPeer)
	}
}

// logAdapter routes jsonrpc2's own diagnostics to slog.
type logAdapter struct{ log *slog.Logger }

func (l logAdapter) Printf(format string, v ...any) {
	l.log.Debug(fmt.Sprintf(format, v...), "component", "jsonrpc2")
}
