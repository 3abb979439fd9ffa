// The real OpenID provider the SSO tests sign in through: oauth2-mock-server on loopback.
// It has no login page: its /authorize redirects straight back with a code. The claims to put
// in every token (and the userinfo answer) are read, at each signing, from the JSON file named
// by IDP_CLAIMS_FILE, which the test writes before each sign-in; a null value removes a claim.
// Prints one line, {"port": ..., "issuer": ...}, once it listens.
import { readFileSync } from "node:fs";
import { OAuth2Server } from "oauth2-mock-server";

const claimsFile = process.env.IDP_CLAIMS_FILE;

function claims() {
  if (!claimsFile) return {};
  try {
    return JSON.parse(readFileSync(claimsFile, "utf8"));
  } catch {
    return {};
  }
}

function merge(target, extra) {
  for (const [name, value] of Object.entries(extra)) {
    if (value === null) delete target[name];
    else target[name] = value;
  }
}

const server = new OAuth2Server();
await server.issuer.keys.generate("RS256");
server.service.on("beforeTokenSigning", (token) => merge(token.payload, claims()));
server.service.on("beforeUserinfo", (answer) => merge(answer.body, claims()));
await server.start(0, "127.0.0.1");
const { port } = server.address();
// It would announce http://localhost:PORT; the tests configure the address it listens on.
server.issuer.url = `http://127.0.0.1:${port}`;
console.log(JSON.stringify({ port, issuer: server.issuer.url }));

const stop = async () => {
  await server.stop();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
