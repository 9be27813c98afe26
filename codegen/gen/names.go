package gen

import (
	"strings"
	"unicode"
)

// initialisms are the words Go spells in capitals.
var initialisms = map[string]string{
	"api":  "API",
	"http": "HTTP",
	"id":   "ID",
	"json": "JSON",
	"ok":   "OK",
	"uri":  "URI",
	"url":  "URL",
	"uuid": "UUID",
}

// words splits a schema name into words: at every character that is not a
// letter or digit ("user_initiated", "session.create"), before an upper
// case letter that follows a lower case letter or digit ("baseUrl"), and
// before the last capital of a run followed by a lower case letter
// ("HTTPServer" is HTTP, Server).
func words(s string) []string {
	var out []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			out = append(out, string(cur))
			cur = cur[:0]
		}
	}
	rs := []rune(s)
	for i, r := range rs {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			flush()
			continue
		}
		if unicode.IsUpper(r) && len(cur) > 0 {
			prev := cur[len(cur)-1]
			nextLower := i+1 < len(rs) && unicode.IsLower(rs[i+1])
			if unicode.IsLower(prev) || unicode.IsDigit(prev) || (unicode.IsUpper(prev) && nextLower) {
				flush()
			}
		}
		cur = append(cur, r)
	}
	flush()
	return out
}

// camel joins the words of s into an exported Go name:
// "sessionId" is SessionID, "wireApi" WireAPI, "user_initiated"
// UserInitiated.
func camel(s string) string {
	var b strings.Builder
	for _, w := range words(s) {
		if up, ok := initialisms[strings.ToLower(w)]; ok {
			b.WriteString(up)
			continue
		}
		r := []rune(w)
		b.WriteRune(unicode.ToUpper(r[0]))
		b.WriteString(string(r[1:]))
	}
	return b.String()
}

// predicate turns a description written as a noun phrase ("The base URL
// ...") into the rest of a doc comment sentence ("the base URL ..."),
// leaving capitalised acronyms ("BYOK ...") alone.
func predicate(desc string) string {
	first, _, _ := strings.Cut(desc, " ")
	if len(first) > 1 && first == strings.ToUpper(first) {
		return desc
	}
	r := []rune(desc)
	r[0] = unicode.ToLower(r[0])
	return string(r)
}

// comment renders text as // lines of at most about 78 columns.
func comment(indent, text string) string {
	var b strings.Builder
	for _, para := range strings.Split(text, "\n\n") {
		if b.Len() > 0 {
			b.WriteString(indent + "//\n")
		}
		line := ""
		for _, w := range strings.Fields(para) {
			if line != "" && len(indent)+3+len(line)+1+len(w) > 78 {
				b.WriteString(indent + "// " + line + "\n")
				line = ""
			}
			if line != "" {
				line += " "
			}
			line += w
		}
		b.WriteString(indent + "// " + line + "\n")
	}
	return b.String()
}
