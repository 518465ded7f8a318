import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, idempotencyKey, type Api } from "../lib/api.js";
import { shortId, timeAgo } from "../lib/format.js";
import { can } from "../lib/session.js";
import { RUN_STATUSES, type Identity, type Run } from "../lib/types.js";
import { Empty, ErrorBox, Field, StatusChip } from "./common.js";
import { go, href } from "./route.js";

const PAGE = 20;

/** A 404 for a route the server does not have (the app's catch-all answers NOT_FOUND; a missing run has its own code). */
export function factoryMissing(err: unknown): boolean {
  return err instanceof ApiError && err.status === 404 && err.code === "NOT_FOUND";
}

export function FactoryUnavailable() {
  return (
    <div class="card unavailable" data-testid="factory-unavailable" role="status">
      <h2>Factory not available on this server</h2>
      <p>
        <code>GET /llm/factory/runs</code> answered 404: this server has no factory routes. Rooms work as usual; runs appear here once the server has the factory.
      </p>
      <a href={href.rooms()}>Go to rooms</a>
    </div>
  );
}

const EXAMPLE = `# Launch notes

## Draft

- Write the changelog summary
  Acceptance: mentions "version 2"
- Write the upgrade guide (depends on: Write the changelog summary)

## Review

Depends on: Draft

- Proofread both documents
  Acceptance: no "lorem ipsum"
`;

export function RunsList({ api, identity }: { api: Api; identity: Identity }) {
  const [status, setStatus] = useState("");
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [runs, setRuns] = useState<Run[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [missing, setMissing] = useState(false);
  const [reload, setReload] = useState(0);
  const cursor = cursors[cursors.length - 1] ?? null;

  useEffect(() => {
    const ctrl = new AbortController();
    setError(null);
    api.get<Run[]>("/llm/factory/runs", { signal: ctrl.signal, query: { limit: PAGE, cursor, status: status || undefined } }).then(
      ({ data, meta }) => {
        setRuns(data);
        setNext((meta?.["next_cursor"] as string | null | undefined) ?? null);
      },
      (err: unknown) => {
        if ((err as Error).name === "AbortError") return;
        if (factoryMissing(err)) setMissing(true);
        else setError(err);
      },
    );
    return () => ctrl.abort();
  }, [api, status, cursor, reload]);

  if (missing) {
    return (
      <section class="page" aria-labelledby="runs-title">
        <h1 id="runs-title">Factory runs</h1>
        <FactoryUnavailable />
      </section>
    );
  }

  return (
    <section class="page" aria-labelledby="runs-title">
      <div class="page-head">
        <h1 id="runs-title">Factory runs</h1>
        <div class="actions">
          <label>
            Status{" "}
            <select
              value={status}
              onChange={(e) => {
                setStatus(e.currentTarget.value);
                setCursors([null]);
              }}
            >
              <option value="">any</option>
              {RUN_STATUSES.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          </label>
          <button type="button" class="quiet" onClick={() => setReload((n) => n + 1)}>
            Refresh
          </button>
        </div>
      </div>
      {can(identity, "runCreate") ? <CreateRun api={api} /> : null}
      <ErrorBox error={error} />
      {runs === null && !error ? <div class="muted">Loading…</div> : null}
      {runs !== null && runs.length === 0 ? <Empty>No runs yet.</Empty> : null}
      {runs !== null && runs.length > 0 ? (
        <table class="rooms" data-testid="runs-table">
          <thead>
            <tr>
              <th scope="col">Run</th>
              <th scope="col">Status</th>
              <th scope="col">Stage</th>
              <th scope="col">Kind</th>
              <th scope="col">Rooms</th>
              <th scope="col">Updated</th>
            </tr>
          </thead>
          <tbody>
            {runs.map((r) => (
              <tr key={r.id}>
                <td data-label="Run" class="clip">
                  <a href={href.run(r.id)}>{r.title || r.source_brief || `run ${shortId(r.id)}`}</a>
                </td>
                <td data-label="Status">
                  <StatusChip status={r.status} />
                </td>
                <td data-label="Stage">{r.current_stage ?? <span class="muted">—</span>}</td>
                <td data-label="Kind">{r.workflow_kind ?? <span class="muted">—</span>}</td>
                <td data-label="Rooms">{r.active_room_ids.length}</td>
                <td data-label="Updated">{timeAgo(r.updated_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      <div class="pager">
        <button type="button" class="quiet" disabled={cursors.length <= 1} onClick={() => setCursors((c) => c.slice(0, -1))}>
          ← Previous
        </button>
        <span class="muted">Page {cursors.length}</span>
        <button type="button" class="quiet" disabled={!next} onClick={() => next && setCursors((c) => [...c, next])}>
          Next →
        </button>
      </div>
    </section>
  );
}

function CreateRun({ api }: { api: Api }) {
  const [open, setOpen] = useState(false);
  const [title, setTitle] = useState("");
  const [kind, setKind] = useState("");
  const [format, setFormat] = useState<"markdown" | "text">("markdown");
  const [content, setContent] = useState("");
  const [startNow, setStartNow] = useState(true);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const key = useRef<{ body: string; key: string } | null>(null);

  if (!open) {
    return (
      <button type="button" class="primary" data-testid="new-run" onClick={() => setOpen(true)}>
        New run from a prompt
      </button>
    );
  }

  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    const body = { source: { kind: "prompt", format, content }, ...(title.trim() ? { title: title.trim() } : {}), ...(kind.trim() ? { workflow_kind: kind.trim() } : {}) };
    const text = JSON.stringify(body);
    if (key.current?.body !== text) key.current = { body: text, key: idempotencyKey() };
    setBusy(true);
    try {
      const { data } = await api.post<Run>("/llm/factory/runs", body, { headers: { "Idempotency-Key": key.current.key } });
      if (startNow) await api.post(`/llm/factory/runs/${encodeURIComponent(data.id)}/start`, {}, { headers: { "Idempotency-Key": idempotencyKey() } });
      go(href.run(data.id));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="card form" onSubmit={submit} data-testid="run-form">
      <h2>New run</h2>
      <Field id="run-title" label="Title (optional)">
        <input id="run-title" value={title} onInput={(e) => setTitle(e.currentTarget.value)} />
      </Field>
      <Field id="run-kind" label="Workflow kind (optional)" hint="software.delivery adds a human review gate.">
        <input id="run-kind" value={kind} onInput={(e) => setKind(e.currentTarget.value)} />
      </Field>
      <Field id="run-format" label="Format">
        <select id="run-format" value={format} onChange={(e) => setFormat(e.currentTarget.value as "markdown" | "text")}>
          <option value="markdown">markdown</option>
          <option value="text">text</option>
        </select>
      </Field>
      <Field id="run-content" label="Prompt" hint={
          <>
            With the built-in model: <code>##</code> headings become stages, list items issues, <code>Acceptance:</code> lines criteria, <code>(depends on: …)</code> and <code>Depends on:</code> link them. See{" "}
            <a href="/docs/llm/factory" target="_blank" rel="noreferrer">
              /docs/llm/factory
            </a>
            .
          </>
        }>
        <textarea id="run-content" class="mono" rows={10} required value={content} placeholder={EXAMPLE} onInput={(e) => setContent(e.currentTarget.value)} />
      </Field>
      <label class="check">
        <input type="checkbox" checked={startNow} onChange={() => setStartNow((s) => !s)} /> Start it at once
      </label>
      <ErrorBox error={error} />
      <div class="actions">
        <button type="submit" class="primary" disabled={busy || content.trim() === ""}>
          {busy ? "Creating…" : "Create run"}
        </button>
        <button type="button" class="quiet" onClick={() => setOpen(false)}>
          Cancel
        </button>
      </div>
    </form>
  );
}
