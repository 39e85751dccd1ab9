// Preloaded by the "polyfill" runtime (node --import): webstage constructs
// its streams from web-streams-polyfill instead of the platform's classes.

import { ReadableStream, TransformStream, WritableStream } from "web-streams-polyfill";
import { useStreams } from "../../mod.ts";

useStreams({ ReadableStream, WritableStream, TransformStream });
