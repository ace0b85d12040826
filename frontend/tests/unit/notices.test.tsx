import { render, screen } from '@testing-library/react';
import { errorText, fromEnvelope } from '../../src/api/errors';
import type { EngineStatus, GpuReport } from '../../src/features/admin/api';
import { GpuBars } from '../../src/features/admin/GpuBars';
import { ProfileCard } from '../../src/features/admin/ProfileCard';
import { translate, useLanguage } from '../../src/i18n';
import en from '../../src/i18n/en';
import ko from '../../src/i18n/ko';
import { NOTICE_CODES, noticeText } from '../../src/i18n/notices';

const ko_t = (key: keyof typeof en, vars?: Record<string, string | number>) => translate('ko', key, vars);

afterEach(() => useLanguage.getState().setLanguage('en'));

describe('gateway notices', () => {
  it('every code the gateway sends has an English and a Korean sentence', () => {
    expect(NOTICE_CODES.length).toBeGreaterThan(40);
    for (const code of NOTICE_CODES) {
      const key = `notice.${code}` as keyof typeof en;
      expect(en[key], code).toBeTruthy();
      expect(ko[key], code).toBeTruthy();
      expect(ko[key], code).not.toBe(en[key]);
    }
    for (const key of Object.keys(en).filter((k) => k.startsWith('errorCode.')) as (keyof typeof en)[]) {
      expect(ko[key], key).not.toBe(en[key]);
    }
  });

  it('fills in the params, and shows the English message for an unknown code', () => {
    expect(noticeText(ko_t, 'engine_exited', { code: 137 }, 'exited unexpectedly with code 137')).toBe(
      '예기치 않게 종료되었습니다 (코드 137)',
    );
    expect(noticeText(ko_t, 'from_a_newer_gateway', {}, 'something new')).toBe('something new');
    expect(noticeText(ko_t, null, null, 'no code')).toBe('no code');
  });

  it('shows the GPU status in Korean', () => {
    useLanguage.getState().setLanguage('ko');
    const report: GpuReport = {
      available: false,
      reason: 'no NVIDIA GPU or driver on this host (NVML Shared Library Not Found)',
      reason_code: 'gpu_no_driver',
      reason_params: { detail: 'NVML Shared Library Not Found' },
      driver: null,
      gpus: [],
    };
    render(<GpuBars report={report} />);
    expect(screen.getByText('GPU 없음: 이 호스트에 NVIDIA GPU나 드라이버가 없습니다 (NVML Shared Library Not Found)')).toBeInTheDocument();
  });

  it('translates why an engine failed and keeps its log lines as they are', () => {
    useLanguage.getState().setLanguage('ko');
    const engine = {
      name: 'local', engine: 'llamacpp', state: 'failed', aliases: [], active: true, gpus: [], pid: null,
      port: null, base_url: null, started_at: null, uptime_s: null, healthy: null, progress: null,
      phase: null, phase_code: null, inflight: 0, waiting: 0, held: false,
      last_error: 'did not become healthy within 30s\n--- last lines of data/logs/local.log ---\nllama: out of memory',
      last_error_code: 'engine_start_timeout', last_error_params: { seconds: '30' },
      available: false, reason: 'packaged model ... is not installed', reason_code: 'model_not_installed',
      reason_params: { name: 'qwen' }, replicas: [], load: null, switch_s: null, restart_needed: false,
    } satisfies EngineStatus;
    render(<ProfileCard engine={engine} gpus={null} benchmark={undefined} onChanged={() => {}} />);
    expect(screen.getByText(/30초 안에 정상 상태가 되지 않았습니다/)).toHaveTextContent('llama: out of memory');
    expect(screen.getByText(/모델 qwen이\(가\) 설치되어 있지 않습니다/)).toBeInTheDocument();
  });

  it('translates an engine refusal in an error envelope, and an error code', () => {
    const refusal = fromEnvelope(
      {
        error: {
          message: "model 'local' is being stopped",
          type: 'server_error',
          code: 'engine_unavailable',
          param: null,
          notice: { code: 'model_stopping', params: { name: 'local' } },
        },
        source: 'gateway',
      },
      503,
      5,
    );
    expect(errorText(refusal, ko_t)).toBe('서버가 바쁩니다. 5초 후에 다시 시도하세요. (모델 local을(를) 중지하는 중입니다)');
    const missing = fromEnvelope(
      { error: { message: 'Conversation not found', type: 'not_found_error', code: 'conversation_not_found', param: null }, source: 'gateway' },
      404,
    );
    expect(errorText(missing, ko_t)).toBe('찾을 수 없습니다. (대화를 찾을 수 없습니다.)');
  });
});
