package credential

import (
	"context"
	"errors"
)

// Hint returns a one-line suggestion of what to fix for an error from a
// [Source], or "" when it has none. An error can supply its own by
// implementing
//
//	interface{ Hint() string }
//
// anywhere in its chain (see [errors.As]); otherwise a timeout and an
// [ErrUnavailable] get generic hints.
func Hint(err error) string {
	if err == nil {
		return ""
	}
	var h interface{ Hint() string }
	if errors.As(err, &h) {
		if s := h.Hint(); s != "" {
			return s
		}
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "the token source did not answer in time: check network access to the identity endpoint, or allow more time"
	case errors.Is(err, ErrUnavailable):
		return "this source cannot work here: check the variables, files and programs its configuration names"
	}
	return ""
}
