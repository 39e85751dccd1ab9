// GenStage's rules for asking again, in one place. Every reader of a
// subscription (a consumer stage, a ConsumerSupervisor, a stage's readable,
// toReadableStream, the fan-out outputs) asks its producer by these rules.
//
// A subscription holds at most maxDemand events: asked for and not yet sent
// (`pending`), queued in its ReadableStream (maxDemand − desiredSize), and
// read but not yet finished. Once a chunk is finished, if what it still holds
// has fallen to minDemand or below, it asks for the difference to maxDemand
// (GenStage's `split_batches`, reference §2.1): with 1000/500, a batch of
// 1000 is handled as [0..499], ask 500, [500..999], ask 500.

/** The normalised demand options of a subscription. */
export interface DemandOptions {
  readonly maxDemand: number;
  readonly minDemand: number;
}

/** The most events handed to `handleEvents` at once in automatic mode: maxDemand − minDemand. */
export function chunkSize(options: DemandOptions): number {
  return options.maxDemand - options.minDemand;
}

/**
 * The events a subscription holds: asked for and not sent (`pending`),
 * queued in its stream (from `desiredSize`, `null` once it has closed), and
 * read but not yet finished.
 */
export function held(
  options: DemandOptions,
  pending: number,
  desiredSize: number | null,
  unfinished: number,
): number {
  const queued = desiredSize === null ? 0 : options.maxDemand - desiredSize;
  return pending + queued + unfinished;
}

/** GenStage's re-ask rule: how many events to ask for when a subscription holds `held` (0: none). */
export function reask(options: DemandOptions, held: number): number {
  return held <= options.minDemand ? options.maxDemand - held : 0;
}

/**
 * GenStage's ConsumerSupervisor rule: the demand of `finished` tasks is given
 * back once it reaches minDemand (one at a time when minDemand is 0).
 * Returns how many to ask for now (0: keep counting).
 */
export function giveBack(options: DemandOptions, finished: number): number {
  return finished > 0 && finished >= options.minDemand ? finished : 0;
}
