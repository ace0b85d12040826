/** 한국어: settings.en.ts의 모든 키 (타입이 확인합니다). */
import type settingsEn from './settings.en';

const settingsKo: Record<keyof typeof settingsEn, string> = {
  'settings.appearance': '언어와 테마',
  'settings.changePassword': '비밀번호 변경',
  'settings.currentPassword': '현재 비밀번호',
  'settings.defaults': '새 채팅 기본값',
  'settings.language': '언어',
  'settings.myUsage': '내 사용량',
  'settings.newPassword': '새 비밀번호',
  'settings.password': '비밀번호',
  'settings.passwordChanged': '비밀번호를 바꿨습니다. 다른 세션은 로그아웃되었습니다.',
  'settings.passwordHint': '8자 이상.',
  'settings.sessions': '세션',
  'settings.sessionsHint': '로그인한 모든 기기와 브라우저에서 로그아웃합니다. API 키는 계속 작동합니다.',
  'settings.logoutEverywhere': '모든 기기에서 로그아웃',
  'settings.theme': '테마',
  'settings.themeDark': '어둡게',
  'settings.themeLight': '밝게',
  'settings.themeSystem': '시스템 설정',
  'settings.title': '설정',

  'keys.create': '키 만들기',
  'keys.created': '만든 날',
  'keys.createdTitle': '새 API 키',
  'keys.expires': '만료',
  'keys.hint': 'OpenAI 호환 클라이언트에서 사용하세요: base URL {origin}/v1.',
  'keys.lastUsed': '마지막 사용',
  'keys.name': '이름',
  'keys.none': '아직 API 키가 없습니다.',
  'keys.prefix': '키',
  'keys.revoke': '폐기',
  'keys.revokeConfirm': '“{name}” 키를 폐기할까요? 이 키를 쓰는 프로그램은 즉시 동작을 멈춥니다.',
  'keys.revokeTitle': 'API 키 폐기',
  'keys.showOnce': '지금 복사하세요. 다시는 표시되지 않습니다.',
  'keys.title': 'API 키',
};

export default settingsKo;
