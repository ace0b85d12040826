import { render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import type { EngineStatus, GpuReport } from '../../src/features/admin/api';
import { LiveStreams } from '../../src/features/admin/LiveStreams';
import { ProfileCard } from '../../src/features/admin/ProfileCard';
import { useSession } from '../../src/features/auth/session';
import { useLanguage } from '../../src/i18n';
import { envelope, jsonResponse } from './helpers';

const engine = (extra: Partial<EngineStatus> = {}): EngineStatus => ({
  name: 'big',
  engine: 'vllm',
  state: 'stopped',
  aliases: ['llama'],
  active: false,
  gpus: [0],
  pid: null,
  port: null,
  base_url: null,
  started_at: null,
  uptime_s: null,
  healthy: null,
  progress: null,
  phase: null,
  phase_code: null,
  inflight: 0,
  waiting: 0,
  held: false,
  last_error: null,
  last_error_code: null,
  last_error_params: {},
  available: true,
  reason: null,
  reason_code: null,
  reason_params: {},
  replicas: [],
  load: null,
  switch_s: null,
  restart_needed: false,
  ...extra,
});

const gpus: GpuReport = {
  available: true,
  reason: null,
  reason_code: null,
  reason_params: {},
  driver: '550.54',
  gpus: [{ index: 0, name: 'H100', memory_used_mib: 61440, memory_total_mib: 81920, utilization_pct: 87, temperature_c: 60, engine: 'big' }],
};

beforeEach(() => useLanguage.getState().setLanguage('en'));
afterEach(() => vi.restoreAllMocks());

describe('ProfileCard', () => {
  it('activates only after confirmation, and reports a conflict', async () => {
    const fetch = vi.spyOn(globalThis, 'fetch').mockResolvedValue(
      jsonResponse(envelope('Another switch is in progress', 'conflict_error', 'switch_in_progress'), 409),
    );
    const onChanged = vi.fn();
    render(<ProfileCard engine={engine()} gpus={gpus} benchmark={undefined} onChanged={onChanged} />);
    await userEvent.click(screen.getByRole('button', { name: 'Activate' }));
    expect(fetch).not.toHaveBeenCalled();
    await userEvent.click(within(screen.getByRole('dialog')).getByRole('button', { name: 'Activate' }));
    expect(fetch.mock.calls[0]![0]).toBe('/api/admin/profiles/big/activate');
    expect(await screen.findByRole('alert')).toHaveTextContent('That conflicts with another change in progress. (Another model switch is in progress.)');
    expect(onChanged).not.toHaveBeenCalled();
  });

  it('shows load progress, GPU memory and the state', () => {
    render(<ProfileCard engine={engine({ state: 'starting', progress: 35, phase: 'Loading weights' })} gpus={gpus} benchmark={undefined} onChanged={vi.fn()} />);
    expect(screen.getByTestId('state-big')).toHaveAttribute('data-state', 'starting');
    expect(screen.getByRole('progressbar')).toHaveAttribute('aria-valuenow', '35');
    expect(screen.getByRole('meter', { name: 'Memory of GPU 0' })).toHaveAttribute('aria-valuenow', '61440');
    expect(screen.getByText(/60 \/ 80 GB · 87% busy/)).toBeInTheDocument();
  });

  it('shows the profile policy: defaults, the cap and the system prompt', () => {
    const policy = {
      defaults: { temperature: 0.7, top_p: 0.8, max_tokens: 768, repetition_penalty: 1.1, repetition_window: 256, frequency_penalty: null, presence_penalty: null },
      max_tokens_cap: 2048,
      system_prompt: 'Answer briefly.',
    };
    const { rerender } = render(<ProfileCard engine={engine()} gpus={null} benchmark={undefined} policy={policy} onChanged={vi.fn()} />);
    const lines = screen.getByTestId('policy-big');
    expect(lines).toHaveTextContent('Temperature 0.7 · Top P 0.8 · Max tokens 768 · Repetition penalty 1.1 · Repetition window 256 (Max tokens at most 2,048)');
    expect(lines).toHaveTextContent('System prompt: Answer briefly.');
    useLanguage.getState().setLanguage('ko');
    const none = { ...policy, defaults: { ...policy.defaults, temperature: null, top_p: null, max_tokens: null, repetition_penalty: null, repetition_window: null }, system_prompt: '' };
    rerender(<ProfileCard engine={engine()} gpus={null} benchmark={undefined} policy={none} onChanged={vi.fn()} />);
    expect(screen.getByTestId('policy-big')).toHaveTextContent('미지정 시 기본값: 엔진 기본값');
    expect(screen.getByTestId('policy-big')).toHaveTextContent('시스템 프롬프트: 없음');
  });
});

describe('LiveStreams', () => {
  it('stops a stream', async () => {
    const fetch = vi.spyOn(globalThis, 'fetch').mockResolvedValue(jsonResponse({ stopped: true }));
    render(
      <LiveStreams
        streams={[{ request_id: 'abc', user_id: 2, user: 'kim@example.com', client: 'web', model: 'default', profile: 'local', started_at: 0, elapsed_s: 3.2, ttft_ms: 120, tokens: 64, tokens_per_s: 21.5, process: 'gw-1:4242' }]}
      />,
    );
    expect(screen.getByText('21.5/s')).toBeInTheDocument();
    expect(screen.getByText('gw-1:4242')).toBeInTheDocument();
    await userEvent.click(screen.getByRole('button', { name: 'Stop the answer for kim@example.com' }));
    expect(fetch.mock.calls[0]![0]).toBe('/api/admin/streams/abc/stop');
  });
});

describe('session', () => {
  it('a 401 from any request signs the user out locally', async () => {
    useSession.setState({ status: 'ready', me: null });
    vi.spyOn(globalThis, 'fetch').mockResolvedValue(jsonResponse(envelope('expired', 'authentication_error'), 401));
    const { get } = await import('../../src/api/client');
    await get('/api/keys').catch(() => undefined);
    await waitFor(() => expect(useSession.getState().status).toBe('anonymous'));
  });
});
