// Get a working access token from the oauthfn token function with the AWS
// SDK for JavaScript v3 (@aws-sdk/client-lambda).
//
// The app's role needs the stack's TokenReaderPolicy (output
// TokenReaderPolicyArn); the function's ARN is the TokenFunctionArn output.
//
//   import { getToken, ReauthRequired, TryLater } from "./get-token.mjs";
//   try {
//     const tok = await getToken(TOKEN_FUNCTION_ARN, accountId);
//     await fetch(apiUrl, { headers: { Authorization: `Bearer ${tok.access_token}` } });
//   } catch (e) {
//     if (e instanceof ReauthRequired) // connect again (connect.mjs)
//       return res.redirect(await connectURL(APP_KEY, AUTHORIZE_URL, user.id));
//     if (e instanceof TryLater) return retryIn(e.retryAfterS);
//     throw e;
//   }
//
// Run as a script: node get-token.mjs <function name or ARN> '{"account_id":"..."}'
// prints the answer (or the error) as one JSON line.
import { LambdaClient, InvokeCommand } from "@aws-sdk/client-lambda";

export class TokenError extends Error {
  constructor(code, description, retryAfterS) {
    super(`${code}: ${description}`);
    this.code = code;
    this.description = description;
    this.retryAfterS = retryAfterS;
  }
}
export class NotConnected extends TokenError {}
export class ReauthRequired extends TokenError {}
export class TryLater extends TokenError {}
export class InvalidRequest extends TokenError {}

const errors = {
  not_found: NotConnected,
  reauth_required: ReauthRequired,
  rate_limited: TryLater,
  busy: TryLater,
  invalid_request: InvalidRequest,
};

// invoke sends request to the token function and returns its answer; an
// expected failure throws the TokenError subclass, a function error an Error.
export async function invoke(functionName, request, client = new LambdaClient({})) {
  const out = await client.send(
    new InvokeCommand({ FunctionName: functionName, Payload: new TextEncoder().encode(JSON.stringify(request)) }),
  );
  const body = JSON.parse(new TextDecoder().decode(out.Payload) || "null");
  if (out.FunctionError) {
    throw new Error(`token function failed: ${body?.errorMessage ?? JSON.stringify(body)}`);
  }
  if (body.error) {
    const Cls = errors[body.error] ?? TokenError;
    throw new Cls(body.error, body.error_description ?? "", body.retry_after_s);
  }
  return body;
}

// getToken returns {access_token, token_type, expires_at, account_id, end_user, scope}.
export function getToken(functionName, accountId, client) {
  return invoke(functionName, { account_id: accountId }, client);
}

// connectionsOf returns the end user's connections, without tokens.
export async function connectionsOf(functionName, endUser, client) {
  return (await invoke(functionName, { end_user: endUser }, client)).connections;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [functionName, request] = process.argv.slice(2);
  try {
    console.log(JSON.stringify({ answer: await invoke(functionName, JSON.parse(request)) }));
  } catch (e) {
    console.log(JSON.stringify(e instanceof TokenError ? { error: e.code, retry_after_s: e.retryAfterS ?? null } : { fault: String(e) }));
    process.exitCode = e instanceof TokenError ? 0 : 1;
  }
}
