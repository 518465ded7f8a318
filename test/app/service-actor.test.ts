/**
 * Every room verb checks its actor's access itself, so the service can be
 * called by the system (recovery, sweeps, the factory supervisor) without a
 * token, and a user's call is refused by the verb even when no HTTP
 * middleware stood in front of it.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { systemActor, userActor, type Actor } from "../../src/auth/actor.js";
import type { Access } from "../../src/auth/principal.js";
import { AppError } from "../../src/errors.js";
import type { RoomCtx } from "../../src/room/room.service.js";
import { eventually, startTestServer, type TestServer } from "../support/harness.js";

let t: TestServer;
beforeEach(async () => {
  t = await startTestServer();
});
afterEach(() => t.close());

const user = (access: Access, tenant = "acme"): Actor => userActor({ tenant, sub: `${access}-user`, access, exp: 0, operator: false });
const ctx = (actor: Actor): RoomCtx => ({ tdb: t.server.tenants.get("acme"), actor });

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof AppError) return err.code;
    throw err;
  }
  return "allowed";
}

async function refusalAsync(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof AppError) return err.code;
    throw err;
  }
  return "allowed";
}

describe("the actor of a room verb", () => {
  it("refuses a user below the verb's access, inside the service, and lets the system actor do it", async () => {
    const rooms = t.server.rooms;
    expect(refusal(() => rooms.rent(ctx(user("edit")), {}))).toBe("FORBIDDEN");
    expect(refusal(() => rooms.rent(ctx(user("read")), {}))).toBe("FORBIDDEN");
    const room = rooms.rent(ctx(systemActor("test")), { purpose: "by the system" });
    expect(room.status).toBe("rented");

    expect(await refusalAsync(() => rooms.postMessage(ctx(user("read")), room.id, { content: "hi" }))).toBe("FORBIDDEN");
    expect(refusal(() => rooms.patch(ctx(user("read")), room.id, { purpose: "x" }, undefined))).toBe("FORBIDDEN");
    expect(refusal(() => rooms.wake(ctx(user("read")), room.id, undefined))).toBe("FORBIDDEN");
    expect(await refusalAsync(() => rooms.interrupt(ctx(user("read")), room.id, {}))).toBe("FORBIDDEN");
    expect(await refusalAsync(() => rooms.release(ctx(user("edit")), room.id, undefined))).toBe("FORBIDDEN");
    // Nothing a refused call asked for happened.
    expect(rooms.get(ctx(user("read")), room.id)).toMatchObject({ status: "rented", version: 1, purpose: "by the system" });
    expect((await rooms.history(ctx(user("read")), room.id, { limit: 50 })).messages.items).toHaveLength(0);

    // The system actor runs a turn and releases the room; its messages carry it as the author.
    const sent = await rooms.postMessage(ctx(systemActor("factory")), room.id, { content: "hello" });
    expect(sent.message.author_id).toBe("system:factory");
    await eventually(() => rooms.get(ctx(user("read")), room.id).status === "idle", 5000, "the system's turn to end");
    const released = await rooms.release(ctx(systemActor("factory")), room.id, "done");
    expect(released.status).toBe("released");
  });

  it("refuses a user whose token names another tenant than the file it is handed", () => {
    const room = t.server.rooms.rent(ctx(systemActor("test")), {});
    expect(refusal(() => t.server.rooms.get(ctx(user("root", "globex")), room.id))).toBe("FORBIDDEN");
    expect(refusal(() => t.server.rooms.list(ctx(user("root", "globex")), { limit: 10 }))).toBe("FORBIDDEN");
    expect(t.server.rooms.get(ctx(user("read", "acme")), room.id).id).toBe(room.id);
  });

  it("a user with enough access passes the verb's own check", () => {
    const room = t.server.rooms.rent(ctx(user("full")), { purpose: "mine" });
    expect(room.status).toBe("rented");
    expect(t.server.rooms.patch(ctx(user("edit")), room.id, { purpose: "changed" }, 1).version).toBe(2);
  });
});
