package rpc

import "encoding/json"

// DecodeProviderTokenAcquireRequest decodes the params of
// providerToken.getToken as [json.Unmarshal] would. The form the runtime
// sends, an object of exactly "sessionId" and "providerName" with plain
// string values, is read without reflection: it is on the path of every
// model request.
func DecodeProviderTokenAcquireRequest(params []byte) (ProviderTokenAcquireRequest, error) {
	if req, ok := parseTokenParams(params); ok {
		return req, nil
	}
	var req ProviderTokenAcquireRequest
	err := json.Unmarshal(params, &req)
	return req, err
}

// parseTokenParams reads params when they are a JSON object of exactly
// "sessionId" and "providerName", each once, with string values that are
// valid UTF-8 without escapes or control characters, to what json.Unmarshal
// would give. It returns false for anything else.
func parseTokenParams(b []byte) (ProviderTokenAcquireRequest, bool) {
	var req ProviderTokenAcquireRequest
	var seenS, seenP bool
	i := skipSpace(b, 0)
	if i == len(b) || b[i] != '{' {
		return req, false
	}
	for i = skipSpace(b, i+1); ; {
		key, j, ok := plainString(b, i)
		if !ok {
			return req, false
		}
		if i = skipSpace(b, j); i == len(b) || b[i] != ':' {
			return req, false
		}
		val, j, ok := plainString(b, skipSpace(b, i+1))
		if !ok {
			return req, false
		}
		switch string(key) {
		case "sessionId":
			if seenS {
				return req, false
			}
			seenS, req.SessionID = true, string(val)
		case "providerName":
			if seenP {
				return req, false
			}
			seenP, req.ProviderName = true, string(val)
		default:
			return req, false
		}
		if i = skipSpace(b, j); i == len(b) {
			return req, false
		}
		if b[i] == '}' {
			break
		}
		if b[i] != ',' {
			return req, false
		}
		i = skipSpace(b, i+1)
	}
	return req, seenS && seenP && skipSpace(b, i+1) == len(b)
}
