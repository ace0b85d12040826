import { readSseFrames } from '../../src/api/sse';
import { bodyOf, collect } from './helpers';

const text = 'event: delta\ndata: {"text":"a"}\n\n: keep-alive\n\nevent: done\ndata: {"x":1}\ndata: {"y":2}\n\n';

describe('readSseFrames', () => {
  it('reads named frames, joins data lines and skips comments', async () => {
    const frames = await collect(readSseFrames(bodyOf([text])));
    expect(frames).toEqual([
      { event: 'delta', data: '{"text":"a"}' },
      { event: 'done', data: '{"x":1}\n{"y":2}' },
    ]);
  });

  it('gives the same frames however the bytes are split', async () => {
    const bytes = new TextEncoder().encode(text + 'data: 한국어 ✓\n\n');
    const whole = await collect(readSseFrames(bodyOf([bytes])));
    for (let cut = 1; cut < bytes.length; cut++) {
      const split = await collect(readSseFrames(bodyOf([bytes.slice(0, cut), bytes.slice(cut)])));
      expect(split).toEqual(whole);
    }
    expect(whole.at(-1)).toEqual({ event: 'message', data: '한국어 ✓' });
  });

  it('accepts CRLF and CR line ends, also a CRLF split across chunks', async () => {
    const crlf = 'event: a\r\ndata: 1\r\n\r\nevent: b\rdata: 2\r\r';
    const expected = [
      { event: 'a', data: '1' },
      { event: 'b', data: '2' },
    ];
    expect(await collect(readSseFrames(bodyOf([crlf])))).toEqual(expected);
    expect(await collect(readSseFrames(bodyOf(['event: a\r', '\ndata: 1\r', '\n\r', '\nevent: b\rdata: 2\r\r'])))).toEqual(
      expected,
    );
  });

  it('drops a frame without data and an unterminated last frame', async () => {
    const frames = await collect(readSseFrames(bodyOf(['event: lonely\n\ndata: kept\n\ndata: cut off'])));
    expect(frames).toEqual([{ event: 'message', data: 'kept' }]);
  });

  it('keeps the value after the colon as sent, minus one space', async () => {
    const frames = await collect(readSseFrames(bodyOf(['data:no-space\n\ndata:  two\n\nid: 7\ndata\n\n'])));
    expect(frames).toEqual([
      { event: 'message', data: 'no-space' },
      { event: 'message', data: ' two' },
      { event: 'message', data: '', id: '7' },
    ]);
  });

  it('ends quietly when aborted mid-stream', async () => {
    const controller = new AbortController();
    let push: ((chunk: string) => void) | null = null;
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        push = (chunk) => c.enqueue(new TextEncoder().encode(chunk));
      },
    });
    const seen: string[] = [];
    const done = (async () => {
      for await (const frame of readSseFrames(body, controller.signal)) seen.push(frame.data);
    })();
    push!('data: first\n\n');
    await new Promise((r) => setTimeout(r, 10));
    controller.abort();
    await done;
    expect(seen).toEqual(['first']);
  });
});
