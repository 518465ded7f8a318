/**
 * The tables of one tenant's database. Every tenant has its own SQLite file,
 * so no table carries a tenant column: isolation is the file boundary.
 * JSON columns hold the contract's nested objects verbatim.
 */

import { blob, index, integer, primaryKey, real, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

export const rooms = sqliteTable(
  "rooms",
  {
    id: text("id").primaryKey(),
    status: text("status").notNull(),
    purpose: text("purpose"),
    name: text("name"),
    metadata: text("metadata", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
    actors: text("actors", { mode: "json" }).$type<unknown[]>().notNull(),
    toolPolicy: text("tool_policy", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
    wakePolicy: text("wake_policy", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
    donePolicy: text("done_policy", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
    version: integer("version").notNull(),
    rentedAt: text("rented_at").notNull(),
    updatedAt: text("updated_at").notNull(),
    lastActiveAt: text("last_active_at"),
    releasedAt: text("released_at"),
    lastError: text("last_error", { mode: "json" }).$type<Record<string, unknown> | null>(),
    queuedMessageId: text("queued_message_id"),
    activeTurn: text("active_turn", { mode: "json" }).$type<Record<string, unknown> | null>(),
    usage: text("usage", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
    summaryText: text("summary_text"),
    createdBy: text("created_by").notNull(),
    /** When an idle room falls asleep (idle_timeout_s after its last activity); null unless idle. */
    sleepAt: text("sleep_at"),
    /** When the room is released for inactivity (release_after_s); null while a turn runs or once released. */
    releaseAt: text("release_at"),
    /** Last message seq handed out for this room. */
    lastMessageSeq: integer("last_message_seq").notNull().default(0),
    /** Who answers a message that names no actor: `first_unmuted` or `mentioned_only` (src/room/room.sequence.ts). */
    addressing: text("addressing").notNull().default("first_unmuted"),
    /** `{max_tokens, max_cost_usd}` (either may be null), or null: no budget (src/room/room.budget.ts). */
    budget: text("budget", { mode: "json" }).$type<{ max_tokens: number | null; max_cost_usd: number | null } | null>(),
    /** Refresh summary_text after every this many ended turns; null: only on request (src/room/room.summary.ts). */
    summaryEveryTurns: integer("summary_every_turns"),
    /** When summary_text was last written. */
    summaryUpdatedAt: text("summary_updated_at"),
    /** The room's newest room_usage id when summary_text was written: turns after it count towards summary_every_turns. */
    summaryUsageMark: integer("summary_usage_mark"),
  },
  (t) => [
    index("rooms_status_rented_idx").on(t.status, t.rentedAt, t.id),
    index("rooms_rented_idx").on(t.rentedAt, t.id),
    index("rooms_sleep_at_idx").on(t.sleepAt),
    index("rooms_release_at_idx").on(t.releaseAt),
  ],
);

export const roomMessages = sqliteTable(
  "room_messages",
  {
    id: text("id").primaryKey(),
    roomId: text("room_id")
      .notNull()
      .references(() => rooms.id, { onDelete: "cascade" }),
    seq: integer("seq").notNull(),
    kind: text("kind").notNull(),
    authorKind: text("author_kind").notNull(),
    authorId: text("author_id").notNull(),
    actorKey: text("actor_key"),
    content: text("content").notNull(),
    metadata: text("metadata", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
    status: text("status").notNull(),
    turnId: text("turn_id"),
    createdAt: text("created_at").notNull(),
    /** The turns a prompt asked for and how far they got (src/room/room.sequence.ts); null on rows older than it. */
    sequence: text("sequence", { mode: "json" }).$type<object | null>(),
  },
  (t) => [uniqueIndex("room_messages_room_seq_uq").on(t.roomId, t.seq)],
);

/** Named texts attached to a room that every actor's turn sees (src/room/room.context.ts); a detached one is deleted. */
export const roomContext = sqliteTable(
  "room_context",
  {
    id: text("id").primaryKey(),
    roomId: text("room_id")
      .notNull()
      .references(() => rooms.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    content: text("content").notNull(),
    createdBy: text("created_by").notNull(),
    createdAt: text("created_at").notNull(),
  },
  (t) => [index("room_context_room_idx").on(t.roomId, t.createdAt)],
);

/**
 * The event log's streams: one row per (kind, stream id), holding the last
 * seq handed out, so appending reads and writes this small row and nothing
 * of the stream owner's (a room row, a run row). `closed_seq` is the seq of
 * the stream's terminal event once it has one (src/events/event.stream.ts).
 * WITHOUT ROWID (migrations/0003, hand-written: drizzle's schema cannot say
 * so): the key is stored once.
 */
export const eventStreams = sqliteTable(
  "event_streams",
  {
    kind: text("kind").notNull(),
    streamId: text("stream_id").notNull(),
    lastSeq: integer("last_seq").notNull(),
    closedSeq: integer("closed_seq"),
  },
  (t) => [primaryKey({ columns: [t.kind, t.streamId] })],
);

/** A stored event's columns: stream_events and its journal have the same rows (fresh builders per table). */
function eventRowColumns() {
  return {
    kind: text("kind").notNull(),
    streamId: text("stream_id").notNull(),
    seq: integer("seq").notNull(),
    eventType: text("event_type").notNull(),
    agentKey: text("agent_key"),
    turnId: text("turn_id"),
    payload: text("payload").notNull(),
    createdAt: text("created_at").notNull(),
  };
}

/**
 * The durable event log of every stream kind (rooms, factory runs, ...).
 * `seq` is taken from event_streams in the same transaction as the insert,
 * so it is gap-free per stream. The public id and the wire record are the
 * kind's (a room's `<room_id>:<seq>`), derived, not stored. `agent_key` and
 * `turn_id` are optional attribution any kind may use (who produced the
 * event, which unit of work it belongs to); the payload is in the kind's
 * stored form (its codec may keep text once, elsewhere). WITHOUT ROWID
 * (migrations/0001 and 0003, hand-written), so its key is stored once, in
 * the table's own b-tree.
 */
export const streamEvents = sqliteTable("stream_events", eventRowColumns(), (t) => [primaryKey({ columns: [t.kind, t.streamId, t.seq] })]);

/**
 * Where events are appended: stream_events' rows, in the order they were
 * written (a rowid table with no other index), so the events of one commit
 * share pages instead of each dirtying its own stream's page of
 * stream_events. A stream's live rows are its rows here and in
 * stream_events together; the event log moves this table's rows into
 * stream_events in bulk (a stream's rows then go in together) once it holds
 * more than a bound, and when a file is first written after it opens
 * (src/events/event.store.ts, `settleJournal`). Small by construction, so a
 * read of one stream scans it whole.
 */
export const streamEventsJournal = sqliteTable("stream_events_journal", eventRowColumns());

/**
 * Compacted history: when a kind's compaction event is appended (a room's
 * `agent:turn_end`), the stream's events up to it move out of stream_events
 * into one row here, their stored rows deflated together
 * (src/events/event.segment.ts). A stream's segments cover seqs 1..n without
 * gap or overlap and every live stream_events row is newer, so a reader
 * takes segments first, then live rows. A rowid table on purpose: a WITHOUT
 * ROWID row longer than about 1 KB spills into overflow pages, and a turn's
 * segment usually is.
 */
export const streamEventSegments = sqliteTable(
  "stream_event_segments",
  {
    id: integer("id").primaryKey(),
    kind: text("kind").notNull(),
    streamId: text("stream_id").notNull(),
    firstSeq: integer("first_seq").notNull(),
    lastSeq: integer("last_seq").notNull(),
    events: blob("events", { mode: "buffer" }).notNull(),
  },
  (t) => [uniqueIndex("stream_event_segments_stream_last_uq").on(t.kind, t.streamId, t.lastSeq)],
);

/** One row per turn: the worker's durable record of what it started and how it ended. */
export const roomTurns = sqliteTable(
  "room_turns",
  {
    id: text("id").primaryKey(),
    roomId: text("room_id")
      .notNull()
      .references(() => rooms.id, { onDelete: "cascade" }),
    messageId: text("message_id").notNull(),
    agentId: text("agent_id").notNull(),
    status: text("status").notNull(),
    startedAt: text("started_at").notNull(),
    endedAt: text("ended_at"),
    usage: text("usage", { mode: "json" }).$type<Record<string, unknown> | null>(),
    error: text("error", { mode: "json" }).$type<Record<string, unknown> | null>(),
  },
  (t) => [index("room_turns_status_idx").on(t.status), index("room_turns_room_idx").on(t.roomId, t.startedAt)],
);

/**
 * Idempotency keys, written in the same transaction as the effect they guard.
 * Scope: caller + method + route + key (the tenant is the file).
 */
export const idempotencyKeys = sqliteTable(
  "idempotency_keys",
  {
    scope: text("scope").primaryKey(),
    requestHash: text("request_hash").notNull(),
    status: integer("status").notNull(),
    body: text("body").notNull(),
    createdAt: text("created_at").notNull(),
    expiresAt: text("expires_at").notNull(),
  },
  (t) => [index("idempotency_keys_expires_idx").on(t.expiresAt)],
);

/**
 * The tenant's usage per UTC day and model: what GET /llm/usage reports, and
 * (summed over the day's models) what the optional daily token budget
 * counts. One upsert per turn or summary, in its final transaction. Rows
 * written before usage was kept per model have provider and model `""`.
 */
export const tokenUsageDaily = sqliteTable(
  "token_usage_daily",
  {
    day: text("day").notNull(),
    provider: text("provider").notNull().default(""),
    model: text("model").notNull().default(""),
    input: integer("input").notNull().default(0),
    output: integer("output").notNull().default(0),
    /** Input + output (as the provider counts them): what the daily budget counts. */
    tokens: integer("tokens").notNull().default(0),
    costUsd: real("cost_usd").notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.day, t.provider, t.model] })],
);

/**
 * One row per model call a room paid for: every ended turn (written in the
 * transaction of its `agent:turn_end`) and every summary made by a model.
 * GET /llm/room/:id/usage sums these by actor and by model; the room record's
 * `usage` is their running total.
 */
export const roomUsage = sqliteTable(
  "room_usage",
  {
    id: integer("id").primaryKey(),
    roomId: text("room_id")
      .notNull()
      .references(() => rooms.id, { onDelete: "cascade" }),
    /** `turn` or `summary`. */
    kind: text("kind").notNull(),
    turnId: text("turn_id"),
    messageId: text("message_id"),
    agentId: text("agent_id").notNull(),
    provider: text("provider").notNull(),
    model: text("model").notNull(),
    input: integer("input").notNull(),
    output: integer("output").notNull(),
    totalTokens: integer("total_tokens").notNull(),
    costUsd: real("cost_usd").notNull(),
    createdAt: text("created_at").notNull(),
  },
  (t) => [index("room_usage_room_idx").on(t.roomId, t.id)],
);


/**
 * Factory runs (FACTORY.md): a run owns its stages, issues, artifacts,
 * checkpoints and gate verdicts; all rows live in the tenant's file and go
 * with the run. `ord` is a per-run insertion counter that orders and pages
 * the child lists. Every supervisor step writes these rows before it acts.
 */
export const factoryRuns = sqliteTable(
  "factory_runs",
  {
    id: text("id").primaryKey(),
    status: text("status").notNull(),
    workflowKind: text("workflow_kind").notNull(),
    title: text("title").notNull(),
    sourceBrief: text("source_brief").notNull(),
    source: text("source", { mode: "json" }).$type<{ kind: string; format: string; content: string }>().notNull(),
    subjectType: text("subject_type"),
    subjectId: text("subject_id"),
    currentStage: text("current_stage"),
    activeRoomIds: text("active_room_ids", { mode: "json" }).$type<string[]>().notNull(),
    /** The run's settings: actors for its rooms, human_review, token_budget, max_in_flight. */
    settings: text("settings", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
    planSummary: text("plan_summary"),
    diagnostics: text("diagnostics", { mode: "json" }).$type<string[]>().notNull(),
    usage: text("usage", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
    cancelReason: text("cancel_reason"),
    /** Whether a supervisor should be working the run (set by start, cleared at a final status). */
    started: integer("started", { mode: "boolean" }).notNull().default(false),
    version: integer("version").notNull(),
    lastOrd: integer("last_ord").notNull().default(0),
    createdBy: text("created_by").notNull(),
    createdAt: text("created_at").notNull(),
    updatedAt: text("updated_at").notNull(),
  },
  (t) => [index("factory_runs_status_created_idx").on(t.status, t.createdAt, t.id), index("factory_runs_created_idx").on(t.createdAt, t.id)],
);

export const factoryStages = sqliteTable(
  "factory_stages",
  {
    id: text("id").primaryKey(),
    runId: text("run_id")
      .notNull()
      .references(() => factoryRuns.id, { onDelete: "cascade" }),
    ord: integer("ord").notNull(),
    key: text("key").notNull(),
    stageName: text("stage_name").notNull(),
    status: text("status").notNull(),
    dependsOn: text("depends_on", { mode: "json" }).$type<string[]>().notNull(),
    assignedRoomId: text("assigned_room_id"),
    summary: text("summary"),
    verificationSummary: text("verification_summary"),
    notes: text("notes", { mode: "json" }).$type<string[]>().notNull(),
    version: integer("version").notNull(),
    createdAt: text("created_at").notNull(),
    updatedAt: text("updated_at").notNull(),
  },
  (t) => [uniqueIndex("factory_stages_run_ord_uq").on(t.runId, t.ord)],
);

export const factoryIssues = sqliteTable(
  "factory_issues",
  {
    id: text("id").primaryKey(),
    runId: text("run_id")
      .notNull()
      .references(() => factoryRuns.id, { onDelete: "cascade" }),
    stageId: text("stage_id")
      .notNull()
      .references(() => factoryStages.id, { onDelete: "cascade" }),
    ord: integer("ord").notNull(),
    key: text("key").notNull(),
    title: text("title").notNull(),
    kind: text("kind").notNull(),
    body: text("body").notNull(),
    status: text("status").notNull(),
    dependsOn: text("depends_on", { mode: "json" }).$type<string[]>().notNull(),
    acceptanceCriteria: text("acceptance_criteria", { mode: "json" }).$type<string[]>().notNull(),
    verificationRequirements: text("verification_requirements", { mode: "json" }).$type<string[]>().notNull(),
    assignedRoomId: text("assigned_room_id"),
    /** The task message of the current attempt in the assigned room. */
    dispatchMessageId: text("dispatch_message_id"),
    attempts: integer("attempts").notNull().default(0),
    summary: text("summary"),
    notes: text("notes", { mode: "json" }).$type<string[]>().notNull(),
    /** Per-criterion verdicts of the last check: [{criterion, verdict, reason}]. */
    verdicts: text("verdicts", { mode: "json" }).$type<Array<Record<string, unknown>>>().notNull(),
    version: integer("version").notNull(),
    createdAt: text("created_at").notNull(),
    updatedAt: text("updated_at").notNull(),
  },
  (t) => [uniqueIndex("factory_issues_run_ord_uq").on(t.runId, t.ord), index("factory_issues_run_status_idx").on(t.runId, t.status)],
);

export const factoryArtifacts = sqliteTable(
  "factory_artifacts",
  {
    id: text("id").primaryKey(),
    runId: text("run_id")
      .notNull()
      .references(() => factoryRuns.id, { onDelete: "cascade" }),
    ord: integer("ord").notNull(),
    artifactType: text("artifact_type").notNull(),
    version: integer("version").notNull(),
    producerStageId: text("producer_stage_id"),
    producerIssueId: text("producer_issue_id"),
    payload: text("payload", { mode: "json" }).$type<unknown>().notNull(),
    createdAt: text("created_at").notNull(),
  },
  (t) => [uniqueIndex("factory_artifacts_run_ord_uq").on(t.runId, t.ord), uniqueIndex("factory_artifacts_run_type_version_uq").on(t.runId, t.artifactType, t.version)],
);

export const factoryCheckpoints = sqliteTable(
  "factory_checkpoints",
  {
    id: text("id").primaryKey(),
    runId: text("run_id")
      .notNull()
      .references(() => factoryRuns.id, { onDelete: "cascade" }),
    ord: integer("ord").notNull(),
    stageId: text("stage_id"),
    status: text("status").notNull(),
    branchName: text("branch_name").notNull(),
    worktreePath: text("worktree_path").notNull(),
    baseRef: text("base_ref").notNull(),
    headSha: text("head_sha").notNull(),
    includedIssueIds: text("included_issue_ids", { mode: "json" }).$type<string[]>().notNull(),
    mergedIssueIds: text("merged_issue_ids", { mode: "json" }).$type<string[]>().notNull(),
    conflictIssueIds: text("conflict_issue_ids", { mode: "json" }).$type<string[]>().notNull(),
    notes: text("notes", { mode: "json" }).$type<string[]>().notNull(),
    createdAt: text("created_at").notNull(),
  },
  (t) => [uniqueIndex("factory_checkpoints_run_ord_uq").on(t.runId, t.ord)],
);

export const factoryGateVerdicts = sqliteTable(
  "factory_gate_verdicts",
  {
    id: text("id").primaryKey(),
    runId: text("run_id")
      .notNull()
      .references(() => factoryRuns.id, { onDelete: "cascade" }),
    ord: integer("ord").notNull(),
    gateName: text("gate_name").notNull(),
    verdict: text("verdict").notNull(),
    reasons: text("reasons", { mode: "json" }).$type<string[]>().notNull(),
    /** `evaluated` by gate-check, or `recorded` by POST /gates (a person or another system). */
    source: text("source").notNull(),
    createdBy: text("created_by").notNull(),
    createdAt: text("created_at").notNull(),
  },
  (t) => [uniqueIndex("factory_gate_verdicts_run_ord_uq").on(t.runId, t.ord)],
);
