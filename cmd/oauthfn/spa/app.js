// The dev server's demo single-page app: a static page with no server of
// its own that signs in, calls the provider's API and signs out through
// oauthfn's backend for the frontend (/bff/). It never sees a token: the
// session cookie is HttpOnly, and the API's answers come through the proxy.
//
// The page's state is main#app's data-state: loading, signed-out,
// signed-in, busy (a sign-out on its way) or error.
"use strict";

// Every BFF route but login wants this header (a cross-site form or link
// cannot send it).
const CSRF = { "X-OAuthFn-CSRF": "1" };

// The provider's API, through the proxy: the mock provider's (and
// RingCentral's) extension endpoint answers the signed-in user's name.
const EXTENSION = "/bff/api/restapi/v1.0/account/~/extension/~";

// Button labels of the presets; any other provider shows its id.
const LABELS = {
  ringcentral: "RingCentral", github: "GitHub", google: "Google", microsoft: "Microsoft",
  slack: "Slack", hubspot: "HubSpot", zoom: "Zoom", atlassian: "Atlassian", salesforce: "Salesforce",
};

const $ = (id) => document.getElementById(id);

// bff calls a BFF route with the CSRF header and the session cookie. A
// redirect is never followed (the proxy passes an upstream's 3xx back).
function bff(path, init = {}) {
  return fetch(path, {
    ...init,
    credentials: "same-origin",
    cache: "no-store",
    redirect: "manual",
    headers: { ...CSRF, ...(init.headers || {}) },
  });
}

// failure describes a BFF answer that is not a success, by its error code
// (the body is {"error": ..., "error_description": ...}).
async function failure(what, r) {
  let code = "";
  try {
    code = (await r.json()).error || "";
  } catch (_) {
    // not JSON: the status says enough
  }
  return new Error(what + " answered " + (r.status || r.type) + (code ? " (" + code + ")" : ""));
}

function show(state) {
  $("app").dataset.state = state;
  for (const id of ["loading", "signed-out", "signed-in"]) {
    $(id).hidden = id !== (state === "busy" ? "signed-in" : state);
  }
  for (const b of document.querySelectorAll("button")) {
    b.disabled = state === "busy";
  }
  if (state !== "error") {
    $("error").hidden = true;
  }
}

function showError(err) {
  show("error");
  $("error").textContent = String(err.message || err);
  $("error").hidden = false;
  $("signed-out").hidden = false; // signing in again is always possible
}

// providerButtons offers a sign-in per configured provider (a static site
// lists its own; the dev server says which it has).
async function providerButtons() {
  const r = await fetch("providers.json", { cache: "no-store" });
  if (!r.ok) {
    throw new Error("providers.json answered " + r.status);
  }
  const { providers } = await r.json();
  const box = $("providers");
  box.replaceChildren();
  for (const p of providers) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "signin";
    b.dataset.provider = p.id;
    const label = LABELS[p.preset] || p.id;
    b.textContent = "Sign in with " + label + (providers.length > 1 && p.id !== p.preset ? " (" + p.id + ")" : "");
    b.addEventListener("click", () => signIn(p.id));
    box.append(b);
  }
}

// signIn is a navigation: the BFF sends the browser to the provider and,
// through oauthfn's callback, back here with the session cookie set.
function signIn(provider) {
  const returnTo = location.origin + "/app/";
  location.assign("/bff/" + encodeURIComponent(provider) + "/login?return_to=" + encodeURIComponent(returnTo));
}

// refresh asks the BFF whether this browser has a session and, if so, the
// provider's API who is signed in.
async function refresh() {
  show("loading");
  const r = await bff("/bff/session");
  if (!r.ok) {
    throw await failure("GET /bff/session", r);
  }
  const session = await r.json();
  if (!session.authenticated) {
    show("signed-out");
    return;
  }
  const a = await bff(EXTENSION);
  if (a.status === 401) {
    // The session ended in between (signed out elsewhere, or its
    // connection ended).
    await a.text(); // read to the end: the answer is complete
    show("signed-out");
    return;
  }
  if (!a.ok) {
    throw await failure("GET " + EXTENSION, a);
  }
  const ext = await a.json();
  $("account-name").textContent = ext.name || "(no name)";
  $("account-id").textContent = session.account_id;
  $("provider").textContent = session.provider;
  $("expires-at").textContent = new Date(session.expires_at).toLocaleString();
  show("signed-in");
}

async function signOut(everywhere) {
  show("busy");
  const r = await bff("/bff/logout", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(everywhere ? { everywhere: true } : {}),
  });
  // 401: the session had already ended, which is what was asked.
  if (!r.ok && r.status !== 401) {
    throw await failure("POST /bff/logout", r);
  }
  await r.text(); // read to the end: the answer is complete
  await refresh();
}

function run(fn) {
  return fn().catch(showError);
}

document.addEventListener("DOMContentLoaded", () => {
  $("signout").addEventListener("click", () => run(() => signOut(false)));
  $("signout-everywhere").addEventListener("click", () => run(() => signOut(true)));
  run(async () => {
    await providerButtons();
    await refresh();
  });
});

// A page restored from the back/forward cache shows what it showed when it
// was left: ask again.
window.addEventListener("pageshow", (e) => {
  if (e.persisted) {
    run(refresh);
  }
});
