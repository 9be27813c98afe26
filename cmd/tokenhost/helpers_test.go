package main

import (
	"encoding/base64"
	"io"
	"sync"
)

func base64Std(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// syncWriter serialises writes from the host's goroutines.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}
