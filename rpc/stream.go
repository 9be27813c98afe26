package rpc

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"

	"github.com/sourcegraph/jsonrpc2"
)

const (
	// DefaultMaxFrameSize is the largest frame body a [Conn] accepts unless
	// [Options.MaxFrameSize] says otherwise.
	DefaultMaxFrameSize = 1 << 20
	// maxHeaderLine bounds one header line, so a peer that never sends a
	// line break cannot make the reader buffer without end.
	maxHeaderLine = 4096
	// pooledBody is the largest body whose buffer is reused.
	pooledBody = 64 << 10
)

// frameError is a frame the reader could not use but could step over: the
// stream stays in step, the peer is told, and reading goes on.
type frameError struct {
	code int64
	msg  string
	id   *json.RawMessage // the request's id when it could be read
}

func (e *frameError) Error() string { return e.msg }

// stream is a [jsonrpc2.ObjectStream] for Content-Length framed JSON. It
// writes with jsonrpc2's VSCodeObjectCodec and reads with its own framing,
// which refuses oversized frames before allocating them and answers a
// malformed frame with an error instead of closing the connection.
type stream struct {
	r        *bufio.Reader
	closer   io.Closer
	maxFrame int64
	log      *slog.Logger
	// drain, when set, is called when input ends, before the end is
	// reported: jsonrpc2 cancels every request when reading stops, so
	// requests still being handled get a moment to answer first.
	drain func()

	wmu sync.Mutex // guards w
	w   *bufio.Writer
}

var bodyPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

func newStream(rwc io.ReadWriteCloser, maxFrame int64, log *slog.Logger) *stream {
	return &stream{
		r:        bufio.NewReaderSize(rwc, maxHeaderLine),
		w:        bufio.NewWriter(rwc),
		closer:   rwc,
		maxFrame: maxFrame,
		log:      log,
	}
}

// WriteObject implements [jsonrpc2.ObjectStream].
func (s *stream) WriteObject(obj any) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := (jsonrpc2.VSCodeObjectCodec{}).WriteObject(s.w, obj); err != nil {
		return err
	}
	return s.w.Flush()
}

// ReadObject implements [jsonrpc2.ObjectStream]. It returns only a usable
// message or an error that ends the connection (end of input, a failed
// read); frames it cannot use are answered and stepped over.
func (s *stream) ReadObject(v any) error {
	for {
		err := s.readOne(v)
		var fe *frameError
		if !errors.As(err, &fe) {
			if err != nil && s.drain != nil {
				s.drain()
			}
			return err
		}
		s.log.Warn("rpc: refused a frame", "code", fe.code, "reason", fe.msg)
		if err := s.writeError(fe); err != nil {
			return err
		}
	}
}

func (s *stream) readOne(v any) error {
	n, err := s.readHeader()
	if err != nil {
		return err
	}
	var body []byte
	if n <= pooledBody {
		bp := bodyPool.Get().(*[]byte)
		defer bodyPool.Put(bp)
		if cap(*bp) < int(n) {
			*bp = make([]byte, n)
		}
		body = (*bp)[:n]
	} else {
		body = make([]byte, n)
	}
	if _, err := io.ReadFull(s.r, body); err != nil {
		return unexpected(err)
	}
	return decode(body, v)
}

// decode unmarshals a frame's body into v, classifying a failure as JSON
// that does not parse or JSON that is not a JSON-RPC message.
func decode(body []byte, v any) error {
	err := json.Unmarshal(body, v)
	if err == nil {
		return nil
	}
	if !json.Valid(body) {
		return &frameError{code: CodeParseError, msg: "parse error: the frame's body is not valid JSON"}
	}
	fe := &frameError{code: CodeInvalidRequest, msg: "invalid request: " + describe(err)}
	var probe struct {
		ID json.RawMessage `json:"id"`
	}
	if json.Unmarshal(body, &probe) == nil && len(probe.ID) > 0 && (probe.ID[0] == '"' || probe.ID[0] == '-' || (probe.ID[0] >= '0' && probe.ID[0] <= '9')) {
		fe.id = &probe.ID
	}
	return fe
}

// describe turns a decoding error into a sentence without quoting the
// input, which could hold a secret.
func describe(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("field %q has the wrong type (%s)", te.Field, te.Value)
	}
	msg := err.Error()
	msg = trimPrefix(msg, "jsonrpc2: ")
	return msg
}

func trimPrefix(s, p string) string {
	if len(s) >= len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return s
}

// readHeader reads header lines up to the blank line and returns the
// body's length. A frame that cannot be used (no or bad Content-Length, a
// malformed line, a body over the limit) is stepped over and reported as a
// *frameError.
func (s *stream) readHeader() (int64, error) {
	length := int64(-1)
	var bad string
	seen := false // a header line was read
	for {
		line, err := s.r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// Drop the rest of the overlong line and go on.
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = s.r.ReadSlice('\n')
			}
			if err != nil {
				return 0, unexpected(err)
			}
			bad = fmt.Sprintf("a header line is longer than %d bytes", maxHeaderLine)
			continue
		}
		if err != nil {
			if len(line) == 0 && !seen && bad == "" {
				return 0, err // a clean end between frames
			}
			return 0, unexpected(err)
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			if !seen && bad == "" {
				// Stray blank line between frames.
				continue
			}
			break
		}
		seen = true
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok || !isToken(name) {
			bad = "malformed header line (want \"Name: value\")"
			continue
		}
		if !equalFold(name, "Content-Length") {
			continue
		}
		n, err := strconv.ParseInt(string(bytes.TrimSpace(value)), 10, 64)
		if err != nil || n < 0 {
			bad = "Content-Length is not a non-negative integer"
			continue
		}
		length = n
	}
	switch {
	case bad != "" && length >= 0 && length <= s.maxFrame:
		if _, err := io.CopyN(io.Discard, s.r, length); err != nil {
			return 0, unexpected(err)
		}
		return 0, &frameError{code: CodeInvalidRequest, msg: "malformed frame: " + bad}
	case bad != "":
		return 0, &frameError{code: CodeInvalidRequest, msg: "malformed frame: " + bad}
	case length < 0:
		return 0, &frameError{code: CodeInvalidRequest, msg: "malformed frame: no Content-Length header"}
	case length > s.maxFrame:
		if _, err := io.CopyN(io.Discard, s.r, length); err != nil {
			return 0, unexpected(err)
		}
		return 0, &frameError{code: CodeInvalidRequest, msg: fmt.Sprintf("frame of %d bytes exceeds the limit of %d bytes", length, s.maxFrame)}
	case length == 0:
		return 0, &frameError{code: CodeInvalidRequest, msg: "malformed frame: empty body"}
	}
	return length, nil
}

// unexpected reports the stream ending inside a frame.
func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// isToken reports whether b is an HTTP-style header name.
func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !(c == '-' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

func equalFold(b []byte, s string) bool { return bytes.EqualFold(b, []byte(s)) }

// writeError answers a refused frame.
func (s *stream) writeError(fe *frameError) error {
	id := fe.id
	if id == nil {
		null := json.RawMessage("null")
		id = &null
	}
	return s.WriteObject(struct {
		JSONRPC string           `json:"jsonrpc"`
		ID      *json.RawMessage `json:"id"`
		Error   *Error           `json:"error"`
	}{"2.0", id, &Error{Code: fe.code, Message: fe.msg}})
}

// Close implements [jsonrpc2.ObjectStream].
func (s *stream) Close() error { return s.closer.Close() }
