/**
 * The browsable API reference: Swagger UI's static files, served from the
 * swagger-ui-dist package in node_modules (no CDN, so it works offline and
 * behind firewalls), pointed at /openapi.json. Only a fixed list of files is
 * served, read once and kept in memory.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

export interface Asset {
  body: Uint8Array;
  contentType: string;
}

const FILES: Record<string, string> = {
  "swagger-ui.css": "text/css; charset=utf-8",
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
  "favicon-32x32.png": "image/png",
  "favicon-16x16.png": "image/png",
};

/** Our own initializer: the package's default one points at a public demo document. */
const INIT_JS = `window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    displayOperationId: true,
    defaultModelsExpandDepth: 0,
    persistAuthorization: false,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
});
`;

export const REFERENCE_HTML = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>roomservice API reference</title>
  <link rel="stylesheet" href="/reference/assets/swagger-ui.css">
  <link rel="icon" type="image/png" href="/reference/assets/favicon-32x32.png" sizes="32x32">
  <style>body { margin: 0; } .rs-note { font: 14px/1.4 sans-serif; padding: 8px 20px; background: #f4f6f8; border-bottom: 1px solid #dde; }</style>
</head>
<body>
  <div class="rs-note">roomservice API reference, rendered from <a href="/openapi.json">/openapi.json</a>. Guides: <a href="/docs">/docs</a>, <a href="/docs/llm/room">/docs/llm/room</a>, <a href="/llms.txt">/llms.txt</a>. Use <b>Authorize</b> with a token from <code>npm run -s token -- --tenant acme</code>.</div>
  <div id="swagger-ui"><noscript>This page needs JavaScript. Read <a href="/docs/llm/room">/docs/llm/room</a> or <a href="/openapi.json">/openapi.json</a> instead.</noscript></div>
  <script src="/reference/assets/swagger-ui-bundle.js" charset="utf-8"></script>
  <script src="/reference/assets/init.js" charset="utf-8"></script>
</body>
</html>
`;

function distDir(): string | null {
  try {
    return path.dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));
  } catch {
    return null;
  }
}

/** Serves the reference's assets; `null` for a name that is not one of them or a package that is not installed. */
export function referenceAssets(): { available: boolean; get(name: string): Asset | null } {
  const dir = distDir();
  const cache = new Map<string, Asset>();
  return {
    available: dir !== null,
    get(name) {
      if (name === "init.js") return { body: new TextEncoder().encode(INIT_JS), contentType: "text/javascript; charset=utf-8" };
      const type = Object.hasOwn(FILES, name) ? FILES[name] : undefined;
      if (!type || !dir) return null;
      let asset = cache.get(name);
      if (!asset) {
        try {
          asset = { body: new Uint8Array(readFileSync(path.join(dir, name))), contentType: type };
        } catch {
          return null;
        }
        cache.set(name, asset);
      }
      return asset;
    },
  };
}

export const REFERENCE_UNAVAILABLE_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>roomservice API reference</title></head>
<body><p>The browsable reference needs the <code>swagger-ui-dist</code> package, which is not installed here (run <code>npm ci</code>).
The same content is in <a href="/openapi.json">/openapi.json</a> and <a href="/docs/llm/room">/docs/llm/room</a>.</p></body></html>
`;
