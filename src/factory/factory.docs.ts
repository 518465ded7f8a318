/**
 * The markdown sections of `/docs/llm/factory` that describe the decision
 * rules: statuses, planner syntax, verification rules and gates. Each comes
 * from the module that implements it, so the page cannot drift from the code.
 */
import { GATES_DOC } from "./factory.gates.js";
import { PLANNER_SYNTAX_DOC } from "./factory.plan.js";
import { VERIFICATION_RULES_DOC } from "./factory.verify.js";

export { GATES_DOC } from "./factory.gates.js";
export { PLANNER_SYNTAX_DOC, PLANNER_SYNTAX_EXAMPLE } from "./factory.plan.js";
export { VERIFICATION_RULES_DOC } from "./factory.verify.js";

export const STATUSES_DOC = `## Statuses

### Run

| Status | Meaning | Next |
| --- | --- | --- |
| \`pending\` | created, not started | \`POST /llm/factory/runs/{id}/start\` (or \`/advance\` for one step) |
| \`planning\` | the source is being turned into stages and issues | \`running\`, or \`failed\` when no valid plan can be made |
| \`running\` | issues are being dispatched to rooms, checked and verified | \`completed\`, \`gated\` or \`failed\` once the gates are evaluated |
| \`gated\` | a gate needs a person (\`needs_review\`) or more evidence (\`needs_further_review\`) | \`POST /llm/factory/runs/{id}/gates\` with \`pass\` completes it, with \`fail\` fails it |
| \`completed\` | every gate passed | final |
| \`failed\` | planning failed, an issue failed after its retries, or a gate failed | final |
| \`cancelled\` | \`POST /llm/factory/runs/{id}/cancel\` from any state that is not final | final |

A restarted server resumes every \`planning\` and \`running\` run where it stood.

### Stage and issue

| Status | Meaning |
| --- | --- |
| \`pending\` | waiting for its dependencies |
| \`ready\` | every dependency passed; it can be dispatched |
| \`running\` | a room is working on it (\`assigned_room_id\`) |
| \`passed\` | its output met its acceptance criteria (for a stage: all its issues passed) |
| \`failed\` | its room failed after the allowed attempts, or its output failed a criterion |
| \`blocked\` | a dependency failed or was blocked, so it can never start |

An issue waits for the issues in its \`depends_on\` and for every issue of the
stages its stage depends on.
`;

/** The sections in page order. */
export const FACTORY_DOC_SECTIONS: readonly { id: string; title: string; markdown: string }[] = [
  { id: "statuses", title: "Statuses", markdown: STATUSES_DOC },
  { id: "planner-syntax", title: "Planner syntax", markdown: PLANNER_SYNTAX_DOC },
  { id: "verification-rules", title: "Verification rules", markdown: VERIFICATION_RULES_DOC },
  { id: "gates", title: "Gates", markdown: GATES_DOC },
];
