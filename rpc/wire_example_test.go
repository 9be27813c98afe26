package rpc_test

import (
	"encoding/json"
	"fmt"

	"github.com/tokenhost/tokenhost/rpc"
)

// A provider config that makes the runtime ask tokenhost for a bearer
// token (providerToken.getToken) before each request to the provider.
func ExampleProviderConfig() {
	p := rpc.ProviderConfig{
		Type:                   rpc.ProviderConfigTypeOpenAI,
		BaseURL:                "http://127.0.0.1:8080/v1",
		HasBearerTokenProvider: true,
	}
	b, err := json.Marshal(p)
	if err != nil {
		panic(err)
	}
	fmt.Println(string(b))
	// Output: {"type":"openai","baseUrl":"http://127.0.0.1:8080/v1","hasBearerTokenProvider":true}
}
