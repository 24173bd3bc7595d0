// Send a page view, a struct event and a self-describing event (with an entity) through the real
// @snowplow/node-tracker, then print every payload the tracker reports as sent, one JSON per line.
// Usage: node node_tracker.mjs <port> <get|post>
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "..", "..", "..", "package.json"));
const { newTracker, buildPageView, buildStructEvent, buildSelfDescribingEvent } = require("@snowplow/node-tracker");

const [port, method] = process.argv.slice(2);
const sent = [];
const failures = [];
const tracker = newTracker(
  { namespace: "node-ns", appId: "node-app", encodeBase64: method === "get" },
  {
    endpoint: "127.0.0.1",
    port: Number(port),
    protocol: "http",
    eventMethod: method,
    bufferSize: 1,
    retryFailedRequests: false,
    onRequestSuccess: (batch) => sent.push(...batch),
    onRequestFailure: (failure) => failures.push(failure),
  }
);
const entity = { schema: "iglu:com.acme/entity/jsonschema/1-0-0", data: { level: 3 } };
tracker.track(buildPageView({ pageUrl: "https://shop.example/cart?x=1", pageTitle: "Cart ✓" }), [entity]);
tracker.track(buildStructEvent({ category: "shop", action: "add", label: "sku-1", property: "size", value: 2.5 }));
tracker.track(buildSelfDescribingEvent({ event: { schema: "iglu:com.acme/clicked/jsonschema/1-0-0", data: { id: "é-1" } } }));
await tracker.flush();
for (let i = 0; i < 200 && sent.length < 3 && failures.length === 0; i++) {
  await new Promise((r) => setTimeout(r, 25));
}
for (const payload of sent) console.log(JSON.stringify(payload));
if (failures.length) {
  console.error(JSON.stringify(failures));
  process.exit(2);
}
