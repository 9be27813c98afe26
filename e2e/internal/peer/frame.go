package peer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

const (
	// maxHeaderLine bounds one header line the host writes.
	maxHeaderLine = 4096
	// maxAnswer bounds one answer's body. Token answers are small; a host
	// that writes more than this is broken.
	maxAnswer = 16 << 20
)

// Frame returns body framed as the runtime frames it:
// "Content-Length: N\r\n\r\n" followed by body.
func Frame(body []byte) []byte {
	b := make([]byte, 0, len(body)+32)
	b = fmt.Appendf(b, "Content-Length: %d\r\n\r\n", len(body))
	return append(b, body...)
}

// violation is a frame on the host's stdout that breaks the protocol.
// After a framing violation the reader cannot find the next frame.
type violation struct {
	msg      string
	framing  bool   // the stream is out of step: stop parsing
	evidence []byte // the bytes at fault, for the report
}

func (v *violation) Error() string {
	if len(v.evidence) == 0 {
		return v.msg
	}
	return fmt.Sprintf("%s (bytes: %q)", v.msg, clip(v.evidence, 120))
}

func clip(b []byte, n int) []byte {
	if len(b) > n {
		return append(b[:n:n], "..."...)
	}
	return b
}

// readFrame reads one frame strictly: header lines ending in CRLF, exactly
// one Content-Length (Content-Type is allowed too), a blank line, and the
// body. It returns io.EOF at a clean end between frames, and a *violation
// for anything else that is not a frame.
func readFrame(r *bufio.Reader) ([]byte, error) {
	length := -1
	first := true
	for {
		line, err := r.ReadSlice('\n')
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			return nil, &violation{msg: fmt.Sprintf("header line longer than %d bytes", maxHeaderLine), framing: true, evidence: line}
		case err == io.EOF && first && len(line) == 0:
			return nil, io.EOF
		case err == io.EOF:
			return nil, &violation{msg: "stdout ended inside a frame header", framing: true, evidence: line}
		case err != nil:
			return nil, err
		}
		first = false
		if !bytes.HasSuffix(line, []byte("\r\n")) {
			return nil, &violation{msg: "header line not ended by CRLF", framing: true, evidence: line}
		}
		line = line[:len(line)-2]
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return nil, &violation{msg: "header line without a colon", framing: true, evidence: line}
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length >= 0 {
				return nil, &violation{msg: "Content-Length given twice", framing: true, evidence: line}
			}
			n, err := strconv.Atoi(string(value))
			if err != nil || n <= 0 || n > maxAnswer {
				return nil, &violation{msg: fmt.Sprintf("Content-Length is not an integer in 1..%d", maxAnswer), framing: true, evidence: line}
			}
			length = n
		case bytes.EqualFold(name, []byte("Content-Type")):
		default:
			return nil, &violation{msg: "unexpected header", framing: true, evidence: line}
		}
	}
	if length < 0 {
		return nil, &violation{msg: "frame without Content-Length", framing: true}
	}
	body := make([]byte, length)
	if n, err := io.ReadFull(r, body); err != nil {
		return nil, &violation{msg: fmt.Sprintf("stdout ended inside a frame body (%d of %d bytes)", n, length), framing: true, evidence: body[:n]}
	}
	return body, nil
}

// parseAnswer checks that body is a JSON-RPC 2.0 response (the only thing a
// token host writes) and decodes it. Its *violation errors leave the stream
// in step.
func parseAnswer(body []byte) (*Response, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, &violation{msg: "frame body is not a JSON object", evidence: body}
	}
	if v := m["jsonrpc"]; string(v) != `"2.0"` {
		return nil, &violation{msg: `frame body lacks "jsonrpc": "2.0"`, evidence: body}
	}
	if _, ok := m["method"]; ok {
		return nil, &violation{msg: "the host sent a request or notification; a token host only answers", evidence: body}
	}
	rawID, ok := m["id"]
	if !ok {
		return nil, &violation{msg: "answer without an id", evidence: body}
	}
	resp := &Response{Raw: body}
	if string(rawID) != "null" {
		var id int64
		if err := json.Unmarshal(rawID, &id); err != nil {
			return nil, &violation{msg: "answer id is neither null nor an integer (the peer only sends integer ids)", evidence: body}
		}
		resp.ID = &id
	}
	result, hasResult := m["result"]
	rawErr, hasErr := m["error"]
	switch {
	case hasResult == hasErr:
		return nil, &violation{msg: `answer must hold exactly one of "result" and "error"`, evidence: body}
	case hasResult && resp.ID == nil:
		return nil, &violation{msg: "result answer with a null id", evidence: body}
	case hasResult:
		resp.Result = result
		return resp, nil
	}
	var e struct {
		Code    *json.Number    `json:"code"`
		Message *string         `json:"message"`
		Data    json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(rawErr, &e); err != nil || e.Code == nil || e.Message == nil {
		return nil, &violation{msg: `error answer whose "error" is not {"code": integer, "message": string}`, evidence: body}
	}
	code, err := e.Code.Int64()
	if err != nil {
		return nil, &violation{msg: "error code is not an integer", evidence: body}
	}
	resp.Error = &Error{Code: code, Message: *e.Message, Data: e.Data}
	return resp, nil
}
