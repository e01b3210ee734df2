// Passkey registration and sign-in for the server-rendered pages; plain browser JS, no build step,
// loaded as a file so the pages keep `script-src 'self'` (the CSP also needs `connect-src 'self'`).
//
// Markup: a <form> or <button> with data-webauthn="register" | "authenticate", data-options-url
// and data-verify-url, a <meta name="csrf-token" content="..."> in the head, and an element with
// data-webauthn-error (inside the form, else anywhere) to show failures in.
// Wire: POST options-url with the form's fields as JSON -> the options JSON (base64url fields);
// POST verify-url with {...fields, credential: <PublicKeyCredential as JSON>} -> {redirect} or {error}.
/* global document, window, navigator, location, atob, btoa, FormData */
(function () {
  'use strict';

  function toBuffer(b64url) {
    const b64 = b64url.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (b64url.length % 4)) % 4);
    return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)).buffer;
  }

  function toB64url(buffer) {
    let s = '';
    for (const byte of new Uint8Array(buffer)) s += String.fromCharCode(byte);
    return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  const withIds = (list) => (list || []).map((c) => ({ ...c, id: toBuffer(c.id) }));

  function creationOptions(o) {
    return { ...o, challenge: toBuffer(o.challenge), user: { ...o.user, id: toBuffer(o.user.id) }, excludeCredentials: withIds(o.excludeCredentials) };
  }

  function requestOptions(o) {
    return { ...o, challenge: toBuffer(o.challenge), allowCredentials: withIds(o.allowCredentials) };
  }

  function credentialJSON(cred) {
    const r = cred.response;
    const response = { clientDataJSON: toB64url(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toB64url(r.attestationObject);
      response.transports = typeof r.getTransports === 'function' ? r.getTransports() : [];
    } else {
      response.authenticatorData = toB64url(r.authenticatorData);
      response.signature = toB64url(r.signature);
      response.userHandle = r.userHandle ? toB64url(r.userHandle) : null;
    }
    return {
      id: cred.id, rawId: toB64url(cred.rawId), type: cred.type, response,
      authenticatorAttachment: cred.authenticatorAttachment || undefined,
      clientExtensionResults: cred.getClientExtensionResults(),
    };
  }

  async function post(url, body) {
    const meta = document.querySelector('meta[name="csrf-token"]');
    const res = await fetch(url, {
      method: 'POST', credentials: 'same-origin', redirect: 'error',
      headers: { 'content-type': 'application/json', accept: 'application/json', 'x-csrf-token': meta ? meta.content : '' },
      body: JSON.stringify(body),
    });
    let json;
    try { json = await res.json(); } catch { json = null; }
    if (json && typeof json.error === 'string') throw new Error(json.error);
    if (!res.ok || !json) throw new Error('The server refused the request (' + res.status + ').');
    return json;
  }

  function describe(e) {
    if (e && e.name === 'NotAllowedError') return 'The passkey request was cancelled or timed out.';
    if (e && e.name === 'InvalidStateError') return 'This passkey is already registered.';
    if (e && e.name === 'SecurityError') return 'Passkeys are not available on this address.';
    return (e && e.message) || 'Something went wrong.';
  }

  async function run(el) {
    const mode = el.dataset.webauthn;
    const errorBox = (el.tagName === 'FORM' && el.querySelector('[data-webauthn-error]')) || document.querySelector('[data-webauthn-error]');
    if (errorBox) errorBox.textContent = '';
    const fields = el.tagName === 'FORM' ? Object.fromEntries(new FormData(el)) : {};
    const buttons = el.tagName === 'FORM' ? el.querySelectorAll('button') : [el];
    buttons.forEach((b) => { b.disabled = true; });
    try {
      if (!window.PublicKeyCredential || !navigator.credentials) throw new Error('This browser does not support passkeys.');
      const options = await post(el.dataset.optionsUrl, fields);
      const cred = mode === 'register'
        ? await navigator.credentials.create({ publicKey: creationOptions(options) })
        : await navigator.credentials.get({ publicKey: requestOptions(options) });
      if (!cred) throw new Error('No passkey was returned.');
      const answer = await post(el.dataset.verifyUrl, { ...fields, credential: credentialJSON(cred) });
      // Follow only same-origin redirects, so a tampered answer cannot send the user elsewhere.
      const target = new URL(String(answer.redirect || ''), location.href);
      if (!answer.redirect || target.origin !== location.origin) throw new Error('Unexpected answer from the server.');
      location.assign(target.href);
    } catch (e) {
      if (errorBox) errorBox.textContent = describe(e);
      buttons.forEach((b) => { b.disabled = false; });
    }
  }

  function bind() {
    for (const el of document.querySelectorAll('[data-webauthn="register"], [data-webauthn="authenticate"]')) {
      el.addEventListener(el.tagName === 'FORM' ? 'submit' : 'click', (event) => {
        event.preventDefault();
        run(el);
      });
    }
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', bind);
  else bind();
})();
