/** Hash routes: the page is one file at /console, so views live after the '#'. Tokens never go here. */
import { useEffect, useState } from "preact/hooks";

export type Route =
  | { name: "rooms" }
  | { name: "rent" }
  | { name: "room"; id: string }
  | { name: "runs" }
  | { name: "run"; id: string };

export function parseHash(hash: string): Route {
  const parts = hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  if (parts[0] === "rooms" && parts[1] === "new") return { name: "rent" };
  if (parts[0] === "rooms" && parts[1]) return { name: "room", id: parts[1] };
  if (parts[0] === "runs" && parts[1]) return { name: "run", id: parts[1] };
  if (parts[0] === "runs") return { name: "runs" };
  return { name: "rooms" };
}

export const href = {
  rooms: () => "#/rooms",
  rent: () => "#/rooms/new",
  room: (id: string) => `#/rooms/${encodeURIComponent(id)}`,
  runs: () => "#/runs",
  run: (id: string) => `#/runs/${encodeURIComponent(id)}`,
};

export function go(to: string): void {
  if (location.hash !== to) location.hash = to;
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(location.hash));
  useEffect(() => {
    const on = () => setRoute(parseHash(location.hash));
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return route;
}
