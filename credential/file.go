package credential

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync"
)

// FileOptions configures [NewFileSource]. The zero value is the default.
type FileOptions struct {
	// MaxSize is the largest token file read, in bytes; a larger one is an
	// error. Zero means [MaxTokenSize].
	MaxSize int64
}

// NewFileSource returns a [Source] whose token is the content of the file
// at path, trimmed of surrounding whitespace: a Kubernetes projected
// service-account token, for instance. opts may be nil.
//
// Each call stats the file and reads it again only when its modification
// time, size or identity (device and inode: a file renamed over path, or a
// symbolic link switched to another file) changed; otherwise it serves the
// content read last. A missing file is an error wrapping [ErrUnavailable];
// an empty one is an error too. When the content is a JWT, the token's
// ExpiresOn is its exp claim (read, not verified: see [ParseClaims]).
func NewFileSource(path string, opts *FileOptions) Source {
	s := &fileSource{path: path, maxSize: MaxTokenSize}
	if opts != nil && opts.MaxSize > 0 {
		s.maxSize = opts.MaxSize
	}
	return s
}

type fileSource struct {
	path    string
	maxSize int64

	mu   sync.Mutex
	info fs.FileInfo // of the file tok was read from; nil before the first read
	tok  Token
}

var _ Source = (*fileSource)(nil)

func (s *fileSource) Token(ctx context.Context) (Token, error) {
	if err := ctx.Err(); err != nil {
		return Token{}, fmt.Errorf("credential: file source: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	info, err := os.Stat(s.path)
	if err != nil {
		return Token{}, s.fail(err)
	}
	if s.info != nil && sameFile(s.info, info) {
		return s.tok, nil
	}
	tok, info, err := s.read()
	if err != nil {
		return Token{}, err
	}
	s.tok, s.info = tok, info
	return tok, nil
}

// read reads the file and returns its token with the file's stat taken on
// the open descriptor, so that the two belong together even when the file
// is replaced meanwhile.
func (s *fileSource) read() (Token, fs.FileInfo, error) {
	f, err := os.Open(s.path)
	if err != nil {
		return Token{}, nil, s.fail(err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return Token{}, nil, s.fail(err)
	}
	b, err := io.ReadAll(io.LimitReader(f, s.maxSize+1))
	if err != nil {
		return Token{}, nil, s.fail(err)
	}
	if int64(len(b)) > s.maxSize {
		return Token{}, nil, fmt.Errorf("credential: file source: %s is larger than %d bytes", s.path, s.maxSize)
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return Token{}, nil, fmt.Errorf("credential: file source: %s is empty", s.path)
	}
	tok := Token{Value: v}
	if c, err := ParseClaims(v); err == nil {
		tok.ExpiresOn = c.ExpiresAt
	}
	return tok, info, nil
}

// fail wraps an error of the file system; a missing file means the source
// is unavailable. The *fs.PathError it wraps names the path.
func (s *fileSource) fail(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("credential: file source: %w: %w", ErrUnavailable, err)
	}
	return fmt.Errorf("credential: file source: %w", err)
}

// sameFile reports whether a and b describe the same file with the same
// content, as far as a stat can tell.
func sameFile(a, b fs.FileInfo) bool {
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}
