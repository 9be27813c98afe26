package session

import "github.com/tokenhost/tokenhost/rpc"

// Provider is a whole-session BYOK provider: its wire config, and the
// callback that supplies its bearer tokens. The runtime names it
// [DefaultProvider].
type Provider struct {
	rpc.ProviderConfig
	// Token supplies bearer tokens; nil means the config's own apiKey or
	// bearerToken is used. It never crosses the wire.
	Token TokenFunc `json:"-"`
}

// Wire returns the config as sent to the runtime: every field as given,
// and hasBearerTokenProvider true exactly when a callback is present.
func (p Provider) Wire() rpc.ProviderConfig {
	w := p.ProviderConfig
	w.HasBearerTokenProvider = p.Token != nil
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
}

// Wire returns the config as sent to the runtime: every field as given,
// and hasBearerTokenProvider true exactly when a callback is present.
func (p NamedProvider) Wire() rpc.NamedProviderConfig {
	w := p.NamedProviderConfig
	w.HasBearerTokenProvider = p.Token != nil
	return w
}

// RegisterProviders registers, for sessionID, the callback of every provider
// that has one: whole's under [DefaultProvider] (when whole is not nil),
// each named provider's under its name. It returns a function that removes
// them all.
func (d *Dispatcher) RegisterProviders(sessionID string, whole *Provider, named []NamedProvider) (remove func()) {
	var removes []func()
	if whole != nil && whole.Token != nil {
		removes = append(removes, d.Register(sessionID, DefaultProvider, whole.Token))
	}
	for _, p := range named {
		if p.Token != nil {
			removes = append(removes, d.Register(sessionID, p.Name, p.Token))
		}
	}
	return func() {
		for _, r := range removes {
			r()
		}
	}
}
