/** 한국어: common.en.ts의 모든 키 (타입이 확인합니다). */
import type commonEn from './common.en';

const commonKo: Record<keyof typeof commonEn, string> = {
  'common.actions': '작업',
  'common.cancel': '취소',
  'common.close': '닫기',
  'common.copied': '복사됨',
  'common.copy': '복사',
  'common.delete': '삭제',
  'common.done': '완료',
  'common.loading': '불러오는 중…',
  'common.more': '더 보기',
  'common.next': '다음',
  'common.previous': '이전',
  'common.retry': '다시 시도',
  'common.save': '저장',
  'common.saved': '저장됨',

  'error.network': '서버에 연결할 수 없습니다. 네트워크를 확인한 뒤 다시 시도하세요.',
  'error.stream': '답변이 중간에 끊겼습니다.',
  'error.auth': '로그인에 실패했거나 세션이 만료되었습니다.',
  'error.permission': '이 작업을 할 권한이 없습니다.',
  'error.notFound': '찾을 수 없습니다.',
  'error.conflict': '진행 중인 다른 변경과 충돌합니다.',
  'error.tooLarge': '메시지가 너무 큽니다.',
  'error.rateLimit': '요청이 너무 많습니다.',
  'error.rateLimitRetry': '요청이 너무 많습니다. {seconds}초 후에 다시 시도하세요.',
  'error.server': '서버가 요청을 처리하지 못했습니다.',
  'error.serverRetry': '서버가 바쁩니다. {seconds}초 후에 다시 시도하세요.',
  'error.invalid': '요청이 거부되었습니다.',

  'nav.admin': '관리',
  'nav.chat': '채팅',
  'nav.settings': '설정',
  'nav.closeMenu': '메뉴 닫기',
  'nav.openMenu': '메뉴 열기',
  'nav.logout': '로그아웃',
  'nav.main': '주 메뉴',
  'nav.sidebar': '사이드바',
  'nav.skip': '본문으로 건너뛰기',

  'params.default': '기본값',
  'params.maxTokens': '최대 토큰',
  'params.modelDefault': '모델 기본값: {value}',
  'params.temperature': '온도 (temperature)',
  'params.topP': 'Top P',

  'notFound.back': '채팅으로 돌아가기',
  'notFound.title': '없는 페이지입니다.',
};

export default commonKo;
