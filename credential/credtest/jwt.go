package credtest

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
)

// minter makes and checks HS256 JWTs under a key of its own.
type minter struct{ key []byte }

func newMinter() minter { return minter{key: []byte(randomString(32))} }

var b64 = base64.RawURLEncoding

// mint returns a signed JWT carrying claims.
func (m minter) mint(claims map[string]any) string {
	header, _ := json.Marshal(map[string]string{"alg": "HS256", "typ": "JWT"})
	payload, err := json.Marshal(claims)
	if err != nil {
		panic("credtest: encoding claims: " + err.Error())
	}
	signing := b64.EncodeToString(header) + "." + b64.EncodeToString(payload)
	return signing + "." + b64.EncodeToString(m.sign(signing))
}

func (m minter) sign(s string) []byte {
	h := hmac.New(sha256.New, m.key)
	h.Write([]byte(s))
	return h.Sum(nil)
}

// check returns the claims of a JWT this minter signed.
func (m minter) check(token string) (map[string]any, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errors.New("credtest: not a JWT")
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, m.sign(parts[0]+"."+parts[1])) {
		return nil, errors.New("credtest: bad signature")
	}
	return decodeClaims(parts[1])
}

// decodeClaims decodes a JWT's payload segment.
func decodeClaims(seg string) (map[string]any, error) {
	raw, err := b64.DecodeString(seg)
	if err != nil {
		return nil, errors.New("credtest: bad JWT payload encoding")
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		return nil, errors.New("credtest: bad JWT payload")
	}
	return claims, nil
}

// randomString returns n random bytes, hex-encoded.
func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// writeJSON answers status with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// numClaim returns a numeric claim as seconds.
func numClaim(c map[string]any, name string) (int64, bool) {
	f, ok := c[name].(float64)
	return int64(f), ok
}

// strClaim returns a string claim.
func strClaim(c map[string]any, name string) string {
	s, _ := c[name].(string)
	return s
}
