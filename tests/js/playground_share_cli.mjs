// The page's share-link and publish modules under Node, for tests/unit/test_share_and_publish.py:
//
//   node tests/js/playground_share_cli.mjs link < project.json           → {"link": "https://example.org/#project=…"}
//   node tests/js/playground_share_cli.mjs open < '"#project=…"'         → {"project": {...}} or {"error": "..."}
//   node tests/js/playground_share_cli.mjs zip OUT < '[{"name", "text"}]' → writes the zip to OUT
//   node tests/js/playground_share_cli.mjs site-zip ROOT OUT < '{"project", "files"}' → the site at URL ROOT zipped to OUT
//     (`files`: the project's site.json and tools/, which the page gets from its agent worker)
import { writeFileSync } from "node:fs";
import { siteZip } from "../../web/playground/publish.js";
import { readShareFragment, shareLink } from "../../web/playground/share.js";
import { zipFiles } from "../../web/playground/zip.js";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const input = JSON.parse(Buffer.concat(chunks).toString("utf-8"));
const [command, out] = process.argv.slice(2);
let result;
if (command === "link") result = { link: await shareLink(input, "https://example.org/agents/?x=1#old") };
else if (command === "open") {
  result = await readShareFragment(input).then((project) => ({ project }), (error) => ({ error: `${error.name}: ${error.message}` }));
} else if (command === "zip") {
  const blob = await zipFiles(input.map(({ name, text }) => ({ name, data: text })), { date: new Date(2026, 0, 2, 3, 4, 6) });
  writeFileSync(out, Buffer.from(await blob.arrayBuffer()));
  result = { bytes: blob.size };
} else if (command === "site-zip") {
  const { blob, files, bytes, notes } = await siteZip(input.project, { root: new URL(out), siteFiles: async () => input.files });
  writeFileSync(process.argv[4], Buffer.from(await blob.arrayBuffer()));
  result = { files, bytes, notes };
} else {
  throw new Error(`unknown command ${command}`);
}
process.stdout.write(JSON.stringify(result));
