// Builds the page the device serves, from web/ into rtvi_edge/web/ (committed, so
// that a device installed with pip serves it with no node and no network):
//   index.html  ← web/index.html, with ?v=<hash> so browsers fetch a new bundle
//   app.js      ← web/src/app.ts and its imports, one minified ES module
//   app.css     ← web/src/app.css (imported by app.ts)
// `node build.mjs --check` builds in memory and fails if the committed files differ.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "rtvi_edge", "web");
const check = process.argv.includes("--check");

const result = await esbuild.build({
  absWorkingDir: here,
  entryPoints: ["src/app.ts"],
  bundle: true,
  format: "esm",
  minify: true,
  target: ["es2020", "safari14"],
  outdir: out,
  write: false,
  // The transport's default media manager needs Daily's SDK (and the internet);
  // the page brings its own (src/media.ts), so Daily stays out of the bundle.
  alias: { "@daily-co/daily-js": "./src/no-daily.ts" },
  legalComments: "eof", // keep the BSD licence notices of client-js and the transport
  banner: {
    js: "// Built by web/build.mjs from web/src: edit those, then `npm run build` in web/.",
    css: "/* Built by web/build.mjs from web/src/app.css. */",
  },
  logLevel: "warning",
});

const files = new Map(result.outputFiles.map((f) => [basename(f.path), Buffer.from(f.contents)]));
const version = createHash("sha256").update(files.get("app.js")).update(files.get("app.css")).digest("hex").slice(0, 10);
const html = readFileSync(join(here, "index.html"), "utf8")
  .replace('src="/static/app.js"', `src="/static/app.js?v=${version}"`)
  .replace('href="/static/app.css"', `href="/static/app.css?v=${version}"`);
files.set("index.html", Buffer.from(html));

if (check) {
  const stale = [...files].filter(([name, data]) => {
    const path = join(out, name);
    return !existsSync(path) || !readFileSync(path).equals(data);
  });
  if (stale.length) {
    const names = stale.map(([n]) => n).join(", ");
    console.error(`rtvi_edge/web is not up to date with web/ (${names}): run \`npm run build\` in web/`);
    process.exit(1);
  }
  console.log("rtvi_edge/web is up to date with web/");
} else {
  for (const [name, data] of files) writeFileSync(join(out, name), data);
  console.log([...files].map(([name, data]) => `${name} ${(data.length / 1024).toFixed(1)} KiB`).join(", "));
}
