/**
 * The typed events of `POST /api/chat` (DESIGN §4.2): one union, mirrored from the
 * gateway's contract. Each SSE frame is `event: <type>` + `data: <json>`.
 */
import type { ErrorEnvelope } from '../../api/errors';

export type MessageStatus = 'complete' | 'interrupted' | 'error';

export interface StartEvent {
  type: 'start';
  conversation_id: number;
  request_id: string;
  user_message_id: number;
  model: string;
  /** How many old messages were left out of the prompt to fit the context. */
  trimmed: number;
}
export interface QueueEvent {
  type: 'queue';
  position: number;
  estimated_wait_s: number | null;
}
export interface LoadingEvent {
  type: 'loading';
  profile: string;
  /** 0..1 when the engine reports it. */
  progress: number | null;
  message: string;
  /** `message` as a code the UI translates (i18n/notices.ts); absent from older gateways. */
  code?: string | null;
}
/** A reasoning model's thinking, in order, before the answer's first `delta`. */
export interface ReasoningEvent {
  type: 'reasoning';
  text: string;
}
export interface DeltaEvent {
  type: 'delta';
  text: string;
}
export interface UsageEvent {
  type: 'usage';
  input_tokens: number | null;
  output_tokens: number | null;
  ttft_ms: number | null;
  latency_ms: number | null;
  tokens_per_s: number | null;
  /** How long a reasoning model thought; null without thinking (absent from older gateways). */
  reasoning_ms?: number | null;
}
export interface TitleEvent {
  type: 'title';
  conversation_id: number;
  title: string;
}
export interface ErrorEvent extends ErrorEnvelope {
  type: 'error';
}
export interface DoneEvent {
  type: 'done';
  assistant_message_id: number | null;
  status: MessageStatus;
  /** Present when the engine's own count left out more turns than `start` said. */
  trimmed?: number;
}

export type StreamEvent =
  | StartEvent
  | QueueEvent
  | LoadingEvent
  | ReasoningEvent
  | DeltaEvent
  | UsageEvent
  | TitleEvent
  | ErrorEvent
  | DoneEvent;

export type StreamEventType = StreamEvent['type'];

export const STREAM_EVENT_TYPES: ReadonlySet<string> = new Set<StreamEventType>([
  'start',
  'queue',
  'loading',
  'reasoning',
  'delta',
  'usage',
  'title',
  'error',
  'done',
]);

/** The body of `POST /api/chat`. */
export interface ChatRequest {
  conversation_id?: number;
  content?: string;
  model?: string;
  temperature?: number;
  top_p?: number;
  max_tokens?: number;
  system_prompt?: string;
  regenerate?: boolean;
  edit_message_id?: number;
}
