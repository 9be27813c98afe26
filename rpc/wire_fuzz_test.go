package rpc_test

import (
	"encoding/json"
	"testing"

	"github.com/tokenhost/tokenhost/rpc"
)

// FuzzDecodeProviderTokenAcquireRequest decodes arbitrary params of
// providerToken.getToken. Whatever decodes must encode again and decode
// to the same value, with both required fields present. Seeds are in
// testdata/fuzz/FuzzDecodeProviderTokenAcquireRequest.
func FuzzDecodeProviderTokenAcquireRequest(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		var req rpc.ProviderTokenAcquireRequest
		if err := json.Unmarshal(data, &req); err != nil {
			return
		}
		b, err := json.Marshal(req)
		if err != nil {
			t.Fatalf("encode %+v: %v", req, err)
		}
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(b, &fields); err != nil {
			t.Fatalf("re-encoded %s is not an object: %v", b, err)
		}
		if _, ok := fields["sessionId"]; !ok || len(fields) != 2 {
			t.Fatalf("re-encoded %s lacks a required field or has extra ones", b)
		}
		var again rpc.ProviderTokenAcquireRequest
		if err := json.Unmarshal(b, &again); err != nil {
			t.Fatalf("decode re-encoded %s: %v", b, err)
		}
		if again != req {
			t.Fatalf("round trip: %+v became %+v", req, again)
		}
	})
}
