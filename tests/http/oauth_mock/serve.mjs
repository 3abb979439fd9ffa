// A real OAuth 2.0 server for the tests (npm oauth2-mock-server): an RS256 key, and every
// token given the audience and client_id the API needs (it sets neither by itself).
// argv: node_modules dir, port, audience. Prints {"issuer": ...} once listening; stops
// when stdin closes.
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [modules, port, audience] = process.argv.slice(2);
const entry = createRequire(path.join(modules, "x.js")).resolve("oauth2-mock-server");
const { OAuth2Server, Events } = await import(pathToFileURL(entry).href);

const server = new OAuth2Server();
await server.issuer.keys.generate("RS256");
server.service.on(Events.BeforeTokenSigning, (token, req) => {
  const header = req.headers.authorization ?? "";
  let client = req.body?.client_id;
  if (header.startsWith("Basic ")) {
    client = Buffer.from(header.slice(6), "base64").toString().split(":")[0];
  }
  token.payload.aud = audience;
  token.payload.client_id = client;
});
await server.start(Number(port), "127.0.0.1");
process.stdout.write(JSON.stringify({ issuer: server.issuer.url }) + "\n");
process.stdin.resume();
process.stdin.on("end", async () => {
  await server.stop();
  process.exit(0);
});
