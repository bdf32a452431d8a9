// `npm run demo`: walks through every capability against a server, printing each step.
//   npm run demo                                   a fresh local server, started and stopped here
//   npm run demo -- --url URL --api-key KEY        an existing server (or DMSA_URL / DMSA_API_KEY)
// Exits 0 at the end of the walk; 1 at the first failure, with the problem's title, detail and status.
import { parseArgs } from "node:util";
import { DemoFailure, demoClient } from "./demo/client.mjs";
import { startDemoServer, stopDemoServers } from "./demo/server.mjs";
import { STEPS, demoAgentId } from "./demo/steps.mjs";

const USAGE = "usage: npm run demo [-- --url URL --api-key KEY]   (or DMSA_URL / DMSA_API_KEY; neither: a fresh local server)";

/** @type {{ url?: string, "api-key"?: string, help?: boolean }} */
let options;
try {
  options = parseArgs({
    options: { url: { type: "string" }, "api-key": { type: "string" }, help: { type: "boolean", short: "h" } },
    strict: true,
  }).values;
} catch (err) {
  console.error(`${/** @type {Error} */ (err).message}\n${USAGE}`);
  process.exit(2);
}
if (options.help) {
  console.log(USAGE);
  process.exit(0);
}

const url = options.url ?? process.env.DMSA_URL;
const apiKey = options["api-key"] ?? process.env.DMSA_API_KEY;
if ((url === undefined) !== (apiKey === undefined)) {
  console.error(`give both a URL and an API key, or neither.\n${USAGE}`);
  process.exit(2);
}

/** @type {import("./demo/server.mjs").DemoServer | undefined} */
let server;
// Ctrl-C or a kill: stop the server this run started, then leave.
for (const signal of /** @type {const} */ (["SIGINT", "SIGTERM"])) {
  process.once(signal, () => {
    console.log(`\n${signal}: stopping`);
    void stopDemoServers().finally(() => process.exit(130));
  });
}

let code = 0;
try {
  if (url === undefined || apiKey === undefined) {
    console.log("Starting a local server (wrangler dev --local, temporary stores)…");
    server = await startDemoServer();
    console.log(`Server ready at ${server.baseUrl} (a made-up admin key for this run)`);
  } else {
    console.log(`Using the server at ${url}`);
  }
  const client = demoClient(server?.baseUrl ?? /** @type {string} */ (url), server?.apiKey ?? /** @type {string} */ (apiKey));
  const agentId = demoAgentId();
  console.log(`Agent for this run: ${agentId}`);
  for (const [i, step] of STEPS.entries()) {
    console.log(`\n[${i + 1}/${STEPS.length}] ${step.title}`);
    await step.run({
      client,
      agentId,
      out: process.stdout,
      ask: (method, path) => console.log(`  > ${method} ${path}`),
      say: (line) => console.log(`  < ${line}`),
    });
  }
  console.log("\nDemo complete: every step passed.");
} catch (err) {
  code = 1;
  if (err instanceof DemoFailure) {
    console.error(`\nFAILED: ${err.request}`);
    console.error(`  status: ${err.status ?? "no answer"}`);
    console.error(`  title:  ${err.title}`);
    if (err.detail) console.error(`  detail: ${err.detail}`);
  } else {
    console.error(`\nFAILED: ${/** @type {Error} */ (err).stack ?? err}`);
  }
} finally {
  if (server) {
    console.log("Stopping the local server…");
    await server.stop();
  }
}
process.exit(code);
