// oauthfn from a Node backend: the three calls an app makes (npm install jose).
// key is the app key: the secret named by the stack's AppKeyArn output.
import { SignJWT, jwtVerify } from "jose";
import { randomUUID } from "node:crypto";

// connectURL: send your signed-in user's browser here to connect an account.
export async function connectURL(key, authorizeURL, user, { returnTo, appState } = {}) {
  const token = await new SignJWT({ return_to: returnTo, app_state: appState })
    .setProtectedHeader({ alg: "HS256" }).setAudience("oauthfn:connect").setSubject(user)
    .setIssuedAt().setExpirationTime("10m").setJti(randomUUID())
    .sign(new TextEncoder().encode(key));
  const url = new URL(authorizeURL);
  url.searchParams.set("connect", token);
  return url.toString();
}

// verifyResult: read ?result= where oauthfn sends the browser back. Throws
// unless oauthfn signed it for provider (and, given appState, for the link
// whose app_state it was: pass the nonce you kept in this browser's session).
// payload.sub is who made the link, not who finished it: a "pending" result
// waits for confirm or reject.
export async function verifyResult(key, result, provider, { appState } = {}) {
  const { payload } = await jwtVerify(result, new TextEncoder().encode(key), {
    algorithms: ["HS256"], audience: "oauthfn:result", requiredClaims: ["exp", "iat", "jti"], clockTolerance: 30,
  });
  if (payload.iat > Date.now() / 1000 + 30 || payload.exp - payload.iat > 300 || payload.provider !== provider ||
      !["pending", "connected"].includes(payload.status) || !payload.account_id ||
      (appState !== undefined && payload.app_state !== appState)) {
    throw new Error("oauthfn: not a result for " + provider);
  }
  return payload;
}

// confirm: attach a pending result's account to the user signed in to your
// app in the browser that brought it back. oauthfn answers 409 user_mismatch
// (and attaches nothing) unless that is the user the link was made for.
export const confirm = (key, confirmURL, payload, signedInUser) => decide(key, confirmURL, payload.jti, signedInUser, "accept");

// reject: refuse a pending result: oauthfn revokes the new session, attaches nothing.
export const reject = (key, confirmURL, payload) => decide(key, confirmURL, payload.jti, payload.sub, "reject");

async function decide(key, confirmURL, jti, user, decision) {
  const token = await new SignJWT({ decision })
    .setProtectedHeader({ alg: "HS256" }).setAudience("oauthfn:confirm").setSubject(user).setJti(jti)
    .setIssuedAt().setExpirationTime("5m").sign(new TextEncoder().encode(key));
  const resp = await fetch(confirmURL, {
    method: "POST", headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ confirm: token }), signal: AbortSignal.timeout(10_000),
  });
  const answer = await resp.json().catch(() => ({}));
  if (!resp.ok) throw Object.assign(new Error(`oauthfn: confirm: ${resp.status} ${answer.error}`), { status: resp.status, error: answer.error });
  return answer; // { status: "connected", account_id, ... } or { status: "rejected" }
}

// Command line, for the tests (key in OAUTH_APP_KEY):
//   node connect.mjs url AUTHORIZE_URL USER [RETURN_TO [APP_STATE]]
//   node connect.mjs verify RESULT PROVIDER [APP_STATE]
//   node connect.mjs confirm CONFIRM_URL RESULT PROVIDER SIGNED_IN_USER
//   node connect.mjs reject CONFIRM_URL RESULT PROVIDER
if (process.argv[1] === new URL(import.meta.url).pathname) {
  const [cmd, ...args] = process.argv.slice(2);
  const key = process.env.OAUTH_APP_KEY;
  if (cmd === "url") {
    console.log(await connectURL(key, args[0], args[1], { returnTo: args[2], appState: args[3] }));
  } else if (cmd === "verify") {
    console.log(JSON.stringify(await verifyResult(key, args[0], args[1], { appState: args[2] })));
  } else if (cmd === "confirm") {
    console.log(JSON.stringify(await confirm(key, args[0], await verifyResult(key, args[1], args[2]), args[3])));
  } else if (cmd === "reject") {
    console.log(JSON.stringify(await reject(key, args[0], await verifyResult(key, args[1], args[2]))));
  } else {
    console.error("usage: connect.mjs url AUTHORIZE_URL USER [RETURN_TO [APP_STATE]] | verify RESULT PROVIDER" +
      " | confirm CONFIRM_URL RESULT PROVIDER SIGNED_IN_USER | reject CONFIRM_URL RESULT PROVIDER");
    process.exit(2);
  }
}
