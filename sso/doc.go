// Package sso signs users in with Google and Microsoft (OpenID Connect,
// through coreos/go-oidc and golang.org/x/oauth2) and GitHub (OAuth 2.0 and
// its verified-email API).
//
// A Provider does the two halves of one authorization-code flow: the
// redirect to the provider (AuthCodeURL) and the redemption of the code that
// comes back (Exchange). The caller — the gateway — owns the rest of RFC
// 9700's checklist: it makes a fresh state, nonce and PKCE verifier for each
// attempt (NewState, NewNonce, NewVerifier), keeps them bound to that one
// browser, compares state on the callback, passes the callback's query to
// CallbackError, and hands the verifier and nonce, once, to Exchange. Each
// provider has a redirect URI of its own, which is the defence against
// mix-up attacks (RFC 9700 §4.4.2).
//
// Exchange returns an Identity keyed by (Provider, Subject), the only pair
// that is stable and unique (OIDC Core §5.7; NIST SP 800-63C §3.3); the
// email is an attribute, to be trusted to find an account only when
// EmailVerified says so.
//
// The package makes outgoing HTTP requests and serves none. Discovery is
// lazy: a provider that is down when the gateway starts only fails the
// logins that use it (ErrProviderUnavailable), and is looked up again on a
// later login.
//
// # What an ID token must pass
//
// Exchange accepts an ID token only when all of these hold (OIDC Core
// §3.1.3.7, ASVS V10.5): it came from the token endpoint over TLS in
// exchange for the code and the PKCE verifier; it is signed with an
// asymmetric algorithm the provider advertises (RS, PS, ES, EdDSA — never
// "none", never HS256 keyed with the client secret) by a key from the
// provider's JWKS; iss is exactly the issuer (Microsoft's multi-tenant
// endpoints: the issuer template with the token's own tid); aud contains the
// client id and, when there are several audiences or an azp, azp is the
// client id; it has not expired; nonce equals the attempt's nonce; at_hash,
// when present, matches the access token; sub is not empty.
//
// # Which emails are trusted
//
// An SSO login may find an existing account by email, so a provider's word
// that a user controls an address is as strong as a password for that
// account. Each provider's rule:
//
// Google: the email_verified claim is true. (Google is authoritative for
// @gmail.com addresses and for Google Workspace accounts, which carry the hd
// claim; for a consumer Google account opened with another company's
// address, email_verified records a verification made when the address was
// added.)
//
// GitHub: the address /user/emails marks both primary and verified. Other
// verified addresses are ignored; an unverified primary gives
// EmailVerified false.
//
// Microsoft: the bare email claim is never trusted ("nOAuth", Descope 2023).
// In Microsoft Entra ID the email claim comes from the user's mail
// attribute, which a tenant administrator can set to any address without
// proving ownership; with the multi-tenant endpoint anyone can create a
// tenant, give a user the victim's address, and sign in as that user.
// Microsoft documents that email and preferred_username are mutable and must
// not identify or authorize users, and that an email is "domain owner
// verified" only when its domain is a verified domain of the user's own
// tenant, or the account is a Microsoft account (MSA), a Google account, or
// signed in with a one-time passcode. So EmailVerified is true only when the
// token has an email claim and:
//
//   - the optional claim xms_edov ("email domain owner verified") is true —
//     Microsoft's own verdict, emitted by Entra ID and not settable by a
//     tenant; or
//   - xms_edov is absent and tid is the consumer tenant
//     9188040d-6c67-4c5b-b112-36a304b66dad: a personal Microsoft account,
//     whose address Microsoft verified when it was added and which no
//     third-party administrator controls.
//
// An xms_edov that is present and not true always means unverified.
// preferred_username, upn and unique_name are never used as an email.
// Operators must add the optional claims email and xms_edov to the ID token
// in the app registration (Token configuration), and keep acceptMappedClaims
// off so that no tenant's claims-mapping policy can rewrite them. Without
// xms_edov, work and school accounts still sign in and link by subject; they
// just cannot be matched to an existing account by email. Microsoft's
// removeUnverifiedEmailClaim behaviour (on by default for multi-tenant apps
// created since June 2023) removes unverified emails server side; it is
// defence in depth here, not relied on.
//
// A Microsoft Subject is "<tid>/<sub>": with the multi-tenant endpoint each
// tenant is its own issuer, and (iss, sub) is the pair OIDC guarantees
// unique, so the tenant is part of the key.
package sso
