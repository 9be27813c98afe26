package credential

import (
	"errors"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

func TestParseAADError(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		body      string
		wantCode  int
		wantOAuth string
	}{
		{"codes", `{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret","error_codes":[7000215]}`, 7000215, "invalid_client"},
		{"description only", `{"error":"invalid_request","error_description":"AADSTS90002: Tenant 'x' not found."}`, 90002, "invalid_request"},
		{"odd error field", `{"error":"` + canary + `","error_codes":[50034]}`, 50034, ""},
		{"not JSON", `<html>` + canary, 0, ""},
		{"empty", ``, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, oauth := parseAADError([]byte(tc.body))
			if code != tc.wantCode || oauth != tc.wantOAuth {
				t.Errorf("parseAADError = %d, %q; want %d, %q", code, oauth, tc.wantCode, tc.wantOAuth)
			}
		})
	}
}

func FuzzParseAADError(f *testing.F) {
	f.Add([]byte(`{"error":"invalid_client","error_codes":[7000215]}`))
	f.Add([]byte(`{"error_description":"AADSTS70021: x"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		_, oauth := parseAADError(body)
		if !oauthRE.MatchString(oauth) && oauth != "" {
			t.Errorf("oauth error %q escaped the pattern", oauth)
		}
	})
}

func TestCondenseUnavailable(t *testing.T) {
	t.Parallel()
	inner := azidentity.NewCredentialUnavailableError("DefaultAzureCredential: failed to acquire a token.\nAttempted credentials:\n\tEnvironmentCredential: missing environment variable AZURE_TENANT_ID\n\tAzureCLICredential: Azure CLI not found on path\n\t\tsee eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln")
	err := condense(t.Context(), "azure source (default)", inner)
	checkClean(t, err)
	want := "credential: azure source (default): unavailable: EnvironmentCredential: missing environment variable AZURE_TENANT_ID; AzureCLICredential: Azure CLI not found on path; see [redacted]: credential unavailable"
	if err.Error() != want {
		t.Errorf("err = %q\nwant  %q", err, want)
	}
	if !errors.Is(err, ErrUnavailable) {
		t.Error("want ErrUnavailable")
	}
}

func TestClassifyKeepsBodiesOut(t *testing.T) {
	t.Parallel()
	// MSAL quotes a whole undecodable (successful) body in its error.
	msg := "ClientSecretCredential: json decode error: invalid character\njson message bytes were: {\"access_token\":\"" + canary + "\""
	if got := classify(msg); strings.Contains(got, canary) || got != "malformed response from the identity endpoint" {
		t.Errorf("classify = %q", got)
	}
}
