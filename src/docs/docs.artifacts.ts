/**
 * The generated files committed to the repository: the OpenAPI document and
 * llms.txt, rendered by the app itself (through its own routes) so the
 * committed copies are byte for byte what a default server serves.
 * `npm run openapi` writes them; test/docs fails when they drift.
 */
import { DEFAULT_BASE_URL } from "./docs.content.js";

export const ARTIFACT_PATHS = ["openapi/openapi.json", "llms.txt"] as const;
export type ArtifactPath = (typeof ARTIFACT_PATHS)[number];

interface RequestsApp {
  request(input: string): Response | Promise<Response>;
}

/** Stable JSON: two-space indent and a final newline, in the document's own key order. */
export function formatJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

export async function renderArtifacts(app: RequestsApp): Promise<Record<ArtifactPath, string>> {
  const get = async (path: string) => {
    const res = await app.request(`${DEFAULT_BASE_URL}${path}`);
    if (res.status !== 200) throw new Error(`GET ${path} answered ${res.status}: ${await res.text()}`);
    return res;
  };
  const doc = (await (await get("/openapi.json")).json()) as unknown;
  const llms = await (await get("/llms.txt")).text();
  return { "openapi/openapi.json": formatJson(doc), "llms.txt": llms };
}
