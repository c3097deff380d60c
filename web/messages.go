package web

import (
	"regexp"
	"strings"
)

// The gateway's own sentences, shown on pages as data (errors, notices): the
// gateway writes them in English (its JSON API answers with them too), and a
// page translates them with {{msg .Error}}. They are keyed by their English
// text, so a message stays one literal where it is raised. A message with a
// number in it is given with %d: "Choose a password of at least %d
// characters." matches that sentence with any number.
//
// A message missing here is shown in English: the gateway's tests check
// that every message it can show has its French.

var messagesFR = map[string]string{
	// Forgot password (CONTRACT §10).
	"If this address has an account, a reset code is on its way. Your second factor will still be asked for.": "Si cette adresse a un compte, un code de réinitialisation est en route. Votre second facteur vous sera quand même demandé.",

	// The one message of each error code (gateway/errors.go).
	"Choose a password of at least %d characters that is not among the most common ones (at most 256 bytes).": "Choisissez un mot de passe d'au moins %d caractères qui ne fasse pas partie des plus courants (256 octets au plus).",
	"Too many attempts. Try again later.":                    "Trop de tentatives. Réessayez plus tard.",
	"Choose which of your accounts in this console to open.": "Choisissez lequel de vos comptes de cette console ouvrir.",
	"You are not allowed to do this.":                        "Vous n'êtes pas autorisé à faire cela.",
	"Your name was saved.":                                   "Votre nom a été enregistré.",
	"The organization was renamed.":                          "L'organisation a été renommée.",
	"This account is disabled. Contact support.":             "Ce compte est désactivé. Contactez le support.",
	// Forward-auth.
	"Only a trusted proxy may ask this.":                "Seul un proxy de confiance peut demander cela.",
	"This host is not a console served here.":           "Cet hôte n'est pas une console servie ici.",
	"The forwarded request is not described correctly.": "La requête transmise n'est pas décrite correctement.",
	// Sign-in and sign-up.
	"The email or password is incorrect.":                                                  "L'adresse e-mail ou le mot de passe est incorrect.",
	"The code is not valid. Check it and try again.":                                       "Le code n'est pas valide. Vérifiez-le et réessayez.",
	"Enter a valid email address.":                                                         "Saisissez une adresse e-mail valide.",
	"Choose a longer password.":                                                            "Choisissez un mot de passe plus long.",
	"Choose a password of at least %d characters.":                                         "Choisissez un mot de passe d'au moins %d caractères.",
	"This password is among the most common ones: choose another.":                         "Ce mot de passe fait partie des plus courants\u00a0: choisissez-en un autre.",
	"This password cannot be used.":                                                        "Ce mot de passe ne peut pas être utilisé.",
	"Passwords are limited to 256 bytes.":                                                  "Les mots de passe sont limités à 256 octets.",
	"Too many failed attempts. Try again later.":                                           "Trop de tentatives ont échoué. Réessayez plus tard.",
	"Too many sign-in attempts from your network. Try again later.":                        "Trop de tentatives de connexion depuis votre réseau. Réessayez plus tard.",
	"Too many codes were sent to this address. Try again later.":                           "Trop de codes ont été envoyés à cette adresse. Réessayez plus tard.",
	"A code was sent less than 30 seconds ago. Wait a moment before asking again.":         "Un code a été envoyé il y a moins de 30 secondes. Patientez un instant avant d'en demander un autre.",
	"If this address has an account, a code is on its way. It is valid for a few minutes.": "Si cette adresse a un compte, un code est en route. Il est valable quelques minutes.",
	"No sign-in is in progress.":                                                           "Aucune connexion n'est en cours.",
	"No sign-in is in progress. Start by entering your email.":                             "Aucune connexion n'est en cours. Commencez par saisir votre adresse e-mail.",
	"This step is not the one the sign-in is waiting for.":                                 "Cette étape n'est pas celle qu'attend la connexion.",
	"No sign-up is waiting for a code. Start again.":                                       "Aucune inscription n'attend de code. Recommencez.",
	"Sign-in could not be completed. Please try again.":                                    "La connexion n'a pas pu aboutir. Veuillez réessayer.",
	"Your session has ended. Please sign in again.":                                        "Votre session a pris fin. Veuillez vous reconnecter.",
	"You are not signed in.":                                                               "Vous n'êtes pas connecté.",
	"Sign in first.":                                                                       "Connectez-vous d'abord.",
	"This sign-in page is only for accounts linked before the unification. Please sign in at the account portal.":                 "Cette page de connexion est réservée aux comptes liés avant l'unification. Veuillez vous connecter sur le portail du compte.",
	"This sign-in link has expired, was already used or was opened in another browser. Open the console again from your account.": "Ce lien de connexion a expiré, a déjà servi ou a été ouvert dans un autre navigateur. Ouvrez de nouveau la console depuis votre compte.",

	// Second factors and the security page.
	"Confirm it is you first: sign in again or re-enter your password.":             "Confirmez d'abord votre identité\u00a0: reconnectez-vous ou saisissez de nouveau votre mot de passe.",
	"Send a password or a TOTP code.":                                               "Saisissez votre mot de passe ou un code de votre application d'authentification.",
	"An authenticator app is already set up. Remove it first to set up another.":    "Une application d'authentification est déjà configurée. Retirez-la d'abord pour en configurer une autre.",
	"Start the authenticator app set-up first.":                                     "Commencez d'abord la configuration de l'application d'authentification.",
	"Add another method before removing the last one: a second factor is required.": "Ajoutez une autre méthode avant de retirer la dernière\u00a0: un second facteur est obligatoire.",
	"This is your only way to sign in: set a password or add a passkey first.":      "C'est votre seul moyen de vous connecter\u00a0: définissez d'abord un mot de passe ou ajoutez une clé d'accès.",
	"No passkey can be used for this account.":                                      "Aucune clé d'accès ne peut être utilisée pour ce compte.",
	"Ask for passkey options first.":                                                "Demandez d'abord les options de la clé d'accès.",
	"The passkey could not be registered.":                                          "La clé d'accès n'a pas pu être enregistrée.",
	"The passkey could not be verified.":                                            "La clé d'accès n'a pas pu être vérifiée.",
	"This passkey is already registered.":                                           "Cette clé d'accès est déjà enregistrée.",
	"No such passkey.":                                                              "Cette clé d'accès n'existe pas.",
	"No such method.":                                                               "Cette méthode n'existe pas.",
	"Your authenticator app is set up.":                                             "Votre application d'authentification est configurée.",
	"The method was removed.":                                                       "La méthode a été retirée.",
	"Thank you. You can change your security settings for the next few minutes.":    "Merci. Vous pouvez modifier vos paramètres de sécurité pendant les prochaines minutes.",

	// Sign-in providers (Google, Microsoft, GitHub).
	"The sign-in was cancelled at the provider.":                                                                                     "La connexion a été annulée chez le fournisseur.",
	"The provider is not answering. Try again in a moment, or use another way to sign in.":                                           "Le fournisseur ne répond pas. Réessayez dans un instant, ou connectez-vous d'une autre manière.",
	"This account of the provider is not linked to any account here. Sign in another way, then link it from your security settings.": "Ce compte du fournisseur n'est associé à aucun compte ici. Connectez-vous d'une autre manière, puis associez-le depuis vos paramètres de sécurité.",
	"This sign-in attempt expired or was started in another browser. Please start again.":                                            "Cette tentative de connexion a expiré ou a été commencée dans un autre navigateur. Veuillez recommencer.",
	"The provider did not confirm the email address of your account, so it cannot be linked.":                                        "Le fournisseur n'a pas confirmé l'adresse e-mail de votre compte\u00a0: il ne peut donc pas être associé.",
	"This account of the provider is already linked to another account.":                                                             "Ce compte du fournisseur est déjà associé à un autre compte.",
	"An account of this provider is already linked. Unlink it first.":                                                                "Un compte de ce fournisseur est déjà associé. Dissociez-le d'abord.",
	"Confirm it is you first, then link the provider again.":                                                                         "Confirmez d'abord votre identité, puis associez de nouveau le fournisseur.",
	"The provider's answer could not be verified. Please try again.":                                                                 "La réponse du fournisseur n'a pas pu être vérifiée. Veuillez réessayer.",
	"The provider is linked: you can now sign in with it.":                                                                           "Le fournisseur est associé\u00a0: vous pouvez désormais vous connecter avec lui.",
	"The provider is unlinked.":               "Le fournisseur est dissocié.",
	"This sign-in provider is not available.": "Ce fournisseur de connexion n'est pas disponible.",
	"No such linked identity.":                "Ce compte associé n'existe pas.",

	// Settings.
	"Your password was changed. Your other sessions were signed out.":      "Votre mot de passe a été changé. Vos autres sessions ont été déconnectées.",
	"The session was signed out.":                                          "La session a été déconnectée.",
	"No such session.":                                                     "Cette session n'existe pas.",
	"Your language was saved. It is also used for the emails we send you.": "Votre langue a été enregistrée. Elle sert aussi pour les e-mails que nous vous envoyons.",
	"Choose English or French.":                                            "Choisissez l'anglais ou le français.",

	// Consoles.
	"No such console.": "Cette console n'existe pas.",
	"You hold several accounts in this console: choose one.":               "Vous avez plusieurs comptes dans cette console\u00a0: choisissez-en un.",
	"You hold no such account in this console.":                            "Vous n'avez pas ce compte dans cette console.",
	"Your account in this console is being set up. Try again in a moment.": "Votre compte dans cette console est en cours de création. Réessayez dans un instant.",
	"Open this console from your account first.":                           "Ouvrez d'abord cette console depuis votre compte.",
	"The console is not answering. Please retry in a moment.":              "La console ne répond pas. Veuillez réessayer dans un instant.",
	"The console took too long to answer. Please retry in a moment.":       "La console a mis trop de temps à répondre. Veuillez réessayer dans un instant.",

	// Organizations.
	"Invitation sent.": "Invitation envoyée.",
	"Role changed.":    "Rôle modifié.",
	"Member removed.":  "Membre retiré.",
	"Give a name of 1 to 100 characters, without control characters.": "Donnez un nom de 1 à 100 caractères, sans caractère de contrôle.",
	"The role must be owner, admin or member.":                        "Le rôle doit être propriétaire, administrateur ou membre.",
	"An organization needs at least one owner.":                       "Une organisation doit avoir au moins un propriétaire.",
	"Your role in this organization does not allow this.":             "Votre rôle dans cette organisation ne le permet pas.",
	"You are not a member of that organization.":                      "Vous n'êtes pas membre de cette organisation.",
	"No such organization.":                                           "Cette organisation n'existe pas.",
	"No such member.":                                                 "Ce membre n'existe pas.",
	"This invitation does not exist or has expired.":                  "Cette invitation n'existe pas ou a expiré.",
	"This invitation was sent to another email address.":              "Cette invitation a été envoyée à une autre adresse e-mail.",

	// Requests and failures.
	"Something went wrong on our side.":                                 "Une erreur s'est produite de notre côté.",
	"The service is temporarily unavailable. Please retry in a moment.": "Le service est momentanément indisponible. Veuillez réessayer dans un instant.",
	"Not found.":                                     "Page introuvable.",
	"The form could not be read.":                    "Le formulaire n'a pas pu être lu.",
	"The request body is too large.":                 "Le contenu de la requête est trop volumineux.",
	"The request body is not valid JSON.":            "Le contenu de la requête n'est pas du JSON valide.",
	"The request body is empty; send a JSON object.": "Le contenu de la requête est vide\u00a0; envoyez un objet JSON.",
	"Send the body as application/json.":             "Envoyez le contenu de la requête en application/json.",
	"This method is not allowed here.":               "Cette méthode n'est pas autorisée ici.",
	"The request path is not valid.":                 "Le chemin de la requête n'est pas valide.",
	"The request path is not in canonical form.":     "Le chemin de la requête n'est pas sous sa forme canonique.",
	"The Host header is not valid.":                  "L'en-tête Host n'est pas valide.",
	"This host is not served here.":                  "Cet hôte n'est pas servi ici.",

	// Step-up and organizations' MFA rule (CONTRACT §11).
	"This page needs a recent confirmation that it is you.":                                                           "Cette page demande une confirmation récente de votre identité.",
	"This page needs another way of confirming it is you.":                                                            "Cette page demande une autre façon de confirmer votre identité.",
	"Your organization requires a second factor: set up an authenticator app or a passkey in your security settings.": "Votre organisation exige un second facteur\u00a0: configurez une application d'authentification ou une clé d'accès dans vos paramètres de sécurité.",
	"Give require_mfa, and a grace of 0 to 30 days.":                                                                  "Indiquez require_mfa, et un délai de 0 à 30 jours.",
	"The sign-in rule was saved.":                                                                                     "La règle de connexion a été enregistrée.",
}

// numbered are the messages with %d, as patterns: the number is kept.
var numbered = func() []numberedMessage {
	var out []numberedMessage
	for en, fr := range messagesFR {
		if !strings.Contains(en, "%d") {
			continue
		}
		expr := "^" + strings.ReplaceAll(regexp.QuoteMeta(en), "%d", `(\d+)`) + "$"
		out = append(out, numberedMessage{re: regexp.MustCompile(expr), fr: fr})
	}
	return out
}()

type numberedMessage struct {
	re *regexp.Regexp
	fr string
}

// Translate gives a gateway message (English) in locale; a message without
// a translation is returned as it is.
func Translate(locale, msg string) string {
	if locale != "fr" || msg == "" {
		return msg
	}
	if fr, ok := messagesFR[msg]; ok {
		return fr
	}
	for _, n := range numbered {
		if m := n.re.FindStringSubmatch(msg); m != nil {
			out := n.fr
			for _, num := range m[1:] {
				out = strings.Replace(out, "%d", num, 1)
			}
			return out
		}
	}
	return msg
}

// HasTranslation reports whether msg has a French translation (for tests of
// the gateway's messages).
func HasTranslation(msg string) bool {
	return Translate("fr", msg) != msg
}
