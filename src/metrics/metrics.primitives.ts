/**
 * The numbers behind the metrics, kept as plain fields so that recording on
 * a hot path is an integer increment (a counter) or a short bucket search
 * (a histogram), with no label hashing, string building or allocation.
 * prom-client's own `counter.labels(...).inc()` hashes the label values on
 * every call; here a call site resolves its child once and keeps it, and the
 * registry (metrics.registry.ts) reads every child only when scraped.
 */

/** Label names and values of one child; fixed when the child is made. */
export type Labels = Readonly<Record<string, string>>;

/** One counter child: only goes up. */
export class Count {
  n = 0;
  constructor(readonly labels: Labels) {}
}

/** One histogram child over the family's fixed upper bounds (seconds, sizes...). */
export class Histo {
  /** counts[i] observations fell in (bounds[i-1], bounds[i]]; the last slot is above every bound (+Inf). */
  readonly counts: Float64Array;
  sum = 0;

  constructor(
    readonly labels: Labels,
    readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && value > b[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
  }

  get count(): number {
    let n = 0;
    for (const c of this.counts) n += c;
    return n;
  }
}

/** A metric name with its help text and every child made so far, in order of creation. */
export class Family<C> {
  readonly children: C[] = [];
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: "counter" | "histogram",
  ) {}

  add(child: C): C {
    this.children.push(child);
    return child;
  }
}

export class CounterFamily extends Family<Count> {
  constructor(name: string, help: string) {
    super(name, help, "counter");
  }

  child(labels: Labels = {}): Count {
    return this.add(new Count(labels));
  }
}

export class HistogramFamily extends Family<Histo> {
  constructor(
    name: string,
    help: string,
    readonly bounds: readonly number[],
  ) {
    super(name, help, "histogram");
  }

  child(labels: Labels = {}): Histo {
    return this.add(new Histo(labels, this.bounds));
  }
}
