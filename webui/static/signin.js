// fed: sign in to this server's web pages with a Solana wallet.
// Written for fed (no third-party code). doc/protocol.md §10.2.
//
// The wallet is found by the Wallet Standard (a wallet that registers
// "standard:connect" and "solana:signMessage") or as window.solana (the
// provider Phantom-like wallets inject). A click asks the server for a
// sign-in challenge (POST /fed/v1/login/challenge), has the wallet sign
// the server's text as it is, and posts address, nonce and signature to
// /-/signin, which answers with an HttpOnly session cookie; the page
// then reloads, signed in. Without a wallet, or without JavaScript, the
// button stays hidden and the pages are what an anonymous visitor sees.
// Signed in (the fed-address cookie names the key), the header says as
// whom, and "Sign out" posts /-/signout, which drops the cookies.
"use strict";
(() => {
  const button = document.getElementById("signin");
  const status = document.getElementById("signin-status");
  const signout = document.getElementById("signout");
  if (!button) return;
  const cookie = document.cookie.split("; ").find((c) => c.startsWith("fed-address="));
  const signedIn = cookie ? decodeURIComponent(cookie.slice("fed-address=".length)) : "";
  // a refusal asking for a key (401) offers sign-in even when the
  // cookie says signed in: the server no longer knows the session
  const refused = document.querySelector(".signin-hint") !== null;
  if (signedIn && status && signout) {
    status.textContent = "signed in as " + (signedIn.length > 12 ? signedIn.slice(0, 4) + "…" + signedIn.slice(-4) : signedIn);
    status.title = signedIn;
    signout.hidden = false;
    signout.addEventListener("click", async () => {
      signout.disabled = true;
      try {
        await post("/-/signout", {});
        location.reload();
      } catch (e) {
        signout.disabled = false;
        status.textContent = "sign-out failed: " + e.message;
      }
    });
  }
  const wallets = [];
  const api = {
    register(...ws) {
      for (const w of ws) {
        if (w.features && w.features["standard:connect"] && w.features["solana:signMessage"]) wallets.push(w);
      }
      show();
      return () => {};
    },
  };
  window.addEventListener("wallet-standard:register-wallet", (e) => e.detail(api));
  window.dispatchEvent(new CustomEvent("wallet-standard:app-ready", { detail: api }));
  const legacy = () => (window.phantom && window.phantom.solana) || window.solana;
  function show() {
    if ((wallets.length || legacy()) && (!signedIn || refused)) button.hidden = false;
  }
  show();
  window.addEventListener("load", show);

  const alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
  function base58(bytes) {
    const digits = [];
    for (const b of bytes) {
      let carry = b;
      for (let i = 0; i < digits.length; i++) {
        carry += digits[i] << 8;
        digits[i] = carry % 58;
        carry = (carry / 58) | 0;
      }
      for (; carry; carry = (carry / 58) | 0) digits.push(carry % 58);
    }
    let out = "";
    for (const b of bytes) {
      if (b) break;
      out += "1";
    }
    for (let i = digits.length - 1; i >= 0; i--) out += alphabet[digits[i]];
    return out;
  }

  async function post(path, body) {
    const resp = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      credentials: "same-origin",
    });
    const text = await resp.text(); // the whole answer, before the page reloads
    if (!resp.ok) {
      let detail = resp.statusText;
      try { detail = JSON.parse(text).detail || detail; } catch (e) { /* not a problem document */ }
      throw new Error(path + ": " + resp.status + " " + detail);
    }
    return text ? JSON.parse(text) : null;
  }

  // sign returns the address and the signature (bytes) of text.
  async function sign(text) {
    const message = new TextEncoder().encode(text);
    if (wallets.length) {
      const w = wallets[0];
      const { accounts } = await w.features["standard:connect"].connect();
      const account = accounts[0];
      const [out] = await w.features["solana:signMessage"].signMessage({ account, message });
      return out.signature;
    }
    const p = legacy();
    const out = await p.signMessage(message, "utf8");
    return out.signature || out;
  }

  async function address() {
    if (wallets.length) {
      const { accounts } = await wallets[0].features["standard:connect"].connect();
      return accounts[0].address;
    }
    const p = legacy();
    const out = await p.connect();
    return ((out && out.publicKey) || p.publicKey).toString();
  }

  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const addr = await address();
      const challenge = await post("/fed/v1/login/challenge", { address: addr });
      const signature = await sign(challenge.message);
      await post("/-/signin", { address: addr, nonce: challenge.nonce, signature: base58(new Uint8Array(signature)) });
      location.reload();
    } catch (e) {
      button.disabled = false;
      if (status) status.textContent = "sign-in failed: " + e.message;
    }
  });
})();
