package credential

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// jwt returns an unsigned-looking JWT with the given JSON payload.
func jwt(payload string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc([]byte(payload)) + ".c2ln"
}

func TestParseClaims(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		want    Claims
	}{{
		name: "Entra v1 access token",
		payload: `{"aud":"https://cognitiveservices.azure.com","iss":"https://sts.windows.net/t/","iat":1700000000,` +
			`"exp":1700003600,"appid":"app","oid":"obj","sub":"subj","tid":"tenant","azp":"ignored"}`,
		want: Claims{
			Audience:  []string{"https://cognitiveservices.azure.com"},
			Issuer:    "https://sts.windows.net/t/",
			TenantID:  "tenant",
			ObjectID:  "obj",
			AppID:     "app",
			Subject:   "subj",
			ExpiresAt: time.Unix(1700003600, 0).UTC(),
			IssuedAt:  time.Unix(1700000000, 0).UTC(),
		},
	}, {
		name:    "azp when no appid, aud array, fractional exp",
		payload: `{"aud":["a","b"],"azp":"client","exp":1700003600.5}`,
		want: Claims{
			Audience:  []string{"a", "b"},
			AppID:     "client",
			ExpiresAt: time.Unix(1700003600, 5e8).UTC(),
		},
	}, {
		name:    "empty payload",
		payload: `{}`,
		want:    Claims{},
	}, {
		name:    "nulls are absent claims",
		payload: `{"aud":null,"exp":null,"iss":null}`,
		want:    Claims{},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseClaims(jwt(tt.payload))
			if err != nil {
				t.Fatal(err)
			}
			if got.Raw == nil {
				t.Error("Raw is nil")
			}
			got.Raw = nil
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseClaims mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseClaimsRaw(t *testing.T) {
	got, err := ParseClaims(jwt(`{"roles":["r"],"ver":"1.0","n":3}`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"roles": []any{"r"}, "ver": "1.0", "n": 3.0}
	if diff := cmp.Diff(want, got.Raw); diff != "" {
		t.Errorf("Raw mismatch (-want +got):\n%s", diff)
	}
}

func TestParseClaimsErrors(t *testing.T) {
	enc := base64.RawURLEncoding.EncodeToString
	tests := []struct {
		name  string
		token string
		want  string
	}{
		{"opaque", "secretsecretsecret", "want 3 dot-separated segments, got 1"},
		{"JWE", "secret.secret.secret.secret.secret", "got 5"},
		{"too long", strings.Repeat("s", MaxTokenSize+1), "more than 65536"},
		{"header not base64", "secret!.e30.c2ln", "header is not base64url"},
		{"payload not base64", enc([]byte("{}")) + ".secret!.c2ln", "payload is not base64url"},
		{"payload not JSON", enc([]byte("{}")) + "." + enc([]byte("secret")) + ".c2ln", "payload is not a JSON object"},
		{"payload an array", jwt(`["secret"]`), "payload is not a JSON object"},
		{"payload null", jwt(`null`), "payload is not a JSON object"},
		{"aud a number", jwt(`{"aud":1}`), "aud claim is a number"},
		{"aud holds a number", jwt(`{"aud":["a",1]}`), "aud claim holds a number"},
		{"exp a string", jwt(`{"exp":"secret"}`), "exp claim is a string"},
		{"iat out of range", jwt(`{"iat":1e300}`), "iat claim is out of range"},
		{"iss an object", jwt(`{"iss":{"secret":1}}`), "iss claim is an object"},
		{"tid a boolean", jwt(`{"tid":true}`), "tid claim is a boolean"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseClaims(tt.token)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "credential: claims: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q shows part of the token", err)
			}
		})
	}
}

func FuzzParseClaims(f *testing.F) {
	f.Add(jwt(`{"aud":["a"],"exp":1700003600,"tid":"t","appid":"x"}`))
	f.Add(jwt(`{"exp":-1e11}`))
	f.Add("a.b.c")
	f.Add("")
	f.Fuzz(func(t *testing.T, token string) {
		c, err := ParseClaims(token)
		if err != nil {
			// The error must not give the token away: no segment of it
			// long enough to matter appears in the message.
			for seg := range strings.SplitSeq(token, ".") {
				if len(seg) >= 8 && strings.Contains(err.Error(), seg) {
					t.Fatalf("error %q contains a segment of the token", err)
				}
			}
			return
		}
		if c.Raw == nil {
			t.Fatal("success without Raw")
		}
		if !c.ExpiresAt.IsZero() && c.ExpiresAt.Location() != time.UTC {
			t.Fatal("ExpiresAt not in UTC")
		}
	})
}
