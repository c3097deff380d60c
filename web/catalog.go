package web

// The texts of the page templates, by key, in English and French. A template
// says {{t "key"}}, or {{t "key" arg…}} when the text has fmt verbs (%s, %d).
// Keys are "page.thing"; texts used by several pages live under "common.",
// "nav." and "who.". French: "vous", the usual words of French interfaces
// ("Se connecter", "Adresse e-mail", "Clé d'accès"), and a no-break space
// (\u00a0) before ":", "?", ";" and "!".
//
// NewRenderer refuses a template that uses a key missing here, and the tests
// check that both languages are given, with the same verbs, and that every
// key is used.

type text struct{ en, fr string }

var catalog = map[string]text{
	// Layout and texts shared by several pages.
	"layout.account": {"Account", "Compte"},
	"consoles.provisioning": {"Your %s account is being set up. Reload this page in a moment.",
		"Votre compte %s est en cours de création. Rechargez cette page dans un instant."},
	"layout.footer":       {"One account for Dedibox and Scaleway.", "Un seul compte pour Dedibox et Scaleway."},
	"layout.language":     {"Language", "Langue"},
	"who.signed_in_as":    {"Signed in as", "Connecté en tant que"},
	"who.signing_in_as":   {"Signing in as", "Connexion en tant que"},
	"nav.consoles":        {"Consoles", "Consoles"},
	"nav.orgs":            {"Organizations", "Organisations"},
	"nav.settings":        {"Settings", "Paramètres"},
	"nav.security":        {"Security", "Sécurité"},
	"nav.sign_out":        {"Sign out", "Se déconnecter"},
	"common.email":        {"Email address", "Adresse e-mail"},
	"common.password":     {"Password", "Mot de passe"},
	"common.new_password": {"New password (at least %d characters)", "Nouveau mot de passe (au moins %d caractères)"},
	"common.continue":     {"Continue", "Continuer"},
	"common.confirm":      {"Confirm", "Confirmer"},
	"common.remove":       {"Remove", "Retirer"},
	"common.role":         {"Role", "Rôle"},
	"common.your_role":    {"Your role:", "Votre rôle\u00a0:"},
	"role.owner":          {"owner", "propriétaire"},
	"role.admin":          {"admin", "administrateur"},
	"role.member":         {"member", "membre"},

	// The passkey button's messages (passkey.js reads them from the page).
	"passkey.start_failed": {"The passkey could not be started.", "La clé d'accès n'a pas pu être sollicitée."},
	"passkey.not_accepted": {"The passkey was not accepted.", "La clé d'accès n'a pas été acceptée."},
	"passkey.cancelled":    {"The passkey request was cancelled or timed out.", "La demande de clé d'accès a été annulée ou a expiré."},
	"passkey.unsupported":  {"This browser does not support passkeys.", "Ce navigateur ne prend pas en charge les clés d'accès."},

	// The authenticator app set-up (login and security pages).
	"totp.app":   {"Authenticator app", "Application d'authentification"},
	"totp.scan":  {"Scan this code with your app, or enter the key by hand, then type the 6-digit code it shows.", "Scannez ce code avec votre application, ou saisissez la clé à la main, puis tapez le code à 6 chiffres qu'elle affiche."},
	"totp.qr":    {"QR code for your authenticator app", "QR code pour votre application d'authentification"},
	"totp.key":   {"Key:", "Clé\u00a0:"},
	"totp.code":  {"6-digit code", "Code à 6 chiffres"},
	"totp.label": {"Code from your authenticator app", "Code de votre application d'authentification"},

	// login.html
	"login.title":            {"Sign in", "Se connecter"},
	"login.title_to":         {"Sign in to %s", "Se connecter à %s"},
	"login.legacy_hint":      {"This sign-in page is kept for accounts linked to Scaleway before the unification. Everyone else signs in at", "Cette page de connexion est conservée pour les comptes liés à Scaleway avant l'unification. Tous les autres se connectent sur"},
	"login.legacy_portal":    {"the account portal", "le portail du compte"},
	"login.or_continue_with": {"or continue with", "ou continuer avec"},
	"login.new_here":         {"New here?", "Pas encore de compte\u00a0?"},
	"login.create_account":   {"Create an account", "Créer un compte"},
	"login.not_you":          {"Not you?", "Ce n'est pas vous\u00a0?"},
	"login.submit":           {"Sign in", "Se connecter"},
	"login.or":               {"or", "ou"},
	"login.with_passkey":     {"Sign in with a passkey", "Se connecter avec une clé d'accès"},
	"login.code_instead":     {"Email me a sign-in code instead", "Recevoir plutôt un code de connexion par e-mail"},
	"login.code_emailed":     {"The 8-digit code we emailed you", "Le code à 8 chiffres reçu par e-mail"},
	"login.send_new_code":    {"Send a new code", "Envoyer un nouveau code"},
	"login.will_email":       {"We will email you a one-time code to sign in.", "Nous allons vous envoyer par e-mail un code à usage unique pour vous connecter."},
	"login.email_me_code":    {"Email me a code", "Recevoir un code par e-mail"},
	"login.forgot_password":  {"Forgot password?", "Mot de passe oublié\u00a0?"},
	"login.recovery_code":    {"Or a recovery code (xxxxx-xxxxx)", "Ou un code de récupération (xxxxx-xxxxx)"},
	"login.recovery_heading": {"Your recovery codes", "Vos codes de récupération"},
	"login.recovery_intro":   {"If you lose your second factor, each of these codes signs you in once. Keep them somewhere safe: they are shown only now.", "Si vous perdez votre second facteur, chacun de ces codes vous connecte une fois. Gardez-les en lieu sûr\u00a0: ils ne sont affichés que maintenant."},
	"login.reset_code":       {"The 8-digit reset code we emailed you", "Le code de réinitialisation à 8 chiffres reçu par e-mail"},
	"login.reset_new_code":   {"Send a new reset code", "Envoyer un nouveau code de réinitialisation"},
	"login.start_again":      {"Start again", "Recommencer"},
	"login.second_step":      {"Second step", "Deuxième étape"},
	"login.verify":           {"Verify", "Vérifier"},
	"login.use_passkey":      {"Use a passkey", "Utiliser une clé d'accès"},
	"login.choose_password":  {"Choose a new password to continue.", "Choisissez un nouveau mot de passe pour continuer."},
	"login.save_continue":    {"Save and continue", "Enregistrer et continuer"},
	"login.enroll_heading":   {"Protect your account with a second factor", "Protégez votre compte avec un second facteur"},
	"login.enroll_intro":     {"Your account needs a second factor before it can open a console. Choose one.", "Votre compte a besoin d'un second facteur pour ouvrir une console. Choisissez-en un."},
	"login.passkey":          {"Passkey", "Clé d'accès"},
	"login.passkey_text":     {"Use your device's screen lock or a security key. Nothing to type.", "Utilisez le verrouillage d'écran de votre appareil ou une clé de sécurité. Rien à saisir."},
	"login.passkey_create":   {"Create a passkey", "Créer une clé d'accès"},

	// signup.html
	"signup.title":         {"Create your account", "Créer votre compte"},
	"signup.sent_to":       {"We sent a code to", "Nous avons envoyé un code à"},
	"signup.enter_it":      {"Enter it to finish. It is valid for a few minutes.", "Saisissez-le pour terminer. Il est valable quelques minutes."},
	"signup.code":          {"8-digit code", "Code à 8 chiffres"},
	"signup.create":        {"Create my account", "Créer mon compte"},
	"signup.other_address": {"Use another address", "Utiliser une autre adresse"},
	"signup.intro":         {"One account for the Dedibox and Scaleway consoles.", "Un seul compte pour les consoles Dedibox et Scaleway."},
	"signup.password":      {"Password (at least %d characters)", "Mot de passe (au moins %d caractères)"},
	"signup.have_account":  {"Already have an account?", "Vous avez déjà un compte\u00a0?"},

	// consoles.html
	"consoles.title":           {"Choose a console", "Choisir une console"},
	"consoles.current":         {"current", "actuelle"},
	"consoles.which_account":   {"Which %s account?", "Quel compte %s\u00a0?"},
	"consoles.account":         {"Account %s", "Compte %s"},
	"consoles.open":            {"Open %s", "Ouvrir %s"},
	"consoles.organization":    {"Organization", "Organisation"},
	"consoles.no_organization": {"None (personal)", "Aucune (compte personnel)"},

	// error.html
	"error.title": {"Error %d", "Erreur %d"},
	"error.back":  {"Back to your account", "Retour à votre compte"},

	// invitation.html
	"invitation.title":    {"Invitation", "Invitation"},
	"invitation.heading":  {"Join the organization", "Rejoindre l'organisation"},
	"invitation.question": {"Accept the invitation that was sent to this address?", "Accepter l'invitation envoyée à cette adresse\u00a0?"},
	"invitation.accept":   {"Accept the invitation", "Accepter l'invitation"},
	"invitation.not_now":  {"Not now", "Plus tard"},

	// orgs.html and org.html
	"orgs.title":      {"Organizations", "Organisations"},
	"orgs.none":       {"You do not belong to any organization yet.", "Vous n'appartenez encore à aucune organisation."},
	"orgs.new":        {"New organization", "Nouvelle organisation"},
	"orgs.create":     {"Create", "Créer"},
	"org.all":         {"All organizations", "Toutes les organisations"},
	"org.members":     {"Members", "Membres"},
	"org.email":       {"Email", "E-mail"},
	"org.role_of":     {"Role of %s", "Rôle de %s"},
	"org.change":      {"Change", "Modifier"},
	"org.leave":       {"Leave", "Quitter"},
	"org.pending":     {"Pending invitations", "Invitations en attente"},
	"org.until":       {"until %s", "jusqu'au %s"},
	"org.invite":      {"Invite someone", "Inviter quelqu'un"},
	"org.send_invite": {"Send the invitation", "Envoyer l'invitation"},
	"org.rename":      {"Rename the organization", "Renommer l'organisation"},
	"org.name":        {"Name", "Nom"},

	// settings.html
	"settings.title":         {"Settings", "Paramètres"},
	"settings.recent":        {"Changing the password needs a recent sign-in:", "Le changement de mot de passe nécessite une connexion récente\u00a0:"},
	"settings.confirm":       {"confirm it is you first", "confirmez d'abord votre identité"},
	"settings.current":       {"Current password", "Mot de passe actuel"},
	"settings.change":        {"Change password", "Changer le mot de passe"},
	"settings.sessions":      {"Active sessions", "Sessions actives"},
	"settings.device":        {"Device", "Appareil"},
	"settings.ip":            {"IP", "Adresse IP"},
	"settings.last":          {"Last active", "Dernière activité"},
	"settings.this_one":      {"this one", "celle-ci"},
	"settings.revoke":        {"Sign out", "Déconnecter"},
	"settings.revoke_all":    {"Sign out everywhere", "Se déconnecter partout"},
	"settings.language":      {"Language", "Langue"},
	"settings.language_hint": {"The language of these pages and of the emails we send you.", "La langue de ces pages et des e-mails que nous vous envoyons."},
	"settings.language_save": {"Save the language", "Enregistrer la langue"},
	"settings.profile":       {"Profile", "Profil"},
	"settings.name":          {"Your name", "Votre nom"},
	"settings.name_save":     {"Save the name", "Enregistrer le nom"},

	// security.html
	"security.title":           {"Security", "Sécurité"},
	"security.confirm":         {"Confirm it is you", "Confirmez votre identité"},
	"security.confirm_text":    {"Adding or removing a method needs a recent proof of your identity.", "Pour ajouter ou retirer une méthode, vous devez avoir confirmé votre identité récemment."},
	"security.or_totp":         {"or a code from your authenticator app", "ou un code de votre application d'authentification"},
	"security.passkeys":        {"Passkeys", "Clés d'accès"},
	"security.name":            {"Name", "Nom"},
	"security.added":           {"Added", "Ajoutée le"},
	"security.last_used":       {"Last used", "Dernière utilisation"},
	"security.never":           {"never", "jamais"},
	"security.no_passkey":      {"No passkey yet.", "Aucune clé d'accès pour l'instant."},
	"security.passkey_name":    {"Name of the new passkey", "Nom de la nouvelle clé d'accès"},
	"security.passkey_example": {"e.g. Work laptop", "p. ex. Ordinateur du bureau"},
	"security.passkey_add":     {"Add a passkey", "Ajouter une clé d'accès"},
	"security.passkey_hint":    {"Passkeys are tied to this account site; on the legacy console login page, sign in with your password and a code instead.", "Les clés d'accès sont liées à ce site de compte\u00a0; sur l'ancienne page de connexion d'une console, connectez-vous plutôt avec votre mot de passe et un code."},
	"security.sso":             {"Sign in with another account", "Se connecter avec un autre compte"},
	"security.linked":          {"%s: %s (since %s)", "%s\u00a0: %s (depuis le %s)"},
	"security.unlink":          {"Unlink", "Dissocier"},
	"security.link":            {"Link %s", "Associer %s"},
	"security.no_provider":     {"No sign-in provider is configured.", "Aucun fournisseur de connexion n'est configuré."},
	"security.totp_on":         {"An authenticator app is set up.", "Une application d'authentification est configurée."},
	"security.totp_remove":     {"Remove the authenticator app", "Retirer l'application d'authentification"},
	"security.totp_setup":      {"Set up an authenticator app", "Configurer une application d'authentification"},

	// The step-up page (CONTRACT §11).
	"stepup.title":    {"Confirm it is you", "Confirmez votre identité"},
	"stepup.intro":    {"The page you asked for needs a recent confirmation that it is you.", "La page demandée nécessite une confirmation récente de votre identité."},
	"stepup.intro_to": {"The page of %s you asked for needs a recent confirmation that it is you.", "La page de %s demandée nécessite une confirmation récente de votre identité."},
	"stepup.passkey":  {"Confirm with a passkey", "Confirmer avec une clé d'accès"},
	"stepup.none":     {"None of the ways this page accepts is set up on your account. Add one in your security settings.", "Aucune des méthodes acceptées par cette page n'est configurée sur votre compte. Ajoutez-en une dans vos paramètres de sécurité."},
	"stepup.cancel":   {"Back to the consoles", "Retour aux consoles"},

	// An organization's MFA rule (CONTRACT §11).
	"org.mfa":           {"Sign-in rule", "Règle de connexion"},
	"org.mfa_on":        {"Members must have a second factor to enter a console with this organization.", "Les membres doivent avoir un second facteur pour entrer dans une console avec cette organisation."},
	"org.mfa_off":       {"Members may enter a console with this organization without a second factor.", "Les membres peuvent entrer dans une console avec cette organisation sans second facteur."},
	"org.mfa_require":   {"Require a second factor of every member", "Exiger un second facteur de chaque membre"},
	"org.mfa_grace":     {"Days a member without one may still enter (0 to 30)", "Jours pendant lesquels un membre qui n'en a pas peut encore entrer (0 à 30)"},
	"org.mfa_save":      {"Save the rule", "Enregistrer la règle"},
	"consoles.mfa_left": {"%s requires a second factor. Days left to set one up: %d.", "%s exige un second facteur. Jours restants pour en configurer un\u00a0: %d."},
	"consoles.mfa_over": {"%s requires a second factor: set one up to enter a console with it.", "%s exige un second facteur\u00a0: configurez-en un pour entrer dans une console avec cette organisation."},
}

// catalogText is key's text in locale (English for an unknown locale).
func catalogText(locale, key string) (string, bool) {
	e, ok := catalog[key]
	if !ok {
		return "", false
	}
	if locale == "fr" {
		return e.fr, true
	}
	return e.en, true
}

func inCatalog(key string) bool {
	_, ok := catalog[key]
	return ok
}
