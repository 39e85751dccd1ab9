/**
 * A live topology page for webstage pipelines: `topologyPage()` returns a
 * self-contained HTML page that draws the stages as a graph and updates from
 * `monitor` snapshots, and `encodeSnapshots()` turns `monitor`'s stream into
 * Server-Sent Events or NDJSON for the page (or any other client). Both work
 * with any server that speaks `Request`/`Response` (Deno, Bun, workerd,
 * Node through an adapter).
 *
 * @example A server with the page at / and its snapshots at /snapshots
 * ```ts ignore
 * import { monitor } from "@webstage/webstage";
 * import { encodeSnapshots, topologyPage } from "@webstage/webstage/topology";
 *
 * Deno.serve((request) => {
 *   const { pathname } = new URL(request.url);
 *   if (pathname === "/snapshots") {
 *     const body = encodeSnapshots(monitor([orders, billing], { intervalMs: 500 }));
 *     return new Response(body, { headers: { "content-type": "text/event-stream" } });
 *   }
 *   return new Response(topologyPage(), { headers: { "content-type": "text/html; charset=utf-8" } });
 * });
 * ```
 *
 * @module
 */

export {
  encodeSnapshots,
  type EncodeSnapshotsOptions,
  topologyPage,
  type TopologyPageOptions,
} from "./src/topology/page.ts";
