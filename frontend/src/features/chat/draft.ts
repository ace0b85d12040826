/**
 * The streaming answer's pending text, written to its message at most every FLUSH_MS:
 * one re-render per token would be too slow on long answers. A reasoning model's
 * thinking is kept apart from the answer (`reasoning`, never `content`). How long it
 * thought is measured here, from the first thought to the first answer text (or the end
 * of the stream), for the gateway's own figure in `usage` to replace.
 */
import type { ChatMessage } from './store';

export const FLUSH_MS = 32;

export type MessageChange = (message: ChatMessage) => Partial<ChatMessage>;

export interface AnswerDraft {
  reasoning: (text: string) => void;
  delta: (text: string) => void;
  /** Write what is pending now (before another event changes the message). */
  flush: () => void;
  /** The stream is over: thinking that never reached an answer ends here. */
  end: () => void;
}

export function answerDraft(write: (change: MessageChange) => void, now: () => number = () => performance.now()): AnswerDraft {
  let text = '';
  let thought = '';
  let thinkingSince: number | null = null;
  let thoughtMs: number | null = null;
  let thoughtMsWritten = false;
  let timer: ReturnType<typeof setTimeout> | null = null;

  const flush = () => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    const ms = thoughtMsWritten ? null : thoughtMs;
    if (!text && !thought && ms === null) return;
    const answerPiece = text;
    const thoughtPiece = thought;
    text = '';
    thought = '';
    thoughtMsWritten ||= ms !== null;
    write((message) => {
      const change: Partial<ChatMessage> = {};
      if (answerPiece) change.content = message.content + answerPiece;
      if (thoughtPiece) change.reasoning = (message.reasoning ?? '') + thoughtPiece;
      if (ms !== null && message.reasoning_ms === null) change.reasoning_ms = ms;
      return change;
    });
  };
  const later = () => {
    timer ??= setTimeout(flush, FLUSH_MS);
  };
  const stopThinking = () => {
    if (thinkingSince !== null && thoughtMs === null) thoughtMs = Math.round(now() - thinkingSince);
  };

  return {
    reasoning: (piece) => {
      thinkingSince ??= now();
      thought += piece;
      later();
    },
    delta: (piece) => {
      stopThinking();
      text += piece;
      later();
    },
    flush,
    end: () => {
      stopThinking();
      flush();
    },
  };
}
