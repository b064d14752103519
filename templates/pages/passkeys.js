// Passkeys on the pages: the one script, served from /pages/passkeys.js. A form with
// `data-passkey` gets a ceremony's options from its `data-begin` URL (a POST of the form's
// fields), asks the browser for a passkey, puts the answer in the form's hidden
// `ceremony_id` and `credential` fields and submits the form; the server does the rest.
// Without WebAuthn in the browser these forms stay hidden.
"use strict";
(function () {
  if (!window.PublicKeyCredential || !navigator.credentials) return;

  function decode(text) {
    const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    const raw = atob(base64 + "===".slice((base64.length + 3) % 4));
    return Uint8Array.from(raw, (c) => c.charCodeAt(0)).buffer;
  }
  function encode(buffer) {
    if (!buffer) return null;
    let raw = "";
    new Uint8Array(buffer).forEach((b) => { raw += String.fromCharCode(b); });
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  // The server's JSON writes absent members as null; WebAuthn wants them left out.
  function withoutNulls(value) {
    if (Array.isArray(value)) return value.map(withoutNulls);
    if (value && typeof value === "object" && !(value instanceof ArrayBuffer)) {
      const out = {};
      Object.keys(value).forEach((k) => { if (value[k] !== null) out[k] = withoutNulls(value[k]); });
      return out;
    }
    return value;
  }
  function creationOptions(publicKey) {
    const o = withoutNulls(publicKey);
    o.challenge = decode(o.challenge);
    o.user.id = decode(o.user.id);
    (o.excludeCredentials || []).forEach((c) => { c.id = decode(c.id); });
    return o;
  }
  function requestOptions(publicKey) {
    const o = withoutNulls(publicKey);
    o.challenge = decode(o.challenge);
    (o.allowCredentials || []).forEach((c) => { c.id = decode(c.id); });
    return o;
  }
  function answer(credential) {
    const r = credential.response;
    const response = { clientDataJSON: encode(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = encode(r.attestationObject);
      response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      response.authenticatorData = encode(r.authenticatorData);
      response.signature = encode(r.signature);
      response.userHandle = encode(r.userHandle);
    }
    return JSON.stringify({
      id: credential.id,
      rawId: encode(credential.rawId),
      type: credential.type,
      response: response,
      extensions: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {},
    });
  }
  function say(form, message) {
    const box = form.querySelector("[data-passkey-error]");
    if (box) { box.textContent = message; box.hidden = false; }
  }
  async function begin(form, fields) {
    const body = new URLSearchParams();
    fields.forEach((name) => {
      const input = form.querySelector('[name="' + name + '"]');
      if (input) body.append(name, input.value);
    });
    const reply = await fetch(form.dataset.begin, { method: "POST", body: body, credentials: "same-origin" });
    const json = await reply.json().catch(() => ({}));
    if (!reply.ok) throw new Error(json.error || form.dataset.failed);
    return json;
  }
  function finish(form, ceremony, credential) {
    form.querySelector('[name="ceremony_id"]').value = ceremony.ceremony_id;
    form.querySelector('[name="credential"]').value = answer(credential);
    // The password, when there is one, was checked when the ceremony began.
    form.querySelectorAll('input[type="password"]').forEach((p) => { p.value = ""; });
    form.submit();
  }

  let autofill = null;
  async function get(form, conditional) {
    const ceremony = await begin(form, ["csrf", "mfa_token", "flow"]);
    const options = { publicKey: requestOptions(ceremony.options.publicKey) };
    if (conditional) {
      autofill = new AbortController();
      options.mediation = "conditional";
      options.signal = autofill.signal;
    }
    const credential = await navigator.credentials.get(options);
    if (credential) finish(form, ceremony, credential);
  }

  document.querySelectorAll("form[data-passkey]").forEach((form) => {
    form.hidden = false;
    const kind = form.dataset.passkey;
    if (kind === "create") {
      form.addEventListener("submit", async (event) => {
        if (form.querySelector('[name="credential"]').value) return;
        event.preventDefault();
        try {
          const ceremony = await begin(form, ["csrf", "password"]);
          const credential = await navigator.credentials.create({ publicKey: creationOptions(ceremony.options.publicKey) });
          finish(form, ceremony, credential);
        } catch (err) {
          say(form, err && err.name === "NotAllowedError" ? form.dataset.cancelled : (err.message || form.dataset.failed));
        }
      });
    } else {
      form.querySelector("button").addEventListener("click", async () => {
        if (autofill) { autofill.abort(); autofill = null; }
        try {
          await get(form, false);
        } catch (err) {
          say(form, err && err.name === "NotAllowedError" ? form.dataset.cancelled : (err.message || form.dataset.failed));
        }
      });
      // The sign-in page: the browser offers passkeys in the username field's suggestions.
      if (kind === "autofill" && PublicKeyCredential.isConditionalMediationAvailable) {
        PublicKeyCredential.isConditionalMediationAvailable().then((available) => {
          if (available) get(form, true).catch(() => {});
        });
      }
    }
  });
})();
