package session

import (
	"github.com/tokenhost/tokenhost/credential"
	"github.com/tokenhost/tokenhost/rpc"
)

// Provider is a whole-session BYOK provider: its wire config, and the
// callback that supplies its bearer tokens. The runtime names it
// [DefaultProvider].
type Provider struct {
	rpc.ProviderConfig
	// Token supplies bearer tokens; nil means the config's own apiKey or
	// bearerToken is used. It never crosses the wire.
	Token TokenFunc `json:"-"`
	// Source, when Token is nil, supplies them instead; a cached source's
	// hits are then answered where the request arrives (see
	// [Dispatcher.RegisterSource]).
	Source credential.Source `json:"-"`
}

// Wire returns the config as sent to the runtime: every field as given,
// and hasBearerTokenProvider true exactly when a callback is present.
func (p Provider) Wire() rpc.ProviderConfig {
	w := p.ProviderConfig
	w.HasBearerTokenProvider = p.Token != nil || p.Source != nil
	return w
}

// NamedProvider is a named BYOK provider: its wire config, and the
// callback that supplies its bearer tokens. The runtime names it by
// [rpc.NamedProviderConfig.Name].
type NamedProvider struct {
	rpc.NamedProviderConfig
	// Token supplies bearer tokens; nil means the config's own apiKey or
	// bearerToken is used. It never crosses the wire.
	Token TokenFunc `json:"-"`
	// Source, when Token is nil, supplies them instead, as in [Provider].
	Source credential.Source `json:"-"`
}

// Wire returns the config as sent to the runtime: every field as given,
// and hasBearerTokenProvider true exactly when a callback is present.
func (p NamedProvider) Wire() rpc.NamedProviderConfig {
	w := p.NamedProviderConfig
	w.HasBearerTokenProvider = p.Token != nil || p.Source != nil
	return w
}

// RegisterProviders registers, for sessionID, the callback (or source) of
// every provider that has one: whole's under [DefaultProvider] (when whole
// is not nil), each named provider's under its name. It returns a function
// that removes them all.
func (d *Dispatcher) RegisterProviders(sessionID string, whole *Provider, named []NamedProvider) (remove func()) {
	var removes []func()
	add := func(provider string, fn TokenFunc, src credential.Source) {
		switch {
		case fn != nil:
			removes = append(removes, d.Register(sessionID, provider, fn))
		case src != nil:
			removes = append(removes, d.RegisterSource(sessionID, provider, src))
		}
	}
	if whole != nil {
		add(DefaultProvider, whole.Token, whole.Source)
	}
	for _, p := range named {
		add(p.Name, p.Token, p.Source)
	}
	return func() {
		for _, r := range removes {
			r()
		}
	}
}
