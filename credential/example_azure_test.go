package credential_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"

	"github.com/tokenhost/tokenhost/credential"
	"github.com/tokenhost/tokenhost/credential/credtest"
)

// ExampleNewAzureSource configures a client-secret azure source from its
// JSON form, as in the configuration file, and gets a token from a loopback
// stand-in for Microsoft Entra ID.
func ExampleNewAzureSource() {
	ca := credtest.NewCA()
	entra := credtest.NewEntra(ca, &credtest.EntraOptions{Apps: []credtest.App{{
		TenantID: "contoso.example", ClientID: "my-app", Secret: "s3cret",
	}}})
	defer entra.Close()
	os.Setenv("MY_APP_SECRET", "s3cret")

	config := `{
		"credential": "client-secret",
		"tenantId": "contoso.example",
		"clientId": "my-app",
		"clientSecret": {"env": "MY_APP_SECRET"},
		"authorityHost": "` + entra.URL() + `",
		"disableInstanceDiscovery": true
	}`
	var opts credential.AzureOptions
	if err := json.Unmarshal([]byte(config), &opts); err != nil {
		log.Fatal(err)
	}
	opts.Transport = ca.Client(credtest.NewDialGuard()) // production leaves it nil
	src, err := credential.NewAzureSource(&opts)
	if err != nil {
		log.Fatal(err)
	}
	tok, err := src.Token(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	claims, err := entra.VerifyAccessToken(tok.Value)
	fmt.Println(claims["aud"], err)
	// Output: https://cognitiveservices.azure.com <nil>
}

// ExampleHint shows the one-line error and hint for a federated credential
// whose subject does not match the workflow.
func ExampleHint() {
	ca := credtest.NewCA()
	gh := credtest.NewGitHubOIDC(ca, nil)
	defer gh.Close()
	entra := credtest.NewEntra(ca, &credtest.EntraOptions{
		Apps:       []credtest.App{{TenantID: "contoso.example", ClientID: "my-app", FederatedSubject: "repo:octo-org/octo-repo:environment:prod"}},
		Federation: gh,
	})
	defer entra.Close()
	for k, v := range gh.Env() {
		os.Setenv(k, v)
	}
	src, err := credential.NewGitHubOIDCSource(&credential.GitHubOIDCOptions{
		TenantID: credential.Ref{Value: "contoso.example"},
		ClientID: credential.Ref{Value: "my-app"},
		EntraClientOptions: credential.EntraClientOptions{
			AuthorityHost:            entra.URL(),
			DisableInstanceDiscovery: true,
			Transport:                ca.Client(credtest.NewDialGuard()),
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	_, err = src.Token(context.Background())
	fmt.Println(err)
	fmt.Println(credential.Hint(err))
	// Output:
	// credential: github-oidc source: authentication failed: HTTP 400: AADSTS70021 no matching federated identity record (invalid_client)
	// add a federated credential to the app registration with issuer https://token.actions.githubusercontent.com, audience api://AzureADTokenExchange and subject repo:OWNER/REPO:ref:refs/heads/BRANCH (or repo:OWNER/REPO:environment:NAME for a job with an environment)
}
