#!/usr/bin/env node
// Runs the real `better-auth` package (memory adapter + jwt plugin) on
// 127.0.0.1, signs up one user over real HTTP, fetches a JWT from
// GET /api/auth/token and prints ONE JSON line to stdout:
//
//   {"token":"...","jwks_url":"http://127.0.0.1:PORT/api/auth/jwks",
//    "base_url":"http://127.0.0.1:PORT","user_id":"...","alg":"EdDSA"}
//
// It then keeps serving (so the JWKS stays reachable) until SIGTERM/SIGINT
// or until its stdin closes (only watched when stdin is a pipe; /dev/null is
// ignored), or --ttl seconds elapse. All diagnostics go to stderr.
//
// Usage: node better-auth-issuer.mjs [--alg EdDSA|ES256|ES512|RS256|PS256]
//                                    [--port N] [--ttl SECONDS] [--debug]
// --debug prints the decoded token header/payload and the JWKS to stderr.
//
// Claims observed with better-auth 1.7.25 and baseURL http://127.0.0.1:PORT:
//   header : {"alg":"<ALG>","kid":"<jwks row id, 32 chars>"}   (no "typ")
//   payload: the user row (name, email, emailVerified, image, createdAt,
//            updatedAt, id) + iat, sub (= user id), exp (= iat + 900),
//            iss = aud = "http://127.0.0.1:PORT" (exactly baseURL, no
//            trailing slash, no /api/auth)
//   JWKS   : {"keys":[{"alg":..., "crv":... (EdDSA: Ed25519, ES256: P-256,
//            ES512: P-521; absent for RSA), "kty":..., "x"/"y"/"n"/"e", "kid":...}]}
//            no "use" member.

import fs from "node:fs";
import http from "node:http";
import { parseArgs } from "node:util";
import { betterAuth } from "better-auth";
import { memoryAdapter } from "better-auth/adapters/memory";
import { jwt } from "better-auth/plugins";
import { toNodeHandler } from "better-auth/node";

// stdout is reserved for the single JSON line: route any console output
// (better-auth's logger included) to stderr.
for (const m of ["log", "info", "debug", "warn"]) console[m] = (...a) => console.error(...a);

const SUPPORTED_ALGS = ["EdDSA", "ES256", "ES512", "RS256", "PS256"];

const log = (...args) => console.error("[better-auth-issuer]", ...args);

function fail(msg, err) {
  log(msg, err ?? "");
  process.exit(1);
}

let args;
try {
  ({ values: args } = parseArgs({
    options: {
      alg: { type: "string", default: "EdDSA" },
      port: { type: "string", default: "0" },
      debug: { type: "boolean", default: false },
      ttl: { type: "string", default: "0" },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  }));
} catch (e) {
  fail(`bad arguments: ${e.message}`);
}
if (args.help) {
  console.error(
    `usage: node better-auth-issuer.mjs [--alg ${SUPPORTED_ALGS.join("|")}] [--port N] [--ttl SECONDS] [--debug]`,
  );
  process.exit(0);
}
const alg = SUPPORTED_ALGS.find((a) => a.toLowerCase() === args.alg.toLowerCase());
if (!alg) fail(`unsupported --alg ${args.alg}; expected one of ${SUPPORTED_ALGS.join(", ")}`);
const port = Number(args.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`bad --port ${args.port}`);
const ttl = Number(args.ttl);
if (!Number.isFinite(ttl) || ttl < 0) fail(`bad --ttl ${args.ttl}`);

const t0 = performance.now();

// Memory adapter store: one array per model.
const db = { user: [], session: [], account: [], verification: [], jwks: [] };

// The handler is created after we know the port (baseURL must contain it),
// so the server dispatches through a mutable reference.
let handler = (_req, res) => {
  res.statusCode = 503;
  res.end("starting");
};
const server = http.createServer((req, res) => handler(req, res));

await new Promise((resolve, reject) => {
  server.once("error", reject);
  server.listen(port, "127.0.0.1", resolve);
});
const actualPort = server.address().port;
const baseURL = `http://127.0.0.1:${actualPort}`;

const auth = betterAuth({
  baseURL,
  secret: "todo-api-interop-test-secret-0123456789abcdef", // 32+ chars, test only
  database: memoryAdapter(db),
  emailAndPassword: { enabled: true },
  telemetry: { enabled: false },
  plugins: [
    jwt({
      jwks: { keyPairConfig: { alg } },
    }),
  ],
});
handler = toNodeHandler(auth);

async function call(method, path, { body, cookie } = {}) {
  const headers = { origin: baseURL };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (cookie) headers.cookie = cookie;
  const res = await fetch(`${baseURL}/api/auth${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (!res.ok) throw new Error(`${method} ${path} -> HTTP ${res.status}: ${text}`);
  return { res, json };
}

function decodeSegment(seg) {
  return JSON.parse(Buffer.from(seg, "base64url").toString("utf8"));
}

let out;
try {
  const signUp = await call("POST", "/sign-up/email", {
    body: { email: "interop@example.com", password: "interop-password-123", name: "Interop User" },
  });
  const setCookies = signUp.res.headers.getSetCookie();
  const cookie = setCookies.map((c) => c.split(";")[0]).join("; ");
  if (!cookie.includes("session_token")) throw new Error(`no session cookie in sign-up response: ${setCookies}`);
  const userId = signUp.json?.user?.id;
  if (!userId) throw new Error(`no user id in sign-up response`);

  const tok = await call("GET", "/token", { cookie });
  const token = tok.json?.token;
  if (typeof token !== "string") throw new Error(`unexpected /token response: ${JSON.stringify(tok.json)}`);

  const [h, p] = token.split(".");
  const header = decodeSegment(h);
  const payload = decodeSegment(p);
  if (header.alg !== alg) throw new Error(`token alg ${header.alg} != requested ${alg}`);

  out = {
    token,
    jwks_url: `${baseURL}/api/auth/jwks`,
    base_url: baseURL,
    user_id: userId,
    alg: header.alg,
  };

  if (args.debug) {
    const jwks = await call("GET", "/jwks");
    log("token header :", JSON.stringify(header));
    log("token payload:", JSON.stringify(payload));
    log("jwks         :", JSON.stringify(jwks.json));
  }
} catch (e) {
  server.close();
  fail("issuing token failed:", e);
}

process.stdout.write(JSON.stringify(out) + "\n");
log(`ready in ${Math.round(performance.now() - t0)} ms; serving ${baseURL} (alg ${alg})`);

let stopping = false;
function shutdown(why) {
  if (stopping) return;
  stopping = true;
  log(`shutting down (${why})`);
  server.close(() => process.exit(0));
  server.closeAllConnections?.();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on("SIGTERM", () => shutdown("SIGTERM"));
process.on("SIGINT", () => shutdown("SIGINT"));
if (ttl > 0) setTimeout(() => shutdown(`--ttl ${ttl}s elapsed`), ttl * 1000).unref();

// Exit when stdin closes, but only if stdin is a pipe/socket (i.e. the parent
// holds the other end, e.g. Rust `Stdio::piped()`). /dev/null, a TTY or a
// regular file would otherwise end immediately / never, so they are ignored.
let stdinStat;
try {
  stdinStat = fs.fstatSync(0);
} catch {
  stdinStat = undefined;
}
if (stdinStat && (stdinStat.isFIFO() || stdinStat.isSocket())) {
  process.stdin.on("end", () => shutdown("stdin closed"));
  process.stdin.on("close", () => shutdown("stdin closed"));
  process.stdin.on("error", () => shutdown("stdin error"));
  process.stdin.on("data", () => {}); // discard anything written to us
  process.stdin.resume();
} else {
  log("stdin is not a pipe; stop me with SIGTERM/SIGINT (or --ttl)");
}
