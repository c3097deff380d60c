// Passkeys need the WebAuthn browser API: this is the only script of the
// portal. A button with data-passkey="login", "reauth" or "register" asks the server
// for options, lets the browser talk to the authenticator, and posts the
// answer back. Everything else on the pages works without JavaScript.
"use strict";
(function () {
  function b64urlToBuf(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    var bin = atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }
  function bufToB64url(buf) {
    var bytes = new Uint8Array(buf), bin = "";
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) { return { status: r.status, body: j }; });
    });
  }
  // The page gives the messages in its language (data-* of #passkey-error).
  function text(name, fallback) {
    var el = document.getElementById("passkey-error");
    return (el && el.getAttribute("data-" + name)) || fallback;
  }
  // The JSON API answers in English: its message is shown on English pages,
  // the page's own words elsewhere.
  function serverMessage(body, name, fallback) {
    var english = (document.documentElement.lang || "en") === "en";
    return (english && body && body.message) || text(name, fallback);
  }
  function showError(msg) {
    var el = document.getElementById("passkey-error");
    if (el) { el.textContent = msg; el.hidden = false; el.focus && el.focus(); }
  }
  function prepare(options) {
    var pk = options.publicKey;
    pk.challenge = b64urlToBuf(pk.challenge);
    if (pk.user && pk.user.id) pk.user.id = b64urlToBuf(pk.user.id);
    (pk.allowCredentials || []).forEach(function (c) { c.id = b64urlToBuf(c.id); });
    (pk.excludeCredentials || []).forEach(function (c) { c.id = b64urlToBuf(c.id); });
    return options;
  }
  function serialize(cred) {
    var r = cred.response, out = {
      id: cred.id, rawId: bufToB64url(cred.rawId), type: cred.type,
      authenticatorAttachment: cred.authenticatorAttachment || undefined,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      response: { clientDataJSON: bufToB64url(r.clientDataJSON) }
    };
    if (r.attestationObject) {
      out.response.attestationObject = bufToB64url(r.attestationObject);
      if (r.getTransports) out.response.transports = r.getTransports();
    }
    if (r.authenticatorData) {
      out.response.authenticatorData = bufToB64url(r.authenticatorData);
      out.response.signature = bufToB64url(r.signature);
      if (r.userHandle) out.response.userHandle = bufToB64url(r.userHandle);
    }
    return out;
  }
  function run(button) {
    var kind = button.getAttribute("data-passkey");
    var finish = button.getAttribute("data-finish");
    var nameInput = document.getElementById("passkey-name");
    if (kind === "register" && nameInput && nameInput.value) {
      finish += "?name=" + encodeURIComponent(nameInput.value);
    }
    button.disabled = true;
    post(button.getAttribute("data-options"), {}).then(function (res) {
      if (res.status !== 200) throw new Error(serverMessage(res.body, "start-failed", "The passkey could not be started."));
      var options = prepare(res.body);
      return kind === "register" ? navigator.credentials.create(options) : navigator.credentials.get(options);
    }).then(function (cred) {
      return post(finish, serialize(cred));
    }).then(function (res) {
      // 204: a re-authentication (the step-up page) is recorded; reloading
      // the page sends the browser back to where it was going.
      if (res.status !== 200 && res.status !== 201 && res.status !== 204) throw new Error(serverMessage(res.body, "not-accepted", "The passkey was not accepted."));
      var b = res.body;
      if (b.next === "done") { window.location.assign(b.redirect || "/consoles"); return; }
      if (b.next) { window.location.assign("/login"); return; }
      window.location.reload();
    }).catch(function (e) {
      button.disabled = false;
      showError(e && e.name === "NotAllowedError" ? text("cancelled", "The passkey request was cancelled or timed out.") : (e.message || String(e)));
    });
  }
  // Passkey autofill: where the browser can offer passkeys among the email
  // field's suggestions (conditional mediation), a challenge is asked for
  // as the page loads and waits for the user to pick one; elsewhere, and on
  // any failure, the page works as before (the email, then the button).
  function autofill() {
    var field = document.querySelector("input[data-passkey-autofill]");
    if (!field || !window.PublicKeyCredential || typeof PublicKeyCredential.isConditionalMediationAvailable !== "function") return;
    var base = field.getAttribute("data-passkey-autofill");
    var returnTo = field.form && field.form.querySelector('input[name="return_to"]');
    PublicKeyCredential.isConditionalMediationAvailable().then(function (available) {
      if (!available) return;
      return post(base + "/options", { autofill: true, return_to: returnTo ? returnTo.value : "" }).then(function (res) {
        if (res.status !== 200) return;
        var options = prepare(res.body);
        options.mediation = "conditional";
        return navigator.credentials.get(options).then(function (cred) {
          return post(base, serialize(cred));
        }).then(function (res) {
          if (res.status !== 200) throw new Error(serverMessage(res.body, "not-accepted", "The passkey was not accepted."));
          window.location.assign(res.body.next === "done" ? (res.body.redirect || "/consoles") : "/login");
        });
      });
    }).catch(function (e) {
      // Typing an email instead ends the wait (AbortError): nothing to say.
      if (e && (e.name === "AbortError" || e.name === "NotAllowedError")) return;
      showError(e.message || String(e));
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", autofill);
  else autofill();
  document.addEventListener("click", function (ev) {
    var b = ev.target.closest && ev.target.closest("[data-passkey]");
    if (!b) return;
    ev.preventDefault();
    if (!window.PublicKeyCredential) { showError(text("unsupported", "This browser does not support passkeys.")); return; }
    run(b);
  });
})();
