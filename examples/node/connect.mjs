// oauthfn from a Node backend: the two calls an app makes (npm install jose).
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
// unless oauthfn signed it; then payload.sub connected payload.account_id.
export async function verifyResult(key, result) {
  const { payload } = await jwtVerify(result, new TextEncoder().encode(key), {
    algorithms: ["HS256"], audience: "oauthfn:result", requiredClaims: ["exp", "iat", "jti"], clockTolerance: 30,
  });
  if (payload.status !== "connected" || !payload.account_id) throw new Error("oauthfn: not a connected result");
  return payload;
}

// Command line, for the tests: node connect.mjs url AUTHORIZE_URL USER [RETURN_TO [APP_STATE]]
//                              node connect.mjs verify RESULT   (key in OAUTH_APP_KEY)
if (process.argv[1] === new URL(import.meta.url).pathname) {
  const [cmd, ...args] = process.argv.slice(2);
  const key = process.env.OAUTH_APP_KEY;
  if (cmd === "url") {
    console.log(await connectURL(key, args[0], args[1], { returnTo: args[2], appState: args[3] }));
  } else if (cmd === "verify") {
    console.log(JSON.stringify(await verifyResult(key, args[0])));
  } else {
    console.error("usage: connect.mjs url AUTHORIZE_URL USER [RETURN_TO [APP_STATE]] | verify RESULT");
    process.exit(2);
  }
}
