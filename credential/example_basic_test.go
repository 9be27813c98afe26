package credential_test

import (
	"context"
	"fmt"
	"time"

	"github.com/tokenhost/tokenhost/credential"
)

func ExampleNewCache() {
	calls := 0
	issuer := credential.SourceFunc(func(ctx context.Context) (credential.Token, error) {
		calls++
		return credential.Token{Value: "eyJ0eXAi...", ExpiresOn: time.Now().Add(time.Hour)}, nil
	})

	cache := credential.NewCache(&credential.CacheOptions{AcquireTimeout: 10 * time.Second})
	// Providers configured with the same credential use the same key, and
	// so share one token.
	red := cache.Source("entra:tenant/client", issuer, 0)
	blue := cache.Source("entra:tenant/client", issuer, 0)

	for _, src := range []credential.Source{red, blue, red} {
		if _, err := src.Token(context.Background()); err != nil {
			fmt.Println(err)
			return
		}
	}
	fmt.Println("issuer calls:", calls)

	// After the model provider rejects a token, drop it: the next call
	// acquires a new one.
	red.Expire()
	if _, err := blue.Token(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("issuer calls:", calls)
	// Output:
	// issuer calls: 1
	// issuer calls: 2
}

func ExampleNewExecSource() {
	// A helper that prints JSON; a plain-text token works too. Here sh
	// stands in for a real credential helper.
	helper := credential.NewExecSource([]string{
		"sh", "-c", `echo '{"token": "opaque-token", "expiresOn": "2099-01-02T03:04:05Z"}'`,
	}, &credential.ExecOptions{Name: "my-helper"})

	// Behind a cache, the helper runs once per token lifetime, not per
	// request. ttl applies to plain-text tokens, which carry no expiry.
	src := credential.NewCache(nil).Source("exec:my-helper", helper, 5*time.Minute)
	tok, err := src.Token(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(tok) // a Token never prints its value
	// Output: Token(redacted, expires 2099-01-02T03:04:05Z)
}
