package floor

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/tokenhost/tokenhost/credential"
	"github.com/tokenhost/tokenhost/session"
)

// discard is the logger of hosts served in process.
var discard = slog.New(slog.DiscardHandler)

// Providers are the provider names each session of [Registered] has.
var Providers = [...]string{"default", "red", "blue"}

// Registered returns a [session.Dispatcher] with sessions sessions, each
// with the three [Providers] registered to a cached source holding a token
// with a far expiry, and the ids of its sessions.
func Registered(sessions int) (*session.Dispatcher, []string) {
	exp, _ := time.Parse(time.RFC3339, farExpiry)
	cache := credential.NewCache(nil)
	d := session.NewDispatcher(&session.Options{Logger: discard})
	ids := make([]string, sessions)
	for i := range ids {
		ids[i] = fmt.Sprintf("3f0b6a8e-0000-4000-8000-%012d", i)
		for _, p := range Providers {
			src := cache.Source(ids[i]+"/"+p, credential.SourceFunc(func(context.Context) (credential.Token, error) {
				return credential.Token{Value: HitToken, ExpiresOn: exp}, nil
			}), 0)
			d.RegisterSource(ids[i], p, src)
		}
	}
	return d, ids
}

// Dispatch calls d.Token n times, cycling over the sessions and providers,
// and fails on the first error.
func Dispatch(d *session.Dispatcher, ids []string, n int) error {
	ctx := context.Background()
	for i := range n {
		args := session.ProviderTokenArgs{SessionID: ids[i%len(ids)], ProviderName: Providers[i%len(Providers)]}
		tok, err := d.Token(ctx, args)
		if err != nil {
			return err
		}
		if tok.Value != HitToken {
			return fmt.Errorf("floor: dispatch: wrong token for %+v", args)
		}
	}
	return nil
}

// BytesPerRegistration returns the heap held per registered (session,
// provider) pair, cached source included, measured over sessions sessions
// of three providers each.
func BytesPerRegistration(sessions int) float64 {
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	d, ids := Registered(sessions)
	after := heap()
	runtime.KeepAlive(d)
	runtime.KeepAlive(ids)
	return float64(int64(after)-int64(before)) / float64(sessions*len(Providers))
}
