// The one bridge from stages to a ReadableStream of single events, behind
// toReadableStream, every stage's `readable` and the fan-out outputs. It
// reads raw links (each a ReadableStream<T[]> that asks by GenStage's rule as
// it is read, src/_link.ts) and hands each batch to its reader in chunks of
// at most maxDemand − minDemand events; a chunk is finished once the reader
// pulls past it, and only then may its link ask again, so each link holds at
// most maxDemand events whatever the reader does.

import type { AnyLink } from "./_link.ts";
import { chunkSize } from "./_demand.ts";
import { ignore, streams } from "./_streams.ts";

/** What a bridge does besides reading its links. */
export interface BridgeHooks {
  /** Called once, after the links are opened on the first read. */
  readonly opened?: () => void;
  /**
   * Called when the reader cancels the stream, instead of cancelling every
   * link with "normal". It may return a predicate: the links are then read
   * on, their events dropped, until it returns true, and then cancelled.
   */
  readonly cancel?: (links: readonly AnyLink[], reason: unknown) => (() => boolean) | void;
}

interface Ready {
  readonly index: number;
  readonly result: ReadableStreamReadResult<unknown[]>;
  offset: number;
}

/** Reads and drops what the links hold until `until()`, then cancels them. */
function drain(
  links: readonly AnyLink[],
  readers: readonly ReadableStreamDefaultReader<unknown[]>[],
  until: () => boolean,
): void {
  links.forEach((link, i) => {
    const reader = readers[i] ??
      (link.readable.getReader() as ReadableStreamDefaultReader<unknown[]>);
    // What the bridge had read and not handed on is dropped too.
    link.finished(link.unfinished);
    const loop = async (): Promise<void> => {
      while (!until()) {
        const { done, value } = await reader.read();
        if (done) return;
        link.handled(value.length);
        link.askByRule();
      }
      await reader.cancel("normal");
    };
    loop().then(ignore, ignore);
  });
}

/**
 * A lazy ReadableStream<T> of the events of the links `open` makes on the
 * first read. It closes once every link has ended normally, and errors (and
 * cancels the other links) when one errors.
 */
export function eventStream<T>(open: () => AnyLink[], hooks: BridgeHooks = {}): ReadableStream<T> {
  let links: AnyLink[] | undefined;
  let readers: ReadableStreamDefaultReader<unknown[]>[] = [];
  let live = 0;
  const reading: boolean[] = [];
  const finished: boolean[] = [];
  /** Read results not yet handed on; `offset` is how much of a batch was. */
  const ready: Ready[] = [];
  /** The chunk handed to the reader by the last pull. */
  let handedIndex = -1;
  let handedCount = 0;
  let wake: (() => void) | undefined;
  let failure: { reason: unknown } | undefined;
  let cancelled = false;
  const cancelAll = (reason: unknown) => {
    for (const reader of readers) reader.cancel(reason).then(ignore, ignore);
  };
  const read = (index: number) => {
    reading[index] = true;
    readers[index].read().then((result) => {
      reading[index] = false;
      if (cancelled) {
        // Read as the reader cancelled: dropped, like what a drain reads.
        if (!result.done) {
          links![index].handled(result.value.length);
          links![index].askByRule();
        }
        return;
      }
      if (!result.done) links![index].unfinished += result.value.length;
      ready.push({ index, result, offset: 0 });
      wake?.();
    }, (reason) => {
      reading[index] = false;
      failure ??= { reason };
      wake?.();
    });
  };
  return new streams.ReadableStream<T>({
    async pull(controller) {
      if (links === undefined) {
        links = open();
        readers = links.map((link) => {
          link.bridged = true;
          link.askByRule();
          return link.readable.getReader() as ReadableStreamDefaultReader<unknown[]>;
        });
        hooks.opened?.();
        live = links.length;
        if (live === 0) return controller.close();
      }
      if (handedIndex >= 0) {
        // The reader has taken the whole chunk: it is finished, and its link may ask again.
        const link = links[handedIndex];
        link.handled(handedCount);
        link.finished(handedCount);
        handedIndex = -1;
      }
      for (;;) {
        const next = ready[0];
        if (next !== undefined) {
          if (next.result.done) {
            ready.shift();
            finished[next.index] = true;
            if (--live === 0) return controller.close();
            continue;
          }
          const batch = next.result.value;
          const start = next.offset;
          const end = Math.min(batch.length, start + chunkSize(links[next.index].options));
          for (let i = start; i < end; i++) controller.enqueue(batch[i] as T);
          if (end === batch.length) ready.shift();
          else next.offset = end;
          if (end > start) {
            handedIndex = next.index;
            handedCount = end - start;
            return;
          }
          continue;
        }
        if (failure !== undefined) {
          cancelAll("normal");
          return controller.error(failure.reason);
        }
        for (let i = 0; i < readers.length; i++) {
          if (!reading[i] && !finished[i]) read(i);
        }
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    },
    cancel(reason) {
      cancelled = true;
      if (hooks.cancel === undefined && links === undefined) return;
      // A hook decides for links never read too (a fan-out output made them up front).
      links ??= open();
      const until = hooks.cancel === undefined ? undefined : hooks.cancel(links, reason);
      if (hooks.cancel === undefined) cancelAll("normal");
      else if (until !== undefined) drain(links, readers, until);
    },
  }, { highWaterMark: 0 });
}
