/**
 * One factory run (FACTORY.md): its stages and issues as a dependency board,
 * artifacts, verification and gate verdicts, the review bundle, and the
 * supervisor's buttons. Live through the run's SSE feed: every batch of run
 * events reads the run's records again (one read at a time).
 */
import { useCallback, useEffect, useMemo, useRef, useState } from "preact/hooks";
import { idempotencyKey, type Api } from "../lib/api.js";
import { board } from "../lib/board.js";
import { follow, type Feed, type FeedState } from "../lib/event-stream.js";
import { clock, oneLine, shortId, timeAgo } from "../lib/format.js";
import { can } from "../lib/session.js";
import { GATE_VERDICTS, WORK_STATUSES, type Artifact, type Identity, type Issue, type Review, type Run, type RunStatus, type Stage } from "../lib/types.js";
import { ErrorBox, StatusChip } from "./common.js";
import { href } from "./route.js";
import { FactoryUnavailable, factoryMissing } from "./runs-list.js";

const FINAL = new Set(["completed", "failed", "cancelled"]);
/** The gates the factory evaluates itself (a recorded verdict wins over an evaluated one). */
const BUILT_IN_GATES = ["all_issues_passed", "verification_passed", "token_budget", "human_review"];

interface RunEvent {
  seq: number;
  event_type: string;
  payload: Record<string, unknown>;
  created_at: string;
}

interface RunData {
  run: Run;
  status: RunStatus | null;
  stages: Stage[];
  issues: Issue[];
  artifacts: Artifact[];
}

export function RunView({ api, identity, runId }: { api: Api; identity: Identity; runId: string }) {
  const base = `/llm/factory/runs/${encodeURIComponent(runId)}`;
  const [data, setData] = useState<RunData | null>(null);
  const [review, setReview] = useState<Review | null>(null);
  const [events, setEvents] = useState<RunEvent[]>([]);
  const [feed, setFeed] = useState<FeedState>({ phase: "connecting" });
  const [loadError, setLoadError] = useState<unknown>(null);
  const [missing, setMissing] = useState(false);
  const [actionError, setActionError] = useState<unknown>(null);
  const [lastAction, setLastAction] = useState<string | null>(null);
  const final = useRef(false);
  const lastSeq = useRef(0);
  const feedRef = useRef<Feed | null>(null);

  const loadReview = useCallback(() => {
    api.get<Review>(`${base}/review`).then(({ data: r }) => setReview(r), setActionError);
  }, [api, base]);

  const reading = useRef<{ busy: boolean; again: boolean }>({ busy: false, again: false });
  const refresh = useCallback(async (): Promise<void> => {
    const r = reading.current;
    if (r.busy) {
      r.again = true;
      return;
    }
    r.busy = true;
    try {
      const [run, status, stages, issues, artifacts] = await Promise.all([
        api.get<Run>(base),
        api.get<RunStatus>(`${base}/status`).then(
          (x) => x.data,
          () => null,
        ),
        api.get<Stage[]>(`${base}/stages`),
        api.get<Issue[]>(`${base}/issues`),
        api.get<Artifact[]>(`${base}/artifacts`),
      ]);
      final.current = FINAL.has(run.data.status);
      setData({ run: run.data, status, stages: stages.data, issues: issues.data, artifacts: artifacts.data });
      if (FINAL.has(run.data.status) || run.data.status === "gated") loadReview();
    } finally {
      r.busy = false;
      if (r.again) {
        r.again = false;
        void refresh();
      }
    }
  }, [api, base, loadReview]);

  useEffect(() => {
    let closed = false;
    refresh().then(
      () => {
        if (closed) return;
        feedRef.current = follow({
          url: `${base}/events?follow=true`,
          api,
          after: null,
          onState: setFeed,
          finished: () => final.current,
          onFrames(frames) {
            const fresh: RunEvent[] = [];
            for (const f of frames) {
              try {
                const ev = JSON.parse(f.data) as RunEvent;
                if (typeof ev.seq !== "number" || ev.seq <= lastSeq.current) continue;
                lastSeq.current = ev.seq;
                fresh.push(ev);
                const st = ev.payload?.["status"];
                if (ev.event_type.startsWith("run:") && typeof st === "string" && FINAL.has(st)) final.current = true;
              } catch {
                // not an event record
              }
            }
            if (fresh.length === 0) return;
            setEvents((list) => [...list, ...fresh]);
            void refresh().catch(() => undefined);
          },
        });
      },
      (err: unknown) => {
        if (closed) return;
        if (factoryMissing(err)) setMissing(true);
        else setLoadError(err);
      },
    );
    return () => {
      closed = true;
      feedRef.current?.close();
    };
  }, [api, base, refresh]);

  const act = useCallback(
    async (path: string, body: unknown = {}) => {
      setActionError(null);
      try {
        const { data: out } = await api.post<unknown>(`${base}/${path}`, body, { headers: { "Idempotency-Key": idempotencyKey() } });
        setLastAction(`${path}: ${oneLine(out, 300)}`);
        await refresh();
      } catch (err) {
        setActionError(err);
      }
    },
    [api, base, refresh],
  );

  if (missing) {
    return (
      <section class="page">
        <p>
          <a href={href.runs()}>← Runs</a>
        </p>
        <FactoryUnavailable />
      </section>
    );
  }
  if (loadError) {
    return (
      <section class="page">
        <p>
          <a href={href.runs()}>← Runs</a>
        </p>
        <ErrorBox error={loadError} />
      </section>
    );
  }
  if (!data) return <section class="page muted">Loading run…</section>;
  const { run, status, stages, issues, artifacts } = data;

  return (
    <section class="page run" data-testid="run-view" data-run-status={run.status} aria-labelledby="run-title">
      <div class="room-head">
        <a href={href.runs()} class="back" aria-label="Back to runs">
          ←
        </a>
        <h1 id="run-title" class="clip">
          {run.title || run.source_brief || `run ${shortId(run.id)}`}
        </h1>
        <span class="muted mono id">{shortId(run.id)}</span>
        <StatusChip status={run.status} />
        <span class="feed" data-testid="feed" data-feed={feed.phase}>
          <span class={`dot dot-${feed.phase}`} aria-hidden="true" />
          <span class="feed-label">{feed.phase === "reconnecting" ? `reconnecting (${Math.ceil(feed.inMs / 1000)} s)` : feed.phase}</span>
        </span>
      </div>

      <RunControls identity={identity} run={run} status={status} onAct={act} />
      {lastAction ? <div class="muted mono small">{lastAction}</div> : null}
      <ErrorBox error={actionError} onDismiss={() => setActionError(null)} />

      <div class="run-grid">
        <section class="card" aria-labelledby="status-title">
          <h2 id="status-title">Status</h2>
          <dl class="facts">
            <dt>Stage</dt>
            <dd>{run.current_stage ?? <span class="muted">—</span>}</dd>
            <dt>Issues</dt>
            <dd>
              <Counts counts={status?.issue_counts} />
            </dd>
            <dt>Stages</dt>
            <dd>
              <Counts counts={status?.stage_counts} />
            </dd>
            <dt>Verification</dt>
            <dd data-testid="verification">{status?.latest_verification ? <StatusChip status={status.latest_verification} /> : <span class="muted">not yet</span>}</dd>
            <dt>Gates</dt>
            <dd data-testid="gates">
              {status && Object.keys(status.latest_gate_verdicts ?? {}).length > 0 ? (
                Object.entries(status.latest_gate_verdicts).map(([g, v]) => (
                  <div key={g}>
                    {g}: <StatusChip status={v} />
                  </div>
                ))
              ) : (
                <span class="muted">none yet</span>
              )}
            </dd>
            <dt>Checkpoint</dt>
            <dd>{status?.latest_checkpoint_status ?? <span class="muted">none</span>}</dd>
            <dt>Rooms</dt>
            <dd>
              {run.active_room_ids.length === 0 ? <span class="muted">none active</span> : null}
              {run.active_room_ids.map((id) => (
                <a key={id} class="mono" href={href.room(id)}>
                  {shortId(id)}{" "}
                </a>
              ))}
            </dd>
            <dt>Updated</dt>
            <dd>{timeAgo(run.updated_at)}</dd>
            {run.cancel_reason ? (
              <>
                <dt>Cancelled</dt>
                <dd>{run.cancel_reason}</dd>
              </>
            ) : null}
          </dl>
          <Lines title="Blockers" items={status?.blockers} bad />
          <Lines title="Next actions" items={status?.next_actions} />
          <Lines title="Diagnostics" items={status?.diagnostics} />
        </section>

        <section class="card board-card" aria-labelledby="board-title">
          <h2 id="board-title">Board</h2>
          <Board stages={stages} issues={issues} />
        </section>
      </div>

      <div class="run-grid">
        <section class="card" aria-labelledby="artifacts-title">
          <h2 id="artifacts-title">Artifacts ({artifacts.length})</h2>
          {artifacts.length === 0 ? <p class="muted">None yet.</p> : null}
          <ul class="plain">
            {artifacts.map((a) => (
              <li key={a.id}>
                <details>
                  <summary>
                    <b>{a.artifact_type}</b> v{a.version} <span class="muted">{a.producer_issue_id ? `issue ${titleOf(issues, a.producer_issue_id)}` : a.producer_stage_id ? `stage ${shortId(a.producer_stage_id)}` : "run"} · {clock(a.created_at)}</span>
                  </summary>
                  <pre>{JSON.stringify(a.payload, null, 2)}</pre>
                </details>
              </li>
            ))}
          </ul>
        </section>
        <section class="card" aria-labelledby="review-title">
          <h2 id="review-title">Review</h2>
          {review ? (
            <div data-testid="review">
              <p>{review.plan_summary}</p>
              <Lines title="Issues" items={review.issue_summary} />
              <Lines title="Stages" items={review.stage_summary} />
              <Lines title="Artifacts" items={review.artifact_summary} />
              <Lines title="Checkpoints" items={review.checkpoint_summary} />
              <Lines title="Gates" items={review.gate_summary} />
              <Lines title="Evidence" items={review.evidence_summary} />
              <Lines title="Open risks" items={review.open_risks} bad />
              <Lines title="Blockers" items={review.blockers} bad />
              <Lines title="Next actions" items={review.next_actions} />
            </div>
          ) : (
            <p class="muted">
              The review bundle is read when the run ends or is gated.{" "}
              <button type="button" class="link" onClick={loadReview}>
                Read it now
              </button>
            </p>
          )}
        </section>
      </div>

      <section class="card" aria-labelledby="run-events-title">
        <h2 id="run-events-title">Run events ({events.length})</h2>
        <ol class="run-events mono small" data-testid="run-events">
          {events.slice(-200).map((ev) => (
            <li key={ev.seq}>
              <span class="seq">{ev.seq}</span> <span class="t">{clock(ev.created_at)}</span> <b>{ev.event_type}</b> {oneLine(ev.payload, 200)}
            </li>
          ))}
        </ol>
      </section>
    </section>
  );
}

function titleOf(issues: Issue[], id: string): string {
  return issues.find((i) => i.id === id)?.title ?? shortId(id);
}

function Counts({ counts }: { counts: RunStatus["issue_counts"] | undefined }) {
  if (!counts) return <span class="muted">—</span>;
  const parts = WORK_STATUSES.filter((s) => (counts[s] ?? 0) > 0);
  if (parts.length === 0) return <span class="muted">none</span>;
  return (
    <span class="counts">
      {parts.map((s) => (
        <span key={s}>
          <StatusChip status={s} label={`${counts[s]} ${s}`} />{" "}
        </span>
      ))}
    </span>
  );
}

function Lines({ title, items, bad }: { title: string; items: string[] | undefined; bad?: boolean }) {
  if (!items || items.length === 0) return null;
  return (
    <div class="lines">
      <h3>{title}</h3>
      <ul class={bad ? "bad" : ""}>
        {items.map((l, i) => (
          <li key={i}>{l}</li>
        ))}
      </ul>
    </div>
  );
}

function Board({ stages, issues }: { stages: Stage[]; issues: Issue[] }) {
  const columns = useMemo(() => board(stages, issues), [stages, issues]);
  if (columns.length === 0) return <p class="muted">No plan yet: the supervisor writes stages and issues when the run starts.</p>;
  return (
    <div class="board" data-testid="board">
      {columns.map((col) => (
        <div class="board-col" key={col.stage?.id ?? "loose"} data-testid="board-stage" data-status={col.stage?.status ?? ""}>
          <header>
            <b>{col.stage?.stage_name ?? "No stage"}</b> {col.stage ? <StatusChip status={col.stage.status} /> : null}
            {col.stage && col.stage.depends_on.length > 0 ? <div class="muted small">after {col.stage.depends_on.map((d) => stages.find((s) => s.id === d)?.stage_name ?? shortId(d)).join(", ")}</div> : null}
          </header>
          {col.rows.map((row, r) => (
            <div class="board-row" key={r}>
              {row.map((issue) => (
                <IssueCard key={issue.id} issue={issue} issues={issues} />
              ))}
            </div>
          ))}
          {col.rows.length === 0 ? <div class="muted small">no issues</div> : null}
        </div>
      ))}
    </div>
  );
}

function IssueCard({ issue, issues }: { issue: Issue; issues: Issue[] }) {
  return (
    <article class={`issue status-${issue.status}`} data-testid="board-issue" data-status={issue.status} data-issue-id={issue.id}>
      <header>
        <span class="clip">{issue.title}</span> <StatusChip status={issue.status} />
      </header>
      <div class="muted small">
        {issue.kind}
        {issue.depends_on.length > 0 ? ` · after ${issue.depends_on.map((d) => titleOf(issues, d)).join(", ")}` : ""}
      </div>
      {issue.summary ? <div class="small">{issue.summary}</div> : null}
      {issue.acceptance_criteria.length > 0 ? (
        <details>
          <summary class="small">{issue.acceptance_criteria.length} acceptance criteria</summary>
          <ul class="small">
            {issue.acceptance_criteria.map((c, i) => (
              <li key={i}>{oneLine(c, 300)}</li>
            ))}
          </ul>
        </details>
      ) : null}
      {issue.verdicts && issue.verdicts.length > 0 ? (
        <ul class="small verdicts" data-testid="issue-verdicts">
          {issue.verdicts.map((v, i) => (
            <li key={i} title={v.reason}>
              <StatusChip status={v.verdict} /> {oneLine(v.criterion, 200)}
            </li>
          ))}
        </ul>
      ) : null}
      {issue.assigned_room_id ? (
        <a class="small" href={href.room(issue.assigned_room_id)}>
          room {shortId(issue.assigned_room_id)}
        </a>
      ) : null}
    </article>
  );
}

function RunControls({ identity, run, status, onAct }: { identity: Identity; run: Run; status: RunStatus | null; onAct: (path: string, body?: unknown) => Promise<void> }) {
  const [busy, setBusy] = useState(false);
  const [cancelling, setCancelling] = useState(false);
  const [reason, setReason] = useState("");
  const [gate, setGate] = useState("");
  const [verdict, setVerdict] = useState<string>("pass");
  const [reasons, setReasons] = useState("");
  const done = FINAL.has(run.status);
  const wrap = (path: string, body?: unknown) => async () => {
    setBusy(true);
    try {
      await onAct(path, body);
    } finally {
      setBusy(false);
    }
  };
  const gates = [...new Set([...BUILT_IN_GATES, ...Object.keys(status?.latest_gate_verdicts ?? {})])];
  const any = can(identity, "runStart") || can(identity, "runAdvance") || can(identity, "runCancel") || can(identity, "runGate");
  if (!any) return <p class="muted readonly-note">Read-only token: watching only.</p>;
  return (
    <div class="run-controls" data-testid="run-controls">
      <div class="controls">
        {can(identity, "runStart") ? (
          <button type="button" class="primary" data-testid="run-start" disabled={busy || done} onClick={wrap("start")}>
            Start
          </button>
        ) : null}
        {can(identity, "runAdvance") ? (
          <button type="button" data-testid="run-advance" disabled={busy || done} onClick={wrap("advance")}>
            Advance one step
          </button>
        ) : null}
        {can(identity, "runVerify") ? (
          <>
            <button type="button" disabled={busy || done} onClick={wrap("verify")}>
              Verify
            </button>
            <button type="button" disabled={busy || done} onClick={wrap("gate-check")}>
              Check gates
            </button>
          </>
        ) : null}
        {can(identity, "runCancel") && !cancelling ? (
          <button type="button" class="danger-quiet" data-testid="run-cancel" disabled={busy || done} onClick={() => setCancelling(true)}>
            Cancel run
          </button>
        ) : null}
      </div>
      {cancelling ? (
        <form
          class="inline-form"
          onSubmit={(e) => {
            e.preventDefault();
            setCancelling(false);
            void wrap("cancel", reason.trim() ? { reason: reason.trim() } : {})();
          }}
        >
          <label>
            Reason <input value={reason} onInput={(e) => setReason(e.currentTarget.value)} autoFocus />
          </label>
          <button type="submit" class="danger">
            Confirm cancel
          </button>
          <button type="button" class="quiet" onClick={() => setCancelling(false)}>
            Keep running
          </button>
        </form>
      ) : null}
      {can(identity, "runGate") && !done ? (
        <form
          class="inline-form"
          aria-label="Record a gate verdict"
          onSubmit={(e) => {
            e.preventDefault();
            const list = reasons
              .split("\n")
              .map((l) => l.trim())
              .filter(Boolean);
            void wrap("gates", { gate_name: gate.trim(), verdict, ...(list.length > 0 ? { reasons: list } : {}) })();
          }}
        >
          <label>
            Gate{" "}
            <input list="gate-names" value={gate} required onInput={(e) => setGate(e.currentTarget.value)} placeholder="human_review" />
          </label>
          <datalist id="gate-names">
            {gates.map((g) => (
              <option key={g} value={g} />
            ))}
          </datalist>
          <label>
            Verdict{" "}
            <select value={verdict} onChange={(e) => setVerdict(e.currentTarget.value)}>
              {GATE_VERDICTS.map((v) => (
                <option key={v} value={v}>
                  {v}
                </option>
              ))}
            </select>
          </label>
          <label>
            Reasons <textarea rows={1} value={reasons} onInput={(e) => setReasons(e.currentTarget.value)} placeholder="one per line" />
          </label>
          <button type="submit" disabled={busy || gate.trim() === ""}>
            Record verdict
          </button>
        </form>
      ) : null}
    </div>
  );
}

