package session

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tokenhost/tokenhost/rpc"
)

// fuzzToken is the token of the fuzzed dispatcher: no answer but a
// successful one may contain it.
const fuzzToken = "fuzz-token-canary-6b1f"

// FuzzGetTokenParams gives arbitrary params to the providerToken.getToken
// handler. It never panics; it answers either the token of the provider
// the params name or an *rpc.Error with a code and a message that holds no
// token; and its fast decoding of the runtime's params agrees with
// encoding/json's. Seeds are in testdata/fuzz/FuzzGetTokenParams.
func FuzzGetTokenParams(f *testing.F) {
	d := NewDispatcher(&Options{Logger: quiet, Strict: true})
	d.Register(AnySession, DefaultProvider, fixed(fuzzToken))
	d.Register(AnySession, "red", fixed(fuzzToken))
	f.Fuzz(func(t *testing.T, params []byte) {
		if fast, ok := parsePlainParams(params); ok {
			var slow rpc.ProviderTokenAcquireRequest
			if err := json.Unmarshal(params, &slow); err != nil {
				t.Fatalf("parsePlainParams accepted %q, which encoding/json refuses: %v", params, err)
			}
			if diff := cmp.Diff(slow, fast); diff != "" {
				t.Fatalf("parsePlainParams(%q) (-encoding/json +fast):\n%s", params, diff)
			}
		}
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
