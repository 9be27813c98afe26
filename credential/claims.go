package credential

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"
)

// MaxTokenSize is the longest token [ParseClaims] decodes, in bytes. Entra
// and Kubernetes tokens are a few KiB; anything past this is not a bearer
// token.
const MaxTokenSize = 64 << 10

// Claims are the claims of a JWT that tokenhost looks at, decoded by
// [ParseClaims] without verifying the signature: they say what a token
// claims to be, which is enough to explain a rejection or to know when it
// expires, and never enough to trust it.
type Claims struct {
	// Audience is the aud claim; a single string becomes a one-element slice.
	Audience []string
	// Issuer is the iss claim.
	Issuer string
	// TenantID is the tid claim (Microsoft Entra).
	TenantID string
	// ObjectID is the oid claim (Microsoft Entra).
	ObjectID string
	// AppID is the appid claim (Entra v1 tokens), else azp (v2 tokens).
	AppID string
	// Subject is the sub claim.
	Subject string
	// ExpiresAt is the exp claim; zero when absent.
	ExpiresAt time.Time
	// IssuedAt is the iat claim; zero when absent.
	IssuedAt time.Time
	// Raw holds every claim of the payload as encoding/json decodes it into
	// a map[string]any (numbers are float64).
	Raw map[string]any
}

// ParseClaims decodes the payload of a JWS-compact JWT (header.payload.signature)
// without verifying it. It fails for a token longer than [MaxTokenSize], a
// text that is not three base64url segments whose first two are JSON objects,
// and a known claim of the wrong type. Its errors never contain the token or
// any part of it.
func ParseClaims(token string) (Claims, error) {
	if len(token) > MaxTokenSize {
		return Claims{}, fmt.Errorf("credential: claims: token is %d bytes, more than %d", len(token), MaxTokenSize)
	}
	header, rest, ok := strings.Cut(token, ".")
	payload, signature, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 || strings.Contains(signature, ".") {
		return Claims{}, fmt.Errorf("credential: claims: want 3 dot-separated segments, got %d: not a JWT", strings.Count(token, ".")+1)
	}
	if _, err := decodeSegment("header", header); err != nil {
		return Claims{}, err
	}
	raw, err := decodeSegment("payload", payload)
	if err != nil {
		return Claims{}, err
	}
	c := Claims{Raw: raw}
	for _, f := range []struct {
		name string
		dst  *string
	}{
		{"iss", &c.Issuer},
		{"tid", &c.TenantID},
		{"oid", &c.ObjectID},
		{"sub", &c.Subject},
		{"azp", &c.AppID},
		{"appid", &c.AppID}, // after azp: appid wins when both are present
	} {
		if err := stringClaim(raw, f.name, f.dst); err != nil {
			return Claims{}, err
		}
	}
	if c.Audience, err = audienceClaim(raw); err != nil {
		return Claims{}, err
	}
	if c.ExpiresAt, err = timeClaim(raw, "exp"); err != nil {
		return Claims{}, err
	}
	if c.IssuedAt, err = timeClaim(raw, "iat"); err != nil {
		return Claims{}, err
	}
	return c, nil
}

// decodeSegment decodes one base64url segment holding a JSON object. Its
// errors name the segment and never quote it (encoding/json's syntax errors
// quote a character of the input, so they are not wrapped).
func decodeSegment(name, seg string) (map[string]any, error) {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(seg, "="))
	if err != nil {
		// A CorruptInputError says only the offset.
		return nil, fmt.Errorf("credential: claims: %s is not base64url (%w): not a JWT", name, err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil || m == nil {
		return nil, fmt.Errorf("credential: claims: %s is not a JSON object: not a JWT", name)
	}
	return m, nil
}

func stringClaim(raw map[string]any, name string, dst *string) error {
	v, ok := raw[name]
	if !ok || v == nil {
		return nil
	}
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("credential: claims: %s claim is %s, want a string", name, jsonKind(v))
	}
	*dst = s
	return nil
}

func audienceClaim(raw map[string]any) ([]string, error) {
	switch v := raw["aud"].(type) {
	case nil:
		return nil, nil
	case string:
		return []string{v}, nil
	case []any:
		aud := make([]string, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("credential: claims: aud claim holds %s, want strings", jsonKind(e))
			}
			aud = append(aud, s)
		}
		return aud, nil
	default:
		return nil, fmt.Errorf("credential: claims: aud claim is %s, want a string or an array of strings", jsonKind(v))
	}
}

// maxNumericDate bounds exp and iat (seconds since 1970): the year 5138, far
// past any real token and well inside what time.Unix represents.
const maxNumericDate = 1e11

func timeClaim(raw map[string]any, name string) (time.Time, error) {
	v, ok := raw[name]
	if !ok || v == nil {
		return time.Time{}, nil
	}
	f, ok := v.(float64)
	if !ok {
		return time.Time{}, fmt.Errorf("credential: claims: %s claim is %s, want a number", name, jsonKind(v))
	}
	if math.Abs(f) > maxNumericDate {
		return time.Time{}, fmt.Errorf("credential: claims: %s claim is out of range", name)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
}

// jsonKind names the JSON type of a value decoded by encoding/json, with
// its article.
func jsonKind(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case float64:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	default:
		return "null"
	}
}
