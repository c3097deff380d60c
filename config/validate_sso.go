package config

// checkSSO checks the providers that are on (a client_id is set). Issuers
// and endpoints must be https (CONTRACT §5; ASVS V10.5): discovery and
// token responses are trusted as they arrive.
func (c *Config) checkSSO(ps *Problems) {
	https := urlRule{schemes: []string{"https"}, allowPath: true}
	for _, p := range []struct {
		key string
		cfg *OIDCProvider
	}{{"sso.google", &c.SSO.Google}, {"sso.microsoft", &c.SSO.Microsoft}} {
		if p.cfg.ClientID == "" {
			continue
		}
		checkSecretFile(ps, p.key+".client_secret_file", p.cfg.ClientSecretFile, true)
		if _, msg := checkURL(p.cfg.Issuer, https); msg != "" {
			ps.add(p.key+".issuer", "%s", msg)
		}
	}
	if g := &c.SSO.GitHub; g.ClientID != "" {
		checkSecretFile(ps, "sso.github.client_secret_file", g.ClientSecretFile, true)
		if _, msg := checkURL(g.BaseURL, https); msg != "" {
			ps.add("sso.github.base_url", "%s", msg)
		}
		if _, msg := checkURL(g.APIURL, https); msg != "" {
			ps.add("sso.github.api_url", "%s", msg)
		}
	}
}
