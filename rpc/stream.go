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
	"sync/atomic"
	"unicode/utf8"

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
	// onRequest, when set, receives every plain request (see
	// parseRequest) in place of jsonrpc2, on the read loop, which then
	// reads on: the request is decoded once, into a struct, instead of
	// jsonrpc2's three passes through maps. Anything else goes to jsonrpc2.
	onRequest func(*jsonrpc2.Request)

	// writers counts the writes waiting for or holding wmu: the last one
	// flushes, so answers that are ready together leave in one write.
	writers atomic.Int32
	// unflushed is set when the read loop left its answer in the buffer
	// because more requests were already waiting: it flushes before it
	// next waits for input, so answers to a batch leave in one write.
	unflushed atomic.Bool
	wmu       sync.Mutex // guards w and wbuf
	w         *bufio.Writer
	wbuf      []byte
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
	return s.write(func(w *bufio.Writer) error {
		return (jsonrpc2.VSCodeObjectCodec{}).WriteObject(w, obj)
	})
}

// write calls f with the writer under the write lock, and flushes unless
// another write is waiting for the lock (which then flushes for both).
func (s *stream) write(f func(w *bufio.Writer) error) error {
	return s.writeFrom(false, f)
}

// writeFrom is write; onReadLoop says the caller is the read loop, which
// may leave the flush for later when more input is already buffered.
func (s *stream) writeFrom(onReadLoop bool, f func(w *bufio.Writer) error) error {
	s.writers.Add(1)
	s.wmu.Lock()
	defer s.wmu.Unlock()
	err := f(s.w)
	last := s.writers.Add(-1) == 0
	switch {
	case err == nil && last && onReadLoop && s.r.Buffered() > 0:
		s.unflushed.Store(true)
	case err != nil || last:
		s.unflushed.Store(false)
		if ferr := s.w.Flush(); err == nil {
			err = ferr
		}
	}
	return err
}

// flushUnflushed flushes what the read loop left in the buffer, before it
// waits for input.
func (s *stream) flushUnflushed() error {
	if !s.unflushed.Load() || s.r.Buffered() > 0 {
		return nil
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.unflushed.Store(false)
	return s.w.Flush()
}

// writeResult writes a successful answer to the request id, as jsonrpc2's
// Conn.Reply would write it, with one encoding of the result instead of
// three.
func (s *stream) writeResult(id jsonrpc2.ID, result any, onReadLoop bool) error {
	return s.writeFrom(onReadLoop, func(w *bufio.Writer) error {
		b := append(s.wbuf[:0], `{"id":`...)
		b, err := appendID(b, id)
		if err != nil {
			return err
		}
		b = append(b, `,"result":`...)
		if b, err = appendResult(b, result); err != nil {
			return err
		}
		b = append(b, `,"jsonrpc":"2.0"}`...)
		s.wbuf = b
		var head [32]byte
		h := append(head[:0], "Content-Length: "...)
		h = strconv.AppendInt(h, int64(len(b)), 10)
		h = append(h, "\r\n\r\n"...)
		if _, err := w.Write(h); err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	})
}

func appendID(b []byte, id jsonrpc2.ID) ([]byte, error) {
	if !id.IsString {
		return strconv.AppendUint(b, id.Num, 10), nil
	}
	if plain(id.Str) {
		return append(append(append(b, '"'), id.Str...), '"'), nil
	}
	q, err := json.Marshal(id.Str)
	return append(b, q...), err
}

// appendResult appends the JSON encoding of result, as json.Marshal writes
// it; a token answer whose token needs no escaping is written directly.
func appendResult(b []byte, result any) ([]byte, error) {
	if r, ok := result.(ProviderTokenAcquireResult); ok && plain(r.Token) {
		return append(append(append(b, `{"token":"`...), r.Token...), `"}`...), nil
	}
	j, err := json.Marshal(result)
	return append(b, j...), err
}

// plain reports whether s is printable ASCII that json.Marshal writes as
// it is inside quotes.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c > '~' || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// ReadObject implements [jsonrpc2.ObjectStream]. It returns only a usable
// message or an error that ends the connection (end of input, a failed
// read); frames it cannot use are answered and stepped over.
func (s *stream) ReadObject(v any) error {
	for {
		err := s.readOne(v)
		if err == errHandedOver {
			continue
		}
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
	if err := s.flushUnflushed(); err != nil {
		return err
	}
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
	if s.onRequest != nil {
		if req, ok := parseRequest(body); ok {
			s.onRequest(req)
			return errHandedOver
		}
	}
	return decode(body, v)
}

// errHandedOver says readOne gave its frame to onRequest.
var errHandedOver = errors.New("rpc: request handed over")

// null is the params of a request whose params are null, as jsonrpc2 has
// them.
var null = json.RawMessage("null")

// parseRequest decodes body when it is a plain request: a JSON object with
// an "id" that is a non-negative integer or a string without escapes, a
// "method" string without escapes, optional "params", optional "jsonrpc"
// (a string), and nothing else, each once. It returns the request as
// jsonrpc2 would have decoded it, params copied out of body. For anything
// else (a notification, a response, a batch, an unusual id, another
// member, invalid JSON) it returns false and jsonrpc2 decodes the frame.
//
// It checks the JSON grammar as it goes, and params with json.Valid, so
// that it never accepts what jsonrpc2 would refuse (FuzzParseRequest holds
// it to that), without validating the whole body twice.
func parseRequest(body []byte) (*jsonrpc2.Request, bool) {
	var (
		req                           jsonrpc2.Request
		seenRPC, seenID, seenM, seenP bool
	)
	i := skipSpace(body, 0)
	if i == len(body) || body[i] != '{' {
		return nil, false
	}
	for i = skipSpace(body, i+1); ; {
		key, end, ok := plainString(body, i)
		if !ok {
			return nil, false
		}
		if i = skipSpace(body, end); i == len(body) || body[i] != ':' {
			return nil, false
		}
		if i = skipSpace(body, i+1); i == len(body) {
			return nil, false
		}
		end = skipValue(body, i)
		val := body[i:end]
		switch string(key) {
		case "jsonrpc":
			if _, e, ok := plainString(val, 0); seenRPC || !ok || e != len(val) {
				return nil, false
			}
			seenRPC = true
		case "id":
			if seenID || !parseID(val, &req.ID) {
				return nil, false
			}
			seenID = true
		case "method":
			m, e, ok := plainString(val, 0)
			if seenM || !ok || e != len(val) {
				return nil, false
			}
			seenM = true
			if req.Method = MethodProviderTokenGetToken; string(m) != MethodProviderTokenGetToken {
				req.Method = string(m)
			}
		case "params":
			if seenP || !json.Valid(val) {
				return nil, false
			}
			seenP = true
			p := null
			if string(val) != "null" {
				p = bytes.Clone(val)
			}
			req.Params = &p
		default:
			return nil, false
		}
		if i = skipSpace(body, end); i == len(body) {
			return nil, false
		}
		if body[i] == '}' {
			break
		}
		if body[i] != ',' {
			return nil, false
		}
		i = skipSpace(body, i+1)
	}
	if skipSpace(body, i+1) != len(body) {
		return nil, false
	}
	return &req, seenID && seenM
}

// parseID reads a request id as jsonrpc2 does, refusing the forms it
// handles differently (negative, fractional, escaped) and what is not a
// JSON number or string (a leading zero, say).
func parseID(val []byte, id *jsonrpc2.ID) bool {
	if len(val) == 0 {
		return false
	}
	if val[0] == '"' {
		s, end, ok := plainString(val, 0)
		if !ok || end != len(val) {
			return false
		}
		*id = jsonrpc2.ID{Str: string(s), IsString: true}
		return true
	}
	if val[0] == '0' && len(val) > 1 {
		return false
	}
	for _, c := range val {
		if c < '0' || c > '9' {
			return false
		}
	}
	n, err := strconv.ParseInt(string(val), 10, 64)
	if err != nil {
		return false
	}
	*id = jsonrpc2.ID{Num: uint64(n)}
	return true
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// plainString returns the content of the string starting at b[i] and the
// index after it; false when there is none, or it has an escape or a
// control character, or is not valid UTF-8 (which decoders replace).
func plainString(b []byte, i int) ([]byte, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, 0, false
	}
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return b[i+1 : j], j + 1, utf8.Valid(b[i+1 : j])
		case c == '\\' || c < ' ':
			return nil, 0, false
		}
	}
	return nil, 0, false
}

// skipValue returns the index after the value starting at b[i].
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = skipString(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return len(b)
	}
	for ; i < len(b); i++ {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\r', '\n':
			return i
		}
	}
	return i
}

// skipString returns the index after the string starting at b[i].
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
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
