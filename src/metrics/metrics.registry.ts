/**
 * The Prometheus side: a prom-client Registry per server that reads the
 * recorder's numbers and the scrape-time gauges only when scraped, plus
 * prom-client's process metrics (event-loop lag, heap, RSS, CPU, handles).
 * prom-client formats and escapes the exposition text; what it collects is
 * read here from plain fields, so recording costs the hot paths nothing but
 * increments (see metrics.primitives.ts).
 *
 * Gauges are read at scrape time from state that exists anyway: rooms by
 * status from the tenant files open at that moment (one GROUP BY per file),
 * followers from the event bus, open files from the tenant registry.
 */
import { createRequire } from "node:module";
import { Registry, type Metric } from "prom-client";
import type { TenantDb } from "../storage/tenant-db.js";
import { HistogramFamily, type CounterFamily } from "./metrics.primitives.js";
import type { Recorder } from "./metrics.recorder.js";
import { ROOM_STATUSES_COUNTED, roomCountsByStatus } from "./metrics.store.js";

/** What the scrape-time gauges read; every member is called only while scraping. */
export interface MetricsSources {
  /** Handles of the tenant files open now, without opening any or counting as their use. */
  openTenantFiles: () => TenantDb[];
  /** Live event followers (subscribers of the event bus). */
  followers: () => number;
  /** Turns a worker is running now. */
  turnsRunning: () => number;
  /** Whether the operator's global stop is on. */
  globalStop: () => boolean;
}

type LabelValue = string | number;
interface Sample {
  value: number;
  labels: Record<string, LabelValue>;
  metricName?: string;
}

/**
 * One metric as prom-client's Registry reads it (`name`, `help`, `type`,
 * `get()`): the shape its own Counter and Histogram have, filled from our
 * numbers instead of its per-label hash maps.
 */
class Collector {
  readonly aggregator = "sum";
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: "counter" | "gauge" | "histogram",
    private readonly read: () => Sample[],
  ) {}

  async get() {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.read() };
  }

  /** Registry.resetMetrics() would call it; these numbers belong to the recorder and are never reset. */
  reset(): void {}
}

function counterSamples(f: CounterFamily): Sample[] {
  return f.children.map((c) => ({ value: c.n, labels: { ...c.labels } }));
}

function histogramSamples(f: HistogramFamily): Sample[] {
  const out: Sample[] = [];
  for (const h of f.children) {
    let acc = 0;
    h.bounds.forEach((le, i) => {
      acc += h.counts[i]!;
      out.push({ metricName: `${f.name}_bucket`, labels: { ...h.labels, le }, value: acc });
    });
    acc += h.counts[h.bounds.length]!;
    out.push({ metricName: `${f.name}_bucket`, labels: { ...h.labels, le: "+Inf" }, value: acc });
    out.push({ metricName: `${f.name}_sum`, labels: { ...h.labels }, value: h.sum });
    out.push({ metricName: `${f.name}_count`, labels: { ...h.labels }, value: acc });
  }
  return out;
}

/**
 * Process metrics are the process's, not a server's: registered once, on the
 * first scrape (so a process nobody scrapes pays nothing for them), and
 * shared by every server the process builds (tests build many).
 */
let processRegistry: Registry | null = null;

/**
 * How often the event-loop delay monitor samples (prom-client's default is
 * 10 ms). Each sample is a timer that wakes an idle loop: on a 2-core VM
 * prom-client's process metrics added 6.5 ms of CPU per second to an
 * otherwise idle node process at 10 ms and 0.9 ms at 100 ms; 6.5 ms/s is 2%
 * of a bench server busy for a third of a core (`npm run bench -- --only
 * metrics` measures it as "idle"). Ten samples a second still feed the
 * nodejs_eventloop_lag_p99_seconds alert (> 0.1 s).
 */
export const EVENT_LOOP_SAMPLE_MS = 100;

/**
 * prom-client's default process metrics, all but one: `gc`, the GC duration
 * histogram, observes every garbage collection through a PerformanceObserver,
 * and on the read path (many short-lived objects, many scavenges) it was the
 * measurable part of recording's cost: `npm run bench -- --only metrics`,
 * GET /llm/room/:id, recording on ÷ off 1.031 and 1.036 with it, 1.016
 * without it (1.013 without any process metric). prom-client has no option to
 * leave one out, so its collectors are called one by one (these are the
 * modules its collectDefaultMetrics calls, prom-client 15.1).
 */
const PROCESS_COLLECTORS = [
  "processCpuTotal",
  "processStartTime",
  "osMemoryHeap",
  "processOpenFileDescriptors",
  "processMaxFileDescriptors",
  "eventLoopLag",
  "processResources",
  "processHandles",
  "processRequests",
  "heapSizeAndUsed",
  "heapSpacesSizeAndUsed",
  "version",
] as const;

type ProcessCollector = (registry: Registry, config: { eventLoopMonitoringPrecision: number }) => void;

function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    const load = createRequire(import.meta.url);
    for (const name of PROCESS_COLLECTORS) {
      if (name === "processResources" && typeof process.getActiveResourcesInfo !== "function") continue;
      (load(`prom-client/lib/metrics/${name}.js`) as ProcessCollector)(processRegistry, { eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
    }
  }
  return processRegistry;
}

export class MetricsRegistry {
  readonly #registry = new Registry();

  constructor(recorder: Recorder, sources: MetricsSources) {
    const add = (c: Collector) => this.#registry.registerMetric(c as unknown as Metric);
    for (const f of recorder.families()) {
      add(new Collector(f.name, f.help, f.type, f instanceof HistogramFamily ? () => histogramSamples(f) : () => counterSamples(f)));
    }
    add(
      new Collector("roomservice_rooms", "Rooms by status in the tenant files open at scrape time (a tenant whose file is closed while idle is not counted).", "gauge", () => {
        const totals = new Map<string, number>(ROOM_STATUSES_COUNTED.map((s) => [s, 0]));
        for (const t of sources.openTenantFiles()) {
          for (const { status, n } of roomCountsByStatus(t)) totals.set(status, (totals.get(status) ?? 0) + n);
        }
        return [...totals].map(([status, n]) => ({ value: n, labels: { status } }));
      }),
    );
    add(new Collector("roomservice_tenant_files_open", "Tenant SQLite files open now.", "gauge", () => [{ value: sources.openTenantFiles().length, labels: {} }]));
    add(new Collector("roomservice_sse_followers", "Event-stream followers connected now.", "gauge", () => [{ value: sources.followers(), labels: {} }]));
    add(new Collector("roomservice_turns_running", "Turns running now.", "gauge", () => [{ value: sources.turnsRunning(), labels: {} }]));
    add(new Collector("roomservice_global_stop_active", "1 while the operator's global stop keeps new turns from starting.", "gauge", () => [{ value: sources.globalStop() ? 1 : 0, labels: {} }]));
  }

  get contentType(): string {
    return this.#registry.contentType;
  }

  /** The exposition text: this server's metrics, then the process's. */
  async scrape(): Promise<string> {
    const [own, proc] = await Promise.all([this.#registry.metrics(), processMetrics().metrics()]);
    return `${own}\n${proc}`;
  }
}
