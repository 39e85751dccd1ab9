// The topology page's drawing logic, with no DOM: a snapshot of `monitor` in,
// SVG and HTML markup out. The page (src/topology/_client.ts, bundled into
// the page by scripts/build_topology.mjs) sets it as innerHTML; the tests
// read the markup.

import type { Edge, Snapshot, StageSnapshot } from "../stats.ts";

/** A subscription as drawn: `ended` when a later snapshot no longer has it. */
export interface DrawnEdge extends Edge {
  readonly ended?: boolean;
}

/** A snapshot as drawn: with the subscriptions that ended since the page opened. */
export interface DrawnSnapshot extends Snapshot {
  readonly edges: readonly DrawnEdge[];
}

/**
 * `next`, with the subscriptions of `previous` that `next` no longer has
 * (a stage that stops drops its subscriptions) kept as `ended`, as long as
 * both of their stages are still drawn: so a pipeline that has finished
 * still shows its shape.
 */
export function carry(previous: DrawnSnapshot | undefined, next: Snapshot): DrawnSnapshot {
  if (previous === undefined) return next;
  const key = (edge: Edge) => `${edge.producer}\u0000${edge.consumer}`;
  const live = new Set(next.edges.map(key));
  const names = new Set(next.stages.map((stage) => stage.name));
  const ended = previous.edges.filter((edge) =>
    !live.has(key(edge)) && names.has(edge.consumer) &&
    (names.has(edge.producer) || previous.stages.every((stage) => stage.name !== edge.producer))
  ).map((edge): DrawnEdge => ({ ...edge, asked: 0, queued: 0, handling: 0, ended: true }));
  return ended.length ? { ...next, edges: [...next.edges, ...ended] } : next;
}

/** A stage placed on the drawing. */
export interface PlacedStage {
  readonly stage: StageSnapshot | undefined; // undefined: a producer that is not watched
  readonly name: string;
  readonly layer: number;
  readonly x: number;
  readonly y: number;
}

/** Where everything goes. */
export interface Layout {
  readonly width: number;
  readonly height: number;
  readonly stages: readonly PlacedStage[];
  readonly byName: ReadonlyMap<string, PlacedStage>;
}

export const NODE_WIDTH = 210;
export const NODE_HEIGHT = 92;
const COLUMN = NODE_WIDTH + 190;
const ROW = NODE_HEIGHT + 40;
const MARGIN = 20;

/**
 * Layers the stages left to right: a stage sits one column right of the
 * furthest stage it subscribes to (producers first). Supervisors, which have
 * no subscriptions of their own, go in a row below, under their children.
 * Producers an edge names that are not watched (a stage's own `writable`,
 * or a stage left out) get a small node of their own.
 */
export function layout(snapshot: Snapshot): Layout {
  const stages = new Map<string, StageSnapshot>();
  for (const stage of snapshot.stages) stages.set(stage.name, stage);
  const names: string[] = [];
  const seen = new Set<string>();
  const add = (name: string) => {
    if (!seen.has(name)) {
      seen.add(name);
      names.push(name);
    }
  };
  for (const stage of snapshot.stages) if (stage.kind !== "Supervisor") add(stage.name);
  for (const edge of snapshot.edges) {
    add(edge.producer);
    add(edge.consumer);
  }
  const upstreamOf = new Map<string, string[]>(names.map((name) => [name, []]));
  for (const edge of snapshot.edges) upstreamOf.get(edge.consumer)!.push(edge.producer);

  // Longest path from a source; a cycle (not built by webstage) is cut at names.length.
  const layers = new Map<string, number>();
  const layerOf = (name: string, depth: number): number => {
    const known = layers.get(name);
    if (known !== undefined) return known;
    if (depth > names.length) return 0;
    const ups = upstreamOf.get(name) ?? [];
    const layer = ups.length === 0 ? 0 : 1 + Math.max(...ups.map((up) => layerOf(up, depth + 1)));
    layers.set(name, layer);
    return layer;
  };
  for (const name of names) layerOf(name, 0);

  // Rows within a layer: in the order of their producers' rows (fewer crossings),
  // then of the snapshot.
  const columns: string[][] = [];
  for (const name of names) (columns[layers.get(name)!] ??= []).push(name);
  const rowOf = new Map<string, number>();
  for (const column of columns) {
    if (column === undefined) continue;
    const weight = (name: string) => {
      const ups = (upstreamOf.get(name) ?? []).map((up) => rowOf.get(up) ?? 0);
      return ups.length === 0 ? 0 : ups.reduce((a, b) => a + b, 0) / ups.length;
    };
    const order = column.map((name, index) => ({ name, index, weight: weight(name) }))
      .sort((a, b) => a.weight - b.weight || a.index - b.index);
    order.forEach((entry, row) => rowOf.set(entry.name, row));
  }
  const rows = Math.max(1, ...columns.map((column) => column?.length ?? 0));
  const placed: PlacedStage[] = names.map((name) => {
    const column = columns[layers.get(name)!];
    // Centre shorter columns vertically.
    const offset = (rows - column.length) / 2;
    return {
      stage: stages.get(name),
      name,
      layer: layers.get(name)!,
      x: MARGIN + layers.get(name)! * COLUMN,
      y: MARGIN + (rowOf.get(name)! + offset) * ROW,
    };
  });
  const byName = new Map(placed.map((stage) => [stage.name, stage]));

  // Supervisors: a row below, each under the middle of its children.
  const supervisors = snapshot.stages.filter((stage) => stage.kind === "Supervisor");
  supervisors.forEach((stage, index) => {
    const children = (stage.children ?? []).map((child) => byName.get(child.name))
      .filter((child) => child !== undefined);
    const x = children.length
      ? children.reduce((sum, child) => sum + child.x, 0) / children.length
      : MARGIN + index * COLUMN;
    const entry: PlacedStage = { stage, name: stage.name, layer: -1, x, y: MARGIN + rows * ROW };
    placed.push(entry);
    byName.set(stage.name, entry);
  });
  const width = Math.max(...placed.map((stage) => stage.x), 0) + NODE_WIDTH + MARGIN;
  const height = Math.max(...placed.map((stage) => stage.y), 0) + NODE_HEIGHT + MARGIN;
  return { width, height, stages: placed, byName };
}

/** Escapes text for HTML and SVG markup (content and attribute values). */
export function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A count, with thousands separators. */
export function count(value: number): string {
  return Math.round(value).toLocaleString("en-US");
}

/** Events in flight on a subscription: asked for, queued in it, being handled. */
export function inFlight(edge: Edge): number {
  return edge.asked + edge.queued + edge.handling;
}

function isDone(stage: StageSnapshot): boolean {
  return stage.state === "stopped" || stage.state === "failed";
}

/** The SVG of one stage. */
function drawStage(placed: PlacedStage): string {
  const { stage, name, x, y } = placed;
  if (stage === undefined) {
    return `<g class="stage external" data-stage="${escape(name)}">` +
      `<rect x="${x}" y="${y + NODE_HEIGHT / 2 - 18}" width="${NODE_WIDTH}" height="36" rx="18"/>` +
      `<text x="${x + 12}" y="${y + NODE_HEIGHT / 2 + 5}" class="name">${escape(name)}</text>` +
      `</g>`;
  }
  const restarts = stage.restarts ?? 0;
  const classes = ["stage", `state-${stage.state}`, restarts > 0 ? "restarted" : ""]
    .filter(Boolean).join(" ");
  const lines: [string, string][] = [];
  if (stage.kind !== "Producer" && stage.kind !== "Supervisor") {
    lines.push(["in", `in ${count(stage.received)} · ${count(stage.receivedPerSecond)}/s`]);
  }
  if (stage.kind === "Producer" || stage.kind === "ProducerConsumer") {
    lines.push(["out", `out ${count(stage.emitted)} · ${count(stage.emittedPerSecond)}/s`]);
  }
  if (stage.kind === "Supervisor") {
    lines.push(["children", `${stage.children?.length ?? 0} children`]);
  } else {
    lines.push([
      "buffer",
      `buffer ${count(stage.buffered)}` +
      (stage.discarded ? ` · discarded ${count(stage.discarded)}` : ""),
    ]);
  }
  const badge = stage.state + (stage.restarts !== undefined ? ` · ↻ ${count(restarts)}` : "");
  const tip = [
    `${stage.name} (${stage.kind}): ${stage.state}`,
    ...(stage.failure ? [`failure: ${stage.failure}`] : []),
    `received ${count(stage.received)}, emitted ${count(stage.emitted)}`,
    `buffered ${count(stage.buffered)}, discarded ${count(stage.discarded)}`,
    `demand asked upstream ${count(stage.demand)}, unmet downstream ${count(stage.unmetDemand)}`,
    ...(stage.restarts !== undefined ? [`restarts ${count(restarts)}`] : []),
  ].join("\n");
  return `<g class="${classes}" data-stage="${escape(name)}" data-state="${stage.state}">` +
    `<title>${escape(tip)}</title>` +
    `<rect x="${x}" y="${y}" width="${NODE_WIDTH}" height="${NODE_HEIGHT}" rx="8"/>` +
    `<text x="${x + 10}" y="${y + 20}" class="name">${escape(name)}</text>` +
    `<text x="${x + NODE_WIDTH - 10}" y="${y + 20}" class="kind" text-anchor="end">${
      escape(stage.kind)
    }</text>` +
    lines.map(([field, text], i) =>
      `<text x="${x + 10}" y="${y + 40 + i * 16}" class="figure" data-field="${field}">${
        escape(text)
      }</text>`
    ).join("") +
    `<text x="${x + NODE_WIDTH - 10}" y="${
      y + NODE_HEIGHT - 8
    }" class="badge" text-anchor="end" data-field="state">${escape(badge)}</text>` +
    `</g>`;
}

const BAR = 110;

/** The SVG of one subscription: a curve, and its events in flight against maxDemand. */
function drawEdge(edge: DrawnEdge, from: PlacedStage, to: PlacedStage): string {
  const x1 = from.x + NODE_WIDTH;
  const y1 = from.y + NODE_HEIGHT / 2;
  const x2 = to.x;
  const y2 = to.y + NODE_HEIGHT / 2;
  const bend = Math.max(40, (x2 - x1) / 2);
  const path = `M${x1},${y1} C${x1 + bend},${y1} ${x2 - bend},${y2} ${x2},${y2}`;
  const flight = inFlight(edge);
  const fill = (part: number) =>
    edge.maxDemand > 0 ? Math.min(BAR, (part / edge.maxDemand) * BAR) : 0;
  // The label sits near the consumer, where the curves into one stage are a row apart.
  const lx = x2 - BAR - 22;
  const ly = y2 - 22;
  let at = lx;
  const segments = (["handling", "queued", "asked"] as const).map((part) => {
    const width = fill(edge[part]);
    const rect = `<rect x="${at}" y="${ly + 6}" width="${width}" height="8" class="${part}"/>`;
    at += width;
    return rect;
  }).join("");
  const full = !edge.ended && edge.maxDemand > 0 && flight >= edge.maxDemand;
  const tip = `${edge.producer} → ${edge.consumer}${edge.ended ? " (ended)" : ""}\n` +
    `in flight ${count(flight)} of maxDemand ${count(edge.maxDemand)} ` +
    `(minDemand ${count(edge.minDemand)})\n` +
    `asked ${count(edge.asked)} · queued ${count(edge.queued)} · handling ${count(edge.handling)}`;
  const label = edge.ended
    ? `ended · max ${count(edge.maxDemand)}`
    : `${count(flight)} / ${count(edge.maxDemand)}`;
  return `<g class="edge${full ? " full" : ""}${edge.ended ? " ended" : ""}" data-edge="${
    escape(edge.producer)
  }→${escape(edge.consumer)}"><title>${escape(tip)}</title>` +
    `<path d="${path}" marker-end="url(#arrow)"/>` +
    `<rect x="${lx - 4}" y="${ly - 10}" width="${BAR + 8}" height="28" rx="4" class="label"/>` +
    `<text x="${lx}" y="${ly + 2}" class="demand" data-field="demand">${label}</text>` +
    `<rect x="${lx}" y="${ly + 6}" width="${BAR}" height="8" class="track"/>${segments}` +
    `</g>`;
}

/** The SVG of the whole graph. */
export function drawGraph(snapshot: DrawnSnapshot): string {
  const placed = layout(snapshot);
  const edges = snapshot.edges.map((edge) =>
    drawEdge(edge, placed.byName.get(edge.producer)!, placed.byName.get(edge.consumer)!)
  );
  const links = snapshot.stages.filter((stage) => stage.kind === "Supervisor").flatMap(
    (stage) => {
      const from = placed.byName.get(stage.name)!;
      return (stage.children ?? []).flatMap((child) => {
        const to = placed.byName.get(child.name);
        if (to === undefined) return [];
        return [
          `<line class="supervises" x1="${from.x + NODE_WIDTH / 2}" y1="${from.y}" x2="${
            to.x + NODE_WIDTH / 2
          }" y2="${to.y + NODE_HEIGHT}"/>`,
        ];
      });
    },
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" class="graph" width="${placed.width}" ` +
    `height="${placed.height}" viewBox="0 0 ${placed.width} ${placed.height}" role="img" ` +
    `aria-label="stages and subscriptions">` +
    `<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" ` +
    `markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"/></marker></defs>` +
    links.join("") + edges.join("") + placed.stages.map(drawStage).join("") + `</svg>`;
}

/** An HTML table of every stage's figures (the same numbers, for reading and copying). */
export function drawTable(snapshot: Snapshot): string {
  const head = [
    "stage",
    "kind",
    "state",
    "received",
    "in/s",
    "emitted",
    "out/s",
    "buffered",
    "demand",
    "unmet",
    "discarded",
    "restarts",
  ];
  const rows = snapshot.stages.map((stage) => {
    const cells = [
      stage.name,
      stage.kind,
      stage.state + (stage.failure ? `: ${stage.failure}` : ""),
      count(stage.received),
      count(stage.receivedPerSecond),
      count(stage.emitted),
      count(stage.emittedPerSecond),
      count(stage.buffered),
      count(stage.demand),
      count(stage.unmetDemand),
      count(stage.discarded),
      stage.restarts === undefined ? "" : count(stage.restarts),
    ];
    return `<tr data-stage="${escape(stage.name)}" class="state-${stage.state}${
      (stage.restarts ?? 0) > 0 ? " restarted" : ""
    }">${cells.map((cell, i) => `<td data-field="${head[i]}">${escape(cell)}</td>`).join("")}</tr>`;
  });
  return `<table><thead><tr>${head.map((h) => `<th>${h}</th>`).join("")}</tr></thead>` +
    `<tbody>${rows.join("")}</tbody></table>`;
}

/** A line that says how the pipeline is doing. */
export function summary(snapshot: DrawnSnapshot): string {
  const stages = snapshot.stages;
  const ended = snapshot.edges.filter((edge) => edge.ended).length;
  const failed = stages.filter((stage) => stage.state === "failed").length;
  const restarts = stages.reduce((sum, stage) => sum + (stage.restarts ?? 0), 0);
  const done = stages.length > 0 && stages.every(isDone);
  return [
    `${stages.length} stages, ${snapshot.edges.length - ended} subscriptions` +
    (ended ? ` (${ended} ended)` : ""),
    done ? "all ended" : `${stages.filter((stage) => !isDone(stage)).length} running`,
    ...(failed ? [`${failed} failed`] : []),
    ...(restarts ? [`${count(restarts)} restarts`] : []),
    `at ${new Date(snapshot.time).toISOString().slice(11, 23)}`,
  ].join(" · ");
}
