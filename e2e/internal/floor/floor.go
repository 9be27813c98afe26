package floor

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// Token is the token the floor host answers.
const Token = "floor-token"

// maxFrame bounds a request body the floor host reads.
const maxFrame = 1 << 20

// Serve answers every request, in the form jsonrpc2 (and so tokenhost)
// writes answers, read from r with [Token], written to w, until
// r ends (nil) or a frame cannot be read (an error). It flushes when no more
// input is buffered, so answers to requests that arrived together go out
// together, as a host with one buffered writer would send them.
func Serve(r io.Reader, w io.Writer) error {
	br := bufio.NewReaderSize(r, 64<<10)
	bw := bufio.NewWriterSize(w, 64<<10)
	var body, out []byte
	for {
		n, err := readHeader(br)
		if err == io.EOF {
			return bw.Flush()
		}
		if err != nil {
			return err
		}
		if cap(body) < n {
			body = make([]byte, n)
		}
		body = body[:n]
		if _, err := io.ReadFull(br, body); err != nil {
			return fmt.Errorf("floor: reading a body: %w", err)
		}
		id, ok := requestID(body)
		if !ok {
			return errors.New("floor: a request without a numeric id")
		}
		out = out[:0]
		out = append(out, `{"id":`...)
		out = append(out, id...)
		out = append(out, `,"result":{"token":"`+Token+`"},"jsonrpc":"2.0"}`...)
		bw.WriteString("Content-Length: ")
		bw.Write(strconv.AppendInt(body[:0:0], int64(len(out)), 10))
		bw.WriteString("\r\n\r\n")
		bw.Write(out)
		if br.Buffered() == 0 {
			if err := bw.Flush(); err != nil {
				return err
			}
		}
	}
}

// readHeader reads header lines up to the blank line and returns the
// Content-Length.
func readHeader(br *bufio.Reader) (int, error) {
	n := -1
	for first := true; ; first = false {
		line, err := br.ReadSlice('\n')
		if err != nil {
			if first && err == io.EOF && len(line) == 0 {
				return 0, io.EOF
			}
			return 0, fmt.Errorf("floor: reading a header: %w", err)
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		if v, ok := bytes.CutPrefix(line, []byte("Content-Length:")); ok {
			if n, err = strconv.Atoi(string(bytes.TrimSpace(v))); err != nil || n <= 0 || n > maxFrame {
				return 0, fmt.Errorf("floor: bad Content-Length %q", v)
			}
		}
	}
	if n < 0 {
		return 0, errors.New("floor: a frame without Content-Length")
	}
	return n, nil
}

// requestID returns the digits of a body's top-level "id" member. It
// assumes what a [Driver] writes: an integer id, and no "id" key inside
// the params before it.
func requestID(body []byte) ([]byte, bool) {
	i := bytes.Index(body, []byte(`"id":`))
	if i < 0 {
		return nil, false
	}
	rest := bytes.TrimLeft(body[i+5:], " ")
	j := 0
	for j < len(rest) && (rest[j] >= '0' && rest[j] <= '9' || rest[j] == '-') {
		j++
	}
	return rest[:j], j > 0
}
