package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/tokenhost/tokenhost/credential"
	"github.com/tokenhost/tokenhost/session"
)

const tokenSynopsis = `Usage: tokenhost token [--config FILE] --provider NAME [--claims]

Acquires a token for one provider and prints it to stdout, for scripts (as
'az account get-access-token' does). With --claims it prints the token's
decoded, unverified JWT claims (aud, iss, tid, oid, appid, exp) as JSON
instead of the token.`

func cmdToken(ctx context.Context, env *environment, args []string) int {
	var f commonFlags
	var name string
	var claims bool
	fs := newFlagSet("token", tokenSynopsis, env.stderr)
	f.register(fs, "error")
	fs.StringVar(&name, "provider", session.DefaultProvider, "the provider `name`")
	fs.BoolVar(&claims, "claims", false, "print the token's decoded claims instead of the token")
	if stop, code := parseFlags(fs, args); stop {
		return code
	}
	h, _, code := f.start(env, "token", env.stderr, nil)
	if h == nil {
		return code
	}
	defer h.close()
	tok, err := h.dispatcher.Token(ctx, session.ProviderTokenArgs{SessionID: "tokenhost-token", ProviderName: name})
	if err != nil {
		fmt.Fprintln(env.stderr, "tokenhost token:", err)
		return 1
	}
	if !claims {
		fmt.Fprintln(env.stdout, tok.Value)
		return 0
	}
	c, err := credential.ParseClaims(tok.Value)
	if err != nil {
		fmt.Fprintln(env.stderr, "tokenhost token:", err)
		return 1
	}
	out, _ := json.MarshalIndent(claimsView(c), "", "  ")
	fmt.Fprintln(env.stdout, string(out))
	return 0
}

// claimsView is what --claims prints.
func claimsView(c credential.Claims) map[string]any {
	v := map[string]any{}
	set := func(k string, s string) {
		if s != "" {
			v[k] = s
		}
	}
	if len(c.Audience) == 1 {
		v["aud"] = c.Audience[0]
	} else if len(c.Audience) > 1 {
		v["aud"] = c.Audience
	}
	set("iss", c.Issuer)
	set("tid", c.TenantID)
	set("oid", c.ObjectID)
	set("appid", c.AppID)
	set("sub", c.Subject)
	if !c.ExpiresAt.IsZero() {
		v["exp"] = c.ExpiresAt.UTC().Format(time.RFC3339)
	}
	if !c.IssuedAt.IsZero() {
		v["iat"] = c.IssuedAt.UTC().Format(time.RFC3339)
	}
	return v
}
