package rpc

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/sourcegraph/jsonrpc2"
)

// JSON-RPC error codes used by tokenhost. The first five are JSON-RPC 2.0's
// own, CodeRequestCancelled is the Language Server Protocol's, and the rest
// are tokenhost's application codes, in the range JSON-RPC reserves for
// implementations.
const (
	// CodeParseError means a frame's body is not JSON.
	CodeParseError int64 = -32700
	// CodeInvalidRequest means a frame holds JSON that is not a JSON-RPC
	// request, or a frame is malformed or too large.
	CodeInvalidRequest int64 = -32600
	// CodeMethodNotFound means no handler is registered for the method.
	CodeMethodNotFound int64 = -32601
	// CodeInvalidParams means the params do not match the method's schema.
	CodeInvalidParams int64 = -32602
	// CodeInternalError means the handler failed in a way it did not
	// classify, or panicked.
	CodeInternalError int64 = -32603
	// CodeRequestCancelled means the peer cancelled the request with
	// $/cancelRequest before it was answered.
	CodeRequestCancelled int64 = -32800

	// CodeSourceFailed means a provider's token source was tried and
	// failed; the message names the provider and the cause.
	CodeSourceFailed int64 = -32000
	// CodeUnknownProvider means no token callback is registered for the
	// provider (and no "default" one to fall back to).
	CodeUnknownProvider int64 = -32001
	// CodeSourceTimeout means a provider's token source did not answer
	// within the host's acquisition timeout.
	CodeSourceTimeout int64 = -32002
	// CodeSourceUnavailable means a provider's token source cannot work on
	// this machine (a variable unset, a program missing, no identity
	// endpoint): a configuration problem rather than an issuer's refusal.
	CodeSourceUnavailable int64 = -32003
)

// Error is a JSON-RPC error object, as sent and as received. Its Error
// method returns the message alone, as a user should see it.
type Error struct {
	Code    int64           `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data,omitempty"`
}

// Error returns the message.
func (e *Error) Error() string { return e.Message }

// wire converts e for jsonrpc2.
func (e *Error) wire() *jsonrpc2.Error {
	w := &jsonrpc2.Error{Code: e.Code, Message: e.Message}
	if len(e.Data) > 0 {
		d := e.Data
		w.Data = &d
	}
	return w
}

// fromWire converts an error returned by jsonrpc2: an error answer becomes
// an *Error, anything else is returned as it is.
func fromWire(err error) error {
	if errors.Is(err, jsonrpc2.ErrClosed) {
		return ErrClosed
	}
	var w *jsonrpc2.Error
	if !errors.As(err, &w) {
		return err
	}
	e := &Error{Code: w.Code, Message: w.Message}
	if w.Data != nil {
		e.Data = *w.Data
	}
	return e
}

// ErrClosed is wrapped by the errors of calls on a [Conn] that has ended
// (or ended while they waited for their answer).
var ErrClosed = errors.New("rpc: connection closed")

// Errorf returns an [Error] with the code and a message formatted as by
// [fmt.Sprintf].
func Errorf(code int64, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}
