package session

import (
	"context"
	"strings"
	"testing"

	"github.com/tokenhost/tokenhost/rpc"
)

// fuzzToken is the token of the fuzzed dispatcher: no answer but a
// successful one may contain it.
const fuzzToken = "fuzz-token-canary-6b1f"

// FuzzGetTokenParams gives arbitrary params to the providerToken.getToken
// handler. It never panics; it answers either the token of the provider
// the params name or an *rpc.Error with a code and a message that holds no
// token. (rpc's FuzzTokenParams holds the params decoder to
// encoding/json.) Seeds are in testdata/fuzz/FuzzGetTokenParams.
func FuzzGetTokenParams(f *testing.F) {
	d := NewDispatcher(&Options{Logger: quiet, Strict: true})
	d.Register(AnySession, DefaultProvider, fixed(fuzzToken))
	d.Register(AnySession, "red", fixed(fuzzToken))
	f.Fuzz(func(t *testing.T, params []byte) {
		res, err := d.handle(context.Background(), params)
		if err != nil {
			e, ok := err.(*rpc.Error)
			if !ok || e.Code == 0 || e.Message == "" {
				t.Fatalf("handle(%q) error = %#v, want an *rpc.Error with a code and a message", params, err)
			}
			if strings.Contains(e.Message, fuzzToken) {
				t.Fatalf("handle(%q): the error shows the token: %q", params, e.Message)
			}
			return
		}
		if r, ok := res.(rpc.ProviderTokenAcquireResult); !ok || r.Token != fuzzToken {
			t.Fatalf("handle(%q) = %#v, want the token", params, res)
		}
	})
}
