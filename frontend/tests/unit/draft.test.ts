import { answerDraft, FLUSH_MS, type MessageChange } from '../../src/features/chat/draft';
import type { ChatMessage } from '../../src/features/chat/store';

const blankAnswer = (): ChatMessage => ({
  key: 'a',
  id: null,
  role: 'assistant',
  content: '',
  reasoning: null,
  reasoning_ms: null,
  status: 'streaming',
  model: null,
  token_in: null,
  token_out: null,
  ttft_ms: null,
  latency_ms: null,
  tokens_per_s: null,
  error: null,
});

/** A draft writing into one message, on a clock the test moves. */
function draftOnClock() {
  let message = blankAnswer();
  let clock = 0;
  let writes = 0;
  const draft = answerDraft(
    (change: MessageChange) => {
      writes++;
      message = { ...message, ...change(message) };
    },
    () => clock,
  );
  return {
    draft,
    message: () => message,
    writes: () => writes,
    tick: (ms: number) => (clock += ms),
    setMessage: (changes: Partial<ChatMessage>) => (message = { ...message, ...changes }),
  };
}

afterEach(() => vi.useRealTimers());

describe('answerDraft', () => {
  it('keeps the thinking apart from the answer', () => {
    const d = draftOnClock();
    d.draft.reasoning('r0');
    d.draft.reasoning(' r1');
    d.draft.flush();
    expect(d.message()).toMatchObject({ reasoning: 'r0 r1', content: '' });
    d.draft.delta('t0');
    d.draft.delta(' t1');
    d.draft.end();
    expect(d.message()).toMatchObject({ reasoning: 'r0 r1', content: 't0 t1' });
  });

  it('measures the thinking from the first thought to the first answer text', () => {
    const d = draftOnClock();
    d.tick(500);
    d.draft.reasoning('r0');
    d.tick(2000);
    d.draft.reasoning(' r1');
    d.tick(1200);
    d.draft.delta('t0');
    d.tick(5000);
    d.draft.delta(' t1');
    d.draft.end();
    expect(d.message().reasoning_ms).toBe(3200);
  });

  it('ends the thinking with the stream when no answer came', () => {
    const d = draftOnClock();
    d.draft.reasoning('r0');
    d.tick(800);
    d.draft.end();
    expect(d.message()).toMatchObject({ reasoning: 'r0', content: '', reasoning_ms: 800 });
  });

  it('keeps a duration the gateway already gave', () => {
    const d = draftOnClock();
    d.draft.reasoning('r0');
    d.tick(800);
    d.draft.flush();
    d.setMessage({ reasoning_ms: 900 }); // `usage` came first, as when the stream was stopped mid-thought
    d.draft.end();
    expect(d.message().reasoning_ms).toBe(900);
  });

  it('measures nothing for an answer without thinking', () => {
    const d = draftOnClock();
    d.tick(300);
    d.draft.delta('t0');
    d.draft.end();
    expect(d.message()).toMatchObject({ content: 't0', reasoning: null, reasoning_ms: null });
  });

  it('writes pieces together, once per interval', () => {
    vi.useFakeTimers();
    const d = draftOnClock();
    d.draft.reasoning('r0');
    d.draft.reasoning(' r1');
    d.draft.delta('t0');
    expect(d.writes()).toBe(0);
    vi.advanceTimersByTime(FLUSH_MS);
    expect(d.writes()).toBe(1);
    expect(d.message()).toMatchObject({ reasoning: 'r0 r1', content: 't0' });
    d.draft.end();
    expect(d.writes()).toBe(1);
  });
});
