package session_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/tokenhost/tokenhost/credential"
	"github.com/tokenhost/tokenhost/rpc"
	"github.com/tokenhost/tokenhost/session"
)

// README:begin

// mountTokens answers the runtime's providerToken.getToken, on the stream
// a program already has to the runtime, from src: for every session and
// every provider name, through a cache that refreshes before expiry.
func mountTokens(ctx context.Context, runtime io.ReadWriteCloser, src credential.Source) *rpc.Conn {
	cached := credential.NewCache(nil).Source("entra", src, 0)
	d := session.NewDispatcher(&session.Options{Timeout: 10 * time.Second})
	d.RegisterSource(session.AnySession, session.DefaultProvider, cached)
	mux := rpc.NewMux()
	d.Mount(mux) // add the program's own handlers to mux as well
	return rpc.NewConn(ctx, runtime, mux, nil)
}

// README:end

// Mount the dispatcher on a connection a program already has to the
// runtime. In a program, src would be an Entra ID source such as
// credential.NewAzureSource(&credential.AzureOptions{Credential:
// credential.AzureManagedIdentity}); here a fixed source and a pipe with a
// hand-written request stand in, to run offline.
func ExampleDispatcher_Mount() {
	runtimeEnd, ourEnd := net.Pipe()
	conn := mountTokens(context.Background(), ourEnd, fixedSource("tok-123"))
	defer conn.Close()

	body := `{"jsonrpc":"2.0","id":1,"method":"providerToken.getToken","params":{"sessionId":"s1","providerName":"default"}}`
	fmt.Fprintf(runtimeEnd, "Content-Length: %d\r\n\r\n%s", len(body), body)
	buf := make([]byte, 512)
	n, _ := io.ReadAtLeast(runtimeEnd, buf, 1)
	_, answer, _ := strings.Cut(string(buf[:n]), "\r\n\r\n")
	fmt.Println(answer)
	// Output:
	// {"id":1,"result":{"token":"tok-123"},"jsonrpc":"2.0"}
}

// fixedSource answers one token, valid for an hour.
func fixedSource(value string) credential.Source {
	return credential.SourceFunc(func(context.Context) (credential.Token, error) {
		return credential.Token{Value: value, ExpiresOn: time.Now().Add(time.Hour)}, nil
	})
}
