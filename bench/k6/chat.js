// k6 load test for gpuchat's OpenAI-compatible API: the seed's plan, 1 → 5 → 10 sessions.
//
//   GPUCHAT_API_KEY=sk-... k6 run bench/k6/chat.js
//   GPUCHAT_URL=https://chat.example.com GPUCHAT_MODEL=llama3 STAGE=5m k6 run bench/k6/chat.js
//
// Each virtual user is one chat session sending streamed completions back to back. k6 reads
// the whole stream before a request ends, so http_req_duration is the end-to-end latency and
// http_req_waiting the time to the response headers (not to the first token: use
// `gpuchat bench` for TTFT and time per output token).
import http from 'k6/http';
import { check } from 'k6';
import { Counter, Trend } from 'k6/metrics';

const BASE_URL = (__ENV.GPUCHAT_URL || 'http://127.0.0.1:8080').replace(/\/$/, '');
const API_KEY = __ENV.GPUCHAT_API_KEY || '';
const STAGE = __ENV.STAGE || '1m'; // how long each step holds its sessions
const BODY = JSON.parse(open('./body.json'));
if (__ENV.GPUCHAT_MODEL) BODY.model = __ENV.GPUCHAT_MODEL;
if (__ENV.MAX_TOKENS) BODY.max_tokens = parseInt(__ENV.MAX_TOKENS, 10);

const outputTokens = new Counter('chat_output_tokens');
const msPerToken = new Trend('chat_ms_per_output_token', true);

export const options = {
  scenarios: {
    chat: {
      executor: 'ramping-vus',
      startVUs: 1,
      stages: [
        { duration: STAGE, target: 1 },
        { duration: '5s', target: 5 },
        { duration: STAGE, target: 5 },
        { duration: '5s', target: 10 },
        { duration: STAGE, target: 10 },
      ],
      gracefulRampDown: '60s',
    },
  },
  thresholds: {
    http_req_failed: ['rate<0.01'], // the seed's error rate
    checks: ['rate>0.99'],
    http_req_duration: ['p(50)<20000', 'p(95)<60000'],
  },
};

const params = {
  headers: {
    Authorization: `Bearer ${API_KEY}`,
    'Content-Type': 'application/json',
    Accept: 'text/event-stream',
  },
  timeout: '120s',
  tags: { name: 'chat.completions' },
};

export function setup() {
  const models = http.get(`${BASE_URL}/v1/models`, { headers: params.headers });
  if (models.status !== 200) {
    throw new Error(`GET /v1/models answered ${models.status}: is GPUCHAT_API_KEY set?`);
  }
}

export default function () {
  const res = http.post(`${BASE_URL}/v1/chat/completions`, JSON.stringify(BODY), params);
  const body = res.body || '';
  const usage = body
    .split('\n')
    .filter((line) => line.startsWith('data: {') && line.includes('"usage"'))
    .map((line) => JSON.parse(line.slice(6)).usage)
    .filter((u) => u)
    .pop();
  check(res, {
    'status is 200': (r) => r.status === 200,
    'stream ends with [DONE]': () => body.includes('data: [DONE]'),
    'no error frame': () => !body.includes('data: {"error"'),
    'usage reported': () => usage !== undefined,
  });
  if (usage && usage.completion_tokens > 0) {
    outputTokens.add(usage.completion_tokens);
    msPerToken.add(res.timings.duration / usage.completion_tokens);
  }
}
