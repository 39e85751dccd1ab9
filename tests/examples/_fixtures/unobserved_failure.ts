// A three-stage pipeline whose parser throws, and nobody awaits anything:
// the failure must not pass in silence (tests/examples/unobserved_failure_test.ts).
import { Consumer, Producer, ProducerConsumer } from "../../../mod.ts";

const lines = Producer.from(["1", "2", "three", "4"], { name: "lines" });
const parser = new ProducerConsumer<string, number>({
  name: "parser",
  subscribeTo: [lines],
  handleEvents: (texts) =>
    texts.map((text) => {
      const n = Number(text);
      if (Number.isNaN(n)) throw new SyntaxError(`not a number: ${text}`);
      return n;
    }),
});
new Consumer<number>({ name: "sum", subscribeTo: [parser], handleEvents() {} });
