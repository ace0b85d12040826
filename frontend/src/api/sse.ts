/**
 * A server-sent-events frame reader over a fetch body (EventSource cannot POST, send a
 * body, or report an HTTP error). Follows the HTML spec's parsing rules: lines end in
 * LF, CRLF or CR (also when the pair is split across chunks), `:` starts a comment, one
 * leading space after the colon is dropped, `data` lines join with LF, and a frame is
 * dispatched at a blank line only when it carried data.
 */

export interface SseFrame {
  event: string;
  data: string;
  id?: string;
}

export async function* readSseFrames(
  body: ReadableStream<Uint8Array>,
  signal?: AbortSignal,
): AsyncGenerator<SseFrame> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const onAbort = () => void reader.cancel().catch(() => undefined);
  signal?.addEventListener('abort', onAbort);
  let buffer = '';
  let frame: { event: string; data: string[]; id?: string } = { event: '', data: [] };
  try {
    for (;;) {
      if (signal?.aborted) return;
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (error) {
        if (signal?.aborted) return;
        throw error;
      }
      buffer += chunk.done ? decoder.decode() : decoder.decode(chunk.value, { stream: true });
      for (;;) {
        const end = lineEnd(buffer, chunk.done);
        if (end === null) break;
        const line = buffer.slice(0, end.at);
        buffer = buffer.slice(end.at + end.length);
        if (line === '') {
          if (frame.data.length > 0) {
            const out: SseFrame = { event: frame.event || 'message', data: frame.data.join('\n') };
            if (frame.id !== undefined) out.id = frame.id;
            yield out;
          }
          frame = { event: '', data: [] };
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon === -1 ? line : line.slice(0, colon);
        let value = colon === -1 ? '' : line.slice(colon + 1);
        if (value.startsWith(' ')) value = value.slice(1);
        if (field === 'event') frame.event = value;
        else if (field === 'data') frame.data.push(value);
        else if (field === 'id') frame.id = value;
      }
      if (chunk.done) return; // an unterminated last frame is dropped, as the spec says
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    reader.releaseLock();
  }
}

/** Where the first complete line ends; a trailing CR waits for the next chunk's LF. */
function lineEnd(buffer: string, final: boolean): { at: number; length: number } | null {
  for (let i = 0; i < buffer.length; i++) {
    const ch = buffer[i];
    if (ch === '\n') return { at: i, length: 1 };
    if (ch === '\r') {
      if (i + 1 < buffer.length) return { at: i, length: buffer[i + 1] === '\n' ? 2 : 1 };
      return final ? { at: i, length: 1 } : null;
    }
  }
  return null;
}
