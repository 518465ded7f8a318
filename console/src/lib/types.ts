/** The wire records the console reads (ROOMS.md, FACTORY.md). Fields the server may add are ignored. */
export type Access = "read" | "edit" | "full" | "root";

export const ROOM_STATUSES = ["rented", "active", "idle", "sleeping", "releasing", "released", "failed"] as const;
export type RoomStatus = (typeof ROOM_STATUSES)[number];

export interface Usage {
  input: number;
  output: number;
  totalTokens: number;
  cost: { total: number };
}

export interface Actor {
  agent_id: string;
  role: string;
  adapter: string;
  provider: string;
  model: string;
  skills: string[];
  system_prompt: string | null;
  muted: boolean;
  options: Record<string, unknown>;
}

export interface Room {
  id: string;
  tenant: string;
  status: RoomStatus;
  purpose: string | null;
  metadata: Record<string, unknown>;
  actors: Actor[];
  tool_policy: { allowed_tools: string[]; max_tool_calls: number };
  wake_policy: { mode: "on_message" | "manual"; idle_timeout_s: number; release_after_s: number };
  done_policy: { max_turn_s: number; max_output_tokens: number; max_steps: number };
  version: number;
  rented_at: string;
  updated_at: string;
  last_active_at: string | null;
  released_at: string | null;
  last_error: { code: string; message: string; at: string; turn_id: string | null } | null;
  queued_message_id: string | null;
  active_turn: { id: string; message_id: string; agent_id: string; started_at: string } | null;
  usage: Usage;
  summary_text: string | null;
}

export interface Message {
  id: string;
  room_id: string;
  seq: number;
  kind: string;
  author_kind: "user" | "agent" | "system";
  author_id: string;
  actor_key: string | null;
  content: string;
  metadata: Record<string, unknown>;
  status: string;
  turn_id: string | null;
  created_at: string;
}

export interface RoomEvent {
  id: string;
  seq: number;
  room_id: string;
  event_type: string;
  agent_key: string | null;
  turn_id: string | null;
  payload: Record<string, unknown>;
  created_at: string;
}

export interface ModelInfo {
  provider: string;
  model: string;
  name: string;
  api: string;
  tools: boolean;
}

export interface Identity {
  tenant: string;
  sub: string;
  access: Access;
  /** Epoch seconds, when known. */
  expiresAt: number | null;
  /** Where the identity came from: the server's introspection, or the token's own (unverified) claims. */
  source: "introspect" | "claims";
}

// --- factory (FACTORY.md) ---

export const RUN_STATUSES = ["pending", "planning", "running", "gated", "completed", "failed", "cancelled"] as const;
export const WORK_STATUSES = ["pending", "ready", "running", "passed", "failed", "blocked"] as const;
export type WorkStatus = (typeof WORK_STATUSES)[number];

export interface Run {
  id: string;
  run_id: string;
  status: string;
  workflow_kind: string | null;
  title: string | null;
  source_brief: string | null;
  source?: { kind: string; format?: string; content?: string } | null;
  subject_type?: string | null;
  subject_id?: string | null;
  current_stage: string | null;
  active_room_ids: string[];
  created_at: string;
  updated_at: string;
  cancel_reason: string | null;
}

export interface Stage {
  id: string;
  run_id: string;
  stage_name: string;
  status: string;
  depends_on: string[];
  assigned_room_id: string | null;
  summary: string | null;
  verification_summary: string | null;
  notes: unknown[];
}

export interface Issue {
  id: string;
  run_id: string;
  stage_id: string | null;
  title: string;
  kind: string;
  status: string;
  depends_on: string[];
  acceptance_criteria: unknown[];
  verification_requirements: unknown[];
  assigned_room_id: string | null;
  summary: string | null;
  notes: unknown[];
  /** The latest check's verdict per acceptance criterion (absent on servers that do not send it). */
  verdicts?: { criterion: string; verdict: string; reason: string }[];
}

export interface Artifact {
  id: string;
  run_id: string;
  artifact_type: string;
  version: number;
  producer_stage_id: string | null;
  producer_issue_id: string | null;
  payload: unknown;
  created_at: string;
}

export type Counts = Partial<Record<WorkStatus, number>>;

export interface RunStatus {
  run_id: string;
  status: string;
  current_stage: string | null;
  stage_counts: Counts;
  issue_counts: Counts;
  latest_checkpoint_status: string | null;
  latest_checkpoint_id: string | null;
  latest_verification: "passed" | "failed" | "skipped" | null;
  latest_verification_success: boolean | null;
  latest_verification_artifact_id: string | null;
  latest_gate_verdicts: Record<string, string>;
  blockers: string[];
  diagnostics: string[];
  next_actions: string[];
}

export interface Review {
  id: string;
  run_id: string;
  plan_summary: string;
  artifact_summary: string[];
  checkpoint_summary: string[];
  issue_summary: string[];
  stage_summary: string[];
  gate_summary: string[];
  evidence_summary: string[];
  blockers: string[];
  diagnostics: string[];
  next_actions: string[];
  open_risks: string[];
}

export const GATE_VERDICTS = ["pass", "fail", "needs_review", "needs_further_review"] as const;
