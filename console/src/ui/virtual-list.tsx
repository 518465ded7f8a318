/**
 * A scroll container that renders only the rows in view (plus a margin), so
 * a room with thousands of events stays as light as one with ten. Rows may
 * differ in height: each rendered row is measured (ResizeObserver) and rows
 * never rendered count at `estimate`. With `follow`, a list scrolled to its
 * end stays at its end as rows are added or grow (a streaming answer), and
 * a list scrolled up stays where it is: a row above the view that changes
 * height moves the scroll position by the same amount, so nothing jumps.
 */
import type { ComponentChildren, HTMLAttributes, Ref } from "preact";
import { useCallback, useEffect, useImperativeHandle, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";

export interface VirtualListHandle {
  scrollToIndex(index: number): void;
  scrollToEnd(): void;
}

export interface VirtualListProps<T> {
  items: readonly T[];
  /** Changes whenever the items (or anything a row shows) change, since items are mutated in place. */
  version: number;
  itemKey(item: T): string;
  estimate: number;
  renderItem(item: T, index: number): ComponentChildren;
  follow?: boolean;
  overscanPx?: number;
  class?: string;
  handle?: Ref<VirtualListHandle>;
  /** Attributes for the scroll container (role, aria-*, tabIndex, onKeyDown...). */
  attrs?: HTMLAttributes<HTMLDivElement>;
  empty?: ComponentChildren;
  testId?: string;
}

/** Index of the first offset >= y (offsets ascending). */
function lowerBound(offsets: Float64Array, y: number): number {
  let lo = 0;
  let hi = offsets.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (offsets[mid]! < y) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** One positioned row, measured while it is mounted. */
function Row({ rowKey, top, observer, children }: { rowKey: string; top: number; observer: ResizeObserver | null; children: ComponentChildren }) {
  const el = useRef<HTMLDivElement>(null);
  useLayoutEffect(() => {
    const node = el.current;
    if (!node || !observer) return;
    observer.observe(node);
    return () => observer.unobserve(node);
  }, [observer]);
  return (
    <div ref={el} class="vrow" data-vkey={rowKey} data-vtop={top} style={{ transform: `translateY(${top}px)` }}>
      {children}
    </div>
  );
}

export function VirtualList<T>(p: VirtualListProps<T>) {
  const box = useRef<HTMLDivElement>(null);
  const heights = useRef(new Map<string, number>());
  const [scrollTop, setScrollTop] = useState(0);
  const [viewport, setViewport] = useState(600);
  const [measured, setMeasured] = useState(0);
  const atEnd = useRef(true);
  const [showJump, setShowJump] = useState(false);
  const overscan = p.overscanPx ?? 600;

  // Offsets of every row: O(n) additions per render, trivial next to rendering even one row.
  const offsets = useMemo(() => {
    const o = new Float64Array(p.items.length + 1);
    for (let i = 0; i < p.items.length; i++) o[i + 1] = o[i]! + (heights.current.get(p.itemKey(p.items[i]!)) ?? p.estimate);
    return o;
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [p.items, p.items.length, p.version, measured, p.estimate]);
  const total = offsets[p.items.length]!;
  const offsetsRef = useRef(offsets);
  offsetsRef.current = offsets;

  const rowObserver = useMemo(
    () =>
      typeof ResizeObserver === "undefined"
        ? null
        : new ResizeObserver((entries) => {
            const el = box.current;
            let changed = false;
            let anchorShift = 0;
            for (const entry of entries) {
              const target = entry.target as HTMLElement;
              const key = target.dataset["vkey"];
              if (key === undefined) continue;
              const h = entry.borderBoxSize?.[0]?.blockSize ?? target.offsetHeight;
              const before = heights.current.get(key);
              if (h === 0 || before === h) continue;
              heights.current.set(key, h);
              changed = true;
              const top = Number(target.dataset["vtop"] ?? "0");
              if (el && !atEnd.current && top < el.scrollTop) anchorShift += h - (before ?? p.estimate);
            }
            if (!changed) return;
            if (el && anchorShift !== 0) el.scrollTop += anchorShift;
            setMeasured((m) => m + 1);
          }),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [],
  );
  useEffect(() => () => rowObserver?.disconnect(), [rowObserver]);

  useEffect(() => {
    const el = box.current;
    if (!el || typeof ResizeObserver === "undefined") return;
    const ro = new ResizeObserver(() => setViewport(el.clientHeight));
    ro.observe(el);
    setViewport(el.clientHeight);
    return () => ro.disconnect();
  }, []);

  // Stay at the end while following: after every render that may have added or grown rows.
  useLayoutEffect(() => {
    const el = box.current;
    if (!el || !p.follow) return;
    if (atEnd.current) {
      const target = el.scrollHeight - el.clientHeight;
      if (Math.abs(el.scrollTop - target) > 1) el.scrollTop = target;
    } else if (!showJump) setShowJump(true);
  });

  const onScroll = useCallback(() => {
    const el = box.current;
    if (!el) return;
    atEnd.current = el.scrollHeight - el.scrollTop - el.clientHeight <= 8;
    if (atEnd.current) setShowJump(false);
    setScrollTop(el.scrollTop);
  }, []);

  const scrollToEnd = useCallback(() => {
    const el = box.current;
    if (!el) return;
    atEnd.current = true;
    setShowJump(false);
    el.scrollTop = el.scrollHeight;
  }, []);

  const noHandle = useRef<VirtualListHandle>(null);
  useImperativeHandle(
    p.handle ?? noHandle,
    () => ({
      scrollToIndex(index: number) {
        const el = box.current;
        const o = offsetsRef.current;
        if (!el || index < 0 || index >= o.length - 1) return;
        const top = o[index]!;
        const bottom = o[index + 1]!;
        // Moving to a row stops following the end (until the list is scrolled back there).
        atEnd.current = index === o.length - 2;
        if (top < el.scrollTop) el.scrollTop = top;
        else if (bottom > el.scrollTop + el.clientHeight) el.scrollTop = bottom - el.clientHeight;
      },
      scrollToEnd,
    }),
    [scrollToEnd],
  );

  const first = Math.max(0, lowerBound(offsets, scrollTop - overscan) - 1);
  const last = Math.min(p.items.length, lowerBound(offsets, scrollTop + viewport + overscan) + 1);
  const rows: ComponentChildren[] = [];
  for (let i = first; i < last; i++) {
    const item = p.items[i]!;
    const key = p.itemKey(item);
    rows.push(
      <Row key={key} rowKey={key} top={offsets[i]!} observer={rowObserver}>
        {p.renderItem(item, i)}
      </Row>,
    );
  }

  return (
    <div class={`vlist-wrap ${p.class ?? ""}`}>
      <div class="vlist" ref={box} onScroll={onScroll} data-testid={p.testId} data-rendered={last - first} data-total={p.items.length} {...p.attrs}>
        {p.items.length === 0 && p.empty ? <div class="vlist-empty">{p.empty}</div> : null}
        <div class="vspacer" style={{ height: `${total}px` }}>
          {rows}
        </div>
      </div>
      {p.follow && showJump ? (
        <button type="button" class="jump" onClick={scrollToEnd}>
          ↓ Latest
        </button>
      ) : null}
    </div>
  );
}
