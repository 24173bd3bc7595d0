// Load a page (served here on loopback) running the real @snowplow/browser-tracker in Debian's
// headless Chromium via playwright-core; track a page view and a struct event to the collector,
// then print every payload the tracker reports as sent, one JSON per line.
// Usage: node browser_tracker.mjs <collector_port> <get|post> <user_data_dir>
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "..", "..", "..", "package.json"));
const { chromium } = require("playwright-core");
const trackerJs = fs.readFileSync(require.resolve("@snowplow/browser-tracker/dist/index.umd.min.js"));

const [collectorPort, method, userDataDir] = process.argv.slice(2);
const page = `<!doctype html><html><head><title>Shop ✓</title><script src="/sp.js"></script></head><body>
<script>
  window.__sent = []; window.__failed = [];
  const sp = window.snowplowBrowserTracking;
  sp.newTracker("sp1", "http://127.0.0.1:${collectorPort}", {
    appId: "web-app", eventMethod: "${method}", bufferSize: 1, encodeBase64: ${method === "get"},
    onRequestSuccess: (batch) => window.__sent.push(...batch),
    onRequestFailure: (f) => window.__failed.push(String(f && f.status)),
  });
  sp.trackPageView({ title: "Shop page" });
  sp.trackStructEvent({ category: "shop", action: "add", label: "sku-1", property: "size", value: 2 });
</script></body></html>`;

const server = http.createServer((req, res) => {
  if (req.url === "/sp.js") {
    res.writeHead(200, { "Content-Type": "application/javascript" });
    res.end(trackerJs);
  } else {
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
    res.end(page);
  }
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const pagePort = server.address().port;

const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"],
});
let code = 0;
try {
  const tab = await context.newPage();
  await tab.goto(`http://127.0.0.1:${pagePort}/shop/cart?ref=1`);
  await tab.waitForFunction(() => window.__sent.length >= 2 || window.__failed.length > 0, null, { timeout: 60000 });
  const failed = await tab.evaluate(() => window.__failed);
  if (failed.length) {
    console.error("failed requests: " + JSON.stringify(failed));
    code = 2;
  }
  const sent = await tab.evaluate(() => window.__sent);
  for (const payload of sent) console.log(JSON.stringify(payload));
  console.error("page origin http://127.0.0.1:" + pagePort);
} finally {
  await context.close();
  server.close();
}
process.exit(code);
